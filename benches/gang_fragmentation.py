"""What each placement strategy leaves whole: a stream of mixed gangs placed and committed in
turn on an empty cluster, then the entirely free nodes and racks counted, and how many
whole-rack jobs (every GPU of a rack's nodes) still fit.

The same seeded stream is offered to ``tight`` (Kueue TAS's best fit), ``pack`` and
``balanced``. Run: ``python benches/gang_fragmentation.py [--nodes N] [--gangs G]``; the
test ``tests/test_cluster_strategies.py`` runs a small version and checks the ordering.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from gang_plain import benchmark_cluster  # noqa: E402

from topoplace.cluster import Cluster  # noqa: E402

GPU = "nvidia.com/gpu"


def gang_stream(count: int, seed: int = 11) -> list[dict[str, Any]]:
    """`count` gangs of 1-32 pods x 1, 2 or 4 GPUs (a pod fits one NUMA node), half of them
    required in one rack."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        gpus = rng.choice([1, 1, 2, 4])
        group: dict[str, Any] = {
            "name": "w",
            "count": rng.randint(1, 32),
            "request": {"cpu": str(6 * gpus), "memory": f"{64 * gpus}Gi", GPU: gpus},
            "preferred_level": "rack",
        }
        if rng.random() < 0.5:
            group["required_level"] = "rack"
        out.append({"name": f"g{i}", "groups": [group]})
    return out


def rack_job(index: int) -> dict[str, Any]:
    """A job that needs a whole rack: 40 pods x 4 GPUs (one per NUMA node) in one rack."""
    request = {"cpu": "24", "memory": "256Gi", GPU: 4}
    group = {"name": "w", "count": 40, "request": request, "required_level": "rack"}
    return {"name": f"rack-job-{index}", "groups": [group]}


def run(nodes: int, gangs: int, strategy: str, taken: float = 0.0) -> dict[str, Any]:
    """Places and commits the stream with `strategy` on the cluster with `taken` of its GPUs
    used at random; what is left whole after it."""
    cluster = Cluster(benchmark_cluster(nodes, taken=taken))
    placed = 0
    start = time.perf_counter()
    for gang in gang_stream(gangs):
        p = cluster.place(gang, strategy=strategy)
        if p:
            cluster.commit(p)
            placed += 1
    seconds = time.perf_counter() - start
    whole = cluster.whole_free()
    rack_jobs = 0
    while True:
        p = cluster.place(rack_job(rack_jobs))
        if not p:
            break
        cluster.commit(p)
        rack_jobs += 1
    return {
        "strategy": strategy,
        "placed": placed,
        "whole_nodes": whole["nodes"],
        "whole_racks": whole["rack"],
        "rack_jobs_after": rack_jobs,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--gangs", type=int, default=1000)
    parser.add_argument("--taken", type=float, default=0.0, help="GPUs used at the start")
    args = parser.parse_args()
    print(
        f"{args.gangs} gangs on {args.nodes} nodes (8 GPUs each, 20 per rack), "
        f"{args.taken:.0%} of the GPUs used at random at the start"
    )
    print("strategy  placed  whole nodes  whole racks  40x4-GPU rack jobs after  time")
    for strategy in ("tight", "pack", "balanced"):
        r = run(args.nodes, args.gangs, strategy, args.taken)
        print(
            f"{r['strategy']:9} {r['placed']:6} {r['whole_nodes']:12} {r['whole_racks']:12}"
            f" {r['rack_jobs_after']:25} {r['seconds']:5.2f} s"
        )


if __name__ == "__main__":
    main()
