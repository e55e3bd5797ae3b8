"""Partition engine: base grids (网格) and small grids (小网格) along streets, and their quality.

The public entry point is :func:`partition`; :mod:`.metrics` measures a plan (DESIGN §5).

Modules: :mod:`.engine` (the public :func:`partition`: checks, one job per community, assembly),
:mod:`.community` (one community start to finish), :mod:`.units` (cells tiling a community: blocks,
and building cells inside divided blocks), :mod:`.graph` (unit adjacency with street classes),
:mod:`.solver` (contiguous parts within household bounds: arterial regions, recursive spanning-tree
bisection, local search), :mod:`.exact` (exact division of small regions), :mod:`.subgrids` (small-grid
badness, and base grids reshaped so that they divide well), :mod:`.rural` (villager groups),
:mod:`.synthetic` (generated street lattices for tests and measurement).
"""

from .engine import GRID_COLUMNS, SUBGRID_COLUMNS, PartitionResult, partition

__all__ = ["partition", "PartitionResult", "GRID_COLUMNS", "SUBGRID_COLUMNS"]
