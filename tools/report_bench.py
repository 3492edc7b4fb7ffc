#!/usr/bin/env python3
"""`trapd report` at scale: a full build of a year's events, an incremental one, its size, and its load time.

    python tools/report_bench.py [--events 20000] [--storage DIR] [--json]

Makes (or reuses, with ``--storage``) a storage of synthetic events on hard-linked real photos
(tools/synthetic_storage.py), then measures, each as a separate `trapd report` process:

* a full build (no report yet): wall time and peak RSS;
* an incremental build after 100 new events over the next 3 days;
* the report folder's size on disk, and its index's;
* the index page's load time in headless Chromium from ``file://``: until the first contact sheet
  card is on the page, median of 5 loads (Debian's chromium and chromium-driver).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parent
PROJECT = TOOLS.parent
sys.path.insert(0, str(TOOLS))

from synthetic_storage import DEFAULT_PHOTOS, START, make_storage, photos_in  # noqa: E402


def timed_report(root: Path) -> dict[str, Any]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "trapd", "report", "--storage", str(root)], cwd=PROJECT,
                          capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"trapd report failed: {done.stderr}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(max(peak, before) / 1024, 1),
            "said": done.stdout.splitlines()[0]}


def size_mb(path: Path) -> float:
    used = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout.split()[0]
    return round(int(used) / 1024, 1)


def load_ms(index: Path, runs: int = 5) -> float | None:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        print("no chromium/chromedriver: load time not measured", file=sys.stderr)
        return None
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.chrome.webdriver import WebDriver

    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    browser = WebDriver(service=Service(driver), options=options)
    times = []
    try:
        for _ in range(runs + 1):  # the first load warms the browser's own caches
            browser.get("about:blank")
            started = time.monotonic()
            browser.get(index.as_uri())
            while not browser.execute_script("return document.querySelector('#sheet .event-card') !== null"):
                time.sleep(0.005)
            times.append((time.monotonic() - started) * 1000)
    finally:
        browser.quit()
    return round(statistics.median(times[1:]), 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--storage", type=Path, help="reuse (or create) this storage; its report is rebuilt")
    parser.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    photos = photos_in(args.photos)
    scratch = None
    if args.storage is None:
        scratch = tempfile.mkdtemp(prefix="trapd-report-bench-", dir=PROJECT.parent)
        root = Path(scratch) / "card"
    else:
        root = args.storage
    try:
        if not root.exists():
            make_storage(root, args.events, args.days, photos)
        shutil.rmtree(root / "report", ignore_errors=True)
        full = timed_report(root)
        make_storage(root, 100, 3, photos, seed=99, start=START + timedelta(days=args.days))
        incremental = timed_report(root)
        figures = {
            "events": args.events,
            "full_build_s": full["seconds"], "full_build_peak_rss_mb": full["peak_rss_mb"],
            "incremental_100_s": incremental["seconds"],
            "report_mb": size_mb(root / "report"), "index_js_mb": size_mb(root / "report" / "data" / "index.js"),
            "thumbs_mb": size_mb(root / "report" / "thumbs"),
            "index_load_ms": load_ms(root / "report" / "index.html"),
            "full_said": full["said"], "incremental_said": incremental["said"],
        }
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
