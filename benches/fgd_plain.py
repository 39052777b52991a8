"""The FGD paper's trace replay (Weng et al., USENIX ATC '23) under ``fgd`` and ``bestfit``,
written the way a Python author would: a plain-Python version (lists, dicts, a memo of node
fragmentation) and a numpy version (the cluster as arrays over nodes, fragmentation for many
node states at once by broadcasting over typical pods and GPUs). They are the peers of
``topoplace.replay.replay`` in ``test_bench_replay.py``; ``test_fgd_plain_agrees.py`` checks
that their allocation curves equal topoplace's.

Only the random draws come from topoplace: the arrival order (shuffle, then padding to the tune
ratio) and the node priority that breaks score ties, from ``topoplace.replay.arrivals``, because
they need a port of Go's ``math/rand``. Everything else is written here from the trace folder's
``FGD-PROCEDURE.md``:

- pods as the artifact's converter reads them: ``gpu_milli`` clamped to 0..1000, ``gpu_spec``
  split on ``|``, no GPU fields when ``num_gpu`` is 0 (a GPU pod with no milli is CPU-only);
- filter: CPU, memory, and for GPU pods the model and one GPU with ``milli`` free (sharing pod)
  or ``num`` fully free GPUs;
- typical pods: the ``(cpu, milli, num, spec text)`` shapes of the pod list, most frequent first
  (ties by shape, descending), until they cover 95 % of the pods, frequencies renormalised;
- a node's fragmentation F: per typical pod, the node's free GPU milli, or only that of its
  GPUs too small for the pod when the node can host it; summed per category in typical-pod
  order, the categories then added in the order Q1, Q2, Q4, XL, XR, NA (the order matters at
  the integer truncation of the score);
- scores are integers: FGD ``int(100 sigmoid((F_before - F_after) / 1000))``, BestFit
  ``int(100 (1 - s))``; the highest wins, ties go to the first node of the priority;
- GPU choice: FGD gives a sharing pod the first GPU reaching the node's best score, BestFit the
  tightest fitting GPU; whole-GPU pods take the lowest-index fully free GPUs;
- measurement: after each offered pod, arrived and allocated GPU milli; bucketed as the
  authors' pandas scripts do (numpy here too: their means and rounding are numpy's).

Both versions keep, per pod shape, a row of node scores and refresh only the nodes changed
since the row was last used: without it a run scores 1,213 nodes for each of 10,866 pods. The
plain version memoises F by node state (CPU, model, sorted free milli); the numpy version
computes each distinct state of a batch once and keeps F after placement with the score. Since
a row usually has only a few stale nodes, most numpy calls work on a handful of rows, where
numpy's per-call cost dominates: on the default workload the plain FGD peer is about as fast
as the numpy one (the BestFit numpy peer is about twice as fast as the plain one).

Run one: ``python benches/fgd_plain.py [fgd|bestfit] [plain|numpy] [seed]``.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from topoplace.replay import arrivals, load_trace

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

MILLI = 1000
SLOTS = 8  # GPUs per node at most; the numpy arrays have this many columns
MAX_SPEC_CPU = 128_000.0
MAX_SPEC_GPU = 8_000.0
BUCKETS = 131
INFEASIBLE = -(1 << 30)
# Fragment categories, in the order the simulator adds them up.
Q1_LACK_BOTH, Q2_LACK_GPU, Q4_LACK_CPU, XL_SATISFIED, XR_LACK_CPU, NO_ACCESS = range(6)
POLICIES = ("fgd", "bestfit")


class Node(NamedTuple):
    name: str
    cpu: int
    mem: int
    gpus: int
    model: str


class Pod(NamedTuple):
    name: str
    cpu: int
    mem: int
    num: int  # GPUs; 0 for CPU-only pods
    milli: int  # per GPU; 0 for CPU-only pods
    models: tuple[str, ...]  # allowed GPU models; () = any

    @property
    def share(self) -> bool:
        return self.num == 1 and self.milli < MILLI


class Typical(NamedTuple):
    cpu: int
    milli: int
    num: int
    models: frozenset[str]
    freq: float


class Run(NamedTuple):
    """A replay's outcome: the allocation curve and, per offered pod, the input index of the
    node it went to (None: failed)."""

    allocation_ratio: list[float]
    nodes: list[int | None]
    pods_failed: int
    final_used_milli: int


def read_nodes(path: str | Path) -> list[Node]:
    with open(path, newline="", encoding="utf-8") as f:
        return [
            Node(r["sn"], int(r["cpu_milli"]), int(r["memory_mib"]), int(r["gpu"]), r["model"])
            for r in csv.DictReader(f)
        ]


def read_pods(path: str | Path) -> list[Pod]:
    pods = []
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            num, milli = int(r["num_gpu"]), min(max(int(r["gpu_milli"]), 0), MILLI)
            models = tuple(m.strip() for m in (r.get("gpu_spec") or "").split("|") if m.strip())
            if num == 0 or milli == 0:
                num, milli, models = 0, 0, ()
            pods.append(
                Pod(r["name"], int(r["cpu_milli"]), int(r["memory_mib"]), num, milli, models)
            )
    return pods


def typical_pods(pods: Sequence[Pod], percent: float = 95.0) -> list[Typical]:
    counts = Counter((p.cpu, p.milli, p.num, "|".join(p.models)) for p in pods)
    # Most frequent first; equally frequent shapes by the shape itself, descending.
    shapes = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
    total = len(pods)
    kept: list[tuple[tuple[int, int, int, str], int]] = []
    covered = 0
    for shape, count in shapes:
        if covered >= percent * total / 100:
            break
        kept.append((shape, count))
        covered += count
    out = []
    for (cpu, milli, num, spec), count in kept:
        freq = count / total
        if len(kept) < len(shapes):
            freq /= covered / total
        out.append(Typical(cpu, milli, num, frozenset(filter(None, spec.split("|"))), freq))
    return out


def sigmoid_score(before: float, after: float) -> int:
    return int(1.0 / (1.0 + math.exp(-((before - after) / 1000.0))) * 100.0)


def allocation_curve(arrived: Sequence[int], used: Sequence[int], gpus: int) -> list[float]:
    """The authors' bucketing: arrived percent rounded half to even, each record's allocation
    percent rounded to 2 places, a bucket the numpy mean of its records (or of those within
    one percent either side when it has none) rounded by numpy; NaN when empty."""
    pct = [round(a / gpus / 10) for a in arrived]
    ratio = np.array([round(u / gpus / 10, 2) for u in used])
    curve = []
    for k in range(BUCKETS):
        lo, hi = bisect_left(pct, k), bisect_right(pct, k)
        if lo == hi:
            lo, hi = bisect_left(pct, k - 1), bisect_right(pct, k + 1)
        curve.append(float(np.round(ratio[lo:hi].mean(), 2)) if hi > lo else math.nan)
    return curve


# --- plain Python ---------------------------------------------------------------------------


def node_frag(cpu: int, gpus: Sequence[int], model: str, typical: Sequence[Typical]) -> float:
    """F of one node: its expected fragment (milli-GPU) under the typical pods."""
    total = sum(gpus)
    if total == 0:
        return 0.0
    acc = [0.0] * 6
    for t in typical:
        if t.milli == 0:
            # A CPU-only pod uses no GPU: all of it is fragment, whether or not the CPU fits.
            acc[XL_SATISFIED if cpu >= t.cpu else XR_LACK_CPU] += t.freq * total
        elif t.models and model not in t.models:
            acc[NO_ACCESS] += t.freq * total
        else:
            fit = small = 0
            for free in gpus:
                if free >= t.milli:
                    fit += 1
                else:
                    small += free
            if fit >= t.num and cpu >= t.cpu:
                acc[Q2_LACK_GPU] += t.freq * small
            elif fit >= t.num:
                acc[Q4_LACK_CPU] += t.freq * total
            else:
                acc[Q2_LACK_GPU if cpu >= t.cpu else Q1_LACK_BOTH] += t.freq * total
    return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5]


def replay_plain(
    nodes: Sequence[Node],
    pods: Sequence[Pod],
    order: Sequence[int],
    priority: Sequence[int],
    policy: str,
) -> Run:
    """Replays ``pods`` offered in ``order`` (input indexes) on ``nodes``, ties to the first of
    ``priority`` (input node indexes), with lists and dicts."""
    ns = [nodes[i] for i in priority]
    cpu = [n.cpu for n in ns]
    mem = [n.mem for n in ns]
    gpu = [[MILLI] * n.gpus for n in ns]
    model = [n.model for n in ns]
    count = len(ns)
    typical = typical_pods(pods) if policy == "fgd" else []
    memo: dict[tuple[int, str, tuple[int, ...]], float] = {}

    def frag(c: int, g: list[int], m: str) -> float:
        key = (c, m, tuple(sorted(g)))
        f = memo.get(key)
        if f is None:
            f = memo[key] = node_frag(c, g, m, typical)
        return f

    frags = [frag(cpu[n], gpu[n], model[n]) for n in range(count)] if typical else []

    def fits(n: int, p: Pod) -> bool:
        if cpu[n] < p.cpu or mem[n] < p.mem:
            return False
        if p.milli == 0:
            return True
        if p.models and model[n] not in p.models:
            return False
        if p.share:
            return max(gpu[n], default=0) >= p.milli
        return gpu[n].count(MILLI) >= p.num

    def fgd(n: int, p: Pod) -> tuple[int, int]:
        c, g, m, before = cpu[n] - p.cpu, gpu[n], model[n], frags[n]
        if p.share:
            best, best_gpu = -1, 0
            by_free: dict[int, int] = {}  # GPUs with equal free milli score alike
            for j, free in enumerate(g):
                if free < p.milli:
                    continue
                s = by_free.get(free)
                if s is None:
                    after = g.copy()
                    after[j] -= p.milli
                    s = by_free[free] = sigmoid_score(before, frag(c, after, m))
                if s > best:
                    best, best_gpu = s, j
            return best, best_gpu
        after = g.copy()
        need = p.num
        for j, free in enumerate(after):
            if need and free == MILLI:
                after[j], need = 0, need - 1
        return sigmoid_score(before, frag(c, after, m)), 0

    def best_fit(n: int, p: Pod) -> tuple[int, int]:
        cpu_left = (cpu[n] - p.cpu) / MAX_SPEC_CPU
        gpu_left = (sum(gpu[n]) - p.num * p.milli) / MAX_SPEC_GPU
        return int((1.0 - (cpu_left * 0.5 + gpu_left * 0.5)) * 100.0), 0

    score = fgd if policy == "fgd" else best_fit
    # Per pod shape: each node's score (INFEASIBLE when filtered out) and GPU, and the nodes
    # changed since the row was last brought up to date.
    rows: dict[Pod, tuple[list[int], list[int]]] = {}
    stale: dict[Pod, set[int]] = {}
    arrived: list[int] = []
    used: list[int] = []
    chosen: list[int | None] = []
    total_arrived = total_used = failed = 0
    for i in order:
        p = pods[i]
        shape = p._replace(name="")
        if shape not in rows:
            rows[shape] = ([INFEASIBLE] * count, [0] * count)
            stale[shape] = set(range(count))
        scores, gpus = rows[shape]
        for n in stale[shape]:
            scores[n], gpus[n] = score(n, p) if fits(n, p) else (INFEASIBLE, 0)
        stale[shape].clear()
        best = max(scores)
        total_arrived += p.num * p.milli
        if best == INFEASIBLE:
            failed += 1
            chosen.append(None)
        else:
            n = scores.index(best)
            cpu[n] -= p.cpu
            mem[n] -= p.mem
            g = gpu[n]
            if p.share:
                j = gpus[n] if policy == "fgd" else tightest(g, p.milli)
                g[j] -= p.milli
            else:
                need = p.num
                for j, free in enumerate(g):
                    if need and free == MILLI:
                        g[j], need = 0, need - 1
            if typical:
                frags[n] = frag(cpu[n], g, model[n])
            for changed in stale.values():
                changed.add(n)
            total_used += p.num * p.milli
            chosen.append(priority[n])
        arrived.append(total_arrived)
        used.append(total_used)
    gpus_total = sum(n.gpus for n in nodes)
    return Run(allocation_curve(arrived, used, gpus_total), chosen, failed, total_used)


def tightest(gpus: Sequence[int], milli: int) -> int:
    """The GPU with the least free milli that still fits, lowest index on ties."""
    return min((free, j) for j, free in enumerate(gpus) if free >= milli)[1]


# --- numpy ----------------------------------------------------------------------------------


class TypicalArrays(NamedTuple):
    cpu: IntArray  # (M,)
    milli: IntArray
    num: IntArray
    freq: FloatArray
    gpu_shape: npt.NDArray[np.bool_]  # (M,): asks for GPUs
    access: npt.NDArray[np.bool_]  # (M, models): may use that model

    @classmethod
    def of(cls, typical: Sequence[Typical], models: Sequence[str]) -> TypicalArrays:
        access = [[not t.models or m in t.models for m in models] for t in typical]
        return cls(
            np.array([t.cpu for t in typical], dtype=np.int64),
            np.array([t.milli for t in typical], dtype=np.int64),
            np.array([t.num for t in typical], dtype=np.int64),
            np.array([t.freq for t in typical], dtype=np.float64),
            np.array([t.milli > 0 for t in typical]),
            np.array(access, dtype=bool).reshape(len(typical), len(models)),
        )


def frag_many(cpu: IntArray, gpu: IntArray, model: IntArray, t: TypicalArrays) -> FloatArray:
    """F of K node states at once: ``cpu`` (K,), ``gpu`` (K, 8) free milli, ``model`` (K,)."""
    total = gpu.sum(axis=1)
    fits = gpu[:, None, :] >= t.milli[None, :, None]  # (K, M, 8)
    small = np.where(fits, 0, gpu[:, None, :]).sum(axis=2)
    gpu_ok = fits.sum(axis=2) >= t.num
    cpu_ok = cpu[:, None] >= t.cpu
    access = t.access[:, model].T
    slot = np.where(cpu_ok, Q2_LACK_GPU, np.where(gpu_ok, Q4_LACK_CPU, Q1_LACK_BOTH))
    slot = np.where(access, slot, NO_ACCESS)
    slot = np.where(t.gpu_shape, slot, np.where(cpu_ok, XL_SATISFIED, XR_LACK_CPU))
    amount = np.where(t.gpu_shape & access & gpu_ok & cpu_ok, small, total[:, None])
    terms = t.freq * amount
    # Running sums along the typical pods (cumsum adds in order; sum() would pair them up).
    per_slot = np.where(slot[:, :, None] == np.arange(6), terms[:, :, None], 0.0)
    acc = np.cumsum(per_slot, axis=1)[:, -1, :]
    f: FloatArray = acc[:, 0] + acc[:, 1] + acc[:, 2] + acc[:, 3] + acc[:, 4] + acc[:, 5]
    f[total == 0] = 0.0
    return f


def frag_unique(cpu: IntArray, gpu: IntArray, model: IntArray, t: TypicalArrays) -> FloatArray:
    """As :func:`frag_many`, computing each distinct state once (F ignores the GPUs' order)."""
    if len(cpu) < 64:
        return frag_many(cpu, gpu, model, t)
    # A state as two integer keys (free milli < 1024: 10 bits a GPU, sorted), sorted by both.
    g = np.sort(gpu, axis=1)
    high = (cpu * 8 + model) << 30 | g[:, 0] << 20 | g[:, 1] << 10 | g[:, 2]
    low = g[:, 3] << 40 | g[:, 4] << 30 | g[:, 5] << 20 | g[:, 6] << 10 | g[:, 7]
    order = np.lexsort((low, high))
    high, low = high[order], low[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = (high[1:] != high[:-1]) | (low[1:] != low[:-1])
    first = order[new]
    out = np.empty(len(order))
    out[order] = frag_many(cpu[first], gpu[first], model[first], t)[np.cumsum(new) - 1]
    return out


def sigmoid_scores(before: FloatArray, after: FloatArray) -> IntArray:
    return (1.0 / (1.0 + np.exp(-((before - after) / 1000.0))) * 100.0).astype(np.int64)


Scored = tuple[IntArray, IntArray, FloatArray]  # per node: score, GPU, F after placement


class Row:
    """One pod shape's view of the nodes: the model filter, and per node the score, the GPU,
    F after placement (FGD) and the node version they were computed at (0: never)."""

    def __init__(self, count: int, allowed: npt.NDArray[np.bool_] | None) -> None:
        self.allowed = allowed
        self.scores = np.full(count, INFEASIBLE, dtype=np.int64)
        self.gpus = np.zeros(count, dtype=np.int64)
        self.f_after = np.zeros(count)
        self.seen = np.zeros(count, dtype=np.int64)


def replay_numpy(
    nodes: Sequence[Node],
    pods: Sequence[Pod],
    order: Sequence[int],
    priority: Sequence[int],
    policy: str,
) -> Run:
    """As :func:`replay_plain`, with the cluster as arrays over nodes (priority order)."""
    ns = [nodes[i] for i in priority]
    models = sorted({n.model for n in ns})
    cpu = np.array([n.cpu for n in ns], dtype=np.int64)
    mem = np.array([n.mem for n in ns], dtype=np.int64)
    model = np.array([models.index(n.model) for n in ns], dtype=np.int64)
    gpu = np.zeros((len(ns), SLOTS), dtype=np.int64)  # absent GPUs: 0 free, never fit
    for n, node in enumerate(ns):
        gpu[n, : node.gpus] = MILLI
    # Per node: free milli in all, on the freest GPU, and fully free GPUs (for the filter).
    total, freest, full = gpu.sum(axis=1), gpu.max(axis=1), (gpu == MILLI).sum(axis=1)
    version = np.ones(len(ns), dtype=np.int64)
    t = TypicalArrays.of(typical_pods(pods), models) if policy == "fgd" else None
    frags = frag_unique(cpu, gpu, model, t) if t is not None else np.zeros(0)

    def fits(idx: IntArray, p: Pod, allowed: npt.NDArray[np.bool_] | None) -> npt.NDArray[np.bool_]:
        ok = (cpu[idx] >= p.cpu) & (mem[idx] >= p.mem)
        if p.milli:
            if allowed is not None:
                ok &= allowed[idx]
            ok &= freest[idx] >= p.milli if p.share else full[idx] >= p.num
        return ok

    def fgd(idx: IntArray, p: Pod) -> Scored:
        assert t is not None
        g, c, m, before = gpu[idx], cpu[idx] - p.cpu, model[idx], frags[idx]
        if p.share:
            k, j = np.nonzero(g >= p.milli)
            after = g[k]
            after[np.arange(len(k)), j] -= p.milli
            f_after = frag_unique(c[k], after, m[k], t)
            per_gpu = np.full(g.shape, -1, dtype=np.int64)
            per_gpu[k, j] = sigmoid_scores(before[k], f_after)
            best = per_gpu.max(axis=1)
            first = (per_gpu == best[:, None]).argmax(axis=1)
            f_at = np.zeros(g.shape)
            f_at[k, j] = f_after
            return best, first, f_at[np.arange(len(idx)), first]
        after = g.copy()
        if p.milli:
            free = after == MILLI
            after[free & (np.cumsum(free, axis=1) <= p.num)] = 0
        f_after = frag_unique(c, after, m, t)
        return sigmoid_scores(before, f_after), np.zeros(len(idx), np.int64), f_after

    def best_fit(idx: IntArray, p: Pod) -> Scored:
        s = (cpu[idx] - p.cpu) / MAX_SPEC_CPU * 0.5 + (
            total[idx] - p.num * p.milli
        ) / MAX_SPEC_GPU * 0.5
        return ((1.0 - s) * 100.0).astype(np.int64), np.zeros(0, np.int64), np.zeros(0)

    rows: dict[tuple[int, int, int, int, tuple[str, ...]], Row] = {}
    arrived: list[int] = []
    used: list[int] = []
    chosen: list[int | None] = []
    total_arrived = total_used = failed = 0
    for i in order:
        p = pods[i]
        shape = (p.cpu, p.mem, p.num, p.milli, p.models)
        row = rows.get(shape)
        if row is None:
            allowed = np.isin(model, [models.index(m) for m in p.models if m in models])
            row = rows[shape] = Row(len(ns), allowed if p.models else None)
        stale = np.flatnonzero(row.seen != version)
        if len(stale):
            row.seen[stale] = version[stale]
            ok = fits(stale, p, row.allowed)
            row.scores[stale[~ok]] = INFEASIBLE
            fresh = stale[ok]
            if t is None:
                row.scores[fresh] = best_fit(fresh, p)[0]
            elif len(fresh):
                row.scores[fresh], row.gpus[fresh], row.f_after[fresh] = fgd(fresh, p)
        n = int(row.scores.argmax())
        total_arrived += p.num * p.milli
        if row.scores[n] == INFEASIBLE:
            failed += 1
            chosen.append(None)
        else:
            cpu[n] -= p.cpu
            mem[n] -= p.mem
            g = gpu[n]
            if p.share:
                j = (
                    int(row.gpus[n])
                    if t is not None
                    else int(np.where(g >= p.milli, g, 2 * MILLI).argmin())
                )
                g[j] -= p.milli
            elif p.milli:
                g[np.flatnonzero(g == MILLI)[: p.num]] = 0
            if p.milli:
                total[n], freest[n], full[n] = g.sum(), g.max(), (g == MILLI).sum()
            if t is not None:
                frags[n] = row.f_after[n]  # the node's state is the one scored
            version[n] += 1
            total_used += p.num * p.milli
            chosen.append(priority[n])
        arrived.append(total_arrived)
        used.append(total_used)
    gpus_total = sum(n.gpus for n in nodes)
    return Run(allocation_curve(arrived, used, gpus_total), chosen, failed, total_used)


REPLAYS = {"plain": replay_plain, "numpy": replay_numpy}


def run(
    kind: str,
    trace: Any,
    nodes: Sequence[Node],
    pods: Sequence[Pod],
    policy: str,
    seed: int,
    tune_ratio: float | None = None,
) -> Run:
    """One replay by the ``kind`` peer (``plain`` or ``numpy``), from the draws of ``trace``
    (a ``topoplace.replay.ReplayTrace`` of the same two files)."""
    order, priority = arrivals(trace, seed, tune_ratio=tune_ratio)
    return REPLAYS[kind](nodes, pods, order, priority, policy)


def main(argv: Sequence[str]) -> int:
    policy = argv[0] if argv else "fgd"
    kind = argv[1] if len(argv) > 1 else "numpy"
    seed = int(argv[2]) if len(argv) > 2 else 42
    folder = Path(__file__).parents[2] / "shared" / "traces" / "alibaba-gpu-2023"
    node_csv, pod_csv = (
        folder / "openb_node_list_gpu_node.csv",
        folder / "openb_pod_list_default.csv",
    )
    trace = load_trace(node_csv, pod_csv)
    nodes, pods = read_nodes(node_csv), read_pods(pod_csv)
    start = time.perf_counter()
    r = run(kind, trace, nodes, pods, policy, seed)
    seconds = time.perf_counter() - start
    print(
        f"{policy} {kind} seed {seed}: {r.allocation_ratio[-1]:.2f} % allocated at 130 % "
        f"arrived, {r.pods_failed} pods failed, {seconds:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
