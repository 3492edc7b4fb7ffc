"""Reading a config file: YAML in, a :class:`~trapd.config.model.TrapdConfig` out, or every problem at once.

:func:`load_config` turns any problem into a :class:`~trapd.errors.ConfigError` with one line per
problem naming the file, YAML line, key path, bad value and what is expected. Nothing ever falls
back to a default because a value was wrong.
"""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from trapd.backends import CAMERAS, DETECTORS
from trapd.config.model import TrapdConfig
from trapd.config.yaml_reader import MAX_CONFIG_BYTES, read_yaml
from trapd.errors import ConfigError, ConfigFileMissing


def load_config(path: Path) -> TrapdConfig:
    """Read and validate a YAML config file; every problem becomes a :class:`ConfigError`."""
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:  # refused before it is read into memory
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 2**20} MB; a trapd config is a few "
                              "kilobytes: is this the right file?")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileMissing(f"{path}: config file not found; pass --config FILE or create it") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "<config>") -> TrapdConfig:
    root, data = read_yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the config must be a mapping of sections (deployment:, pir:, ...)")
    try:
        return TrapdConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, root, source)) from None


#: A file with more problems than this is most likely not a trapd config at all: say so, not every line.
MAX_PROBLEMS_SAID = 20


def _describe(exc: ValidationError, root: yaml.Node | None, source: str) -> list[str]:
    errors = exc.errors(include_url=False)
    lines = _problem_lines(errors[:MAX_PROBLEMS_SAID], root, source)
    if len(errors) > MAX_PROBLEMS_SAID:
        lines.append(f"{source}: and {len(errors) - MAX_PROBLEMS_SAID} more problems; is this the right file?")
    return lines


def _problem_lines(errors: list[Any], root: yaml.Node | None, source: str) -> list[str]:
    lines = []
    for error in errors:
        if error["type"] == "union_tag_invalid":
            # Pydantic blames the whole section; the culprit is its `type` key.
            tags = str(error.get("ctx", {}).get("expected_tags", ""))
            loc = [*_data_path(root, error["loc"]), "type"]
            where = f"{source}:{_line_of(root, loc)}"
            lines.append(f"{where}: {'.'.join(str(p) for p in loc)} = {error['ctx']['tag']!r}: "
                         f"unknown type; use one of {tags}")
            continue
        loc = _data_path(root, error["loc"])
        key_path = ".".join(str(part) for part in loc) or "(top level)"
        line = _line_of(root, loc)
        where = f"{source}:{line}" if line else source
        if error["type"] == "extra_forbidden":
            lines.append(f"{where}: {key_path}: unknown key{_suggestion(error['loc'])}")
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing" and loc and isinstance(loc[-1], int):
            # A list with too few items: pydantic names the first missing index.
            parent = ".".join(str(part) for part in loc[:-1])
            lines.append(f"{where}: {parent} = {error['input']!r}: needs {loc[-1] + 1} numbers, not "
                         f"{loc[-1]} (a size is [width, height], e.g. [2028, 1520])")
        elif error["type"] == "missing":
            lines.append(f"{where}: {key_path}: required key is missing")
        elif loc:
            lines.append(f"{where}: {key_path} = {error['input']!r}: {message}")
        else:
            lines.append(f"{where}: {message}")
    return lines


def _data_path(root: yaml.Node | None, loc: tuple[int | str, ...]) -> list[int | str]:
    """Drop the parts of a pydantic error location that are not in the YAML (union tags)."""
    path: list[int | str] = []
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(part)), None)
            if child is None and part in _UNION_TAGS:
                continue
            path.append(part)
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            path.append(part)
            node = node.value[part] if part < len(node.value) else None
        elif node is None and part in _UNION_TAGS:
            continue
        else:
            path.append(part)
            node = None
    return path


#: Parts of a pydantic error location that name a union member, not a YAML key: backend types, and the
#: int | str of a pin name.
_UNION_TAGS = frozenset({*(b.type for b in CAMERAS), *(b.type for b in DETECTORS), "int", "str"})


def _line_of(root: yaml.Node | None, path: list[int | str]) -> int | None:
    node = root
    line = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if pair is None:
                break
            line = pair[0].start_mark.line + 1
            node = pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    if line is None and isinstance(root, yaml.Node):
        return root.start_mark.line + 1
    return line


def _suggestion(loc: tuple[int | str, ...]) -> str:
    """``loc``: pydantic's location, union tags (a backend's ``type``) included, so the right backend's keys
    are the ones offered."""
    model: type[BaseModel] | None = TrapdConfig
    parts = list(loc[:-1])
    while parts and model is not None:
        part = str(parts.pop(0))
        members = _union_members(model, part)
        if members:
            tag = str(parts.pop(0)) if parts else ""
            model = next((m for m in members if m.model_fields["type"].default == tag), None)
        else:
            model = _section_model(model, part)
    if model is None:
        return ""
    valid = sorted(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (valid keys here: {', '.join(valid)})"


def _union_members(model: type[BaseModel], key: str) -> list[type[BaseModel]]:
    """The backends' sections a field (``camera``, ``detector``) may be, or [] for a plain section."""
    if key not in model.model_fields:
        return []
    annotation: Any = model.model_fields[key].annotation
    members = [m for m in typing.get_args(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]
    return [m for m in members if "type" in m.model_fields]


def _section_model(model: type[BaseModel] | None, key: str) -> type[BaseModel] | None:
    if model is None or key not in model.model_fields:
        return None
    annotation: Any = model.model_fields[key].annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
