"""nvidia-smi / rocm-smi matrices and sysfs trees through the Python API."""

from __future__ import annotations

from pathlib import Path

import pytest

from topoplace import Topology, load

DATA = Path(__file__).parent / "data"
SMI = DATA / "nvidia-smi"
SYSFS = DATA / "sysfs"

# file: (GPUs, NICs, NUMA os ids of the GPUs or None), from the shared README table.
SMI_EXPECTED = {
    "amd-8x-mi308x-xgmi.txt": (8, 0, {0, 1}),
    "asus-esc8000a-e12-4x-rtx6000ada-cx7.txt": (4, 4, {0, 1}),
    "dgx-1v-nvlink-4nic.txt": (8, 4, None),
    "dgx-a100-12nic-nps4.txt": (8, 12, {1, 3, 5, 7}),
    "hgx-8x-h100-sxm-xeon8480-11nic.txt": (8, 11, {0, 1}),
    "server-8x-rtx4090-2nic.txt": (8, 2, {0, 1}),
}


@pytest.mark.parametrize("name", sorted(SMI_EXPECTED))
def test_smi_counts_matrix_only(name: str) -> None:
    text = (SMI / name).read_text()
    topo = Topology.from_text(text, source=name)
    gpus, nics, numa = SMI_EXPECTED[name]
    assert (len(topo.gpus), len(topo.nics)) == (gpus, nics)
    ids = {g.numa_node for g in topo.gpus}
    assert ids == (numa if numa is not None else {None})


@pytest.mark.parametrize("name", sorted(SMI_EXPECTED))
def test_smi_with_host_file(name: str) -> None:
    topo = load(SMI / name)  # picks up NAME.host.txt when it exists
    gpus, nics, _ = SMI_EXPECTED[name]
    assert (len(topo.gpus), len(topo.nics)) == (gpus, nics)


def test_hgx_host_gives_full_machine() -> None:
    topo = load(SMI / "hgx-8x-h100-sxm-xeon8480-11nic.txt")
    s = topo.summary()
    assert (s["packages"], s["numa_nodes"], s["cores"], s["cpus"]) == (2, 2, 112, 224)
    assert topo.link_class("GPU7", "NIC8") == "PXB"
    assert topo.link_class("GPU0", "GPU1") == "NV"


def test_rtx4090_all_pairs_sys() -> None:
    topo = load(SMI / "server-8x-rtx4090-2nic.txt")
    names = [g.name for g in topo.gpus]
    assert all(topo.link_class(a, b) == "SYS" for a in names for b in names if a != b)


def test_sysfs_this_machine() -> None:
    topo = Topology.from_sysfs()
    s = topo.summary()
    assert s["cpus"] >= 1 and s["numa_nodes"] >= 1 and s["packages"] >= 1
    assert topo.source.startswith("sysfs")


def test_sysfs_fixture_trees_load() -> None:
    trees = sorted(p for p in SYSFS.iterdir() if (p / "sys").is_dir())
    assert len(trees) >= 3
    for tree in trees:
        topo = load(f"sysfs:{tree}")
        assert topo.summary()["cpus"] >= 1, tree.name


def test_sysfs_gpu_tree() -> None:
    trees = [p for p in SYSFS.iterdir() if (p / "sys").is_dir() and "gpu" in p.name]
    assert trees, "a fixture tree with GPUs"
    topo = Topology.from_sysfs(trees[0])
    assert topo.gpus and topo.nics
    assert all(d.numa_node is not None for d in topo.gpus)
