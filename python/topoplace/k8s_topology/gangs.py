"""Gangs from the Kubernetes Workload/PodGroup API, Kueue TAS jobs and Coscheduling PodGroups."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from topoplace.k8s_topology._common import _api_group, _At, _name, _root
from topoplace.k8s_topology.pods import (
    _group,
    _groups,
    _job_count,
    _Member,
    _members,
    _same_namespace,
)

#: Prefix of Kueue's pod-template annotations.
KUEUE_ANNOTATION_PREFIX = "kueue.x-k8s.io/podset-"
_COSCHED_LABELS = ("scheduling.x-k8s.io/pod-group", "pod-group.scheduling.sigs.k8s.io")
_COSCHED_GROUPS = ("scheduling.x-k8s.io", "scheduling.sigs.k8s.io")


def _topology_key(owner: _At) -> str | None:
    """``schedulingConstraints.topology[0].key`` (at most one entry), else None."""
    entries = owner.at("schedulingConstraints").at("topology").items()
    if len(entries) > 1:
        entries[1].fail("at most one topology constraint is allowed")
    return entries[0].at("key").label_key() if entries else None


def _gang_minimum(policy: _At, key: str = "minCount") -> int:
    """``gang.<key>``; 0 for ``basic`` (no gang). Exactly one of the two must be set."""
    kinds = [k for k in ("basic", "gang") if not policy.at(k).missing()]
    if len(kinds) != 1:
        policy.fail("needs exactly one of basic, gang")
    return 0 if kinds[0] == "basic" else policy.at("gang").at(key).integer(1)


def _group_minimum(spec: _At, template: _At, key: str = "minCount") -> int:
    """The gang minimum of a (Composite)PodGroup's ``schedulingPolicy``, else its template's."""
    policy = spec if not spec.at("schedulingPolicy").missing() else template
    return _gang_minimum(policy.at("schedulingPolicy"), key)


def _group_level(spec: _At, template: _At) -> str | None:
    """A (Composite)PodGroup's topology key, else its template's."""
    return _topology_key(spec) or _topology_key(template)


def gang_from_workload(
    workload: Mapping[str, Any], objects: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """A gang from a Kubernetes ``Workload`` and the related objects, given as one bag.

    ``objects`` may hold anything (e.g. every document of a file); used are Pods, batch/v1
    Jobs (a Job stands for ``min(parallelism, completions)`` pods of its template) and, for
    ``v1beta1``/``v1alpha3``, ``PodGroup`` and ``CompositePodGroup`` objects.

    - ``v1alpha1``: each ``spec.podGroups[]`` entry is a group of the pods whose
      ``spec.workloadRef`` names this Workload and that group (``name/replicaKey`` per
      ``podGroupReplicaKey``); ``policy.gang.minCount`` is ``min_count``.
    - ``v1beta1``: each PodGroup whose ``spec.workloadRef.workloadName`` is this Workload is a
      group of the pods whose ``spec.schedulingGroup.podGroupName`` names it; minCount and
      ``schedulingConstraints.topology[0].key`` (``required_level``) come from the PodGroup,
      else its template.
    - ``v1alpha3`` composites: the child PodGroups of a ``CompositePodGroup`` must be alike; they
      become one group (count = their sum) required in the composite's topology domain, with
      ``slice_size`` = the child size and ``slice_level`` = the child's topology key.

    A ``basic`` policy gives ``min_count`` 1. Pods of one group with different requests are
    split into groups ``<name>-0``, ``<name>-1``... if all are required, else an error.
    Kubernetes schedules each PodGroup (each v1alpha1 replica) as its own gang; this one gang
    holds them all, which places them together (stricter): place a group alone to model it.
    """
    at = _root(workload, "Workload", ("Workload",), ("scheduling.k8s.io",))
    wname, spec = _name(at), at.at("spec")
    bag = list(objects)
    members = _members(bag)
    groups: list[dict[str, Any]] = []
    if not spec.at("podGroups").missing():
        for pg in spec.at("podGroups").items():
            gname = pg.at("name").text()
            minimum = _gang_minimum(pg.at("policy"))
            keys: dict[str | None, list[_Member]] = {}
            for m in members:
                ref = m.spec.at("workloadRef")
                if ref.at("name").opt_text() == wname and ref.at("podGroup").opt_text() == gname:
                    if _same_namespace(at, m.root):
                        keys.setdefault(ref.at("podGroupReplicaKey").opt_text(), []).append(m)
            for key, ms in keys.items() or [(None, [])]:
                label = gname if key is None else f"{gname}/{key}"
                groups += _groups(pg, label, ms, minimum)
        return {"name": wname, "groups": groups}
    templates: dict[str, _At] = {}
    composites: dict[str, _At] = {}

    def add(table: dict[str, _At], t: _At, key: str) -> None:
        if table.setdefault(t.at("name").text(), t) is not t:
            t.at("name").fail("a template of this name came before")
        if not t.at("schedulingPolicy").missing():
            _gang_minimum(t.at("schedulingPolicy"), key)
        _topology_key(t)

    for t in spec.at("podGroupTemplates").items():
        add(templates, t, "minCount")
    for c in spec.at("compositePodGroupTemplates").items():
        add(composites, c, "minGroupCount")
        for t in c.at("podGroupTemplates").items():
            add(templates, t, "minCount")
    if not templates:
        spec.fail("needs podGroups (v1alpha1), podGroupTemplates or compositePodGroupTemplates")
    roots = [_root(o, "object") for o in bag]
    mine = [
        r
        for r in roots
        if r.value.get("kind") in ("PodGroup", "CompositePodGroup")
        and _api_group(r.value) in (None, "scheduling.k8s.io")
        and r.at("spec").at("workloadRef").at("workloadName").opt_text() == wname
        and _same_namespace(at, r)
    ]
    children: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for r in mine:
        pspec = r.at("spec")
        tname_at = pspec.at("workloadRef").at("templateName")
        table = composites if r.value.get("kind") == "CompositePodGroup" else templates
        tname = tname_at.text()
        if tname not in table:
            tname_at.fail(f"Workload {wname} has no such template")
        if r.value.get("kind") == "CompositePodGroup":
            continue
        minimum = _group_minimum(pspec, table[tname])
        level = _group_level(pspec, table[tname])
        pname = _name(r)
        ms = [
            m
            for m in members
            if m.spec.at("schedulingGroup").at("podGroupName").opt_text() == pname
        ]
        made = _groups(
            r, pname, [m for m in ms if _same_namespace(r, m.root)], minimum, required_level=level
        )
        parent = pspec.at("parentCompositePodGroupName").opt_text()
        if parent is None:
            groups += made
        else:
            children.setdefault(parent, []).extend((pname, g) for g in made)
    for r in mine:
        if r.value.get("kind") != "CompositePodGroup":
            continue
        groups.append(_composite(r, composites, children.get(_name(r), [])))
    if not groups:
        spec.fail("no PodGroup of this Workload among the given objects (pods join through them)")
    return {"name": wname, "groups": groups}


def _composite(
    r: _At, templates: dict[str, _At], kids: list[tuple[str, dict[str, Any]]]
) -> dict[str, Any]:
    """A CompositePodGroup of alike children as one group of slices."""
    pspec = r.at("spec")
    tmpl = templates[pspec.at("workloadRef").at("templateName").text()]
    min_groups = _group_minimum(pspec, tmpl, "minGroupCount")
    if not kids:
        r.fail("no child PodGroup among the given objects")
    first = kids[0][1]
    for name, g in kids[1:]:
        if {**g, "name": ""} != {**first, "name": ""}:
            r.fail(f"child PodGroups {kids[0][0]} and {name} differ: one group cannot express it")
    if first["min_count"] != first["count"]:
        r.fail(f"child PodGroup {kids[0][0]} has minCount below its size: cannot be a slice")
    size = first["count"]
    if min_groups > len(kids):
        r.fail(f"minGroupCount {min_groups} exceeds the {len(kids)} child PodGroups found")
    group = {**first, "name": _name(r), "count": size * len(kids)}
    group["min_count"] = size * (min_groups or 1)
    group.pop("required_level", None)
    level = _group_level(pspec, tmpl)
    if level is not None:
        group["required_level"] = level
    if first.get("required_level") is not None:
        group["slice_size"], group["slice_level"] = size, first["required_level"]
    return group


def _kueue_levels(template: _At, count: int) -> dict[str, Any]:
    """The gang-group level fields of one pod template's Kueue TAS annotations."""
    ann = template.at("metadata").at("annotations")

    def get(name: str) -> _At:
        return ann.at(KUEUE_ANNOTATION_PREFIX + name)

    out: dict[str, Any] = {}
    given = []
    for name, field in (
        ("required-topology", "required_level"),
        ("preferred-topology", "preferred_level"),
    ):
        if not get(name).missing():
            out[field] = get(name).label_key()
            given.append(name)
    unconstrained = get("unconstrained-topology")
    if unconstrained.opt_text() not in (None, "true", "false"):
        unconstrained.fail(f'expected "true" or "false", got {unconstrained.value!r}')
    if unconstrained.value == "true":
        given.append("unconstrained-topology")
    if len(given) > 1:
        get(given[1]).fail(f"mutually exclusive with {KUEUE_ANNOTATION_PREFIX}{given[0]}")
    slice_level, size_at = get("slice-required-topology"), get("slice-size")
    layers_at = get("slice-required-topology-constraints")
    layers: list[tuple[str, int, _At]] = []
    if not slice_level.missing():
        if not layers_at.missing():
            layers_at.fail(
                f"mutually exclusive with {KUEUE_ANNOTATION_PREFIX}slice-required-topology"
            )
        if size_at.missing():
            size_at.fail(
                f"missing (required with {KUEUE_ANNOTATION_PREFIX}slice-required-topology)"
            )
        layers.append((slice_level.label_key(), size_at.integer(1), size_at))
    elif not size_at.missing():
        size_at.fail(f"needs {KUEUE_ANNOTATION_PREFIX}slice-required-topology")
    elif not layers_at.missing():
        try:
            parsed = json.loads(layers_at.text())
        except json.JSONDecodeError as e:
            layers_at.fail(f"invalid JSON: {e}")
        entries = _At(layers_at.obj, layers_at.path, parsed).items()
        if not 1 <= len(entries) <= 3:
            layers_at.fail(f"needs 1 to 3 layers, got {len(entries)}")
        layers = [(e.at("topology").label_key(), e.at("size").integer(1), e) for e in entries]
    outer = count
    for _, size, where in layers:
        if outer % size:
            where.fail(f"slice size {size} does not divide {outer}")
        outer = size
    if layers:
        out["slice_level"], out["slice_size"] = layers[-1][0], layers[-1][1]
    if len(layers) > 1:
        out["slices"] = [{"level": lv, "size": sz} for lv, sz, _ in layers]
    return out


def gang_from_kueue_job(
    job: Mapping[str, Any], *, flavor: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A gang from a job whose pod templates carry Kueue TAS annotations, one group per PodSet.

    Kinds and counts (as Kueue forms PodSets): batch/v1 ``Job`` -> group ``main`` of
    ``min(parallelism, completions)`` pods; ``JobSet`` -> one group per ``replicatedJobs[]``
    of ``replicas`` x that; Kubeflow jobs (any ``spec.<x>ReplicaSpecs`` map, e.g. PyTorchJob)
    -> one group per role, lowercased, of ``replicas`` pods; ``Pod`` -> ``main`` of 1.
    ``min_count`` is the count (Kueue admits a PodSet whole). Annotations:
    ``podset-required-topology`` -> ``required_level``, ``podset-preferred-topology`` ->
    ``preferred_level``, ``podset-unconstrained-topology: "true"`` -> neither;
    ``podset-slice-required-topology`` + ``podset-slice-size`` -> ``slice_level`` +
    ``slice_size``; ``podset-slice-required-topology-constraints`` (multi-layer) -> the
    innermost layer as ``slice_level``/``slice_size``, plus ``slices`` (all layers,
    outermost first) when there is more than one. With a ``ResourceFlavor``, its ``nodeLabels``
    join each group's ``node_selector`` and its ``tolerations`` the group's, as on admission.
    """
    at = _root(job, "Job")
    if _api_group(at.value) == "batch.volcano.sh":
        at.at("apiVersion").fail("a Volcano Job: read it with gang_from_volcano_job")
    name, spec, kind = _name(at), at.at("spec"), at.value.get("kind")
    podsets: list[tuple[str, int, _At]] = []
    roles = [k for k in spec.map() if k.endswith("ReplicaSpecs")]
    if kind == "JobSet":
        for rj in spec.at("replicatedJobs").items():
            jspec = rj.at("template").at("spec")
            count = rj.at("replicas").int_or(1) * _job_count(jspec)
            podsets.append((rj.at("name").text(), count, jspec.at("template")))
    elif roles:
        for role in spec.at(roles[0]).map():
            rs = spec.at(roles[0]).at(role)
            podsets.append((role.lower(), rs.at("replicas").int_or(1), rs.at("template")))
    elif kind in (None, "Job"):
        podsets.append(("main", _job_count(spec), spec.at("template")))
    elif kind == "Pod":
        podsets.append(("main", 1, at))
    else:
        at.at("kind").fail("expected Job, JobSet, Pod or a job with spec.<role>ReplicaSpecs")
    if not podsets:
        spec.fail("no pod sets")
    selector: dict[str, str] = {}
    tolerations: list[dict[str, Any]] = []
    if flavor is not None:
        fl = _root(flavor, "ResourceFlavor", ("ResourceFlavor",))
        selector = fl.at("spec").at("nodeLabels").str_map()
        tolerations = [dict(t.map()) for t in fl.at("spec").at("tolerations").items()]
    groups = []
    for pname, count, template in podsets:
        member = _Member(at, template, count)
        for key, value in selector.items():
            if member.node_selector.setdefault(key, value) != value:
                member.spec.at("nodeSelector").at(key).fail(
                    f"conflicts with the ResourceFlavor's nodeLabels ({value!r})"
                )
        member.tolerations += [t for t in tolerations if t not in member.tolerations]
        groups.append(_group(pname, count, count, member, **_kueue_levels(template, count)))
    return {"name": name, "groups": groups}


def gang_from_coscheduling(
    podgroup: Mapping[str, Any], objects: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """A gang from a scheduler-plugins Coscheduling ``PodGroup`` and a bag of objects.

    The members are the Pods and batch/v1 Jobs (by their pod template) of the PodGroup's
    namespace labelled ``scheduling.x-k8s.io/pod-group: <name>`` (or the older
    ``pod-group.scheduling.sigs.k8s.io``); ``spec.minMember`` is ``min_count``. Coscheduling
    has no topology, so no levels are set. ``minResources`` is checked for syntax only.
    """
    at = _root(podgroup, "PodGroup", ("PodGroup",), _COSCHED_GROUPS)
    name, spec = _name(at), at.at("spec")
    minimum = spec.at("minMember").integer(1)
    spec.at("minResources").resources()
    members = [
        m
        for m in _members(objects)
        if _same_namespace(at, m.root) and any(m.labels.get(k) == name for k in _COSCHED_LABELS)
    ]
    total = sum(m.count for m in members)
    if members and minimum > total:
        spec.at("minMember").fail(f"{minimum} exceeds the {total} pods found")
    return {"name": name, "groups": _groups(at, name, members, minimum)}
