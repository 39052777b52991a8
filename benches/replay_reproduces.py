"""Checks the replay against the FGD authors' published results, run by run: every workload of
the trace folder that has published rows, the five deterministic policies, seeds 42-51, all 131
values of `analysis_allo_discrete.csv` and of `analysis_frag_discrete.csv` within 0.01 (the
printing precision); and Random's 10-seed mean at 100 % and 130 % arrived within 0.5 points.

Run: `python benches/replay_reproduces.py [TRACE_DIR] [--processes 2]` (default folder:
`../shared/traces/alibaba-gpu-2023` beside the repository). Prints the counts and exits 1 on
any difference.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

from topoplace.replay import ReplayResult, find_workloads, sweep

DETERMINISTIC = ("dotprod", "gpuclustering", "gpupacking", "bestfit", "fgd")
LABELS = {
    "random": "01-Random",
    "dotprod": "02-DotProd",
    "gpuclustering": "03-GpuClustering",
    "gpupacking": "04-GpuPacking",
    "bestfit": "05-BestFit",
    "fgd": "06-FGD",
}
SEEDS = range(42, 52)


def published(path: Path) -> dict[tuple[str, str, int], list[float | None]]:
    """`(workload, label, seed)` -> the 131 values (None where the authors left a cell empty)."""
    out = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            workload = row["workload"].removeprefix("openb_pod_list_")
            values = [float(row[str(k)]) if row.get(str(k)) else None for k in range(131)]
            out[(workload, row["sc_policy"], int(row["seed"]))] = values
    return out


def same(ours: list[float], theirs: list[float | None]) -> bool:
    for a, b in zip(ours, theirs, strict=True):
        if b is None:
            if not math.isnan(a):
                return False
        elif math.isnan(a) or abs(a - b) > 0.01 + 1e-9:
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "traces" / "alibaba-gpu-2023"
    parser.add_argument("traces", nargs="?", type=Path, default=default)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    expected = args.traces / "fgd-expected-results"
    allo = published(expected / "analysis_allo_discrete.csv")
    frag = published(expected / "analysis_frag_discrete.csv")
    names = {w for w, _, _ in allo}
    workloads = [w for w in find_workloads(args.traces) if w.name in names]
    start = time.perf_counter()
    results: list[ReplayResult] = sweep(
        workloads, [*DETERMINISTIC, "random"], SEEDS, processes=args.processes, progress=False
    )
    seconds = time.perf_counter() - start
    runs = values = bad = 0
    random_means: dict[str, list[float]] = defaultdict(list)
    for r in results:
        key = (r.workload, LABELS[r.policy], r.seed)
        if r.policy == "random":
            random_means[r.workload].append(r.allocation_ratio[100])
            random_means[r.workload + "@130"].append(r.allocation_ratio[130])
            continue
        runs += 1
        for ours, table in ((r.allocation_ratio, allo), (r.fragmentation, frag)):
            values += 131
            if key not in table or not same(list(ours), table[key]):
                bad += 1
                print(f"differs: {key} ({'allocation' if table is allo else 'fragmentation'})")
    random_bad = 0
    for w in sorted({w.name for w in workloads}):
        for at, suffix in ((100, ""), (130, "@130")):
            theirs = [allo[(w, "01-Random", s)][at] for s in SEEDS if (w, "01-Random", s) in allo]
            ours = random_means[w + suffix]
            if not theirs or not ours:
                continue
            gap = abs(sum(ours) / len(ours) - sum(t or 0.0 for t in theirs) / len(theirs))
            if gap > 0.5:
                random_bad += 1
                print(f"random {w} at {at} %: 10-seed means {gap:.2f} points apart")
    missing = sorted(names - {w.name for w in workloads})
    print(
        f"{len(workloads)} workloads, {runs} deterministic runs, {values} values: "
        f"{'all equal' if not bad else f'{bad} curves differ'}; random 10-seed means within "
        f"0.5 points: {'yes' if not random_bad else f'no ({random_bad})'}; "
        f"{len(results)} runs in {seconds:.1f} s"
    )
    if missing:
        print(f"published but without a pod file here: {', '.join(missing)}")
    return 1 if bad or random_bad or not runs else 0


if __name__ == "__main__":
    sys.exit(main())
