"""NodeAllocator through the Python API: placing, refusing with reasons, releasing, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from topoplace import (
    CpuSet,
    InvalidValueError,
    NodeAllocator,
    Request,
    Topology,
    TopologyError,
)


@pytest.fixture
def epyc() -> Topology:
    return Topology.builtin("epyc-nps4")


def test_allocate_release_cycle(epyc: Topology) -> None:
    alloc = NodeAllocator(epyc, reserved_cpus="0,128")
    before = alloc.free_cpus
    assert len(before) == 254
    got = alloc.allocate("pod-a", Request(8, memory="16Gi", policy="single-numa-node"))
    assert got and got.placed and got.owner == "pod-a"
    assert len(got.cpus) == 8 and not got.cpus.intersects(CpuSet("0,128"))
    assert len(got.numa_nodes) == 1
    assert sum(got.memory.values()) == 16 * 2**30
    assert alloc.owners() == ["pod-a"]
    assert alloc.free_cpus == before - got.cpus
    held = alloc.get("pod-a")
    assert held is not None and held.cpus == got.cpus
    released = alloc.release("pod-a")
    assert released is not None and released.cpus == got.cpus
    assert alloc.free_cpus == before
    assert alloc.release("pod-a") is None


def test_check_changes_nothing(epyc: Topology) -> None:
    alloc = NodeAllocator(epyc)
    answer = alloc.check(Request(4, memory=2**30))
    assert answer.placed and answer.owner is None and answer.sequence is None
    assert alloc.owners() == [] and len(alloc.free_cpus) == 256


def test_refusal_explains(epyc: Topology) -> None:
    alloc = NodeAllocator(epyc)
    answer = alloc.check(Request(40, memory="8Gi", policy="single-numa-node", mode="kubelet"))
    assert not answer and not answer.placed
    assert answer.refusal_kind in {"not-aligned", "not-enough-cpus"}
    assert answer.reason is not None and "NUMA node" in answer.reason
    assert alloc.check(Request(40, memory="8Gi", policy="best-effort", mode="kubelet")).placed


def test_default_mode_prefers_same_socket(epyc: Topology) -> None:
    alloc = NodeAllocator(epyc)
    for i in range(3):
        assert alloc.allocate(f"fill-{i}", Request(32, mode="kubelet")).placed
    kubelet = alloc.check(Request(48, mode="kubelet"))
    default = alloc.check(Request(48, mode="default"))
    assert kubelet.placed and default.placed
    assert kubelet.numa_nodes == [3, 4]  # spans both sockets (distance 32)
    assert default.numa_nodes == [4, 5]  # one socket (distance 12)


def test_bad_inputs(epyc: Topology) -> None:
    alloc = NodeAllocator(epyc)
    alloc.allocate("a", Request(2))
    with pytest.raises(InvalidValueError, match="a"):
        alloc.allocate("a", Request(2))
    with pytest.raises(InvalidValueError, match="single-numa-node"):
        Request(2, policy="strict")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="kubelet"):
        Request(2, mode="fast")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="full-pcpus-only"):
        Request(2, cpu_options={"full-pcpu-only": True})
    with pytest.raises(InvalidValueError, match="quantity"):
        Request(2, memory="lots")
    with pytest.raises(InvalidValueError, match="NUMA node 9"):
        NodeAllocator(epyc, reserved_memory={9: "1Gi"})
    with pytest.raises(InvalidValueError):
        NodeAllocator(epyc, reserved_cpus="999")


def test_hugepages(epyc: Topology) -> None:
    no_pool = NodeAllocator(epyc).check(Request(1, hugepages_1g="2Gi"))
    assert not no_pool.placed and no_pool.reason is not None
    alloc = NodeAllocator(epyc, hugepages_1g={n: "4Gi" for n in range(8)})
    got = alloc.allocate("hp", Request(1, hugepages_1g="2Gi", policy="single-numa-node"))
    assert got.placed and sum(got.hugepages_1g.values()) == 2 * 2**30


def test_snapshot_restore(epyc: Topology, tmp_path: Path) -> None:
    alloc = NodeAllocator(epyc, reserved_cpus="0")
    alloc.allocate("a", Request(4, memory="1Gi"))
    alloc.allocate("b", Request(6, memory="2Gi", mode="kubelet"))
    path = tmp_path / "state.ckpt"
    alloc.snapshot(path)
    again = NodeAllocator.restore(path, epyc)
    assert again.owners() == ["a", "b"]
    assert again.to_checkpoint() == alloc.to_checkpoint()
    assert again.free_cpus == alloc.free_cpus
    text = path.read_text()
    for broken in (text[: len(text) // 2], text.replace('"a"', '"c"', 1), ""):
        path.write_text(broken)
        with pytest.raises(TopologyError) as info:
            NodeAllocator.restore(path, epyc)
        assert info.value.source == str(path)
    path.write_text(text)
    with pytest.raises(TopologyError, match="another topology"):
        NodeAllocator.restore(path, Topology.builtin("dgx-h100"))
    with pytest.raises(TopologyError, match="cannot read"):
        NodeAllocator.restore(tmp_path / "missing", epyc)
