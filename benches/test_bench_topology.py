"""pytest-benchmark cases mirroring the criterion ones (rust/topoplace-core/benches/), plus the
peer the foundation issue compares against: Python's own `xml.etree` reading the same file.

Run: `pytest benches --benchmark-only`. `benches/report.py` prints the medians side by side
with criterion's and the ratios.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from topoplace import Topology

HWLOC = Path(__file__).parent.parent / "tests" / "data" / "hwloc"


@pytest.mark.benchmark(group="hwloc-192em64t")
def test_from_hwloc_xml_192em64t(benchmark: BenchmarkFixture) -> None:
    text = (HWLOC / "192em64t-24n8c2t.xml").read_text()
    topo = benchmark(Topology.from_hwloc_xml, text)
    assert topo.summary()["cpus"] == 384


@pytest.mark.benchmark(group="hwloc-192em64t")
def test_etree_fromstring_192em64t(benchmark: BenchmarkFixture) -> None:
    text = (HWLOC / "192em64t-24n8c2t.xml").read_text()
    root = benchmark(ET.fromstring, text)
    assert root.tag == "topology"


@pytest.mark.benchmark(group="hwloc-256ppc")
def test_from_hwloc_xml_256ppc(benchmark: BenchmarkFixture) -> None:
    text = (HWLOC / "256ppc-8n8s4t.xml").read_text()
    topo = benchmark(Topology.from_hwloc_xml, text)
    assert topo.summary()["cpus"] == 256


@pytest.mark.benchmark(group="synthetic")
def test_synthetic_1024numa(benchmark: BenchmarkFixture) -> None:
    topo = benchmark(
        Topology.synthetic, sockets=16, numa_per_socket=64, cores_per_numa=8, threads_per_core=2
    )
    assert len(topo.numa_nodes) == 1024
