"""Volcano: clusters from ``HyperNode`` objects, and gangs from Volcano ``Job`` objects."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from topoplace.errors import InvalidValueError
from topoplace.k8s_topology._common import _NAME, _At, _name, _root
from topoplace.k8s_topology.nodes import HOSTNAME_LABEL, _nodes
from topoplace.k8s_topology.pods import _group, _Member

#: Prefix of the synthetic label keys :func:`cluster_from_hypernodes` gives each node, one per
#: HyperNode tier: ``topoplace.io/hypernode-<tierName>``, or ``...-tier-<N>`` without a tierName.
HYPERNODE_LABEL_PREFIX = "topoplace.io/hypernode-"


def _hypernodes(hypernodes: Iterable[Mapping[str, Any]]) -> list[_At]:
    return [_root(h, "HyperNode", ("HyperNode",)) for h in hypernodes]


class _Tiers:
    """HyperNode tiers: number -> level label key, and tierName -> number."""

    def __init__(self, hypernodes: list[_At]) -> None:
        self.keys: dict[int, str] = {}
        self.names: dict[str, int] = {}
        named: dict[int, str] = {}
        for hn in hypernodes:
            tier = hn.at("spec").at("tier").integer(1)
            name_at = hn.at("spec").at("tierName")
            tier_name = name_at.opt_text()
            if tier_name:
                if not re.fullmatch(_NAME, tier_name) or len(tier_name) > 53:
                    name_at.fail(f"{tier_name!r} cannot be part of a label key")
                if named.setdefault(tier, tier_name) != tier_name:
                    name_at.fail(f"tier {tier} is already named {named[tier]!r}")
                if self.names.setdefault(tier_name, tier) != tier:
                    name_at.fail(f"{tier_name!r} already names tier {self.names[tier_name]}")
            self.keys.setdefault(tier, "")
        for tier in self.keys:
            self.keys[tier] = HYPERNODE_LABEL_PREFIX + named.get(tier, f"tier-{tier}")
        if len(set(self.keys.values())) != len(self.keys):
            hypernodes[0].fail("two tiers map to the same label key; give every tier a tierName")


def hypernode_levels(hypernodes: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """Tier number -> the synthetic level label key :func:`cluster_from_hypernodes` uses."""
    tiers = _Tiers(_hypernodes(hypernodes))
    return dict(sorted(tiers.keys.items()))


def _selector_matches(sel: _At, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels, matchExpressions) against labels."""
    for key, value in sel.at("matchLabels").str_map().items():
        if labels.get(key) != value:
            return False
    for expr in sel.at("matchExpressions").items():
        key = expr.at("key").text()
        op = expr.at("operator").text()
        values = [v.text() for v in expr.at("values").items()]
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(op)
        if ok is None:
            expr.at("operator").fail(f"{op!r} is not In, NotIn, Exists or DoesNotExist")
        if not ok:
            return False
    return True


def _member_names(
    member: _At, names: list[str], labels: Callable[[str], Mapping[str, str]]
) -> list[str]:
    """The names a HyperNode member's selector picks among ``names``."""
    sel = member.at("selector")
    kinds = [k for k in ("exactMatch", "regexMatch", "labelMatch") if not sel.at(k).missing()]
    if len(kinds) != 1:
        sel.fail("needs exactly one of exactMatch, regexMatch, labelMatch")
    if kinds[0] == "exactMatch":
        wanted = sel.at("exactMatch").at("name").text()
        return [wanted]
    if kinds[0] == "regexMatch":
        pattern_at = sel.at("regexMatch").at("pattern")
        try:
            pattern = re.compile(pattern_at.text())
        except re.error as e:
            pattern_at.fail(f"invalid regular expression: {e}")
        return [n for n in names if pattern.fullmatch(n)]
    return [n for n in names if _selector_matches(sel.at("labelMatch"), labels(n))]


def cluster_from_hypernodes(
    hypernodes: Iterable[Mapping[str, Any]],
    nodes: Iterable[Mapping[str, Any]],
    *,
    node_level: bool = True,
) -> dict[str, Any]:
    """A cluster from Volcano ``HyperNode`` objects and Node objects.

    Each tier becomes a level keyed ``topoplace.io/hypernode-<tierName>`` (``...-tier-<N>``
    when no HyperNode of the tier has a ``tierName``); levels run from the highest tier down,
    then ``kubernetes.io/hostname`` unless ``node_level`` is false. Every node gets one label
    per tier it belongs to, valued with its HyperNode's name (and ``kubernetes.io/hostname`` =
    its name if missing). Members of type Node are picked by ``exactMatch.name``,
    ``regexMatch.pattern`` (Python ``re``, whole name) or ``labelMatch`` (a label selector);
    members of type HyperNode by ``exactMatch.name`` or ``regexMatch.pattern``, and must be of
    a lower tier. Exact Node names not among ``nodes`` are ignored (the caller chose the
    nodes); unknown HyperNode names, and a node in two HyperNodes of one tier, are errors.
    """
    hns = _hypernodes(hypernodes)
    tiers = _Tiers(hns)
    by_name: dict[str, _At] = {}
    for hn in hns:
        if by_name.setdefault(_name(hn), hn) is not hn:
            hn.at("metadata").at("name").fail("a HyperNode of this name came before")
    entries = _nodes(nodes)
    node_by_name = {n["name"]: n for n in entries}
    node_names = list(node_by_name)
    hn_names = list(by_name)
    direct: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    for name, hn in by_name.items():
        tier = hn.at("spec").at("tier").integer(1)
        direct[name], children[name] = [], []
        for member in hn.at("spec").at("members").items():
            kind = member.at("type").text()
            if kind == "Node":
                picked = _member_names(member, node_names, lambda n: node_by_name[n]["labels"])
                direct[name] += [n for n in picked if n in node_by_name]
            elif kind == "HyperNode":
                if not member.at("selector").at("labelMatch").missing():
                    member.at("selector").at("labelMatch").fail("only valid for type Node")
                for child in _member_names(member, hn_names, lambda n: {}):
                    if child not in by_name:
                        member.at("selector").fail(f"no HyperNode named {child!r}")
                    if by_name[child].at("spec").at("tier").integer(1) >= tier:
                        member.at("selector").fail(f"HyperNode {child!r} is not of a lower tier")
                    children[name].append(child)
            else:
                member.at("type").fail(f"{kind!r} is not Node or HyperNode")
    memo: dict[str, list[str]] = {}

    def all_nodes(name: str) -> list[str]:
        if name not in memo:
            memo[name] = direct[name] + [n for c in children[name] for n in all_nodes(c)]
        return memo[name]

    owner: dict[tuple[str, int], str] = {}
    for name, hn in by_name.items():
        tier = hn.at("spec").at("tier").integer(1)
        for node_name in all_nodes(name):
            first = owner.setdefault((node_name, tier), name)
            if first != name:
                hn.at("spec").at("members").fail(
                    f"node {node_name!r} is also in HyperNode {first!r} of tier {tier}"
                )
            node_by_name[node_name]["labels"][tiers.keys[tier]] = name
    for node in entries:
        node["labels"].setdefault(HOSTNAME_LABEL, node["name"])
    levels = [tiers.keys[t] for t in sorted(tiers.keys, reverse=True)]
    return {"levels": levels + [HOSTNAME_LABEL] if node_level else levels, "nodes": entries}


def _volcano_topology(at: _At, tiers: _Tiers) -> tuple[str, str] | None:
    """A ``networkTopology`` as ("required"/"preferred", level key), or None if absent."""
    if at.missing():
        return None
    mode = at.at("mode").opt_text() or "hard"
    if mode not in ("hard", "soft"):
        at.at("mode").fail(f"{mode!r} is not hard or soft")
    by_number, by_name = at.at("highestTierAllowed"), at.at("highestTierName")
    if not by_number.missing() and not by_name.missing():
        by_name.fail("give highestTierAllowed or highestTierName, not both")
    if mode == "soft":
        return "preferred", tiers.keys[min(tiers.keys)]
    if by_name.missing() and by_number.missing():
        at.fail("hard mode needs highestTierAllowed or highestTierName")
    if not by_name.missing():
        tier_name = by_name.text()
        if tier_name not in tiers.names:
            by_name.fail(f"no HyperNode tier is named {tier_name!r}")
        limit = tiers.names[tier_name]
    else:
        limit = by_number.integer(1)
    fitting = [t for t in tiers.keys if t <= limit]
    if not fitting:
        by_number.fail(f"no HyperNode tier at or below {limit}")
    return "required", tiers.keys[max(fitting)]


def gang_from_volcano_job(
    job: Mapping[str, Any], hypernodes: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """A gang from a Volcano ``Job`` (batch.volcano.sh), with tiers named by ``hypernodes``.

    One group per ``spec.tasks[]`` (tasks of 0 replicas are left out), of ``replicas`` pods.
    ``min_count``: the task's ``minAvailable``, else (a single task) the job's
    ``minAvailable``, else ``partitionPolicy.minPartitions`` x ``partitionSize``, else
    ``replicas``. ``networkTopology`` hard with ``highestTierAllowed: N`` (or
    ``highestTierName``) -> ``required_level`` = the level of the highest tier <= N (see
    :func:`hypernode_levels`); soft -> ``preferred_level`` = the innermost tier. The job's
    topology applies to each group. ``partitionPolicy`` -> ``slice_size`` = ``partitionSize``
    and, when its own ``networkTopology`` is hard, ``slice_level``; a soft partition topology
    has no counterpart in the interchange format and is left out.
    """
    at = _root(job, "Job", ("Job",), ("batch.volcano.sh",))
    tiers = _Tiers(_hypernodes(hypernodes))
    if not tiers.keys:
        raise InvalidValueError("gang_from_volcano_job: needs the cluster's HyperNode objects")
    name, spec = _name(at), at.at("spec")
    job_min = spec.at("minAvailable").opt_int()
    job_topo = _volcano_topology(spec.at("networkTopology"), tiers)
    tasks = [t for t in spec.at("tasks").items() if t.at("replicas").opt_int() != 0]
    if not tasks:
        spec.at("tasks").fail("no task with replicas")
    groups = []
    for task in tasks:
        replicas = task.at("replicas").integer(1)
        levels: dict[str, Any] = {}
        if job_topo is not None:
            levels[f"{job_topo[0]}_level"] = job_topo[1]
        minimum_at = task.at("minAvailable")
        if minimum_at.missing() and len(tasks) == 1:
            minimum_at = spec.at("minAvailable")
        minimum = minimum_at.opt_int()
        part = task.at("partitionPolicy")
        if not part.missing():
            size = part.at("partitionSize").integer(1)
            parts = part.at("totalPartitions").integer(1)
            if size * parts != replicas:
                part.fail(
                    f"totalPartitions x partitionSize = {size * parts}, not replicas {replicas}"
                )
            slice_topo = _volcano_topology(part.at("networkTopology"), tiers)
            if slice_topo is not None and slice_topo[0] == "required":
                levels["slice_size"], levels["slice_level"] = size, slice_topo[1]
            if minimum is None and not part.at("minPartitions").missing():
                minimum_at = part.at("minPartitions")
                minimum = minimum_at.integer(1) * size
        member = _Member(at, task.at("template"), replicas)
        minimum = replicas if minimum is None else minimum
        if minimum > replicas:
            minimum_at.fail(
                f"{minimum} pods exceed the {replicas} replicas of task {task.at('name').text()}"
            )
        groups.append(_group(task.at("name").text(), replicas, minimum, member, **levels))
    total = sum(g["count"] for g in groups)
    if job_min is not None and job_min > total:
        spec.at("minAvailable").fail(f"exceeds the {total} pods of the tasks")
    return {"name": name, "groups": groups}
