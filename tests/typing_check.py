"""Checked by `mypy --strict`, not run: the public API's types are usable as documented."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

import topoplace
from topoplace import CpuSet, Topology
from topoplace._typing import LinkClass, TopologySummary

topo: Topology = topoplace.load("builtin:dgx-h100")
summary: TopologySummary = topo.summary()
gpus: int = summary["gpus"]
cpus: CpuSet = topo.numa_nodes[0].cpus | CpuSet("0-3")
ids: list[int] = cpus.to_list()
distances: npt.NDArray[np.uint32] | None = topo.numa_distances
link: LinkClass | None = topo.link_class("GPU0", "mlx5_0")
first: int | None = cpus.first
names: list[str] = [d.name for d in topo.gpus]
again: Topology = Topology.from_json(topo.to_json(indent=True), source="x.json")
try:
    Topology.from_hwloc_xml(b"<topology/>", source="t.xml")
except topoplace.TopologyError as exc:
    where: str | None = exc.source
    line: int | None = exc.line
