from gridgeo.cli import run

run()
