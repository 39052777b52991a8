"""Node objects as interchange nodes, and clusters from a Kueue ``Topology``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from topoplace.k8s_topology._common import _At, _name, _root

#: The node-level label; as the innermost level it makes each node its own domain.
HOSTNAME_LABEL = "kubernetes.io/hostname"
_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _taint(at: _At) -> dict[str, str]:
    taint = {"key": at.at("key").label_key()}
    value = at.at("value").opt_text()
    if value:
        taint["value"] = value
    effect = at.at("effect").text()
    if effect not in _EFFECTS:
        at.at("effect").fail(f"{effect!r} is not one of {', '.join(_EFFECTS)}")
    taint["effect"] = effect
    return taint


def _node(obj: object) -> dict[str, Any]:
    """A Node object as an interchange node (name, labels, capacity, taints, unschedulable)."""
    at = _root(obj, "Node", ("Node",))
    labels = at.at("metadata").at("labels").str_map()
    status = at.at("status")
    alloc = status.at("allocatable")
    node: dict[str, Any] = {
        "name": _name(at),
        "labels": labels,
        "capacity": (status.at("capacity") if alloc.missing() else alloc).resources(),
    }
    taints = [_taint(t) for t in at.at("spec").at("taints").items()]
    if taints:
        node["taints"] = taints
    ready = True
    for cond in status.at("conditions").items():
        if cond.at("type").opt_text() == "Ready":
            ready = cond.at("status").opt_text() == "True"
    if at.at("spec").at("unschedulable").flag() or not ready:
        node["unschedulable"] = True
    return node


def _nodes(nodes: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for obj in nodes:
        node = _node(obj)
        if node["name"] in seen:
            _root(obj, "Node").at("metadata").at("name").fail("a Node of this name came before")
        seen.add(node["name"])
        out.append(node)
    return out


def cluster_from_kueue(
    topology: Mapping[str, Any],
    nodes: Iterable[Mapping[str, Any]],
    *,
    flavor: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A cluster from a Kueue ``Topology`` and Node objects.

    ``levels`` are ``spec.levels[].nodeLabel``, outermost first. Each Node gives ``name``,
    ``labels``, ``capacity`` (``status.allocatable``, else ``status.capacity``), ``taints``
    (``spec.taints``) and ``unschedulable`` (``spec.unschedulable``, or a Ready condition that
    is not True: Kueue TAS leaves such nodes out). With a ``ResourceFlavor``, only the nodes
    carrying all its ``spec.nodeLabels`` are kept and its ``spec.nodeTaints`` are added to
    them; its ``spec.topologyName``, if set, must name ``topology``. (Its ``tolerations`` are
    pod-side: :func:`gang_from_kueue_job` adds them.)
    """
    at = _root(topology, "Topology", ("Topology",))
    topo_name = _name(at)
    levels: list[str] = []
    level_list = at.at("spec").at("levels")
    for i, level in enumerate(level_list.items()):
        key = level.at("nodeLabel").label_key()
        if key in levels:
            level.at("nodeLabel").fail(f"repeats spec.levels[{levels.index(key)}].nodeLabel")
        if HOSTNAME_LABEL in levels:
            level_list.items()[i - 1].at("nodeLabel").fail(f"{HOSTNAME_LABEL} must be last")
        levels.append(key)
    if not 1 <= len(levels) <= 16:
        level_list.fail(f"needs 1 to 16 levels, got {len(levels)}")
    selector: dict[str, str] = {}
    extra_taints: list[dict[str, str]] = []
    if flavor is not None:
        fl = _root(flavor, "ResourceFlavor", ("ResourceFlavor",))
        _name(fl)
        spec = fl.at("spec")
        selector = spec.at("nodeLabels").str_map()
        extra_taints = [_taint(t) for t in spec.at("nodeTaints").items()]
        wanted = spec.at("topologyName").opt_text()
        if wanted is not None and wanted != topo_name:
            spec.at("topologyName").fail(f"names Topology {wanted!r}, not {topo_name!r}")
    kept = []
    for node in _nodes(nodes):
        if any(node["labels"].get(k) != v for k, v in selector.items()):
            continue
        taints = node.get("taints", [])
        taints += [t for t in extra_taints if t not in taints]
        if taints:
            node["taints"] = taints
        kept.append(node)
    return {"levels": levels, "nodes": kept}
