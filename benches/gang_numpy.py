"""The numpy peer of topoplace's gang placement (issue #6 benchmarks): the same
counting-and-greedy algorithm as ``gang_plain.py`` (whose docstring states it), vectorised:
fit counts with floor division per NUMA node, per-domain sums with ``np.bincount``, the
greedy with ``argsort``. Arrays are built once (``NumpyCluster``); every call recounts."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from gang_plain import (  # noqa: E402
    UNBOUNDED,
    BoolArray,
    Group,
    IntArray,
    PlainCluster,
    Pods,
    group_orders,
)


@dataclass
class NumpyCluster:
    """The cluster as arrays: `free[n, r]`, `numa_free[n, z, r]` (zero past a node's NUMA
    nodes), per level each node's domain (-1: none) and each domain's nodes in order."""

    names: list[str]
    resources: list[str]
    levels: list[str]
    free: IntArray
    numa_free: IntArray
    zone_mask: BoolArray  # (n, z): the node has that NUMA node
    numa_local: BoolArray  # (n, r)
    local_everywhere: BoolArray  # (r,): NUMA-local on every node with NUMA nodes
    single_numa: BoolArray
    has_zones: BoolArray
    domain_of: list[IntArray]
    complete: list[bool]  # every node has a domain at that level
    members: list[list[IntArray]]

    @classmethod
    def from_plain(cls, p: PlainCluster) -> NumpyCluster:
        n, nr = len(p.names), len(p.resources)
        nz = max((len(z) for z in p.numa_free), default=0)
        numa_free = np.zeros((n, nz, nr), dtype=np.int64)
        zone_mask = np.zeros((n, nz), dtype=bool)
        for i, zones in enumerate(p.numa_free):
            if zones:
                numa_free[i, : len(zones)] = zones
                zone_mask[i, : len(zones)] = True
        numa_local = np.array(p.numa_local, dtype=bool).reshape(n, nr)
        has_zones = zone_mask.any(axis=1)
        domain_of = [np.array(of, dtype=np.int64) for of in p.domain_of]
        members = []
        for of, count in zip(domain_of, p.domain_count, strict=True):
            order = np.argsort(of, kind="stable")
            bounds = np.searchsorted(of[order], np.arange(count + 1))
            members.append([order[bounds[d] : bounds[d + 1]] for d in range(count)])
        return cls(
            names=p.names,
            resources=p.resources,
            levels=p.levels,
            free=np.array(p.free, dtype=np.int64).reshape(n, nr),
            numa_free=numa_free,
            zone_mask=zone_mask,
            numa_local=numa_local,
            local_everywhere=numa_local[has_zones].all(axis=0),
            single_numa=np.array(p.single_numa, dtype=bool),
            has_zones=has_zones,
            domain_of=domain_of,
            complete=[bool((of >= 0).all()) for of in domain_of],
            members=members,
        )


def _fits_np(
    c: NumpyCluster, g: Group, free: IntArray, numa_free: IntArray
) -> tuple[IntArray, IntArray, BoolArray]:
    """Per node its fit, per node and NUMA node what each holds, and which nodes align."""
    total = np.full(len(free), UNBOUNDED, dtype=np.int64)
    wants = [(r, want) for r, want in enumerate(g.request) if want > 0]
    for r, want in wants:
        np.minimum(total, free[:, r] // want, out=total)
    zones = np.repeat(total[:, None], numa_free.shape[1], axis=1)
    for r, want in wants:
        q = numa_free[:, :, r] // want
        if not c.local_everywhere[r]:
            q = np.where(c.numa_local[:, r, None], q, total[:, None])
        np.minimum(zones, q, out=zones)
    zones *= c.zone_mask
    if g.numa_aligned is None:
        aligned = c.single_numa & c.has_zones
    else:
        aligned = c.has_zones & bool(g.numa_aligned)
    fits = np.where(aligned, np.minimum(zones.sum(axis=1), total), total)
    return fits, zones, aligned


def best_fit_np(caps: IntArray, count: int) -> tuple[IntArray, IntArray]:
    """`best_fit` with arrays: the bins taken and how much from each, in order."""
    pos = np.flatnonzero(caps > 0)
    if count <= 0 or pos.size == 0:
        return pos[:0], pos[:0]
    order = pos[np.argsort(-caps[pos], kind="stable")]
    sizes = caps[order]
    left = count - np.concatenate(([0], np.cumsum(sizes)[:-1]))
    last = sizes >= left  # from here on one bin holds the rest
    if not last.any():
        return order, sizes
    j = int(np.argmax(last))
    rest = int(left[j])
    neg = -sizes
    p = int(np.searchsorted(neg, -rest, side="right")) - 1  # the smallest size >= rest
    q = max(int(np.searchsorted(neg, neg[p], side="left")), j)  # its lowest index unused
    bins = np.concatenate((order[:j], order[q : q + 1]))
    return bins, np.concatenate((sizes[:j], [rest]))


def place_numpy(c: NumpyCluster, groups: Sequence[Group]) -> tuple[IntArray, IntArray] | None:
    """Node index and NUMA node (-1: none) of each pod in rank order, or None when the gang
    does not fit in any group order (`group_orders`)."""
    for order in group_orders(len(groups)):
        placed = _place_numpy_in(c, groups, order)
        if placed is not None:
            nodes = [placed[gi][0] for gi in range(len(groups))]
            numa = [placed[gi][1] for gi in range(len(groups))]
            return np.concatenate(nodes), np.concatenate(numa)
    return None


def _place_numpy_in(
    c: NumpyCluster, groups: Sequence[Group], order: Sequence[int]
) -> dict[int, tuple[IntArray, IntArray]] | None:
    """Per group, its pods' nodes and NUMA nodes, with the groups placed in `order`; None when
    one does not fit."""
    free, numa_free = c.free, c.numa_free
    by_group: dict[int, tuple[IntArray, IntArray]] = {}
    nz = numa_free.shape[1]
    for step, gi in enumerate(order):
        g = groups[gi]
        if g.missing:
            return None
        fits, zone_fits, aligned = _fits_np(c, g, free, numa_free)
        if g.required is None:
            caps = fits.sum(keepdims=True)
            candidates = [np.arange(len(fits))]
        else:
            of = c.domain_of[g.required]
            candidates = c.members[g.required]
            if c.complete[g.required]:
                caps = np.bincount(of, weights=fits, minlength=len(candidates))
            else:
                has = of >= 0
                caps = np.bincount(of[has], weights=fits[has], minlength=len(candidates))
            caps = caps.astype(np.int64)
        if caps.size == 0:
            return None
        holding = np.flatnonzero(caps >= g.count)
        count = g.count
        if holding.size:
            chosen = int(holding[np.argmin(caps[holding])])
        else:
            chosen = int(np.argmax(caps))
            count = min(int(caps[chosen]), g.count)
            if count < max(g.min_count, 1):
                return None
        inside = candidates[chosen]
        fit_in = fits[inside]
        if g.preferred is None:
            keep = fit_in > 0
            bins, takes = best_fit_np(fit_in[keep], count)
            nodes, ks = inside[keep][bins], takes
        else:
            keep = fit_in > 0
            inside, fit_in = inside[keep], fit_in[keep]
            keys = c.domain_of[g.preferred][inside]
            keys = np.where(keys >= 0, keys, -1 - inside)
            _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
            rank = np.empty_like(first)
            rank[np.argsort(first)] = np.arange(first.size)  # domains in first-seen order
            dom = rank[inverse]
            dom_caps = np.bincount(dom, weights=fit_in).astype(np.int64)
            picked_nodes, picked_ks = [], []
            for d, take in zip(*best_fit_np(dom_caps, count), strict=True):
                in_d = dom == d
                bins, takes = best_fit_np(fit_in[in_d], int(take))
                picked_nodes.append(inside[in_d][bins])
                picked_ks.append(takes)
            nodes, ks = np.concatenate(picked_nodes), np.concatenate(picked_ks)
        # Each node's pods fill its NUMA nodes in order; unaligned nodes give -1.
        zf = zone_fits[nodes]
        got = np.clip(ks[:, None] - (np.cumsum(zf, axis=1) - zf), 0, zf)
        al = aligned[nodes]
        per_zone = np.where(al[:, None], got, 0)
        counts = np.concatenate((per_zone, np.where(al, 0, ks)[:, None]), axis=1)
        zone_ids = np.tile(np.append(np.arange(nz), -1), len(nodes))
        by_group[gi] = (
            np.repeat(np.repeat(nodes, nz + 1), counts.ravel()),
            np.repeat(zone_ids, counts.ravel()),
        )
        if step < len(order) - 1:
            req = np.array(g.request, dtype=np.int64)
            free = free.copy()
            free[nodes] -= ks[:, None] * req
            numa_free = numa_free.copy()
            numa_free[nodes] -= per_zone[:, :, None] * (req * c.numa_local[nodes])[:, None, :]
    return by_group


def numpy_pods(c: NumpyCluster, placed: tuple[IntArray, IntArray] | None) -> Pods | None:
    """`place_numpy`'s arrays as `[(node name, numa or None)]`."""
    if placed is None:
        return None
    return [
        (c.names[n], None if z < 0 else z)
        for n, z in zip(placed[0].tolist(), placed[1].tolist(), strict=True)
    ]
