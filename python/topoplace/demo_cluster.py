"""The cluster part of ``topoplace demo``: a built-in 1,000-node GPU cluster (5 blocks x 10
racks x 20 hosts; each host 2 NUMA nodes x (48 CPUs, 512Gi, 4 GPUs) under the
``single-numa-node`` policy; about 60 % of the GPUs taken, spread by a fixed seed), a gang placed,
committed and released, and one explained refusal."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, TextIO

from topoplace.cluster import Cluster

__all__ = ["builtin_cluster", "run_cluster_demo"]


def builtin_cluster(
    blocks: int = 5, racks: int = 10, hosts: int = 20, seed: int = 1
) -> dict[str, Any]:
    """The demo cluster in the interchange format (``docs/cluster.md``)."""
    rng = random.Random(seed)
    nodes = []
    for b in range(blocks):
        for r in range(racks):
            for h in range(hosts):
                taken = [rng.choice([0, 1, 2, 3, 4, 4]) for _ in range(2)]
                zone = {"cpu": "48", "memory": "512Gi", "nvidia.com/gpu": 4}
                nodes.append(
                    {
                        "name": f"b{b}-r{r:02d}-h{h:02d}",
                        "labels": {"block": f"b{b}", "rack": f"b{b}-r{r:02d}"},
                        "capacity": {"cpu": "96", "memory": "1Ti", "nvidia.com/gpu": 8},
                        "used": {"nvidia.com/gpu": sum(taken)},
                        "numa": [zone, zone],
                        "numa_used": [{"nvidia.com/gpu": t} for t in taken],
                        "topology_policy": "single-numa-node",
                    }
                )
    return {"levels": ["block", "rack"], "nodes": nodes}


def _gang(name: str, count: int, gpus: int, **where: str) -> dict[str, Any]:
    request = {"cpu": "12", "memory": "96Gi", "nvidia.com/gpu": gpus}
    return {
        "name": name,
        "groups": [{"name": "workers", "count": count, "request": request, **where}],
    }


def run_cluster_demo(out: TextIO) -> None:
    """Writes the cluster demo to ``out``."""
    cluster = Cluster(builtin_cluster())
    n = len(cluster.node_names())
    out.write(f"cluster: {n} nodes in 5 blocks x 10 racks, 8 GPUs each, about 60 % taken\n")
    gang = _gang("train-256", 256, 1, required_level="block", preferred_level="rack")
    placed = cluster.place(gang)
    racks = Counter(node.rsplit("-", 1)[0] for _, _, node, _ in placed.pods)
    out.write(
        f"  {gang['name']} (256 pods x 1 GPU, one block, racks preferred): "
        f"{len(placed)} pods on {len({node for _, _, node, _ in placed.pods})} nodes "
        f"in {len(racks)} racks of block {next(iter(racks))[:2]}\n"
    )
    cluster.commit(placed)
    refused = cluster.place(_gang("train-4x4", 40, 4, required_level="rack"))
    out.write("  train-4x4 (40 pods x 4 GPUs, one rack): unschedulable\n")
    for reason in refused.reasons:
        out.write(f"    {reason}\n")
    cluster.release(placed)
    out.write("  train-256 released.\n")
