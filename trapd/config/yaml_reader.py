"""YAML in, checked before it is trusted: a config file is input, and it may be anything.

A trapd config is a few kilobytes of plain mappings, four levels deep at most. So before a node
is built, the file's tokens are read once (libyaml's scanner, in C) and refused, each in one line
naming the file and line, when they hold:

* anchors or aliases (``&name``, ``*name``): besides nothing a trapd config needs, they are how a
  386-byte file expands into gigabytes ("billion laughs"), or into a loop;
* merge keys (``<<:``), which hide where a value came from;
* nesting deeper than a config can be, or more values than one can hold;
* more than a megabyte.

What passes is small and plain, so building it (libyaml again) and validating it take
milliseconds; the limits make any file, of any shape, accepted or refused within a second.
Keys that appear twice are refused too: PyYAML silently keeps the last.
"""

from __future__ import annotations

from typing import Any

import yaml

from trapd.errors import ConfigError

MAX_CONFIG_BYTES = 2**20
#: Sections, sub-sections (decision.thresholds), values and lists in them: 4. Room to spare, no more.
MAX_DEPTH = 16
#: Every key and value of the whole schema is about 250 scalars; a list of tags adds 64.
MAX_SCALARS = 5_000

_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPENING = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken, yaml.FlowMappingStartToken,
            yaml.FlowSequenceStartToken)
_CLOSING = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def read_yaml(text: str, source: str, what: str = "trapd config") -> tuple[yaml.Node | None, Any]:
    """The composed node (for line numbers) and the plain data of a config's (or model card's) text."""
    if len(text.encode("utf-8", errors="replace")) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_CONFIG_BYTES // 2**20} MB; a {what} is a few "
                          "kilobytes: is this the right file?")
    try:
        _check_tokens(text, source, what)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            problems = _duplicate_keys(root, source)  # before building: that folds merge keys away
            if problems:
                raise ConfigError(problems)
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: YAML syntax error: {problem}; fix the file's indentation or quoting") from None
    except RecursionError:  # the limits above stop this first; a second line of defence, not a traceback
        raise ConfigError(f"{source}: nested too deeply to be a {what}") from None
    return root, data


def _check_tokens(text: str, source: str, what: str) -> None:
    depth = scalars = 0
    for token in yaml.scan(text, Loader=_Loader):
        where = f"{source}:{token.start_mark.line + 1}"
        if isinstance(token, yaml.AnchorToken | yaml.AliasToken):
            raise ConfigError(f"{where}: YAML anchors and aliases (&name, *name) are not accepted in a "
                              f"{what}; write the values out where they are used")
        if isinstance(token, _OPENING):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(f"{where}: nested more than {MAX_DEPTH} levels deep; a {what} has "
                                  "sections, keys and short lists")
        elif isinstance(token, _CLOSING):
            depth -= 1
        elif isinstance(token, yaml.ScalarToken):
            scalars += 1
            if scalars > MAX_SCALARS:
                raise ConfigError(f"{where}: more than {MAX_SCALARS} keys and values; a {what} has a few "
                                  "hundred: is this the right file?")


def _duplicate_keys(root: yaml.Node | None, source: str) -> list[str]:
    """Keys that appear twice in one mapping, and merge keys; walked without recursion."""
    problems: list[tuple[int, str]] = []
    pending: list[tuple[yaml.Node | None, str]] = [(root, "")]
    while pending:
        node, path = pending.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                dotted = f"{path}.{key}" if path else key
                line = key_node.start_mark.line + 1
                if key_node.tag == "tag:yaml.org,2002:merge":
                    problems.append((line, f"{source}:{line}: {dotted}: YAML merge keys (<<) are not accepted in a "
                                           "trapd config; write the keys out"))
                elif key in seen:
                    problems.append((line, f"{source}:{line}: {dotted}: key appears twice"))
                seen.add(key)
                pending.append((value_node, dotted))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend((item, f"{path}[{index}]") for index, item in enumerate(node.value))
    return [message for _, message in sorted(problems)]
