"""The report in a real browser: headless Chromium driven by Selenium, the pages opened from ``file://``.

Needs Debian's ``chromium`` and ``chromium-driver`` (.ci/run installs them). Without them these
tests skip and say why, unless ``TRAPD_REQUIRE_BROWSER=1`` (set by CI), where they fail.
Set ``TRAPD_SCREENSHOTS=DIR`` to keep the screenshots the tests take, to look at them.
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import trapd_cli
from tests.report_fixtures import report_rows, row_files, sidecars, synthetic_storage
from trapd.evaluate import read_ground_truth
from trapd.report.build import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

try:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.chrome.webdriver import WebDriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.ui import Select

    SELENIUM = True
except ImportError:  # pragma: no cover - selenium is a dev dependency
    SELENIUM = False

if not SELENIUM or not CHROMIUM or not DRIVER:
    why = "needs selenium and Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    if os.environ.get("TRAPD_REQUIRE_BROWSER") == "1":
        pytest.fail(why, pytrace=False)
    pytest.skip(why, allow_module_level=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 events over 5 days: more than one page of the contact sheet."""
    root = synthetic_storage(tmp_path_factory.mktemp("report"), events=60, days=5)
    build_report(root)
    return root


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = CHROMIUM or ""
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path / "downloads"),
                                              "download.prompt_for_download": False})
    driver = WebDriver(service=Service(DRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(tmp_path / "downloads")})
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver: WebDriver, path: Path, fragment: str = "") -> None:
    driver.get(path.as_uri() + fragment)
    wait(lambda: driver.execute_script("return document.readyState") == "complete")


def wait(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the page did not get there in time")
        time.sleep(0.05)


def console_errors(driver: WebDriver) -> list[dict[str, Any]]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]  # type: ignore[no-untyped-call]


def broken_images(driver: WebDriver) -> list[str]:
    """Images that are loaded and have no pixels: a broken link, or a file that is not an image."""
    images: list[str] = driver.execute_script(
        "return Array.from(document.images).filter(i => i.complete && i.naturalWidth === 0).map(i => i.src)")
    return images


def screenshot(driver: WebDriver, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("TRAPD_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    assert driver.save_screenshot(str(path)), "the screenshot was not written"
    assert path.stat().st_size > 10_000, "a screenshot of a blank page"
    return path


def natural_width(driver: WebDriver, image: WebElement) -> int:
    return int(driver.execute_script("return arguments[0].naturalWidth", image))


def cards(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "#sheet .event-card")


def test_the_index_opens_offline_with_every_thumbnail_and_no_console_error(report: Path, browser: WebDriver,
                                                                            tmp_path: Path) -> None:
    open_page(browser, report / "report" / "index.html")
    assert len(cards(browser)) == 48, "one page of the contact sheet"
    for image in browser.find_elements(By.CSS_SELECTOR, "img"):  # lazy thumbnails load when seen
        browser.execute_script("arguments[0].scrollIntoView()", image)
    wait(lambda: browser.execute_script("return Array.from(document.images).every(i => i.complete)"))
    assert broken_images(browser) == []
    thumbs = browser.find_elements(By.CSS_SELECTOR, "#sheet img.thumb")
    assert thumbs and all(natural_width(browser, t) > 0 for t in thumbs)
    assert browser.find_element(By.ID, "page-info").text.startswith("1\u201348 of 60")
    assert console_errors(browser) == []
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "report-index", tmp_path)
    browser.find_element(By.ID, "events").location_once_scrolled_into_view  # noqa: B018
    screenshot(browser, "report-contact-sheet", tmp_path)


def test_the_boxes_are_drawn_where_the_sidecar_says(report: Path, browser: WebDriver) -> None:
    open_page(browser, report / "report" / "index.html")
    truth = sidecars(report)
    card = next(c for c in cards(browser) if c.find_elements(By.CSS_SELECTOR, ".box"))
    event = truth[card.get_attribute("data-event-id") or ""]
    picture = card.find_element(By.CSS_SELECTOR, ".picture")
    image = picture.find_element(By.TAG_NAME, "img")
    browser.execute_script("arguments[0].scrollIntoView()", image)
    wait(lambda: natural_width(browser, image) > 0)
    frame_index = int((image.get_attribute("alt") or "").split()[-1])
    detections = next(f for f in event["frames"] if f["index"] == frame_index)["detections"]
    drawn = picture.find_elements(By.CSS_SELECTOR, ".box")
    assert drawn
    width, height = image.size["width"], image.size["height"]
    origin = image.location
    for box in drawn:
        label = box.find_element(By.CSS_SELECTOR, ".box-label").text
        detection = next(d for d in detections if label == f"{d['label']} {d['score']:.2f}")
        x, y, w, h = detection["bbox"]
        assert abs(box.location["x"] - (origin["x"] + x * width)) <= 2
        assert abs(box.location["y"] - (origin["y"] + y * height)) <= 2
        assert abs(box.size["width"] - w * width) <= 2 and abs(box.size["height"] - h * height) <= 2


def test_filters_show_exactly_the_events_asked_for(report: Path, browser: WebDriver) -> None:
    open_page(browser, report / "report" / "index.html")
    rows = report_rows(report / "report")
    Select(browser.find_element(By.ID, "filter-category")).select_by_value("person")
    people = {r["id"] for r in rows if r["category"] == "person"}
    assert {c.get_attribute("data-event-id") for c in cards(browser)} == people
    Select(browser.find_element(By.ID, "filter-category")).select_by_value("")
    Select(browser.find_element(By.ID, "filter-flag")).select_by_value("audit")
    audited = {r["id"] for r in rows if "audit" in r["flags"]}
    assert {c.get_attribute("data-event-id") for c in cards(browser)} == audited
    Select(browser.find_element(By.ID, "filter-flag")).select_by_value("")
    day = rows[0]["day"]
    for field in ("filter-from", "filter-to"):
        browser.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))",
                               browser.find_element(By.ID, field), day)
    assert {c.get_attribute("data-event-id") for c in cards(browser)} == {r["id"] for r in rows if r["day"] == day}
    assert console_errors(browser) == []


def test_a_review_survives_a_reload_and_downloads_as_the_csv_eval_reads(report: Path, browser: WebDriver,
                                                                        tmp_path: Path) -> None:
    open_page(browser, report / "report" / "index.html")
    rows = {r["id"]: r for r in report_rows(report / "report")}
    with_files = [c for c in cards(browser) if rows[c.get_attribute("data-event-id") or ""]["stored"]]
    first, second = with_files[0], with_files[1]
    for card, key in ((first, "a"), (second, "e")):
        browser.execute_script("arguments[0].focus()", card)
        card.send_keys(key)
    assert first.find_element(By.CSS_SELECTOR, ".badge").text == "animal"
    animal, empty = first.get_attribute("data-event-id") or "", second.get_attribute("data-event-id") or ""
    expected = {**dict.fromkeys(row_files(rows[animal]), "animal"), **dict.fromkeys(row_files(rows[empty]), "empty")}
    browser.refresh()
    wait(lambda: bool(cards(browser)))
    again = next(c for c in cards(browser) if c.get_attribute("data-event-id") == animal)
    assert again.find_element(By.CSS_SELECTOR, ".badge").text == "animal", "labels survive a reload"
    assert browser.find_element(By.ID, "review-count").text == f"{len(expected)} frames labelled"
    browser.find_element(By.ID, "review-export").click()
    downloads = tmp_path / "downloads"
    wait(lambda: any(p.suffix == ".csv" for p in downloads.glob("*")) if downloads.is_dir() else False)
    [exported] = list(downloads.glob("*.csv"))
    with exported.open() as stream:
        assert {row["file"]: row["label"] for row in csv.DictReader(stream)} == expected
    assert dict(read_ground_truth(exported)) == expected, "the file trapd eval --ground-truth reads"
    config = tmp_path / "none.yaml"
    config.write_text("detector:\n  type: none\n")
    scored = trapd_cli("eval", str(report), "--ground-truth", str(exported), "--config", str(config), "--json")
    assert scored.returncode == 0, scored.stderr
    taught = trapd_cli("learn", str(exported), "--storage", str(report), "--config", str(config), "--dry-run")
    assert taught.returncode == 0, taught.stderr
    empties = sum(label == "empty" for label in expected.values())
    assert f"would learn from {empties} empty and {len(expected) - empties} non-empty frames" in taught.stdout, \
        "the review feeds trapd learn: its paths are the storage's"
    assert console_errors(browser) == []


def test_the_event_page_shows_every_frame_with_its_boxes(report: Path, browser: WebDriver, tmp_path: Path) -> None:
    truth = sidecars(report)
    rows = report_rows(report / "report")
    row = max(rows, key=lambda r: (len(r["stored"]), r["id"]))
    open_page(browser, report / "report" / "event.html", f"#{row['deployment']}/{row['day']}/{row['id']}")
    wait(lambda: bool(browser.find_elements(By.CSS_SELECTOR, ".frame-card")))
    frames = browser.find_elements(By.CSS_SELECTOR, ".frame-card")
    assert len(frames) == len(truth[row["id"]]["frames"])
    for image in browser.find_elements(By.CSS_SELECTOR, ".frame-card img"):
        browser.execute_script("arguments[0].scrollIntoView()", image)
        wait(lambda image=image: natural_width(browser, image) > 0)
    boxes = browser.find_elements(By.CSS_SELECTOR, ".frame-card .box")
    assert len(boxes) == sum(len(f["detections"]) for f in truth[row["id"]]["frames"] if f["file"])
    assert broken_images(browser) == [] and console_errors(browser) == []
    browser.execute_script("window.scrollTo(0, 0)")
    screenshot(browser, "report-event", tmp_path)


def test_the_audit_view_shows_every_discarded_frame_kept_for_checking(report: Path, browser: WebDriver,
                                                                      tmp_path: Path) -> None:
    open_page(browser, report / "report" / "audit.html")
    audit_frames = sum(1 for s in sidecars(report).values() for f in s["frames"] if f["audit"] and f["file"])
    assert audit_frames > 0, "the synthetic storage has an audit sample"
    info = browser.find_element(By.ID, "page-info").text
    assert f"of {audit_frames} " in info
    assert broken_images(browser) == [] and console_errors(browser) == []
    screenshot(browser, "report-audit", tmp_path)


def test_an_unknown_event_says_so(report: Path, browser: WebDriver) -> None:
    open_page(browser, report / "report" / "event.html", "#synthetic-site/2025-12-01/no-such-event")
    wait(lambda: browser.find_element(By.ID, "event-missing").is_displayed())
    open_page(browser, report / "report" / "event.html", "#../../etc/passwd")
    wait(lambda: browser.find_element(By.ID, "event-missing").is_displayed())
    assert console_errors(browser) == []
