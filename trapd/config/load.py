"""Reading a config file: YAML in, a :class:`~trapd.config.model.TrapdConfig` out, or every problem at once.

:func:`load_config` turns any problem into a :class:`~trapd.errors.ConfigError` with one line per
problem naming the file, YAML line, key path, bad value and what is expected. Nothing ever falls
back to a default because a value was wrong.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from trapd.backends import CAMERAS, DETECTORS
from trapd.config.model import TrapdConfig
from trapd.errors import ConfigError


def load_config(path: Path) -> TrapdConfig:
    """Read and validate a YAML config file; every problem becomes a :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found; pass --config FILE or create it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "<config>") -> TrapdConfig:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: YAML syntax error: {problem}; fix the file's indentation or quoting") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:1: the config must be a mapping of sections (deployment:, pir:, ...)")
    duplicates = _duplicate_keys(root, source)
    if duplicates:
        raise ConfigError(duplicates)
    try:
        return TrapdConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, root, source)) from None


def _duplicate_keys(node: yaml.Node | None, source: str, path: str = "") -> list[str]:
    # PyYAML silently keeps the last of two equal keys; a config where that happens is a mistake.
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            dotted = f"{path}.{key}" if path else key
            if key in seen:
                problems.append(f"{source}:{key_node.start_mark.line + 1}: {dotted}: key appears twice")
            seen.add(key)
            problems.extend(_duplicate_keys(value_node, source, dotted))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems.extend(_duplicate_keys(item, source, f"{path}[{index}]"))
    return problems


def _describe(exc: ValidationError, root: yaml.Node | None, source: str) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):
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
            lines.append(f"{where}: {key_path}: unknown key{_suggestion(loc)}")
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
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


def _suggestion(loc: list[int | str]) -> str:
    model: type[BaseModel] | None = TrapdConfig
    for part in loc[:-1]:
        model = _section_model(model, str(part))
    if model is None:
        return ""
    valid = sorted(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (valid keys here: {', '.join(valid)})"


def _section_model(model: type[BaseModel] | None, key: str) -> type[BaseModel] | None:
    if model is None or key not in model.model_fields:
        return None
    annotation: Any = model.model_fields[key].annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
