"""Per-NUMA capacity, usage and Topology Manager policy from ``NodeResourceTopology`` objects."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from topoplace.errors import InvalidValueError
from topoplace.k8s_topology._common import Quantity, _format, _name, _root, _style, _value

_POLICIES = ("none", "best-effort", "restricted", "single-numa-node")


def numa_from_nrt(
    nrt: Mapping[str, Any],
) -> tuple[list[dict[str, Quantity]], list[dict[str, Quantity]], str | None]:
    """Per-NUMA allocatable, per-NUMA used, and the Topology Manager policy of one NRT.

    Zones of type ``Node`` are the NUMA nodes, ordered by the number ending their name
    (``node-0``, ``node-1``...) when every name has one, else as listed. For each resource,
    allocatable is ``allocatable`` and used is ``allocatable - available``. The policy is the
    ``topologyManagerPolicy`` attribute (kubelet spelling), else the deprecated
    ``topologyPolicies[0]`` mapped to it (``SingleNUMANodePodLevel`` -> ``single-numa-node``),
    else ``None``.
    """
    at = _root(nrt, "NodeResourceTopology", ("NodeResourceTopology",))
    zones = [z for z in at.at("zones").items() if z.at("type").text() == "Node"]
    names = [z.at("name").text() for z in zones]
    for i, zone in enumerate(zones):
        if names.index(names[i]) != i:
            zone.at("name").fail("a zone of this name came before")
    ids = [re.search(r"([0-9]+)$", name) for name in names]
    if all(ids):
        order = sorted(range(len(zones)), key=lambda i: int(ids[i][1]))  # type: ignore[index]
        zones = [zones[i] for i in order]
    numa: list[dict[str, Quantity]] = []
    used: list[dict[str, Quantity]] = []
    for zone in zones:
        alloc: dict[str, Quantity] = {}
        taken: dict[str, Quantity] = {}
        for res in zone.at("resources").items():
            name = res.at("name").text()
            if not res.at("capacity").missing():
                res.at("capacity").quantity()
            allocatable = res.at("allocatable").quantity()
            available = res.at("available").quantity()
            diff = _value(allocatable) - _value(available)
            if diff < 0:
                res.at("available").fail(f"{available} exceeds allocatable {allocatable}")
            alloc[name] = allocatable
            taken[name] = _format(diff, _style(allocatable, available))
        numa.append(alloc)
        used.append(taken)
    policy: str | None = None
    for attr in at.at("attributes").items():
        if attr.at("name").opt_text() == "topologyManagerPolicy":
            policy = attr.at("value").text()
            if policy not in _POLICIES:
                attr.at("value").fail(f"{policy!r} is not one of {', '.join(_POLICIES)}")
    old = at.at("topologyPolicies").items()
    if policy is None and old:
        value = old[0].text()
        for prefix, kubelet in (
            ("SingleNUMANode", "single-numa-node"),
            ("Restricted", "restricted"),
            ("BestEffort", "best-effort"),
            ("None", "none"),
        ):
            if value.startswith(prefix):
                policy = kubelet
        if policy is None:
            old[0].fail(f"{value!r} is not a TopologyManagerPolicy")
    return numa, used, policy


def apply_nrt(cluster: Mapping[str, Any], nrts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A copy of ``cluster`` whose nodes named like an NRT (``metadata.name``) get its
    ``numa``, ``numa_used`` and ``topology_policy`` (see :func:`numa_from_nrt`). NRTs of
    nodes not in the cluster are ignored; two NRTs of one node are an error."""
    nodes = cluster.get("nodes")
    if not isinstance(nodes, list) or not all(isinstance(n, Mapping) for n in nodes):
        raise InvalidValueError("cluster: nodes: expected a list of objects")
    out = [dict(n) for n in nodes]
    index = {n.get("name"): i for i, n in enumerate(out)}
    seen: set[str] = set()
    for obj in nrts:
        at = _root(obj, "NodeResourceTopology", ("NodeResourceTopology",))
        name = _name(at)
        if name in seen:
            at.at("metadata").at("name").fail("a NodeResourceTopology of this node came before")
        seen.add(name)
        numa, used, policy = numa_from_nrt(obj)
        if name in index:
            node = out[index[name]]
            node["numa"], node["numa_used"] = numa, used
            node["used"] = _node_used(node, used)
            if policy is not None:
                node["topology_policy"] = policy
    return {**cluster, "nodes": out}


def _node_used(node: Mapping[str, Any], numa_used: list[dict[str, Quantity]]) -> dict[str, Any]:
    """The node's ``used`` with, per resource the NRT reports, at least the sum of its NUMA
    nodes' use (capped at the node's allocatable): a Node object says nothing of what its
    pods take, and without this the node totals would count it all free."""
    given = node.get("used")
    out: dict[str, Any] = dict(given) if isinstance(given, Mapping) else {}
    capacity = node.get("capacity")
    capacity = capacity if isinstance(capacity, Mapping) else {}
    for resource in sorted({r for zone in numa_used for r in zone}):
        amounts = [zone[resource] for zone in numa_used if resource in zone]
        total = sum((_value(a) for a in amounts), start=_value(0))
        if resource in capacity:
            total = min(total, _value(capacity[resource]))
        if resource in out:
            if _value(out[resource]) >= total:
                continue
        out[resource] = _format(total, _style(*amounts))
    return out
