#!/usr/bin/env python3
"""The labels a person reviewing a card would give: N empty frames of one site, spread over its sequence.

    python tools/seed_labels.py SITES_DIR SITE [--empties 5] > labels.csv

Reads SITES_DIR/labels.csv (site,file,label) and prints ``file,label`` rows for `trapd learn --images
SITES_DIR/SITE`: the same choice `trapd eval --sites --seed-empties N` makes. `make demo` uses it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trapd.errors import TrapdError
from trapd.site.sites_eval import read_site_labels, seeds_of


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sites", type=Path)
    parser.add_argument("site")
    parser.add_argument("--empties", type=int, default=5)
    args = parser.parse_args()
    try:
        labels = read_site_labels(args.sites / "labels.csv")
    except TrapdError as exc:
        sys.exit(f"seed_labels: {exc}")
    if args.site not in labels:
        sys.exit(f"seed_labels: no site {args.site!r} in {args.sites / 'labels.csv'}; it has {', '.join(labels)}")
    site = labels[args.site]
    print("file,label")
    for file in seeds_of(sorted(site), site, args.empties):
        print(f"{file},empty")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
