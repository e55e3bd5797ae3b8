"""The published grid map in a real browser: headless Chromium driven by selenium (Debian chromium and
chromium-driver; never a Selenium Manager download). Skipped, with the reason, where they are missing.

Screenshots are written to the test's tmp folder, or to $GRIDGEO_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from _maps_town import XSS, town_plan, town_roster

from conftest import CODE_A, CODE_B
from gridgeo.maps import publish_map, read_roster

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="headless Chromium needs Debian's chromium and chromium-driver (scripts/system_deps.sh)")
A1, B2 = f"{CODE_A}001", f"{CODE_B}002"


@pytest.fixture(scope="module")
def driver():
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="gridgeo-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except Exception as exc:  # noqa: BLE001 - a browser that cannot start here: say why
        pytest.skip(f"headless Chromium did not start: {' '.join(str(exc).split())[:200]}")
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    plan = town_plan()
    roster = read_roster(town_roster(), plan)
    root = tmp_path_factory.mktemp("sites")
    out = {}
    out["none"] = publish_map(plan, root / "none", roster=roster, tiles="none", supervision_phone="12345")[0]
    out["public"] = publish_map(plan, root / "public", roster=roster, tiles="none", public=True)[0]
    out["osm"] = publish_map(plan, root / "osm", roster=roster)[0]
    out["pages"] = publish_map(plan, root / "pages", roster=roster, tiles="none", pages="community")
    return out


def _shot(d, tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("GRIDGEO_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    d.save_screenshot(str(path))
    return path


def _open(d, page: Path) -> list[dict]:
    """Load a page and return its console messages of level SEVERE (JavaScript errors, failed loads)."""
    d.get_log("browser")  # drop what an earlier page left
    d.get(page.resolve().as_uri())
    WebDriverWait(d, 10).until(lambda x: x.execute_script("return !!(window.gridgeo && window.gridgeo.map)"))
    time.sleep(0.3)
    return [e for e in d.get_log("browser") if e["level"] == "SEVERE"]


def _count(d, layer: str) -> int:
    return d.execute_script(f"return window.gridgeo.layers.{layer}.getLayers().length")


def _click_grid(d, code: str) -> None:
    """Click a real mouse on a point inside the grid (its upper half, away from the street through its middle)."""
    x, y, w, h = d.execute_script("""
        var code = arguments[0], g = window.gridgeo, m = g.map;
        m.closePopup();
        m.fitBounds(g.layers.grids.getBounds(), {animate: false});
        var l = g.layers.grids.getLayers().find(function(f) { return f.feature.properties.grid_code === code; });
        var b = l.getBounds();
        var p = m.latLngToContainerPoint([b.getSouth() + 0.8 * (b.getNorth() - b.getSouth()),
                                          b.getWest() + 0.3 * (b.getEast() - b.getWest())]);
        var s = m.getSize();
        return [p.x, p.y, s.x, s.y];""", code)
    container = d.find_element(By.CSS_SELECTOR, ".folium-map")
    ActionChains(d).move_to_element_with_offset(container, int(x - w / 2), int(y - h / 2)).click().perform()
    WebDriverWait(d, 5).until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".leaflet-popup-content")))
    time.sleep(0.6)  # the map pans the popup into view (animated)


def test_offline_page_renders_every_grid_without_errors(driver, site, tmp_path):
    errors = _open(driver, site["none"])
    assert errors == []
    assert _count(driver, "grids") == 6
    assert _count(driver, "subgrids") == 10
    assert _count(driver, "streets") == 6
    paths = driver.find_elements(By.CSS_SELECTOR, ".leaflet-overlay-pane path")
    assert len(paths) >= 6 + 10 + 6
    labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".gg-label")]
    assert sorted(labels) == sorted(["001", "002", "003"] * 2)  # the grid codes, few grids in view: shown
    assert driver.find_element(By.CSS_SELECTOR, ".gg-legend").is_displayed()
    assert driver.find_element(By.CSS_SELECTOR, ".leaflet-control-locate").is_displayed()
    assert driver.find_element(By.CSS_SELECTOR, ".leaflet-control-layers").is_displayed()
    shot = _shot(driver, tmp_path, "map_offline")
    assert shot.stat().st_size > 10_000


def test_the_scale_bar_shows_metres_only(driver, site):
    """Chinese public maps are metric: one scale line (m or km), never Leaflet's second line in feet or miles."""
    _open(driver, site["none"])
    lines = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-scale-line")]
    assert len(lines) == 1 and lines[0].endswith((" m", " km")), lines


def test_clicking_a_grid_opens_its_popup_with_the_roster_and_escaped_names(driver, site, tmp_path):
    _open(driver, site["none"])
    _click_grid(driver, A1)
    popup = driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-content")
    text = popup.text
    for expected in (A1, "民族街社区", "王芳", "139-0000-0001", "网格长", "027-8888-0000", "户数"):
        assert expected in text
    names = [e.text for e in popup.find_elements(By.CSS_SELECTOR, ".gg-name")]
    assert XSS in names  # shown as text ...
    assert popup.find_elements(By.TAG_NAME, "script") == []  # ... never as an element
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - no alert ran
    _shot(driver, tmp_path, "map_popup")
    driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-close-button").click()
    _click_grid(driver, B2)
    assert "未配备" in driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-content").text  # nobody serves it


def test_search_by_community_name_opens_the_grid(driver, site, tmp_path):
    _open(driver, site["none"])
    box = next(e for e in driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-search input.search-input") if e.is_displayed())
    box.send_keys(B2)
    WebDriverWait(driver, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".search-tip"))
    box.send_keys(Keys.ENTER)
    WebDriverWait(driver, 5).until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".leaflet-popup-content")))
    assert B2 in driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-content").text
    driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-close-button").click()
    box.clear()
    box.send_keys("建设路")  # a street bounding grids of A: matches anywhere in the text
    WebDriverWait(driver, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".search-tip"))
    tips = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".search-tip")]
    assert tips and all("建设路" in t for t in tips)
    _shot(driver, tmp_path, "map_search")


def test_public_page_popup_has_no_households(driver, site):
    assert _open(driver, site["public"]) == []
    _click_grid(driver, A1)
    text = driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-content").text
    assert "王芳" in text and "户数" not in text


def test_osm_page_fails_only_on_tiles_when_offline(driver, site):
    errors = _open(driver, site["osm"])
    assert _count(driver, "grids") == 6
    assert all("tile.openstreetmap.org" in e["message"] for e in errors), errors  # no network here: tiles only


def test_community_pages_and_index(driver, site, tmp_path):
    index, page_a, page_b = site["pages"]
    assert _open(driver, index) == []
    assert _count(driver, "communities") == 2
    _shot(driver, tmp_path, "map_index")
    assert _open(driver, page_a) == []
    assert _count(driver, "grids") == 3
    driver.find_element(By.LINK_TEXT, "← 返回全部社区").click()
    WebDriverWait(driver, 5).until(lambda d: d.current_url.endswith("index.html"))
    assert _open(driver, page_b) == []
    assert _count(driver, "grids") == 3


def test_the_controls_speak_the_page_language(driver, site, tmp_path):
    """The default (Chinese) page showed Leaflet's and its plugins' English: "Zoom in"/"Zoom out" on the zoom
    buttons, "Location not found" after a search finding nothing, "Cancel", a scale bar in feet and miles."""
    _open(driver, site["none"])
    assert driver.find_element(By.CSS_SELECTOR, ".leaflet-control-zoom-in").get_attribute("title") == "放大"
    assert driver.find_element(By.CSS_SELECTOR, ".leaflet-control-zoom-out").get_attribute("title") == "缩小"
    assert driver.find_element(By.CSS_SELECTOR, ".leaflet-control-locate a").get_attribute("title") == "显示我的位置"
    assert driver.find_element(By.CSS_SELECTOR, ".leaflet-control-search .search-cancel").get_attribute("title") == "取消"
    scale = driver.find_element(By.CSS_SELECTOR, ".leaflet-control-scale").text
    assert scale and "ft" not in scale and "mi" not in scale
    box = next(e for e in driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-search input.search-input") if e.is_displayed())
    box.send_keys("没有这个网格")
    box.send_keys(Keys.ENTER)
    alert = driver.find_element(By.CSS_SELECTOR, ".leaflet-control-search .search-alert")
    WebDriverWait(driver, 5).until(lambda d: alert.text)
    assert alert.text == "未找到"
    titles = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-control-container [title]')).map(e => e.title)")
    assert not [x for x in titles if any(w in x for w in ("Zoom", "Cancel", "Search", "Show me"))], titles
    options = driver.execute_script("""var found = null; window.gridgeo.map.eachLayer(function() {});
        for (var k in window) { if (k.indexOf('locate_control') === 0) found = window[k].options.strings; } return found;""")
    assert options["popup"].startswith("您在") and options["metersUnit"] == "米"


NASTY = "A&B <i>x</i> </script>"  # a name with & < > and the end of a script element in it
QUOTED = "\"东\"街 & '西'巷"  # a street with both quotes and an ampersand


@pytest.fixture(scope="module")
def nasty_site(tmp_path_factory):
    """A community, a street and a worker whose names hold & < > quotes and ``</script>``; single page and index."""
    plan = town_plan()
    plan.communities.loc[plan.communities["code"] == CODE_B, "name"] = NASTY
    streets = plan.layers["streets"]
    streets.loc[streets["name"] == "建设路", "name"] = QUOTED
    roster = town_roster()
    roster.loc[roster["name"] == "王芳", "name"] = "O'Neil & <b>王</b>"
    root = tmp_path_factory.mktemp("nasty")
    single = publish_map(plan, root / "single", roster=read_roster(roster, plan), tiles="none")[0]
    index = publish_map(plan, root / "pages", tiles="none", pages="community")[0]
    return {"single": single, "index": index}


def _search_tips(d, text: str) -> tuple[Any, list[str]]:
    box = next(e for e in d.find_elements(By.CSS_SELECTOR, ".leaflet-control-search input.search-input") if e.is_displayed())
    box.clear()
    box.send_keys(text)
    WebDriverWait(d, 5).until(lambda x: x.find_elements(By.CSS_SELECTOR, ".search-tip"))
    return box, [e.get_attribute("textContent") for e in d.find_elements(By.CSS_SELECTOR, ".search-tip")]


@pytest.mark.parametrize(("query", "grid"), [
    ("A&B <i>x</i> </script>", B2),  # the community's whole name
    ("&B <i>", B2),
    ('"东"街 & \'西', A1),  # the street bounding grids 001 and 002 of community A
    ("O'Neil & <b>", A1),  # the worker serving grid 001
])
def test_search_finds_names_with_ampersands_brackets_and_quotes(driver, nasty_site, query, grid):
    """The search index held HTML-escaped text ("A&amp;B &lt;i&gt;"), so a name holding & < > or quotes was
    not found when typed as it is written; each tip is shown as text, nothing of a name runs or renders."""
    assert _open(driver, nasty_site["single"]) == []  # the page parses: "</script>" in a name does not end a script
    box, tips = _search_tips(driver, query)
    assert tips and all(query in t for t in tips), tips
    assert driver.find_elements(By.CSS_SELECTOR, ".search-tooltip i, .search-tooltip b, .search-tooltip script") == []
    tip = next(e for e in driver.find_elements(By.CSS_SELECTOR, ".search-tip") if grid in e.get_attribute("textContent"))
    tip.click()
    WebDriverWait(driver, 5).until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".leaflet-popup-content")))
    popup = driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-content")
    assert grid in popup.text
    assert grid != B2 or NASTY in popup.text  # the community's name, as text
    assert popup.find_elements(By.CSS_SELECTOR, "script, b.gg-name b") == []
    assert [e.text for e in popup.find_elements(By.TAG_NAME, "i") if e.text == "x"] == []  # the name's <i> is text
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - no alert ran


def test_index_search_finds_a_community_named_with_brackets(driver, nasty_site):
    assert _open(driver, nasty_site["index"]) == []
    _, tips = _search_tips(driver, "A&B <i>x</i>")
    assert tips == [f"{CODE_B} {NASTY}"]
    assert driver.find_elements(By.CSS_SELECTOR, ".search-tooltip i") == []
    labels = [e.get_attribute("textContent") for e in driver.find_elements(By.CSS_SELECTOR, ".gg-label")]
    assert NASTY in labels  # the community's label on the index page, as text
