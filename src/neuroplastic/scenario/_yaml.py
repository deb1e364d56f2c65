"""The hardened YAML loader for scenario files: YAML 1.1 safe types only, and bounded in every direction.

:class:`ScenarioLoader` is a :class:`yaml.SafeLoader` (plain mappings, lists, strings, numbers, booleans, null and
timestamps; never a Python object) that also refuses, each with one line (a
:class:`~neuroplastic.errors.ScenarioError`):

* a key given twice in one mapping (YAML would silently keep the last one);
* more than :data:`MAX_ALIAS_NODES` nodes reached through aliases (``*name``), counted while the document is
  composed, so a "billion laughs" document is refused after reading a few hundred bytes and before anything is
  expanded; an alias to a node that contains it (a recursive structure) is refused too;
* nesting deeper than :data:`MAX_DEPTH` lists/mappings (counted through aliases as well), before Python's
  recursion limit is reached;
* scalars that the safe constructor cannot turn into a value (a 5,000-digit integer, an impossible date).

:func:`read_text` reads a scenario file: at most :data:`MAX_BYTES` bytes of UTF-8 text, no NUL bytes.

Example
-------
>>> load_yaml("duration: 2 weeks\\nseed: 1\\n")
{'duration': '2 weeks', 'seed': 1}
>>> load_yaml("seed: 1\\nseed: 2\\n")
Traceback (most recent call last):
...
neuroplastic.errors.ScenarioError: yaml line 2: 'seed' is not allowed; expected each key once per mapping (already given at line 1)
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import ScenarioError

MAX_BYTES = 1 << 20          # 1 MiB: a scenario is a page of text
MAX_DEPTH = 50               # nested lists/mappings; a scenario needs about 6
MAX_ALIAS_NODES = 1000       # nodes reached through aliases (reusing a treatment or two costs ~10-30 each)
_MERGE = "tag:yaml.org,2002:merge"


def _line(mark) -> str:
    return f"yaml line {mark.line + 1}" if mark is not None else "yaml"


class ScenarioLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys, alias expansion past a budget and deep nesting (see module doc)."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0                  # lists/mappings open around the node being composed
        self._alias_nodes = 0            # nodes reached through aliases so far
        self._shape: dict[int, tuple[int, int]] = {}   # id(node) -> (expanded size, nesting height), when complete

    # -- composition: sizes and depths are known before anything is constructed ------------------------------
    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)
            shape = self._shape.get(id(node))
            if shape is None:
                raise ScenarioError(_line(event.start_mark), f"*{event.anchor}",
                                    "an alias to a complete node defined earlier (not to a node that contains it)")
            size, height = shape
            self._alias_nodes += size
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise ScenarioError(_line(event.start_mark), f"*{event.anchor}",
                                    f"at most {MAX_ALIAS_NODES:,} nodes reached through aliases in one document "
                                    f"(anchors and aliases are for reusing a small piece, such as a treatment)")
            if self._depth + height > MAX_DEPTH:
                raise ScenarioError(_line(event.start_mark), f"*{event.anchor}",
                                    f"lists and mappings nested at most {MAX_DEPTH} deep")
            return node
        collection = self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent)
        if collection:
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise ScenarioError(_line(self.peek_event().start_mark), "...",
                                    f"lists and mappings nested at most {MAX_DEPTH} deep")
        node = super().compose_node(parent, index)
        if collection:
            self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        shapes = [self._shape[id(c)] for c in children]
        self._shape[id(node)] = (1 + sum(s for s, _ in shapes),
                                 int(collection) + max((h for _, h in shapes), default=0))
        return node

    # -- construction ------------------------------------------------------------------------------------------
    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:   # unhashable: the safe constructor says so with its own message
                    continue
                if first is not key_node:
                    raise ScenarioError(_line(key_node.start_mark), key,
                                        f"each key once per mapping (already given at line {first.start_mark.line + 1})")
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep=deep)
        except ScenarioError:
            raise
        except (ValueError, OverflowError, TypeError) as exc:
            value = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            if isinstance(value, str) and len(value) > 60:
                value = value[:57] + "..."
            why = str(exc).split(";")[0].split(":")[0][:80]
            raise ScenarioError(_line(node.start_mark), value, f"a valid {node.tag.rsplit(':', 1)[-1]} ({why})") from None


def load_yaml(text: str):
    """Parse one YAML document with :class:`ScenarioLoader`; malformed YAML becomes a one-line ScenarioError."""
    if len(text) > MAX_BYTES:
        raise ScenarioError("scenario text", f"{len(text):,} characters", f"at most {MAX_BYTES:,} characters (1 MiB)")
    try:
        return yaml.load(text, Loader=ScenarioLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ScenarioError("yaml", where, f"well-formed YAML ({problem})") from None
    except RecursionError:  # not reachable through the depth limit; kept so no input can give a traceback
        raise ScenarioError("yaml", "document", f"lists and mappings nested at most {MAX_DEPTH} deep") from None


def read_text(path: str | Path) -> str:
    """Read a scenario file: at most :data:`MAX_BYTES` bytes of UTF-8 text (a BOM is dropped), without NUL bytes."""
    p = Path(path)
    field = "scenario file"
    try:
        with open(p, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(field, str(p), f"a readable file ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_BYTES:
        try:
            size = f"{p.stat().st_size:,} bytes"
        except OSError:
            size = "more bytes"
        raise ScenarioError(field, str(p), f"a file of at most {MAX_BYTES:,} bytes (1 MiB); this one has {size}")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ScenarioError(field, str(p), f"UTF-8 text (found a NUL byte at offset {nul}: binary data)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(field, str(p), f"UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start} is not "
                                           f"UTF-8; save the file as UTF-8)") from None
    return text[1:] if text.startswith("\ufeff") else text
