"""pytest-benchmark cases for the node allocator, through Python: `allocate` + `release` and
`check` on half-full machines, in both request modes, and the kubelet packed CPU pick against
the same pick written plainly in Python (`kubelet_packed_plain.py`).

Run: `pytest benches --benchmark-only`. `benches/report.py` prints the per-call medians and the
plain-Python / topoplace ratio of the packed pick.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Literal

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from topoplace import Allocation, CpuSet, NodeAllocator, Request, Topology

sys.path.insert(0, str(Path(__file__).parent))

from kubelet_packed_plain import take_packed  # noqa: E402

HWLOC = Path(__file__).parent.parent / "tests" / "data" / "hwloc"

Mode = Literal["kubelet", "default"]


def _topo_192em64t() -> Topology:
    return Topology.from_hwloc_xml((HWLOC / "192em64t-24n8c2t.xml").read_text())


def _topo_synthetic() -> Topology:
    return Topology.synthetic(sockets=2, numa_per_socket=4, cores_per_numa=16, threads_per_core=2)


def _request(topo: Topology, cpus: int, memory: str, mode: Mode) -> Request:
    # The kubelet's Topology Manager refuses machines with more than 8 NUMA nodes unless its
    # max-allowable-numa-nodes option is raised (192em64t has 24).
    numa = len(topo.numa_nodes)
    if mode == "kubelet" and numa > 8:
        options = {"max-allowable-numa-nodes": numa}
        return Request(cpus, memory=memory, mode=mode, topology_options=options)
    return Request(cpus, memory=memory, mode=mode)


def _half_full(topo: Topology, mode: Mode) -> NodeAllocator:
    """An allocator with owners of 16 CPUs + 8Gi placed until about half the CPUs are held."""
    alloc = NodeAllocator(topo)
    total = len(topo.cpus)
    n = 0
    while total - len(alloc.free_cpus) < total // 2:
        placed = alloc.allocate(f"filler-{n}", _request(topo, 16, "8Gi", mode))
        assert placed.placed, placed.reason
        n += 1
    return alloc


def _bench_allocate(benchmark: BenchmarkFixture, topo: Topology, mode: Mode) -> None:
    alloc = _half_full(topo, mode)
    request = _request(topo, 16, "64Gi", mode)
    before = alloc.free_cpus

    # One round is TWO calls (allocate, then release to restore the state), so the median
    # covers both; report.py prints it as is.
    def allocate_release() -> Allocation:
        placed = alloc.allocate("bench", request)
        alloc.release("bench")
        return placed

    placed = benchmark(allocate_release)
    assert placed.placed, placed.reason
    assert len(placed.cpus) == 16
    assert alloc.free_cpus == before


def _bench_check(benchmark: BenchmarkFixture, topo: Topology, mode: Mode) -> None:
    alloc = _half_full(topo, mode)
    request = _request(topo, 16, "64Gi", mode)
    placed = benchmark(alloc.check, request)  # one call per iteration
    assert placed.placed, placed.reason
    assert len(placed.cpus) == 16


@pytest.mark.benchmark(group="allocate-192em64t")
def test_allocate_192em64t_kubelet(benchmark: BenchmarkFixture) -> None:
    _bench_allocate(benchmark, _topo_192em64t(), "kubelet")


@pytest.mark.benchmark(group="allocate-192em64t")
def test_allocate_192em64t_default(benchmark: BenchmarkFixture) -> None:
    _bench_allocate(benchmark, _topo_192em64t(), "default")


@pytest.mark.benchmark(group="allocate-synthetic-2x4x16x2")
def test_allocate_synthetic_2x4x16x2_kubelet(benchmark: BenchmarkFixture) -> None:
    _bench_allocate(benchmark, _topo_synthetic(), "kubelet")


@pytest.mark.benchmark(group="allocate-synthetic-2x4x16x2")
def test_allocate_synthetic_2x4x16x2_default(benchmark: BenchmarkFixture) -> None:
    _bench_allocate(benchmark, _topo_synthetic(), "default")


@pytest.mark.benchmark(group="check-192em64t")
def test_check_192em64t_kubelet(benchmark: BenchmarkFixture) -> None:
    _bench_check(benchmark, _topo_192em64t(), "kubelet")


@pytest.mark.benchmark(group="check-192em64t")
def test_check_192em64t_default(benchmark: BenchmarkFixture) -> None:
    _bench_check(benchmark, _topo_192em64t(), "default")


@pytest.mark.benchmark(group="check-synthetic-2x4x16x2")
def test_check_synthetic_2x4x16x2_kubelet(benchmark: BenchmarkFixture) -> None:
    _bench_check(benchmark, _topo_synthetic(), "kubelet")


@pytest.mark.benchmark(group="check-synthetic-2x4x16x2")
def test_check_synthetic_2x4x16x2_default(benchmark: BenchmarkFixture) -> None:
    _bench_check(benchmark, _topo_synthetic(), "default")


# The packed pick: the synthetic 2x4x16x2 machine with a fixed, seeded ~60% of its CPUs free.
PACKED_SEED = 20250101
PACKED_FREE_SHARE = 0.6
PACKED_REQUEST = 16


def _packed_inputs() -> tuple[Topology, CpuSet, dict[int, tuple[int, int, int]]]:
    topo = _topo_synthetic()
    cpus = topo.cpus.to_list()
    rng = random.Random(PACKED_SEED)
    free = CpuSet(sorted(rng.sample(cpus, round(len(cpus) * PACKED_FREE_SHARE))))
    # cpu -> (core, socket, numa). Like the kubelet, a core is named by its lowest CPU id.
    details: dict[int, tuple[int, int, int]] = {}
    for core in topo.cores:
        core_id = core.cpus.first
        assert core_id is not None and core.numa_node is not None
        for cpu in core.cpus:
            details[cpu] = (core_id, core.package, core.numa_node)
    return topo, free, details


def _packed_topoplace(topo: Topology, free: CpuSet) -> tuple[NodeAllocator, Request]:
    # policy="none": no Topology Manager, so the kubelet CPU Manager runs the packed pick over
    # all free CPUs, which is what the plain picker does. With "best-effort" the merged hint
    # narrows the pick to one NUMA node first and the answers differ.
    alloc = NodeAllocator(topo, reserved_cpus=topo.cpus - free)
    return alloc, Request(PACKED_REQUEST, mode="kubelet", policy="none")


def _same_pick() -> tuple[CpuSet, CpuSet]:
    topo, free, details = _packed_inputs()
    alloc, request = _packed_topoplace(topo, free)
    placed = alloc.check(request)
    assert placed.placed, placed.reason
    plain = CpuSet(take_packed(details, free.to_list(), PACKED_REQUEST))
    return plain, placed.cpus


@pytest.mark.benchmark(group="packed-pick")
def test_packed_pick_plain_python(benchmark: BenchmarkFixture) -> None:
    plain, ours = _same_pick()
    assert plain == ours, (plain, ours)
    _, free, details = _packed_inputs()
    free_list = free.to_list()
    picked = benchmark(take_packed, details, free_list, PACKED_REQUEST)
    assert CpuSet(picked) == ours


@pytest.mark.benchmark(group="packed-pick")
def test_packed_pick_topoplace(benchmark: BenchmarkFixture) -> None:
    plain, ours = _same_pick()
    assert plain == ours, (plain, ours)
    topo, free, _ = _packed_inputs()
    alloc, request = _packed_topoplace(topo, free)
    placed = benchmark(alloc.check, request)
    assert placed.cpus == plain
