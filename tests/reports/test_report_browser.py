"""The report in a real browser: headless Chromium (the Debian package) opens the page from
a file, with the network unreachable by construction (a ``file://`` page and no server).

The page must raise no console error, its map must not be blank in a screenshot, and
every table's CSV link must hold that table. The screenshots stay in the test's tmp dir
and are copied to ``$TMPDIR/trackit-report-browser/`` (printed), to look at after a run.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from headless_chromium import Chromium, ensure_chromium
from matplotlib import image
from report_html_parser import ReportParser, parse
from report_warehouse_fixture import REPORT_DAY

from reports.daily import write_daily_report

SCREENSHOTS = Path(tempfile.gettempdir()) / "trackit-report-browser"


@pytest.fixture(scope="session")
def chromium_binary() -> Path:
    found = ensure_chromium()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture(scope="module")
def browser(chromium_binary: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Chromium]:
    chromium = Chromium(chromium_binary, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="module")
def page(known_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser-report") / "report.html"
    return write_daily_report(known_data_dir, REPORT_DAY, out)


@pytest.fixture(scope="module")
def opened(browser: Chromium, page: Path) -> Chromium:
    browser.open(page.as_uri())
    return browser


def keep(png: bytes, tmp_dir: Path, name: str) -> Path:
    """Write the screenshot under the test's tmp dir and copy it to a stable place."""
    kept = tmp_dir / name
    kept.write_bytes(png)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stable = SCREENSHOTS / name
    shutil.copyfile(kept, stable)
    print(f"screenshot: {stable}")
    return kept


def test_page_opens_without_console_errors(opened: Chromium) -> None:
    assert opened.evaluate("document.title").startswith("TRACKiT fleet report")
    assert opened.evaluate("document.querySelectorAll('svg').length") >= 5
    assert opened.console_errors == []


def test_map_area_of_the_screenshot_is_not_blank(opened: Chromium, tmp_path: Path) -> None:
    box = opened.evaluate(
        "(() => { const r = document.querySelector('#route-map svg').getBoundingClientRect();"
        " return {x: r.left + scrollX, y: r.top + scrollY, width: r.width,"
        " height: r.height}; })()")
    assert box["width"] > 300 and box["height"] > 200, box
    whole = keep(opened.screenshot(), tmp_path, "report.png")
    pixels = image.imread(whole, format="png")[..., :3]
    top, left = round(box["y"]), round(box["x"])
    area = pixels[top:top + round(box["height"]), left:left + round(box["width"])]
    assert area.size, (box, pixels.shape)
    colours = np.unique((area * 255).round().astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 50, f"the map area holds {len(colours)} colours"
    # The drawing itself, not only axes: some pixels are neither white nor grey.
    saturated = (area.max(axis=2) - area.min(axis=2)) > 0.25
    assert saturated.sum() > 300, f"{saturated.sum()} coloured pixels in the map"
    keep(opened.screenshot(clip=box), tmp_path, "route-map.png")
    assert opened.console_errors == []


def test_every_table_has_a_csv_link_holding_its_rows(opened: Chromium, page: Path) -> None:
    links = opened.evaluate(
        "Array.from(document.querySelectorAll('a.csv'))"
        ".map(a => [a.download, a.getAttribute('href'), a.nextElementSibling.id])")
    report: ReportParser = parse(page.read_text(encoding="utf-8"))
    assert sorted(table for _, _, table in links) == sorted(report.tables)
    by_table = {table: (name, href) for name, href, table in links}
    name, href = by_table["trip-table"]
    assert name == "trackit-2026-03-10-trip-table.csv"
    assert href.startswith("data:text/csv;charset=utf-8,")
    text = urllib.parse.unquote(href.split(",", 1)[1]).removeprefix("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["vehicle", "start", "end"]
    trips = report.tables["trip-table"]
    assert [r[1] for r in rows[1:]] == [cells["start_time"] for cells in trips.values()]
    assert [r[4] for r in rows[1:]] == [cells["distance_km"] for cells in trips.values()]
    # Markup in warehouse text stays text in the CSV too.
    _, deliveries = by_table["delivery-table"]
    assert "<b>closed</b>" in urllib.parse.unquote(deliveries)
    assert opened.console_errors == []
