"""Kubernetes Dynamic Resource Allocation: the scheduler's structured-parameters allocator.

Given the ResourceSlices a node publishes, the DeviceClasses and the ResourceClaims of a pod,
:func:`allocate` answers as kube-scheduler 1.34 would: one ``status.allocation`` dict per
claim (in the API's camelCase shape, ready to patch), or an :class:`Unsatisfiable` result
saying why the claims cannot be allocated on that node. "Does not fit" is an answer, not an
exception; malformed objects raise :class:`~topoplace.errors.ObjectError` naming the object
and the field's path.

Objects are plain dicts in the API's shape (``yaml.safe_load`` output, or the kubernetes
client's ``sanitize_for_serialization``), lists of them, ``...List`` objects, or JSON text.
Parsing is done once per call; a caller that reuses the same objects across calls (a
scheduler's filter loop) can parse them once with :func:`parse_slices`, :func:`parse_classes`
and :func:`parse_claims` and pass the parsed handles instead.

    >>> import topoplace.dra as dra
    >>> dra.allocate([], [], []) == []
    True
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from topoplace._core import DraClaims, DraClasses, DraSlices, dra_allocate, dra_allocate_many
from topoplace._yaml import yaml_module
from topoplace.errors import InvalidValueError

__all__ = [
    "ALIGNMENT",
    "Allocations",
    "MODES",
    "AllocationResult",
    "ClaimsLike",
    "ClassesLike",
    "DraClaims",
    "DraClasses",
    "DraSlices",
    "NodeLike",
    "SlicesLike",
    "Unsatisfiable",
    "allocate",
    "allocate_many",
    "load_objects",
    "parse_claims",
    "parse_classes",
    "parse_slices",
    "yaml_module",
]

#: Allocation modes (``docs/dra.md``): ``"exact"``, ``"plain"`` and ``"pruned"`` all give
#: kube-scheduler's own first-fit answer (``"plain"`` is its search as it is, exponential on
#: some refusals; ``"pruned"`` drops branches without solutions; ``"exact"`` runs the plain
#: search while it stays small, then the pruned one); ``"scored"`` gives the best-aligned
#: feasible allocation.
MODES: tuple[str, ...] = ("exact", "plain", "pruned", "scored")
#: The attributes ``mode="scored"`` aligns on by default, per level, in order of precedence.
ALIGNMENT: dict[str, tuple[str, ...]] = {
    "pcie_root": ("resource.kubernetes.io/pcieRoot",),
    "numa": ("resource.kubernetes.io/numaNode", "dra.net/numaNode", "dra.cpu/numaNodeID"),
    "socket": ("resource.kubernetes.io/socket", "dra.cpu/socketID"),
}

_Objects: TypeAlias = str | bytes | Mapping[str, Any] | Sequence[Mapping[str, Any]]
#: ResourceSlices: dicts, a list of dicts, a ``ResourceSliceList``, JSON text, or parsed.
SlicesLike: TypeAlias = _Objects | DraSlices
#: DeviceClasses, in the same forms.
ClassesLike: TypeAlias = _Objects | DraClasses
#: ResourceClaims, in the same forms; they are allocated together, in order.
ClaimsLike: TypeAlias = _Objects | DraClaims
#: A Node dict, a ``{"name": ..., "labels": {...}}`` dict, or just the node's name.
NodeLike: TypeAlias = str | Mapping[str, Any]
#: One claim's ``status.allocation``.
AllocationResult: TypeAlias = dict[str, Any]
_DeviceRef: TypeAlias = Mapping[str, str] | tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Unsatisfiable:
    """The claims cannot all be allocated on the node; ``reason`` says why. Falsy."""

    reason: str

    def __bool__(self) -> bool:
        return False


def _json_default(value: object) -> str:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _text(objects: _Objects) -> str:
    if isinstance(objects, str):
        return objects
    if isinstance(objects, bytes):
        return objects.decode()
    if isinstance(objects, Mapping):
        return json.dumps(objects, default=_json_default, separators=(",", ":"))
    return json.dumps(list(objects), default=_json_default, separators=(",", ":"))


def parse_slices(slices: SlicesLike) -> DraSlices:
    """ResourceSlices parsed and validated once, to pass to :func:`allocate` many times."""
    return slices if isinstance(slices, DraSlices) else DraSlices(_text(slices))


def parse_classes(classes: ClassesLike) -> DraClasses:
    """DeviceClasses parsed and validated once."""
    return classes if isinstance(classes, DraClasses) else DraClasses(_text(classes))


def parse_claims(claims: ClaimsLike) -> DraClaims:
    """ResourceClaims parsed and validated once."""
    return claims if isinstance(claims, DraClaims) else DraClaims(_text(claims))


def _node_text(node: NodeLike) -> str:
    if isinstance(node, str):
        return '{"metadata":{"name":' + json.dumps(node) + "}}"
    if "metadata" in node:
        return json.dumps(node, default=_json_default)
    if "name" not in node:
        raise InvalidValueError("a node needs metadata.name or name")
    meta = {"name": node["name"], "labels": dict(node.get("labels") or {})}
    return json.dumps({"metadata": meta})


def _device_refs(allocated: Iterable[_DeviceRef]) -> list[tuple[str, str, str]]:
    refs = []
    for ref in allocated:
        if isinstance(ref, tuple):
            refs.append(ref)
            continue
        try:
            refs.append((ref["driver"], ref["pool"], ref["device"]))
        except KeyError as exc:
            raise InvalidValueError(
                f"allocated device {dict(ref)!r} lacks {exc.args[0]!r}"
                " (needs driver, pool and device)"
            ) from None
    return refs


def _allocated_claims(claims: ClaimsLike | Iterable[Mapping[str, Any]]) -> DraClaims | None:
    if isinstance(claims, (DraClaims, str, bytes, Mapping)):
        return parse_claims(claims)
    listed = list(claims)
    return parse_claims(listed) if listed else None


def _alignment(
    alignment: Mapping[str, Sequence[str]] | None,
) -> tuple[list[str], list[str], list[str]] | None:
    if alignment is None:
        return None
    unknown = sorted(set(alignment) - set(ALIGNMENT))
    if unknown:
        raise InvalidValueError(
            f"alignment: unknown level {unknown[0]!r} (levels: {', '.join(ALIGNMENT)})"
        )
    levels = {**ALIGNMENT, **alignment}
    for level, names in levels.items():
        if isinstance(names, str):
            raise InvalidValueError(f"alignment[{level!r}]: a list of attribute names, not a str")
    return (list(levels["pcie_root"]), list(levels["numa"]), list(levels["socket"]))


def _result(pair: tuple[bool, str]) -> list[AllocationResult] | Unsatisfiable:
    ok, text = pair
    if ok:
        results: list[AllocationResult] = json.loads(text)
        return results
    return Unsatisfiable(text)


def allocate(
    slices: SlicesLike,
    classes: ClassesLike,
    claims: ClaimsLike,
    *,
    node: NodeLike | None = None,
    allocated: Iterable[_DeviceRef] = (),
    allocated_claims: ClaimsLike | Iterable[Mapping[str, Any]] = (),
    features: Iterable[str] = (),
    mode: str = "exact",
    alignment: Mapping[str, Sequence[str]] | None = None,
) -> list[AllocationResult] | Unsatisfiable:
    """Allocates every claim together on ``node``, as kube-scheduler 1.34 would.

    Args:
        slices: every ResourceSlice (those of other nodes are skipped, as upstream).
        classes: every DeviceClass.
        claims: the claims to allocate together, in order.
        node: the node (``None``: only devices of ``allNodes`` slices are reachable).
        allocated: devices already in use, as ``{"driver", "pool", "device"}`` dicts.
        allocated_claims: ResourceClaims already allocated (to other pods), in the forms
            ``claims`` takes. What their ``status.allocation`` holds is in use, as the
            scheduler counts it: each device result takes its device, except a share of a
            multi-allocatable device (``shareID`` set, with ``DRAConsumableCapacity`` on),
            which takes its ``consumedCapacity`` from the device, and an ``adminAccess``
            result, which takes nothing. Claims without an allocation are skipped.
        features: the feature gates on (``"DRAPrioritizedList"``...). The other DRA gates
            of Kubernetes 1.34 to 1.36 (``"DynamicResourceAllocation"``...) are accepted and
            change nothing; any other name raises :class:`~topoplace.errors.InvalidValueError`.
        mode: ``"exact"`` (the scheduler's own first-fit answer, fast also when it is "no"),
            ``"plain"`` (the same, by the scheduler's search as it is: the reference),
            ``"pruned"`` (the same, pruned search only) or ``"scored"`` (the best-aligned
            feasible allocation: GPUs with their NICs on one PCIe root, then one NUMA node,
            then one socket; see ``docs/dra.md``).
        alignment: for ``"scored"``, the attributes giving a device's place, per level
            (``"pcie_root"``, ``"numa"``, ``"socket"``), first found wins; levels not given
            keep :data:`ALIGNMENT`.

    Returns:
        One ``status.allocation`` dict per claim, in order, or :class:`Unsatisfiable`.

    Raises:
        ObjectError: an object is malformed (names the object and the field's path).
        InvalidValueError: the scheduler itself would fail (unknown class, a selector that
            does not compile, a feature used while its gate is off, an invalid pool reached
            by the search...), a feature gate is unknown, or ``mode`` or ``alignment`` is
            not one of those documented.
    """
    pair = dra_allocate(
        parse_slices(slices),
        parse_classes(classes),
        parse_claims(claims),
        None if node is None else _node_text(node),
        _device_refs(allocated),
        _allocated_claims(allocated_claims),
        list(features),
        mode,
        _alignment(alignment),
    )
    return _result(pair)


class Allocations(Mapping[str, "list[AllocationResult] | Unsatisfiable"]):
    """What :func:`allocate_many` decided, by node name in the order given.

    A read-only mapping. Each node's answer is decoded when it is first read; a scheduler
    that only filters nodes (:meth:`feasible`) never pays for the allocations it does not use.
    """

    __slots__ = ("_decoded", "_index", "_pairs")

    def __init__(self, names: Sequence[str], pairs: Sequence[tuple[bool, str]]) -> None:
        self._index = {name: i for i, name in enumerate(names)}
        self._pairs = pairs
        self._decoded: dict[int, list[AllocationResult] | Unsatisfiable] = {}

    def __getitem__(self, name: str) -> list[AllocationResult] | Unsatisfiable:
        i = self._index[name]
        got = self._decoded.get(i)
        if got is None:
            got = self._decoded[i] = _result(self._pairs[i])
        return got

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def feasible(self) -> list[str]:
        """The nodes where every claim can be allocated, in order (nothing is decoded)."""
        return [name for name, i in self._index.items() if self._pairs[i][0]]

    def __repr__(self) -> str:
        return f"<Allocations: {len(self.feasible())} of {len(self)} nodes feasible>"


def allocate_many(
    slices_by_node: Mapping[str, SlicesLike],
    classes: ClassesLike,
    claims: ClaimsLike,
    *,
    nodes: Mapping[str, NodeLike] | None = None,
    allocated: Iterable[_DeviceRef] = (),
    allocated_claims: ClaimsLike | Iterable[Mapping[str, Any]] = (),
    features: Iterable[str] = (),
    mode: str = "exact",
    alignment: Mapping[str, Sequence[str]] | None = None,
) -> Allocations:
    """:func:`allocate` of one claim set against many nodes, in one call with the GIL released.

    ``slices_by_node`` maps each node's name to the slices it reaches; ``nodes`` optionally
    gives the Node (labels) for a name, else the node is known by its name only. ``allocated``
    and ``allocated_claims`` are in use on every node. Classes and claims are parsed once and
    compiled selectors are shared. Returns the result per node, in the order of
    ``slices_by_node``, as a read-only mapping that decodes each node's answer when it is
    read. An object or scheduler error on any node raises.
    """
    names = list(slices_by_node)
    nodes = nodes or {}
    pairs = dra_allocate_many(
        [parse_slices(slices_by_node[name]) for name in names],
        parse_classes(classes),
        parse_claims(claims),
        [_node_text(nodes.get(name, name)) for name in names],
        _device_refs(allocated),
        _allocated_claims(allocated_claims),
        list(features),
        mode,
        _alignment(alignment),
    )
    return Allocations(names, pairs)


def load_objects(path: str | Path) -> list[dict[str, Any]]:
    """The Kubernetes objects of a JSON or YAML file (YAML needs ``pyyaml``), or of every
    ``*.json``, ``*.yaml`` and ``*.yml`` file of a folder in name order. Lists and ``...List``
    objects are flattened."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".json", ".yaml", ".yml"))
        return [obj for f in files for obj in load_objects(f)]
    text = path.read_text()
    docs: list[Any]
    if path.suffix == ".json":
        docs = [json.loads(text)]
    else:
        yaml = yaml_module()
        if yaml is None:  # pragma: no cover - depends on the environment
            raise InvalidValueError(
                f"{path}: reading YAML needs pyyaml (pip install 'topoplace[k8s]')"
            )
        docs = list(yaml.safe_load_all(text))
    out: list[dict[str, Any]] = []
    for doc in docs:
        if doc is None:
            continue
        items = doc if isinstance(doc, list) else doc.get("items", [doc])
        if isinstance(doc, dict) and "metadata" in doc:
            items = [doc]
        out.extend(items)
    return out
