"""Gang placement written plainly, for the benchmarks of issue #6: the counting-and-greedy
algorithm of topoplace's core (`rust/topoplace-core/src/cluster/place.rs`) once in plain Python
over lists and once in numpy, plus the issue's benchmark cluster and gangs.

The algorithm, per group of identical pods (the same steps as `place.rs`):

1. fit per node: the sum over its NUMA nodes of the pods each holds (NUMA-local resources:
   those some NUMA node of the node has), bounded by the node's free totals and by the count;
   without NUMA alignment (the group says so, or the node's policy is not
   `single-numa-node`) the node totals alone;
2. required level: of its domains whose summed fit holds the count, the tightest (then the
   first); none: the largest, shrunk to `min_count` when that still fits; no level: the
   whole cluster;
3. preferred level (default: each node on its own): inside the chosen domain, the domains of
   that level largest first, the last the tightest that holds the rest; nodes inside each
   domain the same way. A node without the preferred level's label counts as a domain of
   its own;
4. each node's pods take its NUMA nodes in order, each as many as it holds.

Both peers recount every node's fit from the per-NUMA free amounts on every call (the issue
compares against that); turning the interchange dict into lists or arrays (`PlainCluster`,
`NumpyCluster`, `prepare_gang`) happens once, outside the timed part. Slices, taints,
node selectors and tolerations are not ported (the benchmark uses none; the builders refuse
them). The plain peer returns topoplace's pods as `[(node name, numa)]`; the numpy peer
returns two arrays (node index and NUMA node per pod, -1 for none), the compact form a
Python author writing for speed would keep, and `numpy_pods` turns them into the list. The
numpy peer is in `gang_numpy.py`.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Pods = list[tuple[str, int | None]]

# --- the benchmark of issue #6 ------------------------------------------------------------

HOSTS_PER_RACK = 20
RACKS_PER_BLOCK = 25
NODES_PER_BLOCK = HOSTS_PER_RACK * RACKS_PER_BLOCK
GPU = "nvidia.com/gpu"
# The most pods one node is counted as holding (a domain's capacity is what it holds, not
# capped at the count, so "tightest" compares true capacities; finite for a request of nothing).
UNBOUNDED = 2**32 - 1
ZONE = {"cpu": "48", "memory": "512Gi", GPU: 4}


def benchmark_cluster(nodes: int = 5000, taken: float = 0.6, seed: int = 7) -> dict[str, Any]:
    """The issue's cluster: `nodes` / 500 blocks x 25 racks x 20 hosts, each host 8 GPUs on
    2 NUMA nodes (48 CPUs, 512Gi, 4 GPUs each) under `single-numa-node`, with `taken` of all
    GPUs used, drawn at random (`random.Random(seed)`) over every GPU of the cluster, so each
    NUMA node keeps what was not drawn from it. Only GPUs are used."""
    if nodes % NODES_PER_BLOCK:
        raise ValueError(f"nodes must be a multiple of {NODES_PER_BLOCK}, got {nodes}")
    rng = random.Random(seed)
    used = [0] * (nodes * 2)
    for slot in rng.sample(range(nodes * 8), round(taken * nodes * 8)):
        used[slot // 4] += 1  # GPUs 0-3 of a node on NUMA node 0, 4-7 on NUMA node 1
    out = []
    for n in range(nodes):
        b, r, h = n // NODES_PER_BLOCK, n // HOSTS_PER_RACK % RACKS_PER_BLOCK, n % HOSTS_PER_RACK
        u0, u1 = used[2 * n], used[2 * n + 1]
        out.append(
            {
                "name": f"b{b:03d}-r{r:02d}-h{h:02d}",
                "labels": {"block": f"block-{b:03d}", "rack": f"rack-{b:03d}-{r:02d}"},
                "capacity": {"cpu": "96", "memory": "1024Gi", GPU: 8},
                "used": {GPU: u0 + u1},
                "numa": [dict(ZONE), dict(ZONE)],
                "numa_used": [{GPU: u0}, {GPU: u1}],
                "topology_policy": "single-numa-node",
            }
        )
    return {"levels": ["block", "rack"], "nodes": out}


def benchmark_gang(count: int = 512, name: str = "train") -> dict[str, Any]:
    """`count` pods x (1 GPU, 12 CPUs, 96Gi), required level block, preferred level rack. At
    60 % taken a block has about 1,600 free GPUs: 512 fits, 2,000 does not."""
    return {
        "name": name,
        "groups": [
            {
                "name": "workers",
                "count": count,
                "request": {GPU: 1, "cpu": "12", "memory": "96Gi"},
                "required_level": "block",
                "preferred_level": "rack",
            }
        ],
    }


# --- quantities ---------------------------------------------------------------------------

_SUFFIX: dict[str, Fraction] = {
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_QUANTITY = re.compile(
    r"([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)"
)


@lru_cache(maxsize=4096)
def amount(resource: str, quantity: str | float) -> int:
    """A Kubernetes quantity as topoplace counts it: millicores for `cpu`, whole units
    otherwise, rounded up."""
    if isinstance(quantity, int):
        value = Fraction(quantity)
    elif isinstance(quantity, float):
        value = Fraction(str(quantity))
    else:
        m = _QUANTITY.fullmatch(quantity.strip())
        if m is None:
            raise ValueError(f"not a quantity: {quantity!r}")
        value = Fraction(m.group(1))
        value *= Fraction(10) ** int(m.group(2)) if m.group(2) else _SUFFIX[m.group(3) or ""]
    if resource == "cpu":
        value *= 1000
    return -((-value.numerator) // value.denominator)


# --- the cluster and gang as lists --------------------------------------------------------


@dataclass
class PlainCluster:
    """The cluster as lists, indexed by node, NUMA node and resource."""

    names: list[str]
    resources: list[str]
    free: list[list[int]]
    numa_free: list[list[list[int]]]
    numa_local: list[list[bool]]
    single_numa: list[bool]
    levels: list[str]
    domain_of: list[list[int]]  # per level, per node; -1: the node lacks the label
    domain_count: list[int]

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> PlainCluster:
        resources = ["cpu", "memory"]
        index = {"cpu": 0, "memory": 1}

        def vector(amounts: Mapping[str, Any]) -> dict[int, int]:
            out = {}
            for name, q in amounts.items():
                if name not in index:
                    index[name] = len(resources)
                    resources.append(name)
                out[index[name]] = amount(name, q)
            return out

        raw = []
        for node in spec["nodes"]:
            if node.get("taints") or node.get("unschedulable"):
                raise NotImplementedError("taints and unschedulable nodes are not ported")
            cap = vector(node.get("capacity", {}))
            used = vector(node.get("used", {}))
            zones = [vector(z) for z in node.get("numa", [])]
            zones_used = [vector(z) for z in node.get("numa_used", [])]
            raw.append((cap, used, zones, zones_used))
        nr = len(resources)
        free, numa_free, numa_local = [], [], []
        for cap, used, zones, zones_used in raw:
            free.append([cap.get(r, 0) - used.get(r, 0) for r in range(nr)])
            zones_used += [{}] * (len(zones) - len(zones_used))
            numa_free.append(
                [
                    [z.get(r, 0) - u.get(r, 0) for r in range(nr)]
                    for z, u in zip(zones, zones_used, strict=True)
                ]
            )
            numa_local.append([any(z.get(r, 0) > 0 for z in zones) for r in range(nr)])
        levels = list(spec["levels"])
        domain_of: list[list[int]] = []
        domain_count = []
        for key in levels:
            # A domain is a label value under the node's nearest domain above (as model.rs).
            ids: dict[tuple[int, int, str], int] = {}
            of = []
            for n, node in enumerate(spec["nodes"]):
                above = (-1, -1)
                for a in reversed(range(len(domain_of))):
                    if domain_of[a][n] >= 0:
                        above = (a, domain_of[a][n])
                        break
                value = node.get("labels", {}).get(key)
                of.append(-1 if value is None else ids.setdefault((*above, value), len(ids)))
            domain_of.append(of)
            domain_count.append(len(ids))
        return cls(
            names=[node["name"] for node in spec["nodes"]],
            resources=resources,
            free=free,
            numa_free=numa_free,
            numa_local=numa_local,
            single_numa=[
                node.get("topology_policy") == "single-numa-node" for node in spec["nodes"]
            ],
            levels=levels,
            domain_of=domain_of,
            domain_count=domain_count,
        )


class Named(Protocol):
    """What `prepare_gang` reads of a cluster (plain or numpy)."""

    resources: list[str]
    levels: list[str]


@dataclass
class Group:
    """One group of a gang, against a cluster's resources and levels."""

    count: int
    min_count: int
    request: list[int]  # per resource of the cluster
    missing: bool  # asks for a resource no node of the cluster has
    numa_aligned: bool | None
    required: int | None  # level index
    preferred: int | None


def prepare_gang(gang: Mapping[str, Any], cluster: Named) -> list[Group]:
    """The gang's groups against `cluster` (as topoplace's gang reader does)."""
    index = {name: r for r, name in enumerate(cluster.resources)}
    groups = []
    for g in gang["groups"]:
        if g.get("slice_size") or g.get("node_selector") or g.get("tolerations"):
            raise NotImplementedError("slices, node selectors and tolerations are not ported")
        request = [0] * len(cluster.resources)
        missing = False
        for name, q in g.get("request", {}).items():
            a = amount(name, q)
            if name in index:
                request[index[name]] = a
            elif a > 0:
                missing = True
        count = int(g["count"])
        groups.append(
            Group(
                count=count,
                min_count=int(g.get("min_count", count)),
                request=request,
                missing=missing,
                numa_aligned=g.get("numa_aligned"),
                required=cluster.levels.index(g["required_level"])
                if g.get("required_level")
                else None,
                preferred=cluster.levels.index(g["preferred_level"])
                if g.get("preferred_level")
                else None,
            )
        )
    return groups


# --- plain Python -------------------------------------------------------------------------


def best_fit(caps: Sequence[int], count: int) -> list[tuple[int, int]]:
    """`count` items from bins of capacity `caps`: largest first, the last the tightest bin
    that holds what is left; `(bin, taken)` in order, ties to the lower index."""
    order = sorted((i for i in range(len(caps)) if caps[i] > 0), key=lambda i: (-caps[i], i))
    used = [False] * len(caps)
    out = []
    left = count
    while left > 0:
        tight = -1
        for i in order:
            if not used[i] and caps[i] >= left and (tight < 0 or caps[i] < caps[tight]):
                tight = i
        if tight < 0:
            tight = next((i for i in order if not used[i]), -1)
            if tight < 0:
                break
        used[tight] = True
        k = min(caps[tight], left)
        out.append((tight, k))
        left -= k
    return out


def _aligned(c: PlainCluster, g: Group, n: int, numa_free: list[list[list[int]]]) -> bool:
    aligned = c.single_numa[n] if g.numa_aligned is None else g.numa_aligned
    return aligned and bool(numa_free[n])


def _zone_fits(c: PlainCluster, g: Group, n: int, total: int, zones: list[list[int]]) -> list[int]:
    local = c.numa_local[n]
    out = []
    for zone in zones:
        k = total
        for r, want in enumerate(g.request):
            if want > 0 and local[r]:
                q = zone[r] // want
                if q < k:
                    k = q
        out.append(k)
    return out


def _fits_plain(
    c: PlainCluster, g: Group, free: list[list[int]], numa_free: list[list[list[int]]]
) -> list[int]:
    wants = [(r, want) for r, want in enumerate(g.request) if want > 0]
    fits = []
    for n, node_free in enumerate(free):
        total = UNBOUNDED
        for r, want in wants:
            q = node_free[r] // want
            if q < total:
                total = q
        if total > 0 and _aligned(c, g, n, numa_free):
            total = min(total, sum(_zone_fits(c, g, n, total, numa_free[n])))
        fits.append(total)
    return fits


def group_orders(n: int) -> list[tuple[int, ...]]:
    """The group orders tried in turn, as topoplace does: the given one, then every other
    permutation (lexicographic) up to 4 groups, else the reverse."""
    if n > 4:
        return [tuple(range(n)), tuple(reversed(range(n)))]
    return list(itertools.permutations(range(n)))


def place_plain(c: PlainCluster, groups: Sequence[Group]) -> Pods | None:
    """Each pod's `(node name, NUMA node or None)` in rank order, or None when the gang does
    not fit in any group order."""
    for order in group_orders(len(groups)):
        placed = _place_plain_in(c, groups, order)
        if placed is not None:
            return [pod for gi in range(len(groups)) for pod in placed[gi]]
    return None


def _place_plain_in(
    c: PlainCluster, groups: Sequence[Group], order: Sequence[int]
) -> dict[int, Pods] | None:
    """Per group, its pods, with the groups placed in `order`; None when one does not fit."""
    free, numa_free = c.free, c.numa_free
    by_group: dict[int, Pods] = {}
    for step, gi in enumerate(order):
        g = groups[gi]
        out: Pods = by_group.setdefault(gi, [])
        if g.missing:
            return None
        fits = _fits_plain(c, g, free, numa_free)
        if g.required is None:
            candidates = [list(range(len(free)))]
        else:
            candidates = [[] for _ in range(c.domain_count[g.required])]
            for n, d in enumerate(c.domain_of[g.required]):
                if d >= 0:
                    candidates[d].append(n)
        caps = [sum(fits[n] for n in nodes) for nodes in candidates]
        chosen = -1
        for i, cap in enumerate(caps):
            if cap >= g.count and (chosen < 0 or cap < caps[chosen]):
                chosen = i
        count = g.count
        if chosen < 0:
            if not caps:
                return None
            chosen = max(range(len(caps)), key=lambda i: (caps[i], -i))
            count = min(caps[chosen], g.count)
            if count < max(g.min_count, 1):
                return None
        # Preferred-level domains (or single nodes) inside the chosen domain, first-seen order.
        by: dict[int, list[int]] = {}
        for n in candidates[chosen]:
            key = n if g.preferred is None else c.domain_of[g.preferred][n]
            if fits[n] > 0:
                by.setdefault(key if key >= 0 else -1 - n, []).append(n)
        members = list(by.values())
        ranked = []
        for d, take in best_fit([sum(fits[n] for n in ns) for ns in members], count):
            ns = members[d]
            ranked += [(ns[m], k) for m, k in best_fit([fits[n] for n in ns], take)]
        last = step == len(order) - 1
        if not last:
            free, numa_free = list(free), list(numa_free)
        for n, k in ranked:
            if _aligned(c, g, n, numa_free):
                left, zones = k, []
                for z, fit in enumerate(_zone_fits(c, g, n, k, numa_free[n])):
                    got = min(left, fit)
                    out += [(c.names[n], z)] * got
                    zones.append(got)
                    left -= got
            else:
                out += [(c.names[n], None)] * k
                zones = [0] * len(numa_free[n])
            if not last:
                free[n] = [f - k * want for f, want in zip(free[n], g.request, strict=True)]
                local = c.numa_local[n]
                numa_free[n] = [
                    [v - got * want if local[r] else v for r, (v, want) in enumerate(pairs)]
                    for z, got in zip(numa_free[n], zones, strict=True)
                    for pairs in [zip(z, g.request, strict=True)]
                ]
    return by_group
