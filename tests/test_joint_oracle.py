"""Joint placements (GPUs, NICs, CPUs, memory) against an exhaustive plain-Python oracle.

For every machine with GPUs in ``tests/data/nvidia-smi`` and ``tests/data/hwloc``, from an empty
allocator and after seeded sequences of earlier allocations, requests of 1, 2, 4 and 8 GPUs
(where the machine has them), with one NIC per GPU (or none, when the machine has too few) and a
NIC-count variant, a few CPUs and some memory where the machine has them, at each alignment
level, required and preferred. For each, ``check()`` must:

- reach the oracle's best total at the oracle's first feasible level, and refuse exactly when
  the oracle finds nothing at any allowed level;
- report score parts equal to the oracle's score of the returned placement;
- return free, distinct devices meeting the alignment it reports (the tightest one met) and, when
  required, the requested one; CPUs and memory on the reported NUMA nodes;
- leave the state unchanged, and give the same answer as ``allocate()``.

Then the hard shapes, by the names in the files: NICs at no PIX path to any GPU, two GPUs with
the same single nearest NIC, and a PCIe-only box where only NUMA separates good pairs from bad.

The oracle (``joint_oracle.py``) enumerates every domain, home, GPU set and NIC injection. Its
cases stay within single-node homes (it raises ``MultiNodeHome`` otherwise). The largest search
here is 8 of DGX-2's 16 GPUs (12870 sets per home, no NICs); with NICs the largest is 8 GPUs with
one NIC each from 12 (DGX A100), or 4 GPUs with two NICs each from 11 (HGX H100), where the
injections are found by a DP over NIC subsets (about 0.2 s per search). No combination had to be
skipped: a two-NICs-per-GPU variant is added wherever the machine has two NICs per GPU.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from joint_oracle import (
    LEVELS,
    Machine,
    Oracle,
    Spec,
    State,
    achieved,
    nic_count_value,
    score_of,
    shared_nearest_nics,
)

import topoplace

DATA = Path(__file__).parent / "data"
GIB = 1 << 30


def machine_files() -> list[Path]:
    smi = [p for p in sorted((DATA / "nvidia-smi").glob("*.txt")) if ".host." not in p.name]
    files = smi + sorted((DATA / "hwloc").glob("*.xml"))
    return [p for p in files if topoplace.load(p).gpus]


MACHINES = machine_files()
STATES = ("empty", "busy-1", "busy-2", "busy-3", "busy-4", "busy-5", "busy-6")

#: Cases checked, per machine file name (printed by test_case_counts, run last).
CASES: dict[str, int] = {}


def load(name: str) -> topoplace.Topology:
    for path in MACHINES:
        if path.stem == name:
            return topoplace.load(path)
    raise KeyError(name)


class Context:
    """One machine: its topology, the oracle's view of it and the request sizes that fit it."""

    def __init__(self, topo: topoplace.Topology) -> None:
        self.topo = topo
        self.m = Machine.of(topo)
        self.oracle = Oracle(self.m)
        free = topoplace.NodeAllocator(topo).free()
        node_cpus = [len(f["cpus"]) for f in free if len(f["cpus"]) > 0]
        self.has_cpus = bool(node_cpus)
        self.has_memory = any(f["memory"] > 0 for f in free)
        # Half the smallest node, so homes stay single-node after the earlier allocations.
        self.cpu_cap = max(1, min(node_cpus) // 2) if node_cpus else 0

    def cpus_for(self, gpus: int) -> int:
        return min(2 * max(gpus, 1), self.cpu_cap) if self.has_cpus else 0

    def memory_for(self, gpus: int) -> int:
        return max(gpus, 1) * GIB if self.has_memory else 0

    def specs(self) -> list[Spec]:
        n_gpus, n_nics = len(self.m.gpu_names), len(self.m.nic_names)
        models = sorted({model for model in self.m.gpu_model if model})
        out: list[Spec] = []
        for k in (1, 2, 4, 8):
            if k > n_gpus:
                continue
            variants: list[tuple[int, int, str | None]] = [(1 if n_nics >= k else 0, 0, None)]
            if n_nics:
                variants.append((0, min(k, n_nics), None))
            if n_nics >= 2 * k:
                variants.append((2, 0, None))
            if k <= 2 and len(models) > 1:
                # Mixed models (32em64t-2n8c2t-pci-normalio): each model asked for by name.
                variants += [(variants[0][0], 0, model) for model in models]
            for q, c, model in variants:
                for align in LEVELS:
                    for required in (True, False):
                        out.append(
                            Spec(
                                k,
                                nics_per_gpu=q,
                                nics=c,
                                cpus=self.cpus_for(k),
                                memory=self.memory_for(k),
                                align=align,
                                required=required,
                                gpu_model=model,
                            )
                        )
        return out


def snapshot(alloc: topoplace.NodeAllocator) -> tuple[object, ...]:
    free = tuple(
        (f["numa_node"], tuple(f["cpus"]), f["memory"], f["hugepages_2m"], f["hugepages_1g"])
        for f in alloc.free()
    )
    held = []
    for owner in alloc.owners():
        a = alloc.get(owner)
        assert a is not None
        held.append((owner, tuple(a.gpus), tuple(a.nics), tuple(a.cpus)))
    return (free, tuple(held))


def describe(a: topoplace.Allocation, m: Machine) -> str:
    if not a.placed:
        return f"refused ({a.refusal_kind}: {a.reason})"
    gpus = [m.gpu_names[g] for g in a.gpus]
    nics = [
        f"{m.nic_names[c]}->{'-' if g is None else m.gpu_names[g]}"
        for c, g in zip(a.nics, a.nic_gpus, strict=False)
    ]
    return (
        f"gpus {gpus} nics {nics} numa {a.numa_nodes} cpus {len(a.cpus)}"
        f" alignment {a.alignment} preferred {a.preferred} score {a.score}"
    )


def check_case(ctx: Context, alloc: topoplace.NodeAllocator, spec: Spec, label: str) -> list[str]:
    """Checks one request in the allocator's current state; returns the disagreements."""
    m = ctx.m
    CASES[ctx.topo.name] = CASES.get(ctx.topo.name, 0) + 1
    state = State.of(m, alloc)
    before = snapshot(alloc)
    got = alloc.check(spec.request())
    where = f"{label}: {spec}"
    problems: list[str] = []
    if snapshot(alloc) != before:
        problems.append(f"{where}: check() changed the allocator's state")
    best = ctx.oracle.best(state, spec)
    answer = describe(got, m)
    if best is None:
        if got.placed:
            problems.append(f"{where}: allocator placed {answer}; the oracle finds nothing")
        elif got.refusal_kind is None:
            problems.append(f"{where}: refusal without a refusal_kind")
        return problems
    oracle_answer = (
        f"oracle level {best.level} total {best.total} {best.score.as_dict()} gpus"
        f" {[m.gpu_names[g] for g in best.gpus]} nics {[m.nic_names[c] for c in best.nics]}"
        f" home {list(best.home)}"
    )
    if not got.placed:
        problems.append(f"{where}: allocator {answer}; {oracle_answer}")
        return problems
    score = got.score
    if score is None:
        return [*problems, f"{where}: placed without a score"]
    if score["total"] != best.total:
        problems.append(f"{where}: allocator total {score['total']} ({answer}); {oracle_answer}")
    if got.preferred != (best.level == spec.align):
        problems.append(f"{where}: preferred {got.preferred}; {oracle_answer}")
    gpus, nics, nic_gpus = list(got.gpus), list(got.nics), list(got.nic_gpus)
    # Devices: the right number, distinct, free and matching.
    if len(gpus) != spec.gpus or len(set(gpus)) != len(gpus):
        problems.append(f"{where}: GPUs {gpus}")
    if not set(gpus) <= state.free_gpus:
        problems.append(f"{where}: GPUs {gpus} not all free ({sorted(state.free_gpus)})")
    if len(nics) != spec.nic_count or len(set(nics)) != len(nics):
        problems.append(f"{where}: NICs {nics}")
    if not set(nics) <= state.free_nics:
        problems.append(f"{where}: NICs {nics} not all free ({sorted(state.free_nics)})")
    if len(nic_gpus) != len(nics):
        problems.append(f"{where}: nic_gpus {nic_gpus} for NICs {nics}")
        return problems
    if spec.nics_per_gpu:
        for g in gpus:
            if nic_gpus.count(g) != spec.nics_per_gpu:
                problems.append(f"{where}: GPU {g} serves {nic_gpus.count(g)} NICs ({nic_gpus})")
    else:
        root = got.alignment == "pcie-root"
        for c, served in zip(nics, nic_gpus, strict=True):
            want = nic_count_value(m, gpus, c, root)
            if served is None:
                if gpus:
                    problems.append(f"{where}: NIC {c} attributed to no GPU")
            elif served not in gpus or want is None or m.gpu_points(served, c) != want:
                problems.append(f"{where}: NIC {c} attributed to GPU {served}, not its nearest")
    # CPUs and memory on the reported nodes (one node: the oracle's homes are single nodes).
    nodes = list(got.numa_nodes)
    if spec.wants_home:
        if len(nodes) != 1:
            problems.append(f"{where}: home {nodes} is not a single node ({answer})")
        home = tuple(nodes)
        free_cpus = dict(state.free_cpus)
        on_nodes = frozenset().union(*(free_cpus.get(d, frozenset()) for d in nodes))
        cpus = set(got.cpus)
        if len(cpus) != spec.cpus or not cpus <= on_nodes:
            problems.append(f"{where}: CPUs {sorted(cpus)} not {spec.cpus} free CPUs on {nodes}")
        memory = dict(got.memory)
        if sum(memory.values()) != spec.memory or not set(memory) <= set(nodes):
            problems.append(f"{where}: memory {memory} not {spec.memory} bytes on {nodes}")
    else:
        home = ()
        device_nodes = {m.gpu_numa[g] for g in gpus} | {m.nic_numa[c] for c in nics}
        if nodes != sorted(d for d in device_nodes if d is not None):
            problems.append(f"{where}: numa_nodes {nodes}, devices on {device_nodes}")
        if len(got.cpus) or sum(got.memory.values()):
            problems.append(f"{where}: CPUs or memory without asking ({answer})")
    # The parts, recomputed from the placement.
    parts = score_of(m, state, spec, gpus, nics, nic_gpus, home)
    if parts.as_dict() != dict(score):
        problems.append(f"{where}: reported {dict(score)}, recomputed {parts.as_dict()}")
    # Alignment: the tightest level met, at least the oracle's first feasible level.
    level = achieved(m, spec, gpus, nics, nic_gpus, home)
    if got.alignment != level:
        problems.append(f"{where}: alignment {got.alignment}, the placement meets {level}")
    if LEVELS.index(level) > LEVELS.index(best.level):
        problems.append(f"{where}: placement meets {level}, looser than {best.level}")
    if spec.required and LEVELS.index(level) > LEVELS.index(spec.align):
        problems.append(f"{where}: required {spec.align}, the placement meets {level}")
    # allocate() gives the same answer, and release() restores the state.
    placed = alloc.allocate("oracle-probe", spec.request())
    same = (placed.gpus, placed.nics, placed.nic_gpus, placed.score, placed.numa_nodes) == (
        got.gpus,
        got.nics,
        got.nic_gpus,
        got.score,
        got.numa_nodes,
    )
    if not same:
        problems.append(f"{where}: allocate() {describe(placed, m)} but check() {answer}")
    alloc.release("oracle-probe")
    if snapshot(alloc) != before:
        problems.append(f"{where}: allocate() + release() did not restore the state")
    return problems


def busy(ctx: Context, seed: int, problems: list[str]) -> topoplace.NodeAllocator:
    """An allocator after a seeded sequence of allocations (each with GPUs checked too) and one
    release, taking some GPUs, NICs, CPUs and memory."""
    rng = random.Random(f"{ctx.topo.name}/{seed}")
    alloc = topoplace.NodeAllocator(ctx.topo)
    n_gpus, n_nics = len(ctx.m.gpu_names), len(ctx.m.nic_names)
    owners: list[str] = []
    for step in range(5):
        if step == 3 and owners:
            alloc.release(owners.pop(rng.randrange(len(owners))))
        k = rng.choice([0, 1, 1, 2]) if n_gpus > 2 else rng.choice([0, 1])
        if k == 0 and not ctx.has_cpus:
            k = 1
        q = 1 if k and n_nics >= 2 * k and rng.random() < 0.6 else 0
        spec = Spec(
            k,
            nics_per_gpu=q,
            cpus=rng.randint(1, ctx.cpu_cap) if ctx.has_cpus else 0,
            memory=GIB if ctx.has_memory and rng.random() < 0.5 else 0,
            align=rng.choice(LEVELS),
        )
        if k:
            problems += check_case(ctx, alloc, spec, f"{ctx.topo.name} busy-{seed} step {step}")
        owner = f"busy{step}"
        if alloc.allocate(owner, spec.request()).placed:
            owners.append(owner)
    return alloc


_CONTEXTS: dict[str, Context] = {}


def context(path: Path) -> Context:
    if path.name not in _CONTEXTS:
        _CONTEXTS[path.name] = Context(topoplace.load(path))
    return _CONTEXTS[path.name]


@pytest.mark.parametrize("state_name", STATES)
@pytest.mark.parametrize("path", MACHINES, ids=[p.stem for p in MACHINES])
def test_allocator_matches_oracle(path: Path, state_name: str) -> None:
    ctx = context(path)
    problems: list[str] = []
    if state_name == "empty":
        alloc = topoplace.NodeAllocator(ctx.topo)
    else:
        alloc = busy(ctx, int(state_name.split("-")[1]), problems)
    for spec in ctx.specs():
        problems += check_case(ctx, alloc, spec, f"{path.name} {state_name}")
    assert not problems, "\n".join(problems)


def test_free_reports_numa_os_ids() -> None:
    """The oracle reads ``free()`` by position; each entry must name its node's OS id."""
    wrong = []
    for path in MACHINES:
        topo = topoplace.load(path)
        got = [f["numa_node"] for f in topoplace.NodeAllocator(topo).free()]
        want = [n.os_index for n in topo.numa_nodes]
        if got != want:
            wrong.append(f"{path.name}: free() reports nodes {got}, the topology has {want}")
    assert not wrong, "\n".join(wrong)


# The hard shapes, by the names in the files.


def gpu(m: Machine, name: str) -> int:
    return m.gpu_names.index(name)


def nic(m: Machine, name: str) -> int:
    return m.nic_names.index(name)


def test_nics_at_no_pix_path() -> None:
    """server-8x-rtx4090-2nic: NIC0 and NIC1 are SYS to every GPU but GPU6 (PHB); hgx: NIC4,
    NIC5, NIC9 and NIC10 are PIX to no GPU. At pcie-root only GPU6 can have a NIC."""
    topo = load("server-8x-rtx4090-2nic")
    ctx = Context(topo)
    m = ctx.m
    g6 = gpu(m, "GPU6")
    for g in range(len(m.gpu_names)):
        want = "PHB" if g == g6 else "SYS"
        assert [m.gn_class[g][nic(m, n)] for n in ("NIC0", "NIC1")] == [want, want]
    hgx = Machine.of(load("hgx-8x-h100-sxm-xeon8480-11nic"))
    for name in ("NIC4", "NIC5", "NIC9", "NIC10"):
        assert "PIX" not in [row[nic(hgx, name)] for row in hgx.gn_class]

    alloc = topoplace.NodeAllocator(topo)
    one = Spec(1, nics_per_gpu=1, align="pcie-root", required=True)
    got = alloc.check(one.request())
    assert got.placed and got.gpus == [g6], describe(got, m)
    assert got.nics[0] in (nic(m, "NIC0"), nic(m, "NIC1")) and got.nic_gpus == [g6]
    assert got.alignment == "pcie-root" and got.score is not None
    assert got.score["nic_paths"] == 30
    assert check_case(ctx, alloc, one, "rtx4090 one GPU at pcie-root") == []

    # Two GPUs with a NIC each: only GPU6 has a NIC under its root, so pcie-root is refused;
    # preferred, they land on NUMA 1 with both NICs, GPU6 keeping its PHB NIC.
    two = Spec(2, nics_per_gpu=1, align="pcie-root", required=True)
    refused = alloc.check(two.request())
    assert not refused.placed and refused.refusal_kind == "not-aligned", describe(refused, m)
    assert ctx.oracle.best(State.of(m, alloc), two) is None
    loose = Spec(2, nics_per_gpu=1, align="pcie-root")
    got = alloc.check(loose.request())
    assert got.placed and got.alignment == "numa" and not got.preferred, describe(got, m)
    assert g6 in got.gpus and got.numa_nodes == [1]
    assert got.score is not None and got.score["nic_paths"] == 30 + 10
    assert check_case(ctx, alloc, loose, "rtx4090 two GPUs preferring pcie-root") == []


def test_gpus_sharing_their_nearest_nic() -> None:
    """hgx-8x-h100: GPU6 (PIX) and GPU7 (PXB) have the same single nearest NIC, NIC8. With the
    other GPUs taken, two GPUs with a NIC each must be GPU6 -> NIC8 and GPU7 -> a NODE NIC
    (50 + 20 beats 40 + 20), and pcie-root is refused since both can only have NIC8."""
    topo = load("hgx-8x-h100-sxm-xeon8480-11nic")
    ctx = Context(topo)
    m = ctx.m
    g6, g7, n8 = gpu(m, "GPU6"), gpu(m, "GPU7"), nic(m, "NIC8")
    assert (g6, g7, n8) in shared_nearest_nics(m)
    assert (m.gn_class[g6][n8], m.gn_class[g7][n8]) == ("PIX", "PXB")

    alloc = topoplace.NodeAllocator(topo)
    # Ties keep the lowest GPU indexes (joint.rs): NUMA 0's four, then GPU4 and GPU5.
    assert alloc.allocate("block-a", Spec(4, align="numa", required=True).request()).gpus == [
        0,
        1,
        2,
        3,
    ]
    assert alloc.allocate("block-b", Spec(2).request()).gpus == [4, 5]
    spec = Spec(2, nics_per_gpu=1, cpus=4, memory=GIB, align="numa", required=True)
    got = alloc.check(spec.request())
    assert got.placed, describe(got, m)
    pairs = dict(zip(got.nic_gpus, got.nics, strict=True))
    assert set(pairs) == {g6, g7} and len(set(got.nics)) == 2, describe(got, m)
    assert pairs[g6] == n8 and m.gn_class[g7][pairs[g7]] == "NODE", describe(got, m)
    assert got.score is not None
    assert got.score["nic_paths"] == 70 and got.score["total"] == m.pair[g6][g7] + 70
    assert check_case(ctx, alloc, spec, "hgx GPU6/GPU7 sharing NIC8") == []

    rooted = Spec(2, nics_per_gpu=1, cpus=4, memory=GIB, align="pcie-root", required=True)
    refused = alloc.check(rooted.request())
    assert not refused.placed and refused.refusal_kind == "not-aligned", describe(refused, m)
    assert check_case(ctx, alloc, rooted, "hgx GPU6/GPU7 at pcie-root") == []

    # DGX A100: GPU2 and GPU3 (NUMA 1, the first node) share their switch's two NICs (both
    # PXB): one each at pcie-root; two each fit neither the root nor NUMA 1 (two NICs there),
    # and the file has no sockets, so only the whole machine fits.
    a100 = Context(load("dgx-a100-12nic-nps4"))
    am = a100.m
    alloc = topoplace.NodeAllocator(a100.topo)
    spec = Spec(2, nics_per_gpu=1, align="pcie-root", required=True)
    got = alloc.check(spec.request())
    assert got.placed and got.gpus == [gpu(am, "GPU2"), gpu(am, "GPU3")], describe(got, am)
    assert sorted(got.nics) == [nic(am, "mlx5_2"), nic(am, "mlx5_3")], describe(got, am)
    assert check_case(a100, alloc, spec, "dgx-a100 GPU2/GPU3 at pcie-root") == []
    two_each = Spec(2, nics_per_gpu=2, align="pcie-root")
    got = alloc.check(two_each.request())
    assert got.placed and got.alignment == "none" and not got.preferred, describe(got, am)
    assert check_case(a100, alloc, two_each, "dgx-a100 two NICs per GPU") == []


def test_pcie_only_box_pairs_by_numa() -> None:
    """server-8x-rtx4090-2nic: every GPU pair is SYS (10), so only NUMA separates pairs: two
    GPUs go on one node (splitting one node, not two), and once a node is split, on that one."""
    topo = load("server-8x-rtx4090-2nic")
    ctx = Context(topo)
    m = ctx.m
    n = len(m.gpu_names)
    assert all(m.pair[a][b] == 10 for a in range(n) for b in range(n) if a != b)
    assert all(m.gg_class[a][b] == "SYS" for a in range(n) for b in range(n) if a != b)
    alloc = topoplace.NodeAllocator(topo)
    for required in (True, False):
        spec = Spec(2, align="none", required=required)
        got = alloc.check(spec.request())
        assert got.placed and len({m.gpu_numa[g] for g in got.gpus}) == 1, describe(got, m)
        assert got.score is not None
        assert (got.score["gpu_links"], got.score["fragmentation"]) == (10, 10)
        assert check_case(ctx, alloc, spec, "rtx4090 two GPUs") == []
    first = alloc.allocate("first", Spec(1, align="none").request())
    assert first.placed
    home = m.gpu_numa[first.gpus[0]]
    got = alloc.check(Spec(2).request())
    assert got.placed and {m.gpu_numa[g] for g in got.gpus} == {home}, describe(got, m)
    assert got.score is not None and got.score["total"] == 10
    assert check_case(ctx, alloc, Spec(2), "rtx4090 two GPUs after one") == []

    # ASUS ESC8000A: PCIe only too, NODE (20) inside a socket: GPU0 and GPU1 on NUMA 0.
    asus = Context(load("asus-esc8000a-e12-4x-rtx6000ada-cx7"))
    alloc = topoplace.NodeAllocator(asus.topo)
    spec = Spec(2, cpus=4, memory=GIB)
    got = alloc.check(spec.request())
    assert got.gpus == [gpu(asus.m, "GPU0"), gpu(asus.m, "GPU1")], describe(got, asus.m)
    assert check_case(asus, alloc, spec, "asus two GPUs") == []


def test_case_counts() -> None:
    """Runs last in this file: prints the cases checked per machine (pytest -s)."""
    for name, count in sorted(CASES.items()):
        print(f"{name}: {count} cases")
