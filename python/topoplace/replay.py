"""Trace replay: the FGD paper's experiment on the Alibaba GPU trace, run by run.

Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation
Gradient Descent" (USENIX ATC '23) offer the pods of a trace one by one to the trace's 1,213
GPU nodes under six schedulers, until the arrived GPU request reaches 130 % of the capacity,
and plot the GPU allocation ratio against the arrived workload (their Fig. 9a). The replay
itself is in the Rust core (:func:`topoplace._core.replay`); this module loads the CSVs, runs
sweeps over workloads x policies x seeds in worker processes, writes the authors' result CSVs
and draws the figure.

    >>> from topoplace.replay import POLICIES, ReplayTrace, replay
    >>> trace = ReplayTrace(
    ...     "sn,cpu_milli,memory_mib,gpu,model\\nn0,32000,131072,2,T4\\n",
    ...     "name,cpu_milli,memory_mib,num_gpu,gpu_milli\\np0,4000,8192,1,500\\n",
    ... )
    >>> run = replay(trace, "bestfit", 42)
    >>> run.total_gpus, len(run.allocation_ratio)
    (2, 131)

Plotting and the progress bar need the ``plot`` extra (``pip install 'topoplace[plot]'``);
everything else works without it.
"""

from __future__ import annotations

import importlib
import json
import math
import multiprocessing
import re
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

from topoplace import _core
from topoplace._core import ReplayTrace
from topoplace.errors import InvalidValueError

__all__ = [
    "BUCKETS",
    "Arrivals",
    "NODE_LIST",
    "POLICIES",
    "ReplayResult",
    "ReplayTrace",
    "Workload",
    "arrivals",
    "find_workloads",
    "format_table",
    "load_trace",
    "parse_seeds",
    "plot",
    "replay",
    "require_plotting",
    "sweep",
    "workload_name",
    "write_csvs",
]

#: The replay policies, in the paper's order (from the native module, so a new one appears here).
POLICIES: tuple[str, ...] = _core.POLICIES
#: Points of each curve: arrived percent 0 to 130.
BUCKETS = 131
#: The node list of the paper's cluster (GPU nodes only), in a trace folder.
NODE_LIST = "openb_node_list_gpu_node.csv"
#: Pod lists in a trace folder are ``openb_pod_list_<workload>.csv``.
POD_LIST_PREFIX = "openb_pod_list_"

PLOT_HINT = "pip install 'topoplace[plot]'"
#: The plot's insets show arrived percent from here to 130.
ZOOM_FROM = 80

_CURVES = ("allocation_ratio", "fragmentation")
#: ``(pod, node or None, GPU indexes)`` of one offered pod, in arrival order.
Placement = tuple[str, str | None, tuple[int, ...]]


class Workload(NamedTuple):
    """A named pair of CSV files: the nodes and the pods of one replay."""

    name: str
    nodes: Path
    pods: Path


@dataclass(frozen=True, eq=False)
class ReplayResult:
    """One run: a workload replayed under a policy with a seed.

    ``allocation_ratio`` and ``fragmentation`` hold 131 values, percent of the GPU capacity,
    indexed by the arrived GPU request in percent of the capacity (NaN where no record falls
    within one percent of the bucket), as the authors' ``analysis_allo_discrete.csv`` and
    ``analysis_frag_discrete.csv`` report them. Two results are equal when every field but
    ``seconds`` (the run's own time) is, NaN matching NaN, so repeated runs compare equal.
    """

    workload: str
    policy: str
    label: str
    seed: int
    tune_ratio: float
    total_gpus: int
    pods_offered: int
    pods_failed: int
    allocation_ratio: tuple[float, ...]
    fragmentation: tuple[float, ...]
    unallocated_gpus_at_end: float
    final_used_milli: int
    seconds: float = field(default=0.0, compare=False)
    placements: tuple[Placement, ...] = ()

    def _key(self) -> tuple[object, ...]:
        return tuple(
            tuple(_nulls(value)) if f.name in _CURVES else value
            for f in fields(self)
            if f.compare
            for value in (getattr(self, f.name),)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReplayResult):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def allocation_at(self, percent: int) -> float:
        """The allocation ratio (percent) when ``percent`` % of the capacity has arrived."""
        return self.allocation_ratio[percent]

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-ready values (NaN becomes ``None``); ``placements`` only when
        they were asked for."""
        doc: dict[str, Any] = {
            "workload": self.workload,
            "policy": self.policy,
            "label": self.label,
            "seed": self.seed,
            "tune_ratio": self.tune_ratio,
            "total_gpus": self.total_gpus,
            "pods_offered": self.pods_offered,
            "pods_failed": self.pods_failed,
            "allocation_ratio": _nulls(self.allocation_ratio),
            "fragmentation": _nulls(self.fragmentation),
            "unallocated_gpus_at_end": self.unallocated_gpus_at_end,
            "final_used_milli": self.final_used_milli,
            "seconds": self.seconds,
        }
        if self.placements:
            doc["placements"] = [
                {"pod": pod, "node": node, "gpus": list(gpus)}
                for pod, node, gpus in self.placements
            ]
        return doc

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as JSON text (strict JSON: NaN is ``null``)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _nulls(values: Iterable[float]) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values]


def workload_name(pods_file: str | Path) -> str:
    """``.../openb_pod_list_cpu050.csv`` -> ``"cpu050"``; other names keep their stem."""
    return Path(pods_file).stem.removeprefix(POD_LIST_PREFIX)


def load_trace(nodes_csv: str | Path, pods_csv: str | Path) -> ReplayTrace:
    """Reads a node list and a pod list (parsed natively, with the GIL released).

    Raises:
        OSError: a file cannot be read.
        TopologyError: a malformed row, naming the file, the line and the column.
    """
    nodes, pods = Path(nodes_csv), Path(pods_csv)
    return ReplayTrace(
        nodes.read_text(encoding="utf-8"),
        pods.read_text(encoding="utf-8"),
        nodes_file=str(nodes),
        pods_file=str(pods),
    )


def _check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise InvalidValueError(
            f"unknown replay policy {policy!r} (expected one of {', '.join(POLICIES)})"
        )
    return policy


def replay(
    trace: ReplayTrace,
    policy: str,
    seed: int,
    *,
    tune_ratio: float | None = None,
    placements: bool = False,
    workload: str | None = None,
) -> ReplayResult:
    """Replays ``trace`` under ``policy`` (one of :data:`POLICIES`) with tune seed ``seed``.

    ``tune_ratio`` is the arrived GPU request at the end as a multiple of the capacity (the
    paper's 1.3 by default); ``placements`` keeps where each offered pod went; ``workload``
    names the run (default: from the pod list's file name).
    """
    start = time.perf_counter()
    raw = _core.replay(
        trace, _check_policy(policy), seed, tune_ratio=tune_ratio, placements=placements
    )
    seconds = time.perf_counter() - start
    rows = tuple((pod, node, tuple(gpus)) for pod, node, gpus in raw.get("placements", ()))
    return ReplayResult(
        workload=workload if workload is not None else workload_name(trace.pods_file),
        policy=raw["policy"],
        label=raw["label"],
        seed=raw["seed"],
        tune_ratio=raw["tune_ratio"],
        total_gpus=raw["total_gpus"],
        pods_offered=raw["pods_offered"],
        pods_failed=raw["pods_failed"],
        allocation_ratio=tuple(raw["allocation_ratio"]),
        fragmentation=tuple(raw["fragmentation"]),
        unallocated_gpus_at_end=raw["unallocated_gpus_at_end"],
        final_used_milli=raw["final_used_milli"],
        seconds=seconds,
        placements=rows,
    )


class Arrivals(NamedTuple):
    """The inputs of a run drawn from the random stream, the same for every policy."""

    #: Index into the trace's pod list of each offered pod, in arrival order (re-drawn pods
    #: repeat an index).
    pods: list[int]
    #: Every index into the node list, in tie-break order: the first node listed wins a tie.
    node_priority: list[int]


def arrivals(trace: ReplayTrace, seed: int, *, tune_ratio: float | None = None) -> Arrivals:
    """The arrival order and node priority of a run of ``trace`` with tune seed ``seed``, as
    :func:`replay` uses them under every policy: what a peer implementation of the experiment
    needs to make the same decisions. ``tune_ratio`` as for :func:`replay`."""
    if tune_ratio is None:
        pods, node_priority = _core.arrivals(trace, seed)
    else:
        pods, node_priority = _core.arrivals(trace, seed, tune_ratio=tune_ratio)
    return Arrivals(pods, node_priority)


def find_workloads(
    directory: str | Path, names: Sequence[str] | None = None, *, nodes: str | Path | None = None
) -> list[Workload]:
    """The workloads of a trace folder: ``openb_pod_list_<name>.csv`` with the node list
    ``openb_node_list_gpu_node.csv`` (or ``nodes``). ``names`` picks some (``"cpu050"`` or
    ``"openb_pod_list_cpu050"``), in that order; default: all, sorted by name."""
    folder = Path(directory)
    node_list = Path(nodes) if nodes is not None else folder / NODE_LIST
    if not folder.is_dir():
        raise InvalidValueError(f"{folder}: not a folder")
    if not node_list.is_file():
        raise InvalidValueError(f"{node_list}: node list not found")
    found = {workload_name(p): p for p in sorted(folder.glob(f"{POD_LIST_PREFIX}*.csv"))}
    if not found:
        raise InvalidValueError(f"{folder}: no {POD_LIST_PREFIX}*.csv pod lists")
    wanted = list(found) if names is None else [workload_name(n) for n in names]
    missing = [n for n in wanted if n not in found]
    if missing:
        raise InvalidValueError(
            f"{folder}: no pod list for {', '.join(missing)} (have {', '.join(found)})"
        )
    return [Workload(n, node_list, found[n]) for n in wanted]


def parse_seeds(text: str) -> list[int]:
    """``"42-51"`` -> 42..51; ``"42,45-47"`` -> ``[42, 45, 46, 47]``."""
    seeds: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if m is None:
            raise InvalidValueError(f"seeds: expected N, N-M or a comma list of them, got {text!r}")
        first, last = int(m[1]), int(m[2] or m[1])
        if last < first:
            raise InvalidValueError(f"seeds: empty range {part.strip()!r}")
        seeds.extend(range(first, last + 1))
    return seeds


# A task for a worker: the workload, the policy, the seed and the tune ratio.
_Task = tuple[Workload, str, int, "float | None"]
# Traces a worker process has loaded, by (nodes, pods) path: each is read once per process.
_WORKER_TRACES: dict[tuple[Path, Path], ReplayTrace] = {}


def _run_task(
    task: _Task, traces: dict[tuple[Path, Path], ReplayTrace] | None = None
) -> ReplayResult:
    workload, policy, seed, tune_ratio = task
    cache = _WORKER_TRACES if traces is None else traces
    key = (workload.nodes, workload.pods)
    if key not in cache:
        cache[key] = load_trace(*key)
    return replay(cache[key], policy, seed, tune_ratio=tune_ratio, workload=workload.name)


def _progress_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar when asked for and tqdm is installed, else ``None``."""
    if not enabled:
        return None
    try:
        # Imported by name: tqdm is optional and ships no type information.
        tqdm = importlib.import_module("tqdm")
    except ImportError:
        return None
    return tqdm.tqdm(total=total, unit="run", desc="replay", smoothing=0.1)


def sweep(
    workloads: Iterable[Workload | tuple[str | Path, str | Path]],
    policies: Iterable[str] | None = None,
    seeds: Iterable[int] = range(42, 52),
    processes: int = 2,
    progress: bool = True,
    *,
    tune_ratio: float | None = None,
    out: str | Path | None = None,
) -> list[ReplayResult]:
    """Replays every workload under every policy (default: all) with every seed.

    ``workloads`` are :class:`Workload` or ``(nodes_csv, pods_csv)`` pairs. With
    ``processes`` > 1 the runs go to that many worker processes (each loads each trace once);
    the results come back in the order workload, policy, seed whatever the process count.
    ``progress`` shows a bar when tqdm is installed. ``out`` (a folder) receives the authors'
    ``analysis_allo_discrete.csv`` and ``analysis_frag_discrete.csv``.
    """
    chosen = [
        w if isinstance(w, Workload) else Workload(workload_name(w[1]), Path(w[0]), Path(w[1]))
        for w in workloads
    ]
    names = list(POLICIES if policies is None else policies)
    for p in names:
        _check_policy(p)
    seed_list = list(seeds)
    if processes < 1:
        raise InvalidValueError(f"processes must be at least 1, got {processes}")
    # Loading here reports a missing or malformed file before any worker starts.
    traces = {(w.nodes, w.pods): load_trace(w.nodes, w.pods) for w in chosen}
    tasks: list[_Task] = [(w, p, s, tune_ratio) for w in chosen for p in names for s in seed_list]
    bar = _progress_bar(len(tasks), progress)
    try:
        if processes == 1 or len(tasks) <= 1:
            results = []
            for task in tasks:
                results.append(_run_task(task, traces))
                if bar is not None:
                    bar.update()
        else:
            results = _in_pool(tasks, processes, bar)
    finally:
        if bar is not None:
            bar.close()
    if out is not None:
        write_csvs(results, out)
    return results


def _in_pool(tasks: list[_Task], processes: int, bar: Any) -> list[ReplayResult]:
    # "spawn": workers do not inherit the parent's threads (a progress bar's monitor, the
    # caller's own) or locks, and behave the same on every platform.
    pool = ProcessPoolExecutor(
        max_workers=min(processes, len(tasks)), mp_context=multiprocessing.get_context("spawn")
    )
    try:
        futures: dict[Future[ReplayResult], int] = {
            pool.submit(_run_task, task): i for i, task in enumerate(tasks)
        }
        done: list[ReplayResult | None] = [None] * len(tasks)
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            if bar is not None:
                bar.update()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [r for r in done if r is not None]


def _artifact_workload(name: str) -> str:
    return name if name.startswith(POD_LIST_PREFIX) else POD_LIST_PREFIX + name


def _cell(value: float) -> str:
    # The authors' CSVs come from pandas: shortest round-trip float text, empty for NaN.
    return "" if math.isnan(value) else repr(float(value))


def write_csvs(results: Iterable[ReplayResult], out_dir: str | Path) -> tuple[Path, Path]:
    """Writes ``analysis_allo_discrete.csv`` and ``analysis_frag_discrete.csv`` into
    ``out_dir`` (created if needed) in the FGD authors' layout: ``workload`` (the pod list's
    name, ``openb_pod_list_<workload>``), ``sc_policy`` (``01-Random``...), ``tune``,
    ``seed``, ``total_gpus`` (allocation only), then columns ``0`` to ``130``; rows sorted by
    workload, policy label and seed. Returns the two paths."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    rows = sorted(results, key=lambda r: (_artifact_workload(r.workload), r.label, r.seed))
    buckets = ",".join(str(k) for k in range(BUCKETS))
    allo = [f"workload,sc_policy,tune,seed,total_gpus,{buckets}"]
    frag = [f"workload,sc_policy,tune,seed,{buckets}"]
    for r in rows:
        head = f"{_artifact_workload(r.workload)},{r.label},{r.tune_ratio!r},{r.seed}"
        allo.append(f"{head},{r.total_gpus}," + ",".join(map(_cell, r.allocation_ratio)))
        frag.append(f"{head}," + ",".join(map(_cell, r.fragmentation)))
    paths = (folder / "analysis_allo_discrete.csv", folder / "analysis_frag_discrete.csv")
    for path, lines in zip(paths, (allo, frag), strict=True):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def _seed_text(seeds: Sequence[int]) -> str:
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _mean(values: Iterable[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def format_table(results: Sequence[ReplayResult]) -> str:
    """A short text table, one row per workload and policy (means over the seeds): allocation
    ratio at 100 % and 130 % arrived, unallocated GPUs at the end, pods failed, seconds per
    run."""
    groups: dict[tuple[str, str], list[ReplayResult]] = {}
    for r in results:
        groups.setdefault((r.workload, r.policy), []).append(r)
    header = ("workload", "policy", "seed", "alloc@100", "alloc@130", "unalloc GPUs", "failed", "s")
    rows = [header]
    for (workload, policy), runs in groups.items():
        one = len(runs) == 1
        rows.append(
            (
                workload,
                policy,
                _seed_text([r.seed for r in runs]),
                _fmt(_mean(r.allocation_at(100) for r in runs)),
                _fmt(_mean(r.allocation_at(BUCKETS - 1) for r in runs)),
                _fmt(_mean(r.unallocated_gpus_at_end for r in runs), 1),
                _fmt(_mean(float(r.pods_failed) for r in runs), 0 if one else 1),
                _fmt(_mean(r.seconds for r in runs), 3),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [
            c.ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def require_plotting() -> None:
    """Raises :class:`InvalidValueError` naming the ``plot`` extra when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as e:
        raise InvalidValueError(f"plotting needs matplotlib: {PLOT_HINT}") from e


def _mean_curves(
    results: Iterable[ReplayResult],
) -> dict[str, dict[str, list[float]]]:
    """Per workload, per policy: the allocation ratio averaged over the seeds, point by point
    (NaN where no seed has a value)."""
    sums: dict[str, dict[str, tuple[list[float], list[int]]]] = {}
    for r in results:
        total, count = sums.setdefault(r.workload, {}).setdefault(
            r.policy, ([0.0] * BUCKETS, [0] * BUCKETS)
        )
        for k, v in enumerate(r.allocation_ratio):
            if not math.isnan(v):
                total[k] += v
                count[k] += 1
    return {
        w: {
            p: [t / c if c else math.nan for t, c in zip(*tc, strict=True)]
            for p, tc in by_policy.items()
        }
        for w, by_policy in sums.items()
    }


def _policy_order(policy: str) -> tuple[int, str]:
    return (POLICIES.index(policy) if policy in POLICIES else len(POLICIES), policy)


def plot(results: Iterable[ReplayResult], path: str | Path) -> Path:
    """Draws the GPU allocation ratio against the arrived workload, one line per policy
    (mean over the seeds) and one panel per workload, as the paper's Fig. 9a; writes it to
    ``path`` (the format from its suffix: ``.png``, ``.svg``, ``.pdf``...)."""
    require_plotting()
    from matplotlib.figure import Figure

    curves = _mean_curves(results)
    if not curves:
        raise InvalidValueError("plot: no results to draw")
    ncols = min(len(curves), 4)
    nrows = math.ceil(len(curves) / ncols)
    fig = Figure(figsize=(4.4 * ncols, 3.4 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    arrived = list(range(BUCKETS))
    for ax, (workload, by_policy) in zip(axes.flat, curves.items(), strict=False):
        ax.plot(arrived, [min(k, 100) for k in arrived], color="0.75", ls="--", lw=1, label="ideal")
        # The policies part only near full load: an inset enlarges the last 50 points.
        zoom = ax.inset_axes((0.42, 0.08, 0.55, 0.45))
        low = 100.0
        for i, policy in enumerate(sorted(by_policy, key=_policy_order)):
            curve = by_policy[policy]
            ax.plot(arrived, curve, lw=1.4, color=f"C{i}", label=policy)
            zoom.plot(arrived[ZOOM_FROM:], curve[ZOOM_FROM:], lw=1.2, color=f"C{i}")
            low = min([low, *(v for v in curve[ZOOM_FROM:] if not math.isnan(v))])
        zoom.set_xlim(ZOOM_FROM, BUCKETS - 1)
        zoom.set_ylim(max(math.floor(low) - 1, 0), 100)
        zoom.tick_params(labelsize="x-small")
        zoom.grid(True, alpha=0.3)
        ax.set_title(workload)
        ax.set_xlim(0, BUCKETS - 1)
        ax.set_xlabel("arrived workload (% of GPU capacity)")
        ax.set_ylabel("GPU allocation ratio (%)")
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(curves) :]:
        ax.set_visible(False)
    axes.flat[0].legend(loc="upper left", fontsize="small")
    out = Path(path)
    fig.savefig(out, dpi=120)
    return out
