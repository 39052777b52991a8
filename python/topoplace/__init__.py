"""topoplace: decides where work goes.

Inside one machine (which CPUs, NUMA memory, GPUs and NICs, all aligned) and across clusters.
The heavy lifting is in a Rust core; this package is its typed Python face.

    >>> import topoplace
    >>> topo = topoplace.Topology.builtin("dgx-h100")
    >>> topo.summary()["gpus"]
    8
"""

from topoplace._core import (
    Allocation,
    Cache,
    Core,
    CpuSet,
    Device,
    MigGeometry,
    MigProfile,
    NodeAllocator,
    NumaNode,
    Package,
    Request,
    Topology,
    __version__,
    merge_numa_hints,
    select_gpus,
)
from topoplace.errors import InvalidValueError, ObjectError, TopologyError, TopoplaceError
from topoplace.sources import load

__all__ = [
    "Allocation",
    "Cache",
    "Core",
    "CpuSet",
    "Device",
    "InvalidValueError",
    "MigGeometry",
    "MigProfile",
    "NodeAllocator",
    "NumaNode",
    "ObjectError",
    "Package",
    "Request",
    "Topology",
    "TopologyError",
    "TopoplaceError",
    "__version__",
    "load",
    "merge_numa_hints",
    "select_gpus",
]
