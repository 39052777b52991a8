"""select_gpus on real and built-in machines: link quality decides, constraints are honoured."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from topoplace import InvalidValueError, Topology, load, select_gpus

SMI = Path(__file__).parent / "data" / "nvidia-smi"
SCORE = {"PIX": 50, "PXB": 40, "PHB": 30, "NODE": 20, "SYS": 10}


def _pair_score(topo: Topology, a: str, b: str) -> int:
    cls = topo.link_class(a, b)
    if cls in ("NV", "NVSWITCH"):
        return -1  # NVLink counts are not visible here; callers avoid NVLink machines
    return SCORE.get(cls or "", 0)


def test_dgx1_cube_mesh_prefers_nvlink_quads() -> None:
    topo = load(SMI / "dgx-1v-nvlink-4nic.txt")
    got = select_gpus(topo, 4)
    assert got is not None
    # In the hybrid cube-mesh the two quads {0,1,2,3} and {4,5,6,7} are fully NVLinked.
    assert got["gpus"] in (["GPU0", "GPU1", "GPU2", "GPU3"], ["GPU4", "GPU5", "GPU6", "GPU7"])
    assert got["score"] > 0 and got["candidates_scored"] >= 1


def test_pcie_box_best_pair_is_the_exhaustive_best() -> None:
    topo = load(SMI / "server-8x-rtx4090-2nic.txt")
    got = select_gpus(topo, 2, available=[0, 1, 2, 5, 6])
    assert got is not None and len(got["gpus"]) == 2
    names = [g.name for g in topo.gpus]
    best = max(
        _pair_score(topo, names[a], names[b]) for a, b in itertools.combinations([0, 1, 2, 5, 6], 2)
    )
    assert _pair_score(topo, *got["gpus"]) == best


def test_required_and_available() -> None:
    topo = Topology.builtin("dgx-h100")
    got = select_gpus(topo, 3, required=["GPU5"], available=["GPU1", "GPU5", "GPU6", "GPU7"])
    assert got is not None and "GPU5" in got["gpus"] and "GPU0" not in got["gpus"]
    assert select_gpus(topo, 5, available=[0, 1, 2]) is None
    assert select_gpus(topo, 2, policy="simple") == {
        "gpus": ["GPU0", "GPU1"],
        "indices": [0, 1],
        "score": 0,
        "candidates_scored": 1,
    }
    with pytest.raises(InvalidValueError, match="not a GPU"):
        select_gpus(topo, 2, required=["mlx5_0"])
    with pytest.raises(InvalidValueError, match="besteffort"):
        select_gpus(topo, 2, policy="fast")  # type: ignore[arg-type]
