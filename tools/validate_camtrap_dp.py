#!/usr/bin/env python3
"""Validate a Camtrap DP package offline against the official profile and table schemas.

    python tools/validate_camtrap_dp.py PACKAGE_DIR [--schemas ../shared/camtrap-dp]

The package names its schemas by URL, as the standard requires; with no network, those URLs are
swapped for the local copies of the official files. The profile's Camtrap DP part is checked with
jsonschema (its GeoJSON reference resolved to the copy frictionless ships), and the package and
tables with frictionless. Prints every error; exits 0 only with none.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCHEMAS = PROJECT_ROOT.parent / "shared" / "camtrap-dp"


def validate(package_dir: Path, schemas: Path) -> list[str]:
    import frictionless
    import jsonschema
    from referencing import Registry, Resource

    descriptor = json.loads((package_dir / "datapackage.json").read_text())
    errors: list[str] = []

    profile = json.loads((schemas / "camtrap-dp-profile.json").read_text())
    geojson = json.loads((Path(frictionless.__file__).parent / "assets" / "profiles" / "geojson.json").read_text())
    registry = Registry().with_resource("http://json.schemastore.org/geojson.json", Resource.opaque(geojson))
    camtrap_part = {**{k: v for k, v in profile.items() if k not in ("allOf", "$schema")}, **profile["allOf"][1]}
    validator = jsonschema.Draft7Validator(camtrap_part, registry=registry)
    errors += [f"datapackage.json {'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(descriptor)]

    local = copy.deepcopy(descriptor)
    for resource in local["resources"]:
        resource["schema"] = json.loads((schemas / f"{resource['name']}-table-schema.json").read_text())
    local["profile"] = "data-package"
    report = frictionless.Package(local, basepath=str(package_dir)).validate()
    for task in report.tasks:
        errors += [f"{task.name}: {error.message}" for error in task.errors]
    errors += [f"package: {error.message}" for error in report.errors]
    return errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("package", type=Path)
    parser.add_argument("--schemas", type=Path, default=DEFAULT_SCHEMAS)
    args = parser.parse_args()
    errors: list[Any] = validate(args.package, args.schemas)
    for error in errors:
        print(error)
    print(f"{len(errors)} errors")
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
