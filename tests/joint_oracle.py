"""A plain-Python, exhaustive oracle for joint placements (GPUs, NICs, CPUs and memory).

It re-implements, from public data only, the semantics documented in
``rust/topoplace-core/src/node/allocator/joint.rs`` (the module doc) and ``joint_search.rs``:

- levels: a required level is searched alone; a preferred one first, then each looser one
  (``pcie-root``, ``numa``, ``socket``, ``none``), the first level with any placement wins;
- domains: ``none`` is the whole machine (devices anywhere, unknown NUMA included); ``socket``
  each package (devices whose NUMA node is on it); ``numa`` and ``pcie-root`` each NUMA node;
  a device with unknown NUMA only fits ``none``;
- homes (where CPUs and memory go, when some are asked for): every node of the domain whose free
  CPUs and free memory hold the request. The allocator grows multi-node homes when no single
  node fits; this oracle does not model that and raises :class:`MultiNodeHome` instead, so a
  case that would need one is noticed rather than silently misjudged;
- the score ``total = gpu_links + nic_paths - numa_distance - fragmentation`` (see
  :func:`score_of`), maximised over every domain, home, GPU set and NIC choice.

Everything is enumerated: GPU sets with ``itertools.combinations``, NIC injections with
``itertools.product`` when small, else an exact dynamic programme over subsets of NICs. Nothing
here calls the allocator; the data come from ``Topology`` accessors and ``NodeAllocator.free()``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import topoplace
from topoplace._typing import AlignLevel

LEVELS: tuple[AlignLevel, ...] = ("pcie-root", "numa", "socket", "none")

#: Points of a PCIe path class (the same scale as go-gpuallocator's GPU pair scores).
POINTS: dict[str | None, int] = {"PIX": 50, "PXB": 40, "PHB": 30, "NODE": 20, "SYS": 10}

#: Classes that keep two devices below one PCIe root complex.
ROOT_CLASSES = frozenset({"PIX", "PXB", "PHB"})

#: Above this many candidate injections, NICs are assigned by the subset DP.
PRODUCT_LIMIT = 4096


class MultiNodeHome(Exception):
    """A domain where no single NUMA node holds the CPUs and memory, but several together do:
    the allocator would grow a multi-node home there, which this oracle does not model."""


def points(cls: str | None) -> int:
    return POINTS.get(cls, 0)


@dataclass(frozen=True)
class Machine:
    """The public facts the score depends on, by GPU / NIC ordinal (position in
    ``topology.gpus`` / ``topology.nics``)."""

    name: str
    gpu_names: tuple[str, ...]
    nic_names: tuple[str, ...]
    gpu_numa: tuple[int | None, ...]
    nic_numa: tuple[int | None, ...]
    gpu_model: tuple[str, ...]
    #: ``gpu_pair_scores()``.
    pair: tuple[tuple[int, ...], ...]
    #: ``pcie_class(gpu, nic)`` per GPU row.
    gn_class: tuple[tuple[str | None, ...], ...]
    #: ``pcie_class(gpu, gpu)``.
    gg_class: tuple[tuple[str | None, ...], ...]
    #: NUMA OS ids in topology order (the order of ``NodeAllocator.free()``).
    numa_os: tuple[int, ...]
    #: Distances by position in ``numa_os`` (10 local, 20 remote when the source has none).
    dist: tuple[tuple[int, ...], ...]
    #: NUMA OS id -> package, from ``topology.cores`` (nodes without cores have none).
    package: dict[int, int] = field(hash=False, compare=False)
    #: NUMA OS id -> CPUs of the node.
    node_cpus: dict[int, frozenset[int]] = field(hash=False, compare=False)

    @staticmethod
    def of(topo: topoplace.Topology) -> Machine:
        gpus, nics = topo.gpus, topo.nics
        numa_os = tuple(n.os_index for n in topo.numa_nodes)
        n = len(numa_os)
        raw = topo.numa_distances
        if raw is None:
            dist = tuple(tuple(10 if i == j else 20 for j in range(n)) for i in range(n))
        else:
            dist = tuple(tuple(int(raw[i][j]) for j in range(n)) for i in range(n))
        package: dict[int, int] = {}
        for core in topo.cores:
            if core.numa_node is None:
                continue
            old = package.setdefault(core.numa_node, core.package)
            assert old == core.package, f"NUMA node {core.numa_node} spans two packages"
        pair = topo.gpu_pair_scores()
        return Machine(
            name=topo.name,
            gpu_names=tuple(g.name for g in gpus),
            nic_names=tuple(c.name for c in nics),
            gpu_numa=tuple(g.numa_node for g in gpus),
            nic_numa=tuple(c.numa_node for c in nics),
            gpu_model=tuple((g.model or "").lower() for g in gpus),
            pair=tuple(tuple(int(pair[i][j]) for j in range(len(gpus))) for i in range(len(gpus))),
            gn_class=tuple(tuple(topo.pcie_class(g.index, c.index) for c in nics) for g in gpus),
            gg_class=tuple(tuple(topo.pcie_class(a.index, b.index) for b in gpus) for a in gpus),
            numa_os=numa_os,
            dist=dist,
            package=package,
            node_cpus={node.os_index: frozenset(node.cpus) for node in topo.numa_nodes},
        )

    def distance(self, a: int, b: int) -> int:
        """Distance between NUMA nodes given by OS id."""
        return self.dist[self.numa_os.index(a)][self.numa_os.index(b)]

    def package_of(self, numa: int | None) -> int | None:
        return None if numa is None else self.package.get(numa)

    def gpu_points(self, g: int, c: int) -> int:
        return points(self.gn_class[g][c])

    def gn_root(self, g: int, c: int) -> bool:
        return self.gn_class[g][c] in ROOT_CLASSES

    def gg_root(self, a: int, b: int) -> bool:
        return self.gg_class[a][b] in ROOT_CLASSES


@dataclass(frozen=True)
class State:
    """What is free before the request."""

    free_gpus: frozenset[int]
    free_nics: frozenset[int]
    #: NUMA OS id -> free CPUs.
    free_cpus: tuple[tuple[int, frozenset[int]], ...]
    #: NUMA OS id -> free regular memory in bytes.
    free_mem: tuple[tuple[int, int], ...]

    @staticmethod
    def of(m: Machine, alloc: topoplace.NodeAllocator) -> State:
        taken_gpus: set[int] = set()
        taken_nics: set[int] = set()
        for owner in alloc.owners():
            held = alloc.get(owner)
            assert held is not None
            taken_gpus.update(held.gpus)
            taken_nics.update(held.nics)
        free = alloc.free()
        assert len(free) == len(m.numa_os)
        # free() lists the nodes in topology order; they are matched by position (see
        # test_free_reports_numa_os_ids for the OS ids it reports).
        return State(
            free_gpus=frozenset(range(len(m.gpu_numa))) - taken_gpus,
            free_nics=frozenset(range(len(m.nic_numa))) - taken_nics,
            free_cpus=tuple(
                (os, frozenset(f["cpus"])) for os, f in zip(m.numa_os, free, strict=True)
            ),
            free_mem=tuple((os, f["memory"]) for os, f in zip(m.numa_os, free, strict=True)),
        )

    def cpus_on(self, numa: int) -> int:
        return len(dict(self.free_cpus)[numa])

    def mem_on(self, numa: int) -> int:
        return dict(self.free_mem)[numa]


@dataclass(frozen=True)
class Spec:
    """A joint request, as passed to ``topoplace.Request``."""

    gpus: int
    nics_per_gpu: int = 0
    nics: int = 0
    cpus: int = 0
    memory: int = 0
    align: AlignLevel = "none"
    required: bool = False
    gpu_model: str | None = None

    def request(self) -> topoplace.Request:
        return topoplace.Request(
            self.cpus,
            memory=self.memory or None,
            gpus=self.gpus,
            nics_per_gpu=self.nics_per_gpu,
            nics=self.nics,
            gpu_model=self.gpu_model,
            align=self.align,
            align_required=self.required,
        )

    @property
    def nic_count(self) -> int:
        return self.nics if self.nics else self.gpus * self.nics_per_gpu

    @property
    def wants_home(self) -> bool:
        return self.cpus > 0 or self.memory > 0

    def levels(self) -> tuple[AlignLevel, ...]:
        start = LEVELS.index(self.align)
        return LEVELS[start : start + 1] if self.required else LEVELS[start:]

    def shape(self) -> Spec:
        """The request without its alignment (what a level's search depends on)."""
        return Spec(
            self.gpus,
            self.nics_per_gpu,
            self.nics,
            self.cpus,
            self.memory,
            gpu_model=self.gpu_model,
        )


@dataclass(frozen=True)
class Score:
    gpu_links: int
    nic_paths: int
    numa_distance: int
    fragmentation: int

    @property
    def total(self) -> int:
        return self.gpu_links + self.nic_paths - self.numa_distance - self.fragmentation

    def as_dict(self) -> dict[str, int]:
        return {
            "gpu_links": self.gpu_links,
            "nic_paths": self.nic_paths,
            "numa_distance": self.numa_distance,
            "fragmentation": self.fragmentation,
            "total": self.total,
        }


@dataclass(frozen=True)
class Placement:
    """One best placement at one level (one of possibly several with the same total)."""

    level: AlignLevel
    score: Score
    gpus: tuple[int, ...]
    nics: tuple[int, ...]
    nic_gpus: tuple[int | None, ...]
    home: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.score.total


def penalty(m: Machine, home: Sequence[int], numa: int | None) -> int:
    """NUMA penalty of a device on node ``numa``: the farthest home node's distance minus the
    local distance; 0 without a home or when the device's node is unknown."""
    if not home or numa is None:
        return 0
    return max(m.distance(h, numa) - m.distance(numa, numa) for h in home)


def fragmentation(m: Machine, state: State, gpus: Iterable[int]) -> int:
    """10 per NUMA node and 10 per package whose GPUs were all free and are split by ``gpus``."""
    chosen = set(gpus)
    frag = 0
    domains: list[dict[int, list[int]]] = [{}, {}]
    for g, numa in enumerate(m.gpu_numa):
        if numa is not None:
            domains[0].setdefault(numa, []).append(g)
        pkg = m.package_of(numa)
        if pkg is not None:
            domains[1].setdefault(pkg, []).append(g)
    for by_domain in domains:
        for members in by_domain.values():
            all_free = all(g in state.free_gpus for g in members)
            taken = sum(1 for g in members if g in chosen)
            if all_free and 0 < taken < len(members):
                frag += 10
    return frag


def nic_count_value(m: Machine, gpus: Sequence[int], c: int, root: bool) -> int | None:
    """Points of NIC ``c`` in count mode: its best path to a chosen GPU (only PCIe-root paths
    at ``pcie-root``); ``None`` when it has no allowed GPU."""
    cands = [m.gpu_points(g, c) for g in gpus if not root or m.gn_root(g, c)]
    if not gpus:
        return 0
    return max(cands) if cands else None


def nearest_gpu(m: Machine, gpus: Sequence[int], c: int) -> int | None:
    """The first of ``gpus`` with the most path points to NIC ``c`` (``None`` without GPUs)."""
    best: int | None = None
    for g in gpus:
        if best is None or m.gpu_points(g, c) > m.gpu_points(best, c):
            best = g
    return best


def score_of(
    m: Machine,
    state: State,
    spec: Spec,
    gpus: Sequence[int],
    nics: Sequence[int],
    nic_gpus: Sequence[int | None],
    home: Sequence[int],
) -> Score:
    """The score of a given placement (``home``: NUMA OS ids of its CPUs/memory, empty when it
    has none)."""
    links = sum(m.pair[a][b] for a, b in itertools.combinations(gpus, 2))
    if spec.nics_per_gpu:
        paths = 0
        for c, g in zip(nics, nic_gpus, strict=True):
            assert g is not None
            paths += m.gpu_points(g, c)
    else:
        paths = 0
        for c in nics:
            v = nic_count_value(m, gpus, c, root=False)
            assert v is not None
            paths += v
    dist = sum(penalty(m, home, m.gpu_numa[g]) for g in gpus)
    dist += sum(penalty(m, home, m.nic_numa[c]) for c in nics)
    return Score(links, paths, dist, fragmentation(m, state, gpus))


@lru_cache(maxsize=200_000)
def best_injection(
    weights: tuple[tuple[int | None, ...], ...],
) -> tuple[int, tuple[int, ...]] | None:
    """The largest sum of ``weights[row][col]`` over injective maps rows -> cols (``None`` is a
    forbidden pair), with one map reaching it; ``None`` when no map avoids forbidden pairs.

    Each row only needs its ``r`` best columns (``r`` = number of rows): if an optimal map sends
    a row elsewhere, the other ``r - 1`` rows use at most ``r - 1`` of its best ``r`` columns,
    so one is unused and moving the row there does not lower the sum. Small cases enumerate the
    product of those lists; larger ones run an exact DP over sets of used columns.
    """
    r = len(weights)
    if r == 0:
        return (0, ())
    lists: list[list[int]] = []
    for row in weights:
        allowed = sorted(
            (j for j, w in enumerate(row) if w is not None),
            key=lambda j: (-(row[j] or 0), j),
        )
        if not allowed:
            return None
        lists.append(allowed[:r])
    size = 1
    for cand in lists:
        size *= len(cand)
    best: tuple[int, tuple[int, ...]] | None = None
    if size <= PRODUCT_LIMIT:
        for cols in itertools.product(*lists):
            if len(set(cols)) < r:
                continue
            total = sum(weights[i][j] or 0 for i, j in enumerate(cols))
            if best is None or total > best[0]:
                best = (total, cols)
        return best
    # DP over rows in order; state = frozenset of used columns -> best (sum, map so far).
    dp: dict[frozenset[int], tuple[int, tuple[int, ...]]] = {frozenset(): (0, ())}
    for i, cand in enumerate(lists):
        nxt: dict[frozenset[int], tuple[int, tuple[int, ...]]] = {}
        for used, (total, cols) in dp.items():
            for j in cand:
                if j in used:
                    continue
                key = used | {j}
                value = total + (weights[i][j] or 0)
                old = nxt.get(key)
                if old is None or value > old[0]:
                    nxt[key] = (value, (*cols, j))
        dp = nxt
        if not dp:
            return None
    return max(dp.values(), key=lambda e: e[0])


class Oracle:
    """The exhaustive search over one machine (results cached per state and request shape)."""

    def __init__(self, machine: Machine) -> None:
        self.m = machine
        self._cache: dict[tuple[State, Spec, AlignLevel], Placement | None] = {}
        #: (domain, home, GPU set) scored, over all searches.
        self.scored = 0

    def domains(self, level: AlignLevel) -> list[tuple[int, ...] | None]:
        """NUMA OS ids of each domain of ``level`` (``None``: the whole machine)."""
        m = self.m
        if level == "none":
            return [None]
        if level == "socket":
            pkgs = sorted(set(m.package.values()))
            return [tuple(sorted(os for os in m.numa_os if m.package.get(os) == p)) for p in pkgs]
        return [(os,) for os in sorted(m.numa_os)]

    def homes(self, state: State, spec: Spec, nodes: Sequence[int]) -> list[tuple[int, ...]]:
        if not spec.wants_home:
            return [()]
        singles: list[tuple[int, ...]] = [
            (d,)
            for d in sorted(nodes)
            if state.cpus_on(d) >= spec.cpus and state.mem_on(d) >= spec.memory
        ]
        if not singles:
            cpus = sum(state.cpus_on(d) for d in nodes)
            mem = sum(state.mem_on(d) for d in nodes)
            if nodes and cpus >= spec.cpus and mem >= spec.memory:
                raise MultiNodeHome(
                    f"{self.m.name}: no single node of {list(nodes)} holds {spec}, together"
                    f" they do ({cpus} CPUs, {mem} bytes)"
                )
        return singles

    def best(self, state: State, spec: Spec) -> Placement | None:
        """The best placement at the first level of ``spec`` that has one."""
        for level in spec.levels():
            found = self.best_at(state, spec, level)
            if found is not None:
                return found
        return None

    def best_at(self, state: State, spec: Spec, level: AlignLevel) -> Placement | None:
        key = (state, spec.shape(), level)
        if key not in self._cache:
            self._cache[key] = self._search(state, spec.shape(), level)
        return self._cache[key]

    def _search(self, state: State, spec: Spec, level: AlignLevel) -> Placement | None:
        m = self.m
        root = level == "pcie-root"
        best: Placement | None = None
        for domain in self.domains(level):

            def inside(numa: int | None, domain: tuple[int, ...] | None = domain) -> bool:
                return domain is None or (numa is not None and numa in domain)

            gpus = [
                g
                for g in sorted(state.free_gpus)
                if inside(m.gpu_numa[g])
                and (spec.gpu_model is None or spec.gpu_model.lower() in m.gpu_model[g])
            ]
            nics = [c for c in sorted(state.free_nics) if inside(m.nic_numa[c])]
            if len(gpus) < spec.gpus or len(nics) < spec.nic_count:
                continue
            nodes = list(m.numa_os) if domain is None else list(domain)
            for home in self.homes(state, spec, nodes):
                found = self._search_home(state, spec, level, root, gpus, nics, home)
                if found is not None and (best is None or found.total > best.total):
                    best = found
        return best

    def _search_home(
        self,
        state: State,
        spec: Spec,
        level: AlignLevel,
        root: bool,
        gpus: list[int],
        nics: list[int],
        home: tuple[int, ...],
    ) -> Placement | None:
        m = self.m
        pen_g = {g: penalty(m, home, m.gpu_numa[g]) for g in gpus}
        pen_c = {c: penalty(m, home, m.nic_numa[c]) for c in nics}
        best: Placement | None = None
        for gset in itertools.combinations(gpus, spec.gpus):
            if root and spec.nic_count == 0:
                if not all(m.gg_root(a, b) for a, b in itertools.combinations(gset, 2)):
                    continue
            self.scored += 1
            links = sum(m.pair[a][b] for a, b in itertools.combinations(gset, 2))
            gpu_pen = sum(pen_g[g] for g in gset)
            frag = fragmentation(m, state, gset)
            chosen_nics: tuple[int, ...] = ()
            nic_gpus: tuple[int | None, ...] = ()
            paths = 0
            nic_pen = 0
            if spec.nics_per_gpu:
                rows = [g for g in gset for _ in range(spec.nics_per_gpu)]
                weights = tuple(
                    tuple(
                        m.gpu_points(g, c) - pen_c[c] if not root or m.gn_root(g, c) else None
                        for c in nics
                    )
                    for g in rows
                )
                inj = best_injection(weights)
                if inj is None:
                    continue
                chosen_nics = tuple(nics[j] for j in inj[1])
                nic_gpus = tuple(rows)
                paths = sum(m.gpu_points(g, c) for g, c in zip(rows, chosen_nics, strict=True))
                nic_pen = sum(pen_c[c] for c in chosen_nics)
            elif spec.nics:
                ranked: list[tuple[int, int, int]] = []
                for c in nics:
                    pts = nic_count_value(m, gset, c, root)
                    if pts is None:
                        continue
                    ranked.append((pts - pen_c[c], c, pts))
                if len(ranked) < spec.nics:
                    continue
                ranked.sort(key=lambda e: (-e[0], e[1]))
                top = ranked[: spec.nics]
                chosen_nics = tuple(c for _, c, _ in top)
                nic_gpus = tuple(nearest_gpu(m, gset, c) for c in chosen_nics)
                paths = sum(p for _, _, p in top)
                nic_pen = sum(pen_c[c] for c in chosen_nics)
            score = Score(links, paths, gpu_pen + nic_pen, frag)
            if best is None or score.total > best.total:
                best = Placement(level, score, gset, chosen_nics, nic_gpus, home)
        return best


def achieved(
    m: Machine,
    spec: Spec,
    gpus: Sequence[int],
    nics: Sequence[int],
    nic_gpus: Sequence[int | None],
    home: Sequence[int],
) -> AlignLevel:
    """The tightest level a placement meets."""
    nodes: set[int | None] = set(home)
    nodes.update(m.gpu_numa[g] for g in gpus)
    nodes.update(m.nic_numa[c] for c in nics)
    if not nodes or None in nodes:
        return "none"
    if len(nodes) == 1:
        if not nics:
            rooted = all(m.gg_root(a, b) for a, b in itertools.combinations(gpus, 2))
        elif spec.nics_per_gpu:
            rooted = all(
                g is not None and m.gn_root(g, c) for c, g in zip(nics, nic_gpus, strict=True)
            )
        else:
            rooted = not gpus or all(any(m.gn_root(g, c) for g in gpus) for c in nics)
        return "pcie-root" if rooted else "numa"
    pkgs = {m.package_of(d) for d in nodes}
    if len(pkgs) == 1 and None not in pkgs:
        return "socket"
    return "none"


def shared_nearest_nics(m: Machine) -> list[tuple[int, int, int]]:
    """GPU pairs ``(a, b, nic)`` whose single nearest NIC (highest path points, no tie) is the
    same: only one of them can have it."""
    out: list[tuple[int, int, int]] = []
    nics = range(len(m.nic_names))
    if not nics:
        return out
    nearest: list[frozenset[int]] = []
    for g in range(len(m.gpu_names)):
        top = max(m.gpu_points(g, c) for c in nics)
        nearest.append(frozenset(c for c in nics if m.gpu_points(g, c) == top))
    for a, b in itertools.combinations(range(len(m.gpu_names)), 2):
        if len(nearest[a]) == 1 and nearest[a] == nearest[b]:
            out.append((a, b, next(iter(nearest[a]))))
    return out
