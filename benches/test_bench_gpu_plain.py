"""GPU set selection, plain Python against topoplace: go-gpuallocator's besteffort policy as a
straight port (`besteffort_plain.py`, every split enumerated) and `topoplace.select_gpus` (Rust
branch and bound), on the same inputs. Each group pairs `test_<case>_plain_python` with
`test_<case>_topoplace`; compare the two medians of a group.

Both sides get their pair scores ready-made: the port a list of lists built before timing (parsed
from the `nvidia-smi` text for the DGX-1; read from topoplace for the synthetic machines, which
have no text form), topoplace its per-topology cache (warmed by one call before timing).
`test_besteffort_plain_agrees.py` checks that the answers agree.

Run: `pytest benches/test_bench_gpu_plain.py --benchmark-only`.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

sys.path.insert(0, str(Path(__file__).parent))

from besteffort_plain import best_effort, nvidia_smi_scores  # noqa: E402

from topoplace import Topology, load, select_gpus  # noqa: E402

SMI = Path(__file__).parent.parent / "tests" / "data" / "nvidia-smi"


class _Case:
    def __init__(self, topo: Topology, scores: list[list[int]], size: int, available: int) -> None:
        self.topo = topo
        self.scores = scores
        self.size = size
        self.available = list(range(available))
        got = select_gpus(topo, size, available=self.available)  # warms the score cache
        assert got is not None
        self.expected = got["indices"]


def _scores_of(topo: Topology) -> list[list[int]]:
    """topoplace's pair scores, for machines that have no `nvidia-smi` text to parse."""
    return [[int(v) for v in row] for row in topo.gpu_pair_scores()]


@cache
def _dgx1() -> tuple[Topology, list[list[int]]]:
    path = SMI / "dgx-1v-nvlink-4nic.txt"
    return load(path), nvidia_smi_scores(path.read_text(), pcie_for_nvlink=True)


@cache
def _synthetic(gpus_per_numa: int) -> tuple[Topology, list[list[int]]]:
    # Two sockets, GPUs two per PCIe root, NVLink in DGX-1 style cube-meshes of 8.
    topo = Topology.synthetic(
        sockets=2,
        pcie_roots_per_numa=gpus_per_numa // 2,
        gpus_per_root=2,
        nvlink="cube-mesh",
        cores_per_numa=4,
    )
    return topo, _scores_of(topo)


@cache
def _case(name: str) -> _Case:
    if name == "4of8-dgx1":
        return _Case(*_dgx1(), size=4, available=8)
    if name == "2of8-dgx1":
        return _Case(*_dgx1(), size=2, available=8)
    if name == "3of12-cube-mesh":
        # 15,400 splits; 12 GPUs in groups of 2 would be 10,395.
        return _Case(*_synthetic(6), size=3, available=12)
    if name == "5of15-cube-mesh":
        # GPUs 0-14 of 16 free, groups of 5: 126,126 splits, the largest here that a plain
        # round keeps under a second (4 of 14 takes about 2 s, 6 of 16 about 5 s).
        return _Case(*_synthetic(8), size=5, available=15)
    if name == "8of16-cube-mesh":
        return _Case(*_synthetic(8), size=8, available=16)
    raise KeyError(name)


def _plain(benchmark: BenchmarkFixture, name: str) -> None:
    c = _case(name)
    got = benchmark(best_effort, c.scores, c.available, [], c.size)
    assert sorted(got) == c.expected


def _topoplace(benchmark: BenchmarkFixture, name: str) -> None:
    c = _case(name)
    got = benchmark(select_gpus, c.topo, c.size, available=c.available)
    assert got is not None and got["indices"] == c.expected


@pytest.mark.benchmark(group="besteffort-4of8-dgx1")
def test_besteffort_4of8_dgx1_plain_python(benchmark: BenchmarkFixture) -> None:
    _plain(benchmark, "4of8-dgx1")


@pytest.mark.benchmark(group="besteffort-4of8-dgx1")
def test_besteffort_4of8_dgx1_topoplace(benchmark: BenchmarkFixture) -> None:
    _topoplace(benchmark, "4of8-dgx1")


@pytest.mark.benchmark(group="besteffort-2of8-dgx1")
def test_besteffort_2of8_dgx1_plain_python(benchmark: BenchmarkFixture) -> None:
    _plain(benchmark, "2of8-dgx1")


@pytest.mark.benchmark(group="besteffort-2of8-dgx1")
def test_besteffort_2of8_dgx1_topoplace(benchmark: BenchmarkFixture) -> None:
    _topoplace(benchmark, "2of8-dgx1")


@pytest.mark.benchmark(group="besteffort-3of12-cube-mesh")
def test_besteffort_3of12_cube_mesh_plain_python(benchmark: BenchmarkFixture) -> None:
    _plain(benchmark, "3of12-cube-mesh")


@pytest.mark.benchmark(group="besteffort-3of12-cube-mesh")
def test_besteffort_3of12_cube_mesh_topoplace(benchmark: BenchmarkFixture) -> None:
    _topoplace(benchmark, "3of12-cube-mesh")


@pytest.mark.benchmark(group="besteffort-5of15-cube-mesh")
def test_besteffort_5of15_cube_mesh_plain_python(benchmark: BenchmarkFixture) -> None:
    _plain(benchmark, "5of15-cube-mesh")


@pytest.mark.benchmark(group="besteffort-5of15-cube-mesh")
def test_besteffort_5of15_cube_mesh_topoplace(benchmark: BenchmarkFixture) -> None:
    _topoplace(benchmark, "5of15-cube-mesh")


@pytest.mark.benchmark(group="besteffort-8of16-cube-mesh")
def test_besteffort_8of16_cube_mesh_plain_python(benchmark: BenchmarkFixture) -> None:
    _plain(benchmark, "8of16-cube-mesh")


@pytest.mark.benchmark(group="besteffort-8of16-cube-mesh")
def test_besteffort_8of16_cube_mesh_topoplace(benchmark: BenchmarkFixture) -> None:
    _topoplace(benchmark, "8of16-cube-mesh")
