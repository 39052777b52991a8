"""Type aliases used in the public API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypedDict

if TYPE_CHECKING:
    from topoplace._core import CpuSet

__all__ = [
    "AlignLevel",
    "ConformanceCase",
    "DeviceKind",
    "FreeNode",
    "GpuSelection",
    "JointScore",
    "LinkClass",
    "MemoryKind",
    "NvlinkPattern",
    "PolicyName",
    "RefusalKind",
    "TopologySummary",
]

MemoryKind = Literal["dram", "hbm", "nvm", "cxl", "gpu-memory", "unknown"]
DeviceKind = Literal["gpu", "nic", "storage", "memory", "switch", "other"]
LinkClass = Literal["NVSWITCH", "NV", "XGMI", "PIX", "PXB", "PHB", "NODE", "SYS"]
NvlinkPattern = Literal["none", "pairs", "cube-mesh", "nvswitch"]
PolicyName = Literal["none", "best-effort", "restricted", "single-numa-node"]
RefusalKind = Literal[
    "not-enough-cpus",
    "not-enough-memory",
    "not-aligned",
    "smt-alignment",
    "not-enough-gpus",
    "not-enough-nics",
]
AlignLevel = Literal["pcie-root", "numa", "socket", "none"]


class JointScore(TypedDict):
    """The score of a joint (device) placement and its parts (``Allocation.score``):
    ``total = gpu_links + nic_paths - numa_distance - fragmentation``."""

    gpu_links: int
    nic_paths: int
    numa_distance: int
    fragmentation: int
    total: int


class TopologySummary(TypedDict):
    """The headline counts of a machine (``Topology.summary()``)."""

    packages: int
    numa_nodes: int
    cores: int
    cpus: int
    cpus_online: int
    cpus_offline: int
    cpus_allowed: int
    gpus: int
    nics: int
    memory_bytes: int
    has_distances: bool


class ConformanceCase(TypedDict):
    """One case of a conformance suite (``topoplace.conformance.run``)."""

    id: str
    name: str
    file: str
    passed: bool
    detail: str


class FreeNode(TypedDict):
    """Free capacity of one NUMA node (``NodeAllocator.free()``)."""

    numa_node: int
    cpus: CpuSet
    memory: int
    hugepages_2m: int
    hugepages_1g: int


class GpuSelection(TypedDict):
    """A chosen set of GPUs (``select_gpus``)."""

    gpus: list[str]
    indices: list[int]
    score: int
    candidates_scored: int
