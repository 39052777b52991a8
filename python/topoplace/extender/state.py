"""What the extender knows: node topologies, free capacity, the pods bound since, and the
three decisions (filter, prioritize, bind) taken on it.

The cluster is a :class:`~topoplace.cluster.Cluster` built from Node and
``NodeResourceTopology`` objects (per-NUMA allocatable and used, the Topology Manager
policy). A second copy with nothing used tells whether a refused pod could fit the node at
all (``FailedAndUnresolvableNodes``) and, under ``restricted``, whether it fits one NUMA node.
Placing reads the live cluster and needs no lock; ``bind`` (place, commit, append to the state
file) runs under one lock so that two binds cannot both take the last room.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from operator import itemgetter
from pathlib import Path
from typing import Any

from topoplace.cluster import Cluster
from topoplace.errors import InvalidValueError
from topoplace.extender.protocol import (
    MAX_EXTENDER_PRIORITY,
    BindingArgs,
    PodInfo,
)
from topoplace.k8s_topology._common import (
    _name,
    _root,
    _Sum,
    load_yaml_documents,
    objects_of_kind,
)
from topoplace.k8s_topology.nodes import _nodes
from topoplace.k8s_topology.nrt import apply_nrt, numa_from_nrt

__all__ = ["BOUND_FILE", "NODE_LABEL", "ExtenderState", "cluster_spec"]

#: A label every node gets, its name: how ``bind`` pins a pod to the chosen node (the
#: ``kubernetes.io/hostname`` label need not equal the node's name).
NODE_LABEL = "topoplace.io/extender-node"
#: The state directory's file of bound pods, one JSON object a line.
BOUND_FILE = "bound.jsonl"
#: How many pods seen in filter/prioritize are remembered for ``bind``.
POD_MEMORY = 10_000
#: How many request shapes' answers on the empty cluster are kept.
SHAPE_MEMORY = 256
_UNKNOWN = "node not in the extender's state"
_STATE_SUFFIXES = (".yaml", ".yml", ".json")


def cluster_spec(
    nodes: Iterable[Mapping[str, Any]], nrts: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The cluster (interchange format) of Node and NodeResourceTopology objects.

    A node gets its name, :data:`NODE_LABEL` and its allocatable; taints, labels and
    readiness are left to kube-scheduler's own plugins, which have judged them before the
    extender is asked. An NRT gives the node's per-NUMA allocatable, used and policy; an NRT
    without a Node object makes a node whose allocatable is the sum of its NUMA nodes'.
    """
    # The readers' Node list (names checked unique), keeping only name and allocatable.
    out: list[dict[str, Any]] = [
        {"name": node["name"], "capacity": node["capacity"]} for node in _nodes(nodes)
    ]
    seen = {node["name"] for node in out}
    nrt_list = list(nrts)
    for obj in nrt_list:
        name = _name(_root(obj, "NodeResourceTopology"))
        if name in seen:
            continue
        seen.add(name)
        total = _Sum()
        for zone in numa_from_nrt(obj)[0]:
            total.add(_Sum(zone))
        out.append({"name": name, "capacity": total.result()})
    for node in out:
        node["labels"] = {NODE_LABEL: node["name"]}
    # apply_nrt also sets each node's use to its NUMA nodes' use (capped at allocatable).
    return apply_nrt({"levels": [], "nodes": out}, nrt_list)


def _gang(pod: PodInfo, **extra: Any) -> str:
    group = {"name": "pod", "count": 1, "request": dict(pod.request), **extra}
    return json.dumps({"name": pod.key, "groups": [group]}, separators=(",", ":"))


def _tightness(k: int) -> int:
    """0-4: 4 when the node holds just this pod (the tightest fit), one less per doubling."""
    return 4 - min(4, max(k, 1).bit_length() - 1)


class ExtenderState:
    """Node topologies, free capacity and bound pods; safe to share between threads.

    Args:
        spec: the cluster in the interchange format (see :func:`cluster_spec`); every node
            must carry :data:`NODE_LABEL` = its name for ``bind``.
        bound_path: the file of bound pods: replayed now, appended to on each bind.
        unknown_nodes: ``"pass"`` (default) or ``"fail"``: the answer for a node the state
            does not know.
    """

    def __init__(
        self,
        spec: Mapping[str, Any],
        *,
        bound_path: Path | None = None,
        unknown_nodes: str = "pass",
    ) -> None:
        if unknown_nodes not in ("pass", "fail"):
            raise InvalidValueError(f"unknown_nodes: {unknown_nodes!r} is not pass or fail")
        nodes = list(spec.get("nodes") or [])
        self.names: list[str] = [n["name"] for n in nodes]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.policy: list[str | None] = [n.get("topology_policy") for n in nodes]
        self.has_numa = [bool(n.get("numa")) for n in nodes]
        self._restricted = [
            p == "restricted" and n for p, n in zip(self.policy, self.has_numa, strict=True)
        ]
        self._restricted_ids = [i for i, r in enumerate(self._restricted) if r]
        self._any_restricted = bool(self._restricted_ids)
        self._shapes: OrderedDict[str, tuple[bytes, bytes]] = OrderedDict()
        self.unknown_nodes = unknown_nodes
        self.live = Cluster(spec)
        empty = [{k: v for k, v in n.items() if k not in ("used", "numa_used")} for n in nodes]
        self.empty = Cluster({**spec, "nodes": empty})
        self._untouched = [self.live.free(n) == self.empty.free(n) for n in self.names]
        self._lock = threading.Lock()
        self._pods: OrderedDict[str, PodInfo] = OrderedDict()
        self.bound: dict[str, str] = {}
        self.bound_path = bound_path
        if bound_path is not None and bound_path.exists():
            self._restore(bound_path)

    @classmethod
    def from_objects(
        cls,
        nodes: Iterable[Mapping[str, Any]],
        nrts: Iterable[Mapping[str, Any]],
        **kwargs: Any,
    ) -> ExtenderState:
        """The state of Node and NodeResourceTopology objects (``kwargs`` as the class)."""
        return cls(cluster_spec(nodes, nrts), **kwargs)

    @classmethod
    def from_dir(cls, directory: str | Path, **kwargs: Any) -> ExtenderState:
        """The state of a directory: every ``*.yaml``, ``*.yml`` and ``*.json`` file's Node and
        NodeResourceTopology objects, and the bound pods of :data:`BOUND_FILE`."""
        root = Path(directory)
        if not root.is_dir():
            raise InvalidValueError(f"--state {root}: not a directory")
        objects: list[dict[str, Any]] = []
        for path in sorted(root.iterdir()):
            if path.suffix in _STATE_SUFFIXES and path.is_file():
                objects.extend(load_yaml_documents(path))
        nodes = objects_of_kind(objects, "Node")
        nrts = objects_of_kind(objects, "NodeResourceTopology")
        if not nodes and not nrts:
            raise InvalidValueError(f"--state {root}: no Node or NodeResourceTopology objects")
        return cls.from_objects(nodes, nrts, bound_path=root / BOUND_FILE, **kwargs)

    # ------------------------------------------------------------------------------------
    # Decisions

    def remember(self, pod: PodInfo) -> None:
        """Keeps the pod's requests for a later ``bind`` (the binding carries none)."""
        with self._lock:
            self._pods[pod.key] = pod
            self._pods.move_to_end(pod.key)
            while len(self._pods) > POD_MEMORY:
                self._pods.popitem(last=False)

    def _empty_flags(self, pod: PodInfo) -> tuple[bytes, bytes]:
        """Per node, 1 where the pod fits the node empty under its policy, and 1 where it
        fits one NUMA node of it empty. The empty copy never changes, so the answer is kept
        per request shape (the last :data:`SHAPE_MEMORY`)."""
        key = json.dumps(pod.request, sort_keys=True)
        flags = self._shapes.get(key)
        if flags is not None:
            return flags
        aligned = self.empty._core.node_fits(_gang(pod, numa_aligned=True))
        one_numa = bytes(
            1 if k and numa else 0 for (k, _), numa in zip(aligned, self.has_numa, strict=True)
        )
        fits = self.empty._core.node_fits(_gang(pod))
        if self._any_restricted:
            # Under restricted, an empty node holds the pod when its totals do: on one NUMA
            # node if one is large enough, else across the fewest.
            unaligned = self.empty._core.node_fits(_gang(pod, numa_aligned=False))
            fits = [
                u if r else f for u, f, r in zip(unaligned, fits, self._restricted, strict=True)
            ]
        flags = (bytes(1 if k else 0 for k, _ in fits), one_numa)
        with self._lock:
            self._shapes[key] = flags
            while len(self._shapes) > SHAPE_MEMORY:
                self._shapes.popitem(last=False)
        return flags

    def _fits(self, pod: PodInfo) -> list[tuple[int, str | None]]:
        """Per node, how many such pods it holds now under its policy, and why none.

        ``single-numa-node``: on one NUMA node; ``restricted``: on one NUMA node when one is
        large enough for the pod (the kubelet refuses a wider span than the narrowest
        possible), else by totals; ``best-effort``, ``none`` and nodes without an NRT: by
        totals."""
        fits = self.live._core.node_fits(_gang(pod))
        if not self._any_restricted:
            return fits
        aligned = self.live._core.node_fits(_gang(pod, numa_aligned=True))
        one_numa = self._empty_flags(pod)[1]
        out = list(fits)
        for i in self._restricted_ids:
            if one_numa[i]:
                k, why = aligned[i]
                out[i] = (k, None if k else f"restricted policy: {why}")
        return out

    def _rows(
        self, names: list[str], fits: list[tuple[int, str | None]]
    ) -> list[tuple[int, str | None]]:
        """``fits`` of the named nodes, in order; an unknown node holds the pod by totals
        (``unknown_nodes="pass"``) or none."""
        idx = list(map(self.index.get, names))
        if None not in idx:
            if len(idx) == 1:
                return [fits[idx[0]]]  # type: ignore[index]
            return list(itemgetter(*idx)(fits)) if idx else []
        unknown = (1, None) if self.unknown_nodes == "pass" else (0, _UNKNOWN)
        return [unknown if i is None else fits[i] for i in idx]

    def filter(
        self, pod: PodInfo, names: list[str]
    ) -> tuple[list[str], dict[str, str], dict[str, str]]:
        """The nodes where the pod fits now (NUMA-aligned where the node's policy needs it),
        those where it does not with the reason, and of these the ones where it would not fit
        even with the node empty (preempting cannot help)."""
        rows = self._rows(names, self._fits(pod))
        passed = [name for name, (k, _) in zip(names, rows, strict=True) if k]
        if len(passed) == len(names):
            return passed, {}, {}
        reasons: dict[str | None, str] = {}
        for _, why in rows:
            if why is not None and why not in reasons:
                reasons[why] = f"topoplace: {why}"
        fits_empty = self._empty_flags(pod)[0]
        if 0 not in fits_empty:
            failed = {
                name: reasons[why] for name, (k, why) in zip(names, rows, strict=True) if not k
            }
            return passed, failed, {}
        failed = {}
        unresolvable: dict[str, str] = {}
        index = self.index
        for name, (k, why) in zip(names, rows, strict=True):
            if k:
                continue
            reason = reasons[why]
            i = index.get(name)
            if i is None or fits_empty[i]:
                failed[name] = reason
            else:
                unresolvable[name] = reason
        return passed, failed, unresolvable

    def prioritize(self, pod: PodInfo, names: list[str]) -> list[tuple[str, int]]:
        """Per node a score from 0 to 10 (``docs/extender.md``): 0 where the pod does not fit
        or the node is unknown; else 1, plus 5 when it fits on one NUMA node, plus up to 4 for
        a tight fit (the fewer such pods the node could still take, the more), less 1 for a
        node nothing is taken from (whole free nodes are kept for whole-node pods)."""
        fits = self._fits(pod)
        aligned = self.live._core.node_fits(_gang(pod, numa_aligned=True))
        has_numa, untouched = self.has_numa, self._untouched
        scores = [0] * len(fits)
        for i, ((k, _), (ka, _)) in enumerate(zip(fits, aligned, strict=True)):
            if not k:
                continue
            one_numa = has_numa[i] and ka > 0
            tight = _tightness(ka if one_numa else k)
            if untouched[i]:
                tight = max(0, tight - 1)
            scores[i] = min(1 + (5 if one_numa else 0) + tight, MAX_EXTENDER_PRIORITY)
        index = self.index
        return [(name, 0 if (j := index.get(name)) is None else scores[j]) for name in names]

    def bind(self, args: BindingArgs) -> str | None:
        """Takes the pod's room on the node; the error text when that cannot be done."""
        with self._lock:
            key = args.key
            where = self.bound.get(key)
            if where is not None:
                if where == args.node:
                    return None
                return f"pod {args.pod_namespace}/{args.pod_name} is already bound to {where}"
            pod = self._pods.get(key)
            if pod is None:
                return (
                    f"pod {args.pod_namespace}/{args.pod_name} (uid {args.pod_uid or '-'}) "
                    "was not seen in a filter or prioritize call, so its requests are unknown"
                )
            error = self._take(pod, args.node)
            if error is not None:
                return error
            self.bound[key] = args.node
            self._pods.pop(key, None)
            if self.bound_path is not None:
                record = {
                    "uid": pod.uid,
                    "namespace": pod.namespace,
                    "name": pod.name,
                    "node": args.node,
                    "request": dict(pod.request),
                }
                with self.bound_path.open("a") as f:
                    f.write(json.dumps(record, separators=(",", ":")) + "\n")
            return None

    def _take(self, pod: PodInfo, node: str) -> str | None:
        """Commits the pod on ``node`` (the caller holds the lock); an unknown node holds it
        without any accounting."""
        i = self.index.get(node)
        if i is None:
            return None if self.unknown_nodes == "pass" else f"node {node} is not in the state"
        placement = self.live.place(_gang(pod, node_selector={NODE_LABEL: node}))
        if not placement.feasible:
            reasons = "; ".join(placement.reasons)
            return f"pod {pod.namespace}/{pod.name} no longer fits on {node}: {reasons}"
        self.live.commit(placement)
        self._untouched[i] = False
        return None

    def _restore(self, path: Path) -> None:
        """Replays the bound pods of ``path``; a pod that no longer fits is reported on
        stderr and kept as bound (the kubelet admitted it), a torn last line is skipped."""
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                pod = PodInfo(
                    str(rec.get("namespace", "")),
                    str(rec["name"]),
                    str(rec.get("uid", "")),
                    dict(rec["request"]),
                )
                node = str(rec["node"])
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                if n == len(lines):
                    sys.stderr.write(f"topoplace extender: {path}:{n}: torn line skipped\n")
                    continue
                raise InvalidValueError(f"{path}:{n}: not a bound-pod record ({e})") from e
            try:
                error = self._take(pod, node)
            except InvalidValueError as e:
                raise InvalidValueError(f"{path}:{n}: {e}") from e
            if error is not None:
                sys.stderr.write(f"topoplace extender: {path}:{n}: {error}\n")
            self.bound[pod.key] = node
