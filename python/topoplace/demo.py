"""``topoplace demo``: the main job on built-in machines and a bundled real one.

It shows each machine, then fills a DGX H100 with joint requests (GPUs, one NIC per GPU, CPUs
and memory aligned to the PCIe root) until one is refused, and prints why; then places a gang
on a built-in 1,000-node cluster and prints an explained refusal (:mod:`topoplace.demo_cluster`).
"""

from __future__ import annotations

from importlib import resources
from typing import TextIO

from topoplace._core import Allocation, NodeAllocator, Request, Topology, __version__
from topoplace._format import format_allocation
from topoplace.demo_cluster import run_cluster_demo

__all__ = ["DEMO_XML", "run_demo"]

#: The bundled real machine (hwloc's test suite, BSD-3; notice in ``data/LICENSE.hwloc``).
DEMO_XML = "32em64t-2n8c2t-pci-normalio.xml"

_RANK = ["NVSWITCH", "NV", "XGMI", "PIX", "PXB", "PHB", "NODE", "SYS"]


def _device_links(topo: Topology) -> list[str]:
    lines = []
    for gpu in topo.gpus:
        best: tuple[str, str] | None = None
        for nic in topo.nics:
            cls = topo.link_class(gpu.index, nic.index)
            if cls is not None and (best is None or _RANK.index(cls) < _RANK.index(best[1])):
                best = (nic.name, cls)
        if best is not None:
            lines.append(f"    {gpu.name}: nearest NIC {best[0]} ({best[1]})")
    return lines


def _machines() -> list[Topology]:
    xml = resources.files("topoplace").joinpath("data").joinpath(DEMO_XML)
    return [
        Topology.builtin("dgx-h100"),
        Topology.builtin("epyc-nps4"),
        Topology.from_hwloc_xml(xml.read_text(encoding="utf-8"), source=DEMO_XML),
    ]


def _show(out: TextIO, topo: Topology, title: str, answer: Allocation) -> None:
    out.write(f"{title}: {'placed' if answer.placed else 'not placed'}\n")
    out.write("\n".join(format_allocation(topo, answer)) + "\n")


def _fill_dgx(out: TextIO) -> None:
    topo = Topology.builtin("dgx-h100")
    alloc = NodeAllocator(topo)
    out.write(
        "Joint requests on dgx-h100 (8 GPUs on NVSwitch, each with its own NIC on its PCIe\n"
        "switch, 4 per NUMA node): GPUs + one NIC per GPU + CPUs + memory, aligned.\n"
    )
    three = Request(
        24, memory="128Gi", gpus=3, nics_per_gpu=1, align="pcie-root", align_required=True
    )
    for owner in ["train-a", "train-b"]:
        _show(out, topo, f"{owner} (3 GPUs, pcie-root required)", alloc.allocate(owner, three))
    two = Request(16, memory="64Gi", gpus=2, nics_per_gpu=1, align="numa", align_required=True)
    _show(out, topo, "infer-c (2 GPUs, numa required)", alloc.allocate("infer-c", two))
    relaxed = Request(16, memory="64Gi", gpus=2, nics_per_gpu=1, align="numa")
    _show(out, topo, "infer-c again (numa only preferred)", alloc.allocate("infer-c", relaxed))
    _show(out, topo, "infer-d (2 more GPUs)", alloc.allocate("infer-d", relaxed))
    alloc.release("train-a")
    out.write("train-a released; its GPUs, NICs, CPUs and memory are free again.\n")
    _show(out, topo, "infer-d again", alloc.allocate("infer-d", two))


def run_demo(out: TextIO) -> None:
    """Writes the demo to ``out``."""
    out.write(f"topoplace {__version__}: where should this work go?\n\n")
    for topo in _machines():
        out.write(topo.render_text())
        links = _device_links(topo)
        if links:
            out.write("  GPU to NIC paths:\n" + "\n".join(links) + "\n")
        distances = topo.numa_distances
        if distances is not None:
            out.write(f"  NUMA distance matrix:\n{distances}\n")
        out.write("\n")
    _fill_dgx(out)
    out.write("\n")
    run_cluster_demo(out)
