"""Every real hwloc XML file loads with exactly the counts of tests/data/hwloc/README.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from topoplace import Topology, TopologyError, load
from topoplace.cli import main

HWLOC = Path(__file__).parent / "data" / "hwloc"

# file: (packages, NUMA nodes, cores, PUs, GPUs, NICs, distances), from the shared README table.
EXPECTED = {
    "128arm-2pa2n8cluster4co.xml": (2, 4, 128, 128, 0, 0, True),
    "16em64t-4s2c2t-offlines.xml": (4, 1, 6, 7, 0, 0, False),
    "16intel64-manyVFs.xml": (2, 2, 16, 16, 0, 18, False),
    "192em64t-24n8c2t.xml": (24, 24, 192, 384, 0, 7, True),
    "256ppc-8n8s4t.xml": (64, 8, 64, 256, 0, 0, True),
    "2i386-2c-nohugepage.xml": (1, 1, 2, 2, 0, 0, False),
    "32em64t-2n8c+dax+nvme+mic+dimms.xml": (2, 2, 16, 16, 1, 3, True),
    "32em64t-2n8c2t-pci-normalio.xml": (2, 2, 16, 32, 4, 3, True),
    "32intel64-2p8co2t+8ve.xml": (2, 2, 16, 32, 8, 4, True),
    "40intel64-2g2n4c+pcilocality.xml": (4, 4, 40, 40, 0, 5, True),
    "48amd64-4pa2n6c-sparse.v1.xml": (4, 8, 48, 48, 0, 0, True),
    "64amd64-4p2n4ca2co.xml": (4, 8, 64, 64, 0, 0, True),
    "64intel64-heteromem.xml": (1, 8, 16, 64, 0, 0, False),
    "AMD-19h-Zen4-2xEpyc-9654.xml": (2, 1, 192, 384, 0, 0, False),
    "cxlmem+dax.v3.xml": (1, 1, 4, 4, 0, 1, False),
    "irregulargroups-disallowed.xml": (8, 8, 64, 64, 2, 2, True),
    "memorysidecaches.xml": (2, 4, 40, 80, 0, 0, True),
    "nvidia-dgx-gb10.xml": (1, 1, 20, 20, 0, 0, False),
    "nvidiaDGX2.xml": (2, 2, 4, 4, 16, 0, True),
    "nvidiagpunumanodes-kept.xml": (2, 8, 8, 32, 6, 0, True),
}


def test_all_twenty_files_are_here() -> None:
    assert sorted(p.name for p in HWLOC.glob("*.xml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts(name: str) -> None:
    topo = Topology.from_hwloc_xml((HWLOC / name).read_text(), source=name)
    s = topo.summary()
    got = (
        s["packages"],
        s["numa_nodes"],
        s["cores"],
        s["cpus"],
        s["gpus"],
        s["nics"],
        s["has_distances"],
    )
    assert got == EXPECTED[name]
    assert (topo.numa_distances is not None) == EXPECTED[name][6]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_show_json_counts(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(HWLOC / name), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    keys = ("packages", "numa_nodes", "cores", "cpus", "gpus", "nics", "has_distances")
    assert tuple(doc[k] for k in keys) == EXPECTED[name]
    assert doc["memory_bytes"] >= 0
    # The full model is there and reads back into the same topology.
    again = Topology.from_json(json.dumps(doc["topology"]))
    assert again == load(HWLOC / name)


def test_bytes_and_str_agree() -> None:
    path = HWLOC / "2i386-2c-nohugepage.xml"
    assert Topology.from_hwloc_xml(path.read_bytes()) == Topology.from_hwloc_xml(path.read_text())


def test_offline_and_disallowed() -> None:
    offl = load(HWLOC / "16em64t-4s2c2t-offlines.xml").summary()
    assert (offl["cpus"], offl["cpus_online"], offl["cpus_offline"]) == (7, 7, 9)
    topo = load(HWLOC / "irregulargroups-disallowed.xml")
    assert len(topo.usable_cpus) == 16
    assert sum(n.allowed for n in topo.numa_nodes) == 2


def test_memory_kinds() -> None:
    kinds = [n.kind for n in load(HWLOC / "64intel64-heteromem.xml").numa_nodes]
    assert kinds.count("hbm") == 4 and kinds.count("dram") == 4
    kept = [n.kind for n in load(HWLOC / "nvidiagpunumanodes-kept.xml").numa_nodes]
    assert kept.count("gpu-memory") == 6


def test_sparse_numa_os_indexes_v1() -> None:
    topo = load(HWLOC / "48amd64-4pa2n6c-sparse.v1.xml")
    assert sorted(n.os_index for n in topo.numa_nodes) == [0, 1, 2, 33, 34, 45, 72, 73]
    d = topo.numa_distances
    assert d is not None and d.shape == (8, 8) and set(d.flatten()) == {10, 16, 22}


def test_gpu_locality_and_links() -> None:
    topo = load(HWLOC / "32em64t-2n8c2t-pci-normalio.xml")
    assert all(g.numa_node is not None for g in topo.gpus)
    assert all(g.pcie_root is not None for g in topo.gpus)
    dgx2 = load(HWLOC / "nvidiaDGX2.xml")
    gpus = dgx2.gpus
    assert len(gpus) == 16
    assert dgx2.link_class(gpus[0].index, gpus[15].index) == "NVSWITCH"


def test_errors_name_file_and_line() -> None:
    text = (HWLOC / "2i386-2c-nohugepage.xml").read_text()
    with pytest.raises(TopologyError) as info:
        Topology.from_hwloc_xml(text[: len(text) // 2], source="cut.xml")
    assert info.value.source == "cut.xml"
    assert "cut.xml" in str(info.value)
    with pytest.raises(TopologyError) as info:
        Topology.from_hwloc_xml(text.replace('version="3.0"', 'version="9.0"'), source="v9.xml")
    assert "9.0" in str(info.value)
    with pytest.raises(TopologyError) as info:
        Topology.from_hwloc_xml(text.replace("<object", "<object <", 1), source="bad.xml")
    assert info.value.line is not None and info.value.line >= 1
