"""Pods and pod templates as gang groups: effective requests, members, grouping by shape."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from topoplace.k8s_topology._common import (
    Quantity,
    _api_group,
    _At,
    _name,
    _namespace,
    _root,
    _Sum,
)


def _container_requests(container: _At) -> _Sum:
    """A container's requests, defaulted from its limits as the API server does."""
    resources = container.at("resources")
    requests = resources.at("requests").resources()
    for key, value in resources.at("limits").resources().items():
        requests.setdefault(key, value)
    return _Sum(requests)


def _pod_requests(spec: _At) -> dict[str, Quantity]:
    """A pod spec's effective requests, as kube-scheduler counts them: the containers' sum,
    at least each init container's (plus the sidecars started before it), sidecars
    (``restartPolicy: Always``) added to the sum, pod-level ``resources`` winning, plus
    ``overhead``."""
    containers = spec.at("containers").items()
    if not containers:
        spec.at("containers").fail("missing")
    total = _Sum()
    for c in containers:
        total.add(_container_requests(c))
    sidecars, init = _Sum(), _Sum()
    for c in spec.at("initContainers").items():
        request = _container_requests(c)
        if c.at("restartPolicy").opt_text() == "Always":
            total.add(request)
            sidecars.add(request)
            current = sidecars.copy()
        else:
            current = sidecars.copy()
            current.add(request)
        init.maximum(current)
    total.maximum(init)
    pod_level = _container_requests(spec)
    total.items.update(pod_level.items)
    total.add(_Sum(spec.at("overhead").resources()))
    return total.result()


class _Member:
    """A pod, or a controller's pod template standing for ``count`` pods."""

    def __init__(self, root: _At, template: _At, count: int) -> None:
        self.root = root
        self.template = template
        self.count = count
        spec = template.at("spec")
        self.spec = spec
        self.labels = template.at("metadata").at("labels").str_map()
        self.request = _pod_requests(spec)
        self.node_selector = spec.at("nodeSelector").str_map()
        self.tolerations = [dict(t.map()) for t in spec.at("tolerations").items()]

    def signature(self) -> str:
        return json.dumps([self.request, self.node_selector, self.tolerations], sort_keys=True)


def _job_count(spec: _At) -> int:
    """Pods a batch/v1 Job runs at once: ``parallelism`` (default 1), at most ``completions``."""
    count = spec.at("parallelism").int_or(1)
    completions = spec.at("completions").opt_int()
    return count if completions is None else min(count, completions)


def _members(objects: Iterable[Mapping[str, Any]]) -> list[_Member]:
    """The Pods and batch/v1 Jobs among ``objects``; pods owned by a listed Job are skipped."""
    roots = [_root(o, "object") for o in objects]
    roots = [r for r in roots if _api_group(r.value) in (None, "", "batch")]
    jobs = {(_namespace(r), _name(r)) for r in roots if r.value.get("kind") == "Job"}
    out = []
    for r in roots:
        kind = r.value.get("kind")
        if kind == "Pod":
            owners = r.at("metadata").at("ownerReferences").items()
            if any(
                o.at("kind").opt_text() == "Job"
                and (_namespace(r), o.at("name").opt_text()) in jobs
                for o in owners
            ):
                continue
            out.append(_Member(r, r, 1))
        elif kind == "Job":
            out.append(_Member(r, r.at("spec").at("template"), _job_count(r.at("spec"))))
    return out


def _same_namespace(a: _At, b: _At) -> bool:
    na, nb = _namespace(a), _namespace(b)
    return na is None or nb is None or na == nb


def _group(name: str, count: int, min_count: int, member: _Member, **levels: Any) -> dict[str, Any]:
    group: dict[str, Any] = {
        "name": name,
        "count": count,
        "min_count": min_count,
        "request": dict(member.request),
    }
    group.update({k: v for k, v in levels.items() if v is not None})
    if member.node_selector:
        group["node_selector"] = dict(member.node_selector)
    if member.tolerations:
        group["tolerations"] = list(member.tolerations)
    return group


def _groups(
    owner: _At, name: str, members: list[_Member], min_count: int | None, **levels: Any
) -> list[dict[str, Any]]:
    """One group per distinct pod shape. ``min_count`` None: all pods; 0: no gang (1 each).

    Pods of different shapes are split into groups only when every pod is required.
    """
    if not members:
        owner.fail("no Pod or Job among the given objects belongs to it")
    shapes: dict[str, tuple[_Member, int]] = {}
    for m in members:
        first, count = shapes.get(m.signature(), (m, 0))
        shapes[m.signature()] = (first, count + m.count)
    total = sum(count for _, count in shapes.values())
    wanted = total if min_count is None else min_count
    if wanted > total:
        owner.fail(f"minimum {wanted} exceeds the {total} pods found")
    if len(shapes) == 1:
        return [_group(name, total, max(wanted, 1), members[0], **levels)]
    if wanted not in (0, total):
        owner.fail(
            f"its pods have {len(shapes)} different requests/selectors and a minimum of "
            f"{wanted} of {total}: one gang group cannot express that"
        )
    return [
        _group(f"{name}-{i}", count, count if wanted else 1, m, **levels)
        for i, (m, count) in enumerate(shapes.values())
    ]
