"""Where an export may write: a new or empty folder outside the storage root, or a previous export of its own;
a new or regular file for a one-file export.

A package written into the storage root would be taken for event folders by the next start and
quarantined; one written over another folder's files would mix two packages (or a person's files)
with no warning. So ``--out`` must be new or empty and outside the storage root. With ``--force``
it may also be a folder a previous export wrote, and then only what that export listed in its
manifest (``.trapd-export.json``) is replaced; anything else there is refused, not deleted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from trapd.errors import StorageError
from trapd.files import make_dirs_durable, write_atomic

MANIFEST_NAME = ".trapd-export.json"


def claim_package_dir(out: Path, root: Path, *, force: bool) -> None:
    """Make ``out`` ready for a package, or refuse in one sentence (exit 73)."""
    target, storage = out.resolve(), root.resolve()
    if target == storage or storage in target.parents:
        raise StorageError(f"--out {out} is inside the storage {root}, whose next start would take the package for "
                           "events; choose a folder outside it")
    if target.exists() and not target.is_dir():
        raise StorageError(f"--out {out} is not a folder; give a new or empty folder for the package")
    entries = list(target.iterdir()) if target.is_dir() else []
    if entries:
        manifest = target / MANIFEST_NAME
        if not force:
            raise StorageError(f"--out {out} is not empty; give a new or empty folder, or --force to replace a "
                               "previous export there")
        if not manifest.is_file():
            raise StorageError(f"--out {out} holds files no trapd export wrote; give a new or empty folder")
        _remove_previous(target, manifest)
    try:
        make_dirs_durable(target)
    except OSError as exc:
        raise StorageError(f"--out {out} cannot be created ({exc.strerror or exc})") from None


def claim_output_file(out: Path) -> None:
    """A file an export may replace: a new path, or a regular file; never a folder, a link or a device
    (renaming over /dev/null as root would replace it)."""
    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise StorageError(f"--out {out} is not a regular file (a folder, a link or a device); give the path of "
                           "a new file")
    if out.parent.exists() and not out.parent.is_dir():
        raise StorageError(f"--out {out}: {out.parent} is not a folder; give the path of a new file")


def record_package(out: Path, files: list[Path]) -> None:
    """List what this export wrote, so that a later ``--force`` replaces exactly that."""
    target = out.resolve()
    names = sorted(path.resolve().relative_to(target).as_posix() for path in files)
    write_atomic(target / MANIFEST_NAME, (json.dumps({"files": names}, indent=1) + "\n").encode())


def _remove_previous(target: Path, manifest: Path) -> None:
    try:
        listed = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StorageError(f"{manifest} does not read ({exc}); give a new or empty folder") from None
    for name in [*listed, MANIFEST_NAME]:
        path = (target / str(name)).resolve()
        if target not in path.parents:
            raise StorageError(f"{manifest} names {name!r}, outside {target}; give a new or empty folder")
        path.unlink(missing_ok=True)
    for folder, _, _ in sorted(os.walk(target), key=lambda entry: -len(entry[0])):
        if Path(folder) != target and not any(Path(folder).iterdir()):
            os.rmdir(folder)
