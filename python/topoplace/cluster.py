"""Clusters: all-or-nothing gang placement inside topology domains.

A :class:`Cluster` is a snapshot of nodes (capacities per node and, when known, per NUMA
node; labels; taints) with a domain tree from label levels, outermost first. ``place`` finds
where a gang's pods go (or says why they cannot go anywhere) without changing anything;
``commit`` takes what a placement uses and ``release`` gives it back; ``what_if`` places a
sequence of gangs, each committed on a copy. The interchange format (also the files of
``topoplace gang``) is documented in ``docs/cluster.md``; the readers in
:mod:`topoplace.k8s_topology` build it from Kueue, Volcano, NodeResourceTopology and Workload
objects.

    >>> from topoplace.cluster import Cluster
    >>> zone = {"cpu": "48", "memory": "256Gi", "nvidia.com/gpu": 4}
    >>> c = Cluster({"levels": ["rack"], "nodes": [
    ...     {"name": f"n{i}", "labels": {"rack": f"r{i // 2}"},
    ...      "capacity": {"cpu": "96", "memory": "512Gi", "nvidia.com/gpu": 8},
    ...      "numa": [zone, zone]} for i in range(4)]})
    >>> gang = {"name": "train", "groups": [{"name": "workers", "count": 4,
    ...         "request": {"cpu": "12", "nvidia.com/gpu": 4}, "required_level": "rack"}]}
    >>> [node for _, _, node, _ in c.place(gang).pods]
    ['n0', 'n0', 'n1', 'n1']
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from topoplace._core import ClusterCore, GangPlacement, Topology
from topoplace.errors import InvalidValueError

__all__ = ["STRATEGIES", "Cluster", "GangPlacement", "load_spec", "placement_dict"]

#: The placement strategies: Kueue TAS's best fit, least fragmentation, spread.
STRATEGIES = ("tight", "pack", "balanced")


def _text(spec: Mapping[str, Any] | str) -> str:
    return spec if isinstance(spec, str) else json.dumps(spec, separators=(",", ":"))


def _zones(source: object, where: str) -> tuple[Topology, list[dict[str, Any]]]:
    """A machine's topology and, per NUMA node, its CPUs, memory and GPUs."""
    from topoplace.errors import TopoplaceError
    from topoplace.sources import load

    try:
        if isinstance(source, str):
            topo = load(source)
        elif isinstance(source, Mapping):
            topo = Topology.from_json(json.dumps(source))
        else:
            raise InvalidValueError("expected builtin:NAME, a path, or an inline topology")
    except TopoplaceError as e:
        raise InvalidValueError(f"cluster: {where}: {e}") from e
    gpus = [g.numa_node for g in topo.gpus]
    zones = []
    for numa in topo.numa_nodes:
        if not numa.allowed:
            continue
        zone: dict[str, Any] = {"cpu": str(len(numa.cpus)), "memory": numa.memory_bytes}
        if gpus:
            zone["nvidia.com/gpu"] = gpus.count(numa.index)
        zones.append(zone)
    return topo, zones


def _with_topologies(
    spec: Mapping[str, Any],
) -> tuple[Mapping[str, Any], list[tuple[list[int], Topology]]]:
    """``spec`` with each node's ``topology`` turned into its ``numa`` amounts (and its
    ``capacity``, the sums, unless given), and per distinct topology the nodes that carry it
    (each source loaded once)."""
    nodes = spec.get("nodes")
    if not isinstance(nodes, list) or not any(
        isinstance(n, Mapping) and "topology" in n for n in nodes
    ):
        return spec, []
    loaded: dict[str, tuple[Topology, list[dict[str, Any]]]] = {}
    carriers: dict[str, list[int]] = {}
    out = []
    for i, node in enumerate(nodes):
        if not isinstance(node, Mapping) or "topology" not in node:
            out.append(node)
            continue
        source = node["topology"]
        key = source if isinstance(source, str) else json.dumps(source, sort_keys=True)
        if key not in loaded:
            loaded[key] = _zones(source, f"nodes[{i}].topology")
        zones = loaded[key][1]
        carriers.setdefault(key, []).append(i)
        filled = {k: v for k, v in node.items() if k != "topology"}
        filled.setdefault("numa", zones)
        if "capacity" not in filled:
            totals: dict[str, int] = {}
            for zone in zones:
                for name, amount in zone.items():
                    totals[name] = totals.get(name, 0) + int(amount)
            filled["capacity"] = totals
        out.append(filled)
    attach = [(carriers[key], topo) for key, (topo, _) in loaded.items()]
    return {**spec, "nodes": out}, attach


def load_spec(path: str | Path) -> dict[str, Any]:
    """A cluster or gang file: JSON, or YAML (needs pyyaml, the ``k8s`` extra)."""
    from topoplace._yaml import yaml_module

    path = Path(path)
    text = path.read_text()
    if path.suffix == ".json":
        loaded: Any = json.loads(text)
    else:
        yaml = yaml_module()
        if yaml is None:  # pragma: no cover - depends on the environment
            raise InvalidValueError(
                f"{path}: reading YAML needs pyyaml (pip install 'topoplace[k8s]')"
            )
        loaded = yaml.safe_load(text)
    if not isinstance(loaded, dict):
        raise InvalidValueError(f"{path}: expected a mapping at the top")
    return loaded


def _with_strategy(gang: Mapping[str, Any] | str, strategy: str | None) -> Mapping[str, Any] | str:
    if strategy is None:
        return gang
    if strategy not in STRATEGIES:
        raise InvalidValueError(
            f"unknown strategy {strategy!r} (expected one of {', '.join(STRATEGIES)})"
        )
    loaded = json.loads(gang) if isinstance(gang, str) else gang
    if not isinstance(loaded, Mapping):
        raise InvalidValueError("gang: expected a mapping at the top")
    return {**loaded, "strategy": strategy}


def placement_dict(placement: GangPlacement) -> dict[str, Any]:
    """``{gang, feasible, placements: [{group, index, node, numa}], reasons}``; a pod on a
    node with a topology also has its ``cpus``, ``gpus`` and ``numa_nodes``."""
    rows = []
    for (group, index, node, numa), alloc in zip(
        placement.pods, placement.allocations, strict=True
    ):
        row: dict[str, Any] = {"group": group, "index": index, "node": node, "numa": numa}
        if alloc is not None:
            row.update(alloc)
        rows.append(row)
    return {
        "gang": placement.gang,
        "feasible": placement.feasible,
        "placements": rows,
        "reasons": placement.reasons,
    }


class Cluster:
    """A cluster snapshot; safe to share between threads (placing reads, committing writes).

    Args:
        spec: ``{"levels": [label keys, outermost first], "nodes": [{"name", "labels",
            "capacity", "used", "numa", "numa_used", "topology_policy", "taints",
            "unschedulable", "topology"}]}`` as a dict or JSON text. Quantities use Kubernetes
            syntax. A node's ``topology`` (``"builtin:NAME"``, a path :func:`topoplace.load`
            reads, or an inline topoplace JSON topology) gives its per-NUMA CPUs, memory and
            GPUs (``nvidia.com/gpu``), and its capacity when none is given.

    Raises:
        ObjectError: a field is malformed (names the field's path).
        InvalidValueError: a node name repeats, more is used than allocatable, or a node's
            topology cannot be loaded.
    """

    __slots__ = ("_core",)

    def __init__(self, spec: Mapping[str, Any] | str) -> None:
        attach: list[tuple[list[int], Topology]] = []
        if not isinstance(spec, str):
            spec, attach = _with_topologies(spec)
        self._core = ClusterCore(_text(spec))
        for nodes, topo in attach:
            self._core.attach_topology(nodes, topo)

    @classmethod
    def from_arrays(
        cls,
        names: Sequence[str],
        resources: Sequence[str],
        capacity: npt.ArrayLike,
        levels: Mapping[str, tuple[npt.ArrayLike, Sequence[str]]],
        *,
        used: npt.ArrayLike | None = None,
        numa: npt.ArrayLike | None = None,
        numa_used: npt.ArrayLike | None = None,
        single_numa: npt.ArrayLike | None = None,
    ) -> Cluster:
        """A cluster from arrays, for thousands of nodes at once.

        Args:
            names: node names, one per row.
            resources: resource names, one per column (``cpu`` in millicores, the rest in
                units: bytes for ``memory``).
            capacity: allocatable amounts, nodes x resources (integers).
            levels: per level label key, outermost first: ``(ids, values)``, each node's
                index into ``values`` (negative: no label at that level).
            used: what is used, like ``capacity``.
            numa: per NUMA node allocatable amounts, nodes x NUMA nodes x resources.
            numa_used: what is used per NUMA node, like ``numa``.
            single_numa: per node, whether its Topology Manager policy is
                ``single-numa-node``.

        Raises:
            InvalidValueError: an array has the wrong shape, a label id is out of range, a
                name repeats, or more is used than allocatable.
        """

        def i64(a: npt.ArrayLike, dims: int, what: str) -> npt.NDArray[np.int64]:
            out = np.ascontiguousarray(a, dtype=np.int64)
            if out.ndim != dims:
                raise InvalidValueError(
                    f"cluster arrays: {what} must have {dims} dimensions, got {out.ndim}"
                )
            return out

        labels = [
            (np.ascontiguousarray(ids, dtype=np.int64), list(values))
            for ids, values in levels.values()
        ]
        self = cls.__new__(cls)
        self._core = ClusterCore.from_arrays(
            list(names),
            list(resources),
            i64(capacity, 2, "capacity"),
            list(levels),
            labels,
            used=None if used is None else i64(used, 2, "used"),
            numa=None if numa is None else i64(numa, 3, "numa"),
            numa_used=None if numa_used is None else i64(numa_used, 3, "numa_used"),
            single_numa=None
            if single_numa is None
            else np.ascontiguousarray(single_numa, dtype=np.bool_),
        )
        return self

    @classmethod
    def from_file(cls, path: str | Path) -> Cluster:
        """A cluster from a JSON or YAML file in the interchange format."""
        return cls(load_spec(path))

    @property
    def levels(self) -> list[str]:
        """The domain levels, outermost first."""
        return self._core.levels

    def node_names(self) -> list[str]:
        """The nodes, in order."""
        return self._core.node_names()

    def free(self, node: str) -> dict[str, int]:
        """What is free on ``node`` per resource (``cpu`` in millicores, the rest in units)."""
        return dict(self._core.free(node))

    def whole_free(self) -> dict[str, int]:
        """What is left entirely free: ``{"nodes": n, LEVEL: domains, ...}``, the nodes with
        nothing taken and, per level, the domains none of whose nodes has anything taken
        (what whole-node and whole-rack jobs need; :meth:`place` with ``strategy="pack"``
        keeps the most of them)."""
        nodes, per_level = self._core.whole_free()
        return {"nodes": nodes, **dict(zip(self.levels, per_level, strict=True))}

    def place(self, gang: Mapping[str, Any] | str, *, strategy: str | None = None) -> GangPlacement:
        """Where the gang's pods go, all or nothing; falsy with ``reasons`` when nowhere.

        Changes nothing: pass the result to :meth:`commit` to take it.

        Args:
            gang: ``{"name", "groups": [...], "strategy"}`` as a dict or JSON text.
            strategy: overrides the gang's ``strategy``: ``"tight"`` (the default, Kueue
                TAS's best fit), ``"pack"`` (least fragmentation: partly used domains and
                nodes first, whole free nodes and racks kept) or ``"balanced"`` (pods spread
                evenly, the roomiest domain).
        """
        return self._core.place(_text(_with_strategy(gang, strategy)))

    def node_fits(self, gang: Mapping[str, Any] | str) -> dict[str, tuple[int, str | None]]:
        """Per node, how many pods of the gang's first group it holds now and, when none,
        why (``"not enough nvidia.com/gpu"``, ``"no single NUMA node has room ..."``): a
        scheduler's filter, one node at a time (required levels and slices are not applied)."""
        fits = self._core.node_fits(_text(gang))
        return dict(zip(self.node_names(), fits, strict=True))

    def what_if(
        self, gangs: Iterable[Mapping[str, Any] | str], *, strategy: str | None = None
    ) -> list[GangPlacement]:
        """Each gang placed in turn, those that fit committed on a copy of the cluster
        (``strategy`` as in :meth:`place`)."""
        return self._core.place_sequence([_text(_with_strategy(g, strategy)) for g in gangs])

    def commit(self, placement: GangPlacement) -> None:
        """Takes what ``placement`` uses; refuses it, whole, if the cluster changed so that
        it no longer fits, and refuses to apply a placement twice."""
        self._core.commit(placement)

    def release(self, placement: GangPlacement) -> None:
        """Gives a committed placement back."""
        self._core.release(placement)
