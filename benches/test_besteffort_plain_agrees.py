"""The plain-Python besteffort port (`besteffort_plain.py`) must give go-gpuallocator's answers,
and the same answers as `topoplace.select_gpus`, before its timings mean anything:

- the `besteffort` cases of the shared GPU conformance vectors (`tests/data/conformance/gpu`):
  the port must return upstream's own answer (`reference_result`), `select_gpus` one of the
  accepted ones (`expected`), and both the same;
- the DGX-1 matrix with all 8 GPUs free and with some taken, every size, with and without a
  required GPU;
- the other NVIDIA `nvidia-smi topo -m` matrices in `tests/data/nvidia-smi`.

The port reads its pair scores from the matrix text (`nvidia_smi_scores`); `topoplace` computes
its own from the parsed topology. Both are compared first, so a wrong answer points at the search,
not at the scores. topoplace has no pair-score accessor: its score of a pair is read as the
`score` of `select_gpus(topo, 2, available=[i, j])`.

nvidia-smi prints one label per pair, the NVLink when there is one; topoplace, like NVML on a real
node, also scores an NVLink pair's PCIe relation (NODE or SYS from the `NUMA Affinity` column).
The port is given the same (`pcie_for_nvlink=True`). With the labels alone, the all-NV12 A100 and
all-NV18 H100 matrices tie everywhere, and the answers then differ from topoplace's on many
partial requests: a scoring difference, checked in `test_nvswitch_pairs_add_their_pcie_relation`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

from besteffort_plain import (  # noqa: E402
    best_effort,
    nvidia_smi_scores,
    parse_nvidia_smi,
    scores_from_links,
)

from topoplace import Topology, load, select_gpus  # noqa: E402

DATA = Path(__file__).parent.parent / "tests" / "data"
SMI = DATA / "nvidia-smi"
VECTORS = DATA / "conformance" / "gpu"
DGX1 = "dgx-1v-nvlink-4nic"

#: The NVIDIA matrices (the AMD file is `rocm-smi` output: XGMI has no besteffort score).
SMI_FILES = [
    DGX1,
    "dgx-a100-12nic-nps4",
    "hgx-8x-h100-sxm-xeon8480-11nic",
    "server-8x-rtx4090-2nic",
    "asus-esc8000a-e12-4x-rtx6000ada-cx7",
]


def _load_json(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return doc


def _topoplace_scores(topo: Topology) -> list[list[int]]:
    return [[int(v) for v in row] for row in topo.gpu_pair_scores()]


def _topoplace_pick(
    topo: Topology, size: int, available: list[int], required: list[int]
) -> list[int]:
    got = select_gpus(topo, size, available=available, required=required)
    return [] if got is None else got["indices"]


def _plain_pick(
    scores: list[list[int]], size: int, available: list[int], required: list[int]
) -> list[int]:
    # go-gpuallocator's allocator hands the policy the free GPUs by ascending index.
    return sorted(best_effort(scores, sorted(available), required, size))


class _Machine:
    def __init__(self, name: str) -> None:
        path = SMI / f"{name}.txt"
        self.topo = load(path)
        self.scores = nvidia_smi_scores(path.read_text(), pcie_for_nvlink=True)
        self.labels_only = nvidia_smi_scores(path.read_text())


_MACHINES: dict[str, _Machine] = {}


def _machine(name: str) -> _Machine:
    if name not in _MACHINES:
        _MACHINES[name] = _Machine(name)
    return _MACHINES[name]


# --- pair scores ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SMI_FILES)
def test_pair_scores_match_topoplace(name: str) -> None:
    m = _machine(name)
    assert [g.name for g in m.topo.gpus] == [f"GPU{i}" for i in range(len(m.scores))]
    assert _topoplace_scores(m.topo) == m.scores


def test_dgx1_pair_scores_are_the_labels() -> None:
    m = _machine(DGX1)
    # No NUMA column: nothing is added to NVLink pairs; NV2 = 200, NV1 = 100, SYS = 10.
    assert m.scores == m.labels_only
    assert m.scores[0] == [0, 100, 100, 200, 200, 10, 10, 10]
    assert m.scores[7] == [10, 10, 10, 100, 200, 100, 200, 0]


def test_nvswitch_pairs_add_their_pcie_relation() -> None:
    # nvidia-smi shows NV12 for every A100 pair; NVML (what upstream reads) adds the PCIe
    # relation: NODE inside a NUMA node (GPU0, GPU1 on node 3), SYS across (GPU0 / GPU2).
    m = _machine("dgx-a100-12nic-nps4")
    assert m.labels_only[0][1] == m.labels_only[0][2] == 1200
    assert (m.scores[0][1], m.scores[0][2]) == (1220, 1210)


# --- DGX-1 ------------------------------------------------------------------------------------

# The port's answers, checked by hand for 2 (0-3 is NV2; the best split into pairs scores 800,
# first reached with 0-3) and 4 (the two NVLinked quads).
DGX1_ALL_FREE = {
    1: [0],
    2: [0, 3],
    3: [0, 2, 3],
    4: [0, 1, 2, 3],
    5: [0, 1, 2, 3, 4],
    6: [0, 1, 2, 3, 4, 5],
    7: [0, 1, 2, 3, 4, 5, 6],
    8: [0, 1, 2, 3, 4, 5, 6, 7],
}


@pytest.mark.parametrize("size", sorted(DGX1_ALL_FREE))
def test_dgx1_all_free(size: int) -> None:
    m = _machine(DGX1)
    everything = list(range(8))
    plain = _plain_pick(m.scores, size, everything, [])
    assert plain == DGX1_ALL_FREE[size]
    assert _topoplace_pick(m.topo, size, everything, []) == plain


def _digits(gpus: tuple[int, ...]) -> str:
    return "".join(map(str, gpus)) or "-"


DGX1_TAKEN = [(0,), (1, 4), (0, 5, 6), (2, 3, 7), (0, 1, 2, 3), (1, 2, 3, 4, 7)]
DGX1_REQUESTS = [
    (taken, size, required)
    for taken in DGX1_TAKEN
    for size in range(1, 9 - len(taken))
    for required in ((), (max(set(range(8)) - set(taken)),))
]


@pytest.mark.parametrize(
    ("taken", "size", "required"),
    DGX1_REQUESTS,
    ids=[f"taken{_digits(t)}-size{s}-req{_digits(r)}" for t, s, r in DGX1_REQUESTS],
)
def test_dgx1_some_taken(taken: tuple[int, ...], size: int, required: tuple[int, ...]) -> None:
    m = _machine(DGX1)
    free = [g for g in range(8) if g not in taken]
    plain = _plain_pick(m.scores, size, free, list(required))
    assert len(plain) == size and set(plain) <= set(free) and set(required) <= set(plain)
    assert _topoplace_pick(m.topo, size, free, list(required)) == plain


def test_dgx1_known_answers_with_gpus_taken() -> None:
    m = _machine(DGX1)
    # 0, 5, 6 taken: the NVLinked triangle 1-2-3 (plus 7, NV1 to 3) beats anything with 4.
    assert _plain_pick(m.scores, 4, [1, 2, 3, 4, 7], []) == [1, 2, 3, 7]
    # 2, 3, 7 taken, 3 GPUs: upstream keeps 0-4 (NV2) together for the next request.
    assert _plain_pick(m.scores, 3, [0, 1, 4, 5, 6], []) == [1, 5, 6]
    # A required GPU that is not free, or more required GPUs than the size: nothing.
    assert _plain_pick(m.scores, 2, [1, 2, 3], [0]) == []
    assert _plain_pick(m.scores, 1, list(range(8)), [0, 1]) == []
    assert _topoplace_pick(m.topo, 2, [1, 2, 3], [0]) == []


# --- the other nvidia-smi matrices --------------------------------------------------------------


def _gpu_count(name: str) -> int:
    return len(parse_nvidia_smi((SMI / f"{name}.txt").read_text())[0])


# Every size up to the free count, plus one more (no answer on either side).
SMI_REQUESTS = [
    (name, taken, size)
    for name in SMI_FILES[1:]
    for taken in ((), (0,), (1, 2, 5))
    if max(taken, default=0) < _gpu_count(name)
    for size in range(1, _gpu_count(name) - len(taken) + 2)
]


@pytest.mark.parametrize(
    ("name", "taken", "size"),
    SMI_REQUESTS,
    ids=[f"{n}-taken{_digits(t)}-size{s}" for n, t, s in SMI_REQUESTS],
)
def test_nvidia_smi_matrices(name: str, taken: tuple[int, ...], size: int) -> None:
    m = _machine(name)
    count = len(m.scores)
    free = [g for g in range(count) if g not in taken]
    plain = _plain_pick(m.scores, size, free, [])
    assert len(plain) == (size if size <= len(free) else 0)
    assert _topoplace_pick(m.topo, size, free, []) == plain


# --- conformance vectors ------------------------------------------------------------------------

_LINK_CLASS = {"PIX": "pix", "PXB": "pxb", "PHB": "phb", "NODE": "node", "SYS": "sys"}
TOPOLOGIES = {t["name"]: t for t in _load_json("topologies.json")["topologies"]}
CASES = [
    c
    for c in _load_json("cases.json")["cases"]
    if c["policy"] == "besteffort" and len(TOPOLOGIES[c["topology"]]["gpus"]) <= 10
]
_CONFORMANCE: dict[str, tuple[Topology, list[list[int]]]] = {}


def _topology_from_labels(name: str, count: int, labels: list[tuple[int, int, str]]) -> Topology:
    """A GPU-only topoplace topology whose pairs carry the given labels (several per pair add
    up, as in the vectors' topologies); pairs without a label score 0 on both sides."""
    links: list[dict[str, Any]] = []
    for i, j, label in labels:
        if label.startswith("NV"):
            links.append({"a": i, "b": j, "class": "nv-link", "count": int(label[2:])})
        else:
            links.append({"a": i, "b": j, "class": _LINK_CLASS[label], "count": 0})
    doc = {
        "name": name,
        "source": "labels",
        "devices": [{"kind": "gpu", "name": f"GPU{g}"} for g in range(count)],
        "links": links,
    }
    topo = Topology.from_json(json.dumps(doc))
    assert _topoplace_scores(topo) == scores_from_links(count, labels)
    return topo


def _conformance_machine(name: str) -> tuple[Topology, list[list[int]]]:
    """The vectors' topology for `select_gpus`, and as a score matrix for the port."""
    if name not in _CONFORMANCE:
        spec = TOPOLOGIES[name]
        assert [g["index"] for g in spec["gpus"]] == list(range(len(spec["gpus"])))
        labels = [(i, j, label) for i, j, label in spec["links"]]
        count = len(spec["gpus"])
        _CONFORMANCE[name] = (
            _topology_from_labels(name, count, labels),
            scores_from_links(count, labels),
        )
    return _CONFORMANCE[name]


def test_there_are_cases() -> None:
    assert len(CASES) == 75
    assert {c["topology"] for c in CASES} == {"dgx1-volta", "dgx1-pascal", "4x-rtx8000"}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_conformance_besteffort(case: dict[str, Any]) -> None:
    topo, scores = _conformance_machine(case["topology"])
    available, required, size = case["available"], case["required"], case["size"]
    plain = _plain_pick(scores, size, available, required)
    assert plain == (case["reference_result"] if case["feasible"] else [])
    ours = _topoplace_pick(topo, size, available, required)
    if case["feasible"]:
        assert ours in case["expected"]
    assert ours == plain


# --- padding ------------------------------------------------------------------------------------


def test_padding_stays_in_one_group() -> None:
    # 7 GPUs in groups of 3: two empty slots, which upstream keeps in one group. 0, 1, 2 are
    # PIX to each other, 3-4 and 5-6 are NV4 pairs, the rest SYS. Spreading the padding
    # ({0,1,2}, {3,4,-}, {5,6,-}: 950) would beat every allowed split ({0,3,4}, {1,5,6}, {2,-,-}:
    # 840), and would answer the 2-GPU group {3,4}.
    strong = {(0, 1): "PIX", (0, 2): "PIX", (1, 2): "PIX", (3, 4): "NV4", (5, 6): "NV4"}
    labels = [(i, j, strong.get((i, j), "SYS")) for i in range(7) for j in range(i + 1, 7)]
    topo = _topology_from_labels("padding", 7, labels)
    scores = scores_from_links(7, labels)
    everything = list(range(7))
    assert _plain_pick(scores, 3, everything, []) == [0, 3, 4]
    assert _topoplace_pick(topo, 3, everything, []) == [0, 3, 4]
    # GPU 2 required: it may not sit in the padded group, so {1,-,-} takes the empty slots.
    for required, answer in (([2], [2, 5, 6]), ([3, 5], [3, 4, 5])):
        assert _plain_pick(scores, 3, everything, required) == answer
        assert _topoplace_pick(topo, 3, everything, required) == answer


# --- random topologies (hypothesis) ----------------------------------------------------------

_LABELS = ["NV1", "NV2", "NV4", "PIX", "PXB", "PHB", "NODE", "SYS"]


@st.composite
def _random_requests(
    draw: st.DrawFn,
) -> tuple[int, list[tuple[int, int, str]], list[int], list[int], int]:
    count = draw(st.integers(min_value=2, max_value=10))
    labels = [
        (i, j, draw(st.sampled_from(_LABELS))) for i in range(count) for j in range(i + 1, count)
    ]
    available = draw(st.lists(st.integers(0, count - 1), min_size=1, unique=True).map(sorted))
    size = draw(st.integers(min_value=1, max_value=min(len(available), 5)))
    required = draw(
        st.lists(st.sampled_from(available), max_size=min(size, 2), unique=True).map(sorted)
    )
    return count, labels, available, required, size


@settings(max_examples=80, deadline=None)
@given(_random_requests())
def test_random_topologies_agree_with_the_exhaustive_port(
    request: tuple[int, list[tuple[int, int, str]], list[int], list[int], int],
) -> None:
    """Up to 10 GPUs with random link labels: topoplace's pruned search answers exactly what the
    port's enumeration of every split answers (same set, upstream's tie-breaking)."""
    count, labels, available, required, size = request
    topo = _topology_from_labels("random", count, labels)
    scores = scores_from_links(count, labels)
    assert _topoplace_pick(topo, size, available, required) == _plain_pick(
        scores, size, available, required
    )
