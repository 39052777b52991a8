"""Capacity planning on the Alibaba GPU trace, notebook style: how much of the cluster each
scheduling policy can fill before pods stop fitting.

The cells (``# %%``) run in order in VS Code, Jupytext or Spyder: the first ones define the
steps, the last one runs them from the command line:

    python examples/capacity_planning.py [TRACE] [--seeds 42-44] [--out results/]

``TRACE`` is the folder of ``openb_node_list_gpu_node.csv`` and ``openb_pod_list_*.csv``
(default: ``../shared/traces/alibaba-gpu-2023`` next to the repository). ``--out`` receives the
authors' CSV layout and the figure ``allocation.png`` (the figure needs matplotlib:
``pip install 'topoplace[plot]'``).
"""

# %% Setup
from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from topoplace import replay
from topoplace.errors import InvalidValueError

REPO = Path(__file__).resolve().parent.parent
TRACE = REPO.parent / "shared" / "traces" / "alibaba-gpu-2023"
WORKLOAD = "default"
POLICIES = ("bestfit", "fgd", "fgdreach")


# %% Replay the workload under each policy
def compare(
    trace: Path,
    seeds: Sequence[int],
    *,
    policies: Sequence[str] = POLICIES,
    workload: str = WORKLOAD,
    processes: int = 1,
    out: Path | None = None,
) -> list[replay.ReplayResult]:
    """Every policy on ``workload`` with every seed (``replay.sweep``); ``out`` gets the CSVs."""
    workloads = replay.find_workloads(trace, [workload])
    return replay.sweep(workloads, policies, seeds, processes=processes, progress=False, out=out)


# %% Summarise: allocation at 100 % and 130 % arrived, GPUs left unallocated
def summary(results: Sequence[replay.ReplayResult]) -> dict[str, dict[str, float]]:
    """Per policy, the means over the seeds."""
    by_policy: dict[str, list[replay.ReplayResult]] = {}
    for r in results:
        by_policy.setdefault(r.policy, []).append(r)
    return {
        policy: {
            "alloc@100": math.fsum(r.allocation_at(100) for r in runs) / len(runs),
            "alloc@130": math.fsum(r.allocation_at(130) for r in runs) / len(runs),
            "unallocated GPUs": math.fsum(r.unallocated_gpus_at_end for r in runs) / len(runs),
        }
        for policy, runs in by_policy.items()
    }


def table(rows: dict[str, dict[str, float]]) -> str:
    """A text table, one row per policy."""
    columns = ("alloc@100", "alloc@130", "unallocated GPUs")
    lines = [f"{'policy':<10}" + "".join(f"{c:>18}" for c in columns)]
    for policy, values in rows.items():
        lines.append(f"{policy:<10}" + "".join(f"{values[c]:>18.2f}" for c in columns))
    return "\n".join(lines)


# %% Plot the allocation ratio against the arrived workload
def draw(results: Sequence[replay.ReplayResult], out: Path | None) -> str:
    """Writes ``out/allocation.png`` when matplotlib is installed; says what it did."""
    if out is None:
        return "figure: not written (pass --out DIR)"
    try:
        replay.require_plotting()
    except InvalidValueError as e:
        return f"figure: skipped, {e}"
    return f"figure: {replay.plot(results, out / 'allocation.png')}"


# %% Run (from the command line)
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trace", nargs="?", type=Path, default=TRACE, help="trace folder")
    parser.add_argument("--seeds", default="42-44", help="seeds: N, N-M or a comma list")
    parser.add_argument("--out", type=Path, default=None, help="folder for CSVs and figure")
    parser.add_argument("--processes", type=int, default=1, help="worker processes")
    args = parser.parse_args(argv)
    if not args.trace.is_dir():
        print(f"{args.trace}: no trace folder (see docs/replay.md)", file=sys.stderr)
        return 2
    seeds = replay.parse_seeds(args.seeds)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    results = compare(args.trace, seeds, processes=args.processes, out=args.out)
    print(f"workload {WORKLOAD}, seeds {args.seeds}, means over {len(seeds)} seed(s)")
    print(table(summary(results)))
    print(draw(results, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
