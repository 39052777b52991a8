"""NVIDIA go-gpuallocator's `besteffort` GPU policy, written the way a Python controller author
would port it: plain lists, `itertools.combinations` and a recursive walk over every split.

It is the "plain Python" peer of `topoplace.select_gpus` in `test_bench_gpu_plain.py`;
`test_besteffort_plain_agrees.py` checks it against `select_gpus` and the shared GPU conformance
vectors (`tests/data/conformance/gpu`).

What upstream does, and so what `best_effort` does:

- The available GPUs, in the order given (upstream's allocator passes them by ascending index),
  are padded with empty slots up to a multiple of `size` and split into groups of `size` in every
  way. A group is built from the first GPU left plus each `size - 1` combination of the others
  (lexicographic order); a group must hold no padding or all of it.
- A split counts only if one of its groups has no padding and holds every required GPU. Its score
  is the sum over its groups of their pair scores (padding scores 0). The first split visited
  with the highest score is kept (a later split must score strictly more to replace it).
- Of that split's groups holding every required GPU, the first with the highest group score is
  the answer (again, a later group must score strictly more).
- `size == 1` is special-cased upstream: every GPU is a one-group "split" of score 0, so the
  answer is the first available GPU, or the required one.

Two upstream behaviours are not reproduced, and both lie outside what the tests and benchmarks
here reach:

- With no required GPU, the group holding the padding takes part in the final pick; if it scores
  strictly more than the complete groups before it, upstream returns it with `nil` entries. Here
  only its real GPUs are returned, so the answer is shorter than `size` in that case.
- Upstream builds each split by appending to a Go slice whose spare capacity is shared by
  sibling branches; reading the code, from 7 groups on (2 of 14 GPUs, 2 of 16) the last groups
  of the kept split can be overwritten by later siblings. This port keeps the split it found.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

#: Score of one link label between two GPUs (upstream's `calculateGPUPairScore`); `NVk` scores
#: 100 k. A pair listed with several labels (an NVLink and a PCIe relation) adds them up.
PCIE_SCORES: dict[str, int] = {
    "BOARD": 60,
    "PIX": 50,
    "PXB": 40,
    "PHB": 30,
    "NODE": 20,
    "SYS": 10,
    "SOC": 10,  # what older drivers print for SYS
}

_NVLINK = re.compile(r"NV(\d+)")
_GPU = re.compile(r"GPU(\d+)")

Slot = int | None  # a GPU index, or None for an empty (padding) slot


def label_score(label: str) -> int:
    """The besteffort score of one `nvidia-smi topo -m` label; 0 for labels upstream ignores."""
    if label in PCIE_SCORES:
        return PCIE_SCORES[label]
    nv = _NVLINK.fullmatch(label)
    return 100 * int(nv.group(1)) if nv else 0


def scores_from_links(count: int, links: Sequence[tuple[int, int, str]]) -> list[list[int]]:
    """The pair score matrix of `count` GPUs from `(i, j, label)` links (scores add up)."""
    scores = [[0] * count for _ in range(count)]
    for i, j, label in links:
        scores[i][j] += label_score(label)
        scores[j][i] = scores[i][j]
    return scores


def parse_nvidia_smi(text: str) -> tuple[list[list[str]], list[int | None]]:
    """The GPU-to-GPU labels of an `nvidia-smi topo -m` matrix (row `i`, column `j`; `X` on the
    diagonal) and each GPU's `NUMA Affinity` (None when the column is missing or says N/A)."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = re.split(r"\t|\s{2,}", lines[0].strip())
    columns = [c.strip() for c in header]
    gpu_columns = [c for c in columns if _GPU.fullmatch(c)]
    numa_at = columns.index("NUMA Affinity") if "NUMA Affinity" in columns else None
    labels: list[list[str]] = []
    numa: list[int | None] = []
    for line in lines[1:]:
        cells = [c.strip() for c in line.split("\t")] if "\t" in line else line.split()
        if cells and not cells[0]:
            cells = cells[1:]  # the leading tab of rows in most files
        if not cells or not _GPU.fullmatch(cells[0]):
            continue
        row = cells[1:]
        labels.append(row[: len(gpu_columns)])
        value = row[numa_at] if numa_at is not None and numa_at < len(row) else ""
        numa.append(int(value) if value.isdigit() else None)
    return labels, numa


def nvidia_smi_scores(text: str, *, pcie_for_nvlink: bool = False) -> list[list[int]]:
    """The pair score matrix of an `nvidia-smi topo -m` matrix, one label per pair.

    nvidia-smi prints only the NVLink of an NVLink-joined pair, while NVML (what upstream reads on
    a real node) reports its PCIe relation too. With `pcie_for_nvlink`, such a pair also scores
    NODE when both GPUs have the same `NUMA Affinity` and SYS when they differ (nothing when the
    matrix has no NUMA column).
    """
    labels, numa = parse_nvidia_smi(text)
    count = len(labels)
    scores = [[0] * count for _ in range(count)]
    for i in range(count):
        for j in range(count):
            if i == j:
                continue
            score = label_score(labels[i][j])
            if pcie_for_nvlink and _NVLINK.fullmatch(labels[i][j]):
                a, b = numa[i], numa[j]
                if a is not None and b is not None:
                    score += PCIE_SCORES["NODE"] if a == b else PCIE_SCORES["SYS"]
            scores[i][j] = score
    return scores


def _group_score(scores: Sequence[Sequence[int]], group: Sequence[Slot]) -> int:
    total = 0
    for a, b in itertools.combinations(group, 2):
        if a is not None and b is not None and a != b:
            total += scores[a][b]
    return total


def best_effort(
    scores: list[list[int]], available: list[int], required: list[int], size: int
) -> list[int]:
    """Picks `size` GPUs out of `available` holding all of `required`, by go-gpuallocator's
    besteffort policy. `scores[i][j]` is the pair score of GPUs `i` and `j`. Returns the chosen
    GPUs in visiting order (ascending when `available` is), or `[]` when nothing fits."""
    if size <= 0 or len(available) < size or len(required) > size:
        return []
    if not set(required) <= set(available):
        return []  # no split can have a group holding them (upstream finds none and says [])

    if size == 1:
        # Upstream's shortcut: each GPU alone is a "split" scoring 0; the first that holds the
        # required GPUs (if any) is kept.
        for gpu in available:
            if set(required) <= {gpu}:
                return [gpu]
        return []

    need = set(required)
    slots: list[Slot] = [*available, *([None] * (-len(available) % size))]
    padding = len(slots) - len(available)

    best: list[tuple[Slot, ...]] | None = None
    best_score = 0

    def visit(rest: list[Slot], groups: list[tuple[Slot, ...]], total: int, valid: bool) -> None:
        nonlocal best, best_score
        if len(rest) == size:
            last = tuple(rest)
            if not valid and None not in last and need <= set(last):
                valid = True
            if not valid:
                return
            total += _group_score(scores, last)
            if best is None or total > best_score:
                best, best_score = [*groups, last], total
            return
        first, others = rest[0], rest[1:]
        for combo in itertools.combinations(others, size - 1):
            group = (first, *combo)
            empty = group.count(None)
            if empty not in (0, padding):
                continue
            members = set(group)
            left = [gpu for gpu in rest if gpu not in members]
            complete_with_all = empty == 0 and need <= members
            visit(
                left,
                [*groups, group],
                total + _group_score(scores, group),
                valid or complete_with_all,
            )

    visit(slots, [], 0, False)
    if best is None:
        return []

    pick: tuple[Slot, ...] | None = None
    pick_score = 0
    for group in best:
        if not need <= set(group):
            continue
        score = _group_score(scores, group)
        if pick is None or score > pick_score:
            pick, pick_score = group, score
    if pick is None:
        return []
    return [gpu for gpu in pick if gpu is not None]
