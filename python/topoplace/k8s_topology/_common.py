"""Shared by the readers: object errors and field access, quantities, object naming, loading.

:class:`_At` is a value inside a Kubernetes object together with the object's name and the
field's JSON path, so that every check can fail with an
:class:`~topoplace.errors.ObjectError` such as ``Topology dc-gpu: spec.levels[1].nodeLabel:
missing``. Quantities are validated here and, where the readers must compute (sums,
differences), combined exactly and written back in Kubernetes syntax.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn, TypeAlias, TypeVar

from topoplace._yaml import yaml_module
from topoplace.errors import InvalidValueError, ObjectError

#: A Kubernetes quantity as the interchange format keeps it: the string given, or an int.
Quantity: TypeAlias = str | int

_QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
_BINARY = {s: 2 ** (10 * (i + 1)) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))}
_DECIMAL = {s: 10 ** (3 * (i + 1)) for i, s in enumerate("kMGTPE")}
_SMALL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000)}
#: A label name (the part after any prefix), also the syntax of a HyperNode tierName.
_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY = re.compile(rf"(?:[a-z0-9](?:[-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_NAME}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_T = TypeVar("_T")


# ----------------------------------------------------------------------------------------------
# Field access with object names and paths


def _type_name(value: object) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


class _At:
    """A value inside a Kubernetes object, with the object's name and the field's JSON path."""

    __slots__ = ("obj", "path", "value")

    def __init__(self, obj: str, path: str, value: Any) -> None:
        self.obj = obj
        self.path = path
        self.value = value

    def fail(self, reason: str) -> NoReturn:
        path = self.path or "<object>"
        raise ObjectError(f"{self.obj}: {path}: {reason}", self.obj, path, reason)

    def missing(self) -> bool:
        return self.value is None

    def at(self, key: str) -> _At:
        sub = f"{self.path}.{key}" if self.path else key
        if not _IDENT.fullmatch(key):
            sub = f"{self.path}[{json.dumps(key)}]"
        return _At(self.obj, sub, self.map().get(key))

    def map(self) -> Mapping[str, Any]:
        if self.value is None:
            return {}
        if not isinstance(self.value, Mapping):
            self.fail(f"expected an object, got {_type_name(self.value)}")
        return self.value

    def _typed(self, kind: type[_T], noun: str) -> _T | None:
        """The value if it is a ``kind``, None if absent; fails naming ``noun`` otherwise."""
        if self.value is None:
            return None
        if not isinstance(self.value, kind):
            self.fail(f"expected {noun}, got {_type_name(self.value)}")
        return self.value

    def items(self) -> list[_At]:
        values = self._typed(list, "a list") or []
        return [_At(self.obj, f"{self.path}[{i}]", v) for i, v in enumerate(values)]

    def opt_text(self) -> str | None:
        return self._typed(str, "a string")

    def text(self) -> str:
        value = self.opt_text()
        if not value:
            self.fail("missing")
        return value

    def opt_int(self, minimum: int = 0) -> int | None:
        value = self.value
        if value is None:
            return None
        if isinstance(value, str) and value.isdigit():  # annotations, Volcano string tiers
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(f"expected an integer, got {_type_name(value)}")
        if value < minimum:
            self.fail(f"must be at least {minimum}, got {value}")
        return value

    def int_or(self, default: int) -> int:
        """The integer (at least 0), ``default`` if absent."""
        value = self.opt_int()
        return default if value is None else value

    def integer(self, minimum: int = 0) -> int:
        value = self.opt_int(minimum)
        if value is None:
            self.fail("missing")
        return value

    def flag(self) -> bool:
        return self._typed(bool, "a boolean") or False

    def label_key(self) -> str:
        key = self.text()
        if len(key) > 317 or not _LABEL_KEY.fullmatch(key):
            self.fail(f"{key!r} is not a valid label key")
        return key

    def str_map(self) -> dict[str, str]:
        out = {}
        for key in self.map():
            out[str(key)] = self.at(str(key)).opt_text() or ""
        return out

    def quantity(self) -> Quantity:
        value = self.value
        if isinstance(value, float) and value == value and abs(value) != float("inf"):
            value = repr(value)
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                self.fail(f"must not be negative, got {value}")
            return value
        if not isinstance(value, str):
            self.fail(f"expected a quantity, got {_type_name(value)}")
        match = _QUANTITY.fullmatch(value)
        if match is None:
            self.fail(f"{value!r} is not a Kubernetes quantity")
        if match["sign"] == "-" and _value(value) != 0:
            self.fail(f"must not be negative, got {value!r}")
        return value

    def resources(self) -> dict[str, Quantity]:
        return {str(k): self.at(str(k)).quantity() for k in self.map()}


def _api_group(obj: Mapping[str, Any]) -> str | None:
    """The API group of ``apiVersion`` ("" for the core group), None if not given."""
    version = obj.get("apiVersion")
    if not isinstance(version, str):
        return None
    return version.rpartition("/")[0]


def _root(obj: object, kind: str, kinds: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> _At:
    """The object as an :class:`_At`, named ``Kind namespace/name``; checks ``kind`` and the
    ``apiVersion`` group when they are set."""
    if not isinstance(obj, Mapping):
        raise ObjectError(f"{kind}: expected an object, got {_type_name(obj)}", kind, "")
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name, namespace = meta.get("name"), meta.get("namespace")
    real_kind = obj.get("kind")
    label = real_kind if isinstance(real_kind, str) and real_kind else kind
    desc = f"{label} {namespace}/{name}" if namespace else f"{label} {name or '<unnamed>'}"
    at = _At(desc, "", obj)
    if kinds and isinstance(real_kind, str) and real_kind not in kinds:
        at.at("kind").fail(f"expected {' or '.join(kinds)}, got {real_kind!r}")
    group = _api_group(obj)
    if groups and group is not None and group not in groups:
        at.at("apiVersion").fail(f"expected the API group {' or '.join(groups)}, got {group!r}")
    return at


def _name(at: _At) -> str:
    return at.at("metadata").at("name").text()


def _namespace(at: _At) -> str | None:
    return at.at("metadata").at("namespace").opt_text()


# ----------------------------------------------------------------------------------------------
# Quantities


def _value(text: Quantity) -> Fraction:
    """The exact value of a validated quantity."""
    if isinstance(text, int):
        return Fraction(text)
    match = _QUANTITY.fullmatch(text)
    assert match is not None
    value = Fraction(match["num"])
    suffix = match["suffix"] or ""
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        value *= Fraction(10) ** int(suffix[1:])
    elif suffix:
        value *= _BINARY.get(suffix) or _DECIMAL.get(suffix) or _SMALL[suffix]
    return -value if match["sign"] == "-" else value


def _style(*texts: Quantity) -> str:
    if all(isinstance(t, int) for t in texts):
        return "int"
    matches = [_QUANTITY.fullmatch(t) for t in texts if isinstance(t, str)]
    suffixes = [(m["suffix"] or "") if m else "" for m in matches]
    if any(s in _BINARY for s in suffixes):
        return "bin"
    return "dec" if any(s in _DECIMAL for s in suffixes) else "plain"


def _format(value: Fraction, style: str) -> Quantity:
    """``value`` in Kubernetes syntax: the largest exact suffix of the inputs' family."""
    if value.denominator == 1:
        n = int(value)
        if style == "int":
            return n
        table = _BINARY if style == "bin" else _DECIMAL if style == "dec" else {}
        for suffix, factor in reversed(table.items()):
            if n and n % factor == 0:
                return f"{n // factor}{suffix}"
        return str(n)
    if (value * 1000).denominator == 1:
        return f"{value * 1000}m"
    with localcontext() as ctx:
        ctx.prec = 80
        return format(Decimal(value.numerator) / Decimal(value.denominator), "f")


class _Sum:
    """Per-resource quantities, combined exactly; a lone term keeps its original text."""

    def __init__(self, items: Mapping[str, Quantity] | None = None) -> None:
        self.items: dict[str, tuple[Fraction, Quantity]] = {}
        for key, text in (items or {}).items():
            self.items[key] = (_value(text), text)

    def copy(self) -> _Sum:
        out = _Sum()
        out.items = dict(self.items)
        return out

    def add(self, other: _Sum) -> None:
        for key, (value, text) in other.items.items():
            mine = self.items.get(key)
            if mine is None or mine[0] == 0:
                self.items[key] = (value, text)
            elif value != 0:
                total = mine[0] + value
                self.items[key] = (total, _format(total, _style(mine[1], text)))

    def maximum(self, other: _Sum) -> None:
        for key, item in other.items.items():
            if key not in self.items or item[0] > self.items[key][0]:
                self.items[key] = item

    def result(self) -> dict[str, Quantity]:
        return {key: text for key, (_, text) in self.items.items()}


# ----------------------------------------------------------------------------------------------
# Loading


def read_documents(path: str | Path) -> list[Any]:
    """The non-empty documents of a YAML (``---``-separated, needs pyyaml) or JSON file, as
    parsed. Raises :class:`~topoplace.errors.InvalidValueError` if the file cannot be read or
    parsed."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidValueError(f"{path}: cannot read: {e.strerror or e}") from e
    if path.suffix == ".json":
        try:
            return [json.loads(text)]
        except json.JSONDecodeError as e:
            raise InvalidValueError(f"{path}: invalid JSON: {e}") from e
    yaml = yaml_module()
    if yaml is None:
        raise InvalidValueError(
            f"{path}: reading YAML needs pyyaml (pip install 'topoplace[k8s]'), "
            "or give the file as JSON"
        )
    # The C loader, when built, reads a large `kubectl get nodes` dump many times faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return [d for d in yaml.load_all(text, Loader=loader) if d is not None]
    except yaml.YAMLError as e:
        raise InvalidValueError(f"{path}: invalid YAML: {e}") from e


def load_yaml_documents(path: str | Path) -> list[dict[str, Any]]:
    """The objects of a YAML (``---``-separated, needs pyyaml) or JSON file, in order.

    Empty documents are skipped; a JSON list, and any ``...List`` object's ``items``, are
    flattened. Raises :class:`~topoplace.errors.InvalidValueError` if the file cannot be read
    or parsed, or if it holds something other than objects.
    """
    docs = read_documents(path)
    out: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        items = doc if isinstance(doc, list) else [doc]
        for item in items:
            if item is None:
                continue
            if not isinstance(item, dict):
                raise InvalidValueError(f"{path}: document {i}: expected an object")
            kind = item.get("kind")
            if isinstance(kind, str) and kind.endswith("List") and "items" in item:
                out.extend(x for x in item["items"] or [] if isinstance(x, dict))
            else:
                out.append(item)
    return out


def objects_of_kind(objects: Iterable[Mapping[str, Any]], kind: str) -> list[Mapping[str, Any]]:
    """The objects whose ``kind`` is ``kind``, in order."""
    return [o for o in objects if isinstance(o, Mapping) and o.get("kind") == kind]
