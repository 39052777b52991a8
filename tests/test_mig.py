"""MIG placement: the built-in tables, the documented choices, errors, and a brute-force oracle.

The oracle below is written from the rule in the module documentation of
``topoplace_core::node::mig`` and shares no code with it: the number of still-placeable
instances of a profile is found by trying every subset of its allowed starts (the core uses a
greedy pass), and the choice is the minimum of the documented key over every (GPU, start).
"""

from __future__ import annotations

import functools
import itertools
import json
import pickle
import random
from collections.abc import Callable, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topoplace import InvalidValueError, MigGeometry, MigProfile, TopoplaceError

Row = tuple[int, str, int, list[int], int | None]

# (id, name, size, starts, max_instances) as in the NVIDIA MIG User Guide, "Supported MIG
# Profiles" (A100-SXM4-40GB; A100/H100 80GB with the 1g.10gb+me and 1g.20gb profiles).
A100_40GB: list[Row] = [
    (19, "1g.5gb", 1, [0, 1, 2, 3, 4, 5, 6], None),
    (14, "2g.10gb", 2, [0, 2, 4], None),
    (9, "3g.20gb", 4, [0, 4], None),
    (5, "4g.20gb", 4, [0], None),
    (0, "7g.40gb", 8, [0], None),
]
X80GB: list[Row] = [
    (19, "1g.10gb", 1, [0, 1, 2, 3, 4, 5, 6], None),
    (20, "1g.10gb+me", 1, [0, 1, 2, 3, 4, 5, 6], 1),
    (15, "1g.20gb", 2, [0, 2, 4, 6], None),
    (14, "2g.20gb", 2, [0, 2, 4], None),
    (9, "3g.40gb", 4, [0, 4], None),
    (5, "4g.40gb", 4, [0], None),
    (0, "7g.80gb", 8, [0], None),
]
TABLES: dict[str, list[Row]] = {"a100-40gb": A100_40GB, "a100-80gb": X80GB, "h100-80gb": X80GB}

Occupied = list[tuple[int, int]]


# --------------------------------------------------------------------------------------------
# The oracle


@functools.cache
def _table(name: str) -> tuple[tuple[int, int, tuple[int, ...], int | None], ...]:
    """(id, size, starts, max_instances) per profile, from the test's own copy of the table."""
    return tuple((pid, size, tuple(starts), mx) for pid, _, size, starts, mx in TABLES[name])


def _mask(size: int, start: int) -> int:
    return ((1 << size) - 1) << start


@functools.cache
def _order(name: str) -> tuple[int, ...]:
    """Profile ids largest first: size descending, fewer allowed starts first, then id."""
    rows = sorted(_table(name), key=lambda r: (-r[1], len(r[2]), r[0]))
    return tuple(r[0] for r in rows)


@functools.cache
def _most_placeable(size: int, starts: tuple[int, ...], used: int) -> int:
    """The largest set of pairwise disjoint allowed placements on free slices (every subset)."""
    free = [s for s in starts if _mask(size, s) & used == 0]
    for k in range(len(free), 0, -1):
        for combo in itertools.combinations(free, k):
            masks = [_mask(size, s) for s in combo]
            if sum(masks) == functools.reduce(lambda a, b: a | b, masks):
                return k
    return 0


def _used(name: str, occ: Occupied) -> int:
    sizes = {pid: size for pid, size, _, _ in _table(name)}
    used = 0
    for pid, start in occ:
        used |= _mask(sizes[pid], start)
    return used


def _counts(name: str, occ: Occupied) -> tuple[int, ...]:
    """For each profile, largest first: how many instances of it alone could still be placed."""
    rows = {r[0]: r for r in _table(name)}
    used = _used(name, occ)
    out = []
    for pid in _order(name):
        _, size, starts, mx = rows[pid]
        n = _most_placeable(size, starts, used)
        if mx is not None:
            n = min(n, mx - sum(1 for p, _ in occ if p == pid))
        out.append(n)
    return tuple(out)


def _feasible(name: str, occ: Occupied, pid: int) -> list[int]:
    rows = {r[0]: r for r in _table(name)}
    _, size, starts, mx = rows[pid]
    if mx is not None and sum(1 for p, _ in occ if p == pid) >= mx:
        return []
    used = _used(name, occ)
    return sorted(s for s in starts if _mask(size, s) & used == 0)


def _oracle_gpu(name: str, gpus: Sequence[Occupied], pid: int) -> tuple[int, int] | None:
    """Minimum over every feasible (GPU, start) of (loss, -occupied slices, GPU, start)."""
    best: tuple[tuple[int, ...], int, int, int] | None = None
    for g, occ in enumerate(gpus):
        before = _counts(name, occ)
        used = bin(_used(name, occ)).count("1")
        for s in _feasible(name, occ, pid):
            after = _counts(name, [*occ, (pid, s)])
            loss = tuple(b - a for b, a in zip(before, after, strict=True))
            assert min(loss) >= 0, (occ, pid, s, before, after)
            key = (loss, -used, g, s)
            if best is None or key < best:
                best = key
    return None if best is None else (best[2], best[3])


def _check_invariants(name: str, gpus: Sequence[Occupied]) -> None:
    rows = {r[0]: r for r in _table(name)}
    for occ in gpus:
        used = 0
        for pid, start in occ:
            _, size, starts, _ = rows[pid]
            assert start in starts
            assert used & _mask(size, start) == 0, occ
            used |= _mask(size, start)
        for pid, _, _, mx in rows.values():
            if mx is not None:
                assert sum(1 for p, _ in occ if p == pid) <= mx


def _lowest_first(name: str, gpus: Sequence[Occupied], pid: int) -> tuple[int, int] | None:
    """The baseline: the lowest GPU index, then the lowest feasible start."""
    for g, occ in enumerate(gpus):
        starts = _feasible(name, occ, pid)
        if starts:
            return g, starts[0]
    return None


# --------------------------------------------------------------------------------------------
# Tables, constructors, pickling


@pytest.mark.parametrize("name", sorted(TABLES))
def test_builtin_tables(name: str) -> None:
    geom = MigGeometry.builtin(name)
    assert geom.memory_slices == 8 and geom.compute_slices == 7
    got = [(p.id, p.name, p.size, p.starts, p.max_instances) for p in geom.profiles]
    assert got == TABLES[name]
    assert geom.profile("1g.10gb+me" if name != "a100-40gb" else "1g.5gb").size == 1
    assert geom.profile(0).name.startswith("7g.")
    assert pickle.loads(pickle.dumps(geom)) == geom
    assert all(pickle.loads(pickle.dumps(p)) == p for p in geom.profiles)
    assert repr(geom).startswith("MigGeometry(memory_slices=8")


def test_builtin_names_and_equality() -> None:
    assert MigGeometry.builtin_names() == ["a100-40gb", "a100-80gb", "h100-80gb"]
    assert MigGeometry.builtin("a100-80gb") == MigGeometry.builtin("h100-80gb")
    assert MigGeometry.builtin("a100-40gb") != MigGeometry.builtin("h100-80gb")
    assert type(MigGeometry.builtin("a100-40gb")).__module__ == "topoplace"


def test_from_json_and_parts_match_builtin() -> None:
    doc = {
        "memory_slices": 8,
        "compute_slices": 7,
        "profiles": [
            {"id": i, "name": n, "size": s, "starts": st_, "max_instances": m}
            for i, n, s, st_, m in X80GB
        ],
    }
    text = json.dumps(doc)
    assert MigGeometry.from_json(text) == MigGeometry.builtin("h100-80gb")
    assert MigGeometry.from_json(text.encode()) == MigGeometry.builtin("h100-80gb")
    parts = MigGeometry(8, 7, [MigProfile(*row) for row in A100_40GB])
    assert parts == MigGeometry.builtin("a100-40gb")


# --------------------------------------------------------------------------------------------
# The documented choices


def test_a100_40gb_small_instance_keeps_3g_and_4g() -> None:
    geom = MigGeometry.builtin("a100-40gb")
    assert geom.feasible_starts([], "1g.5gb") == [0, 1, 2, 3, 4, 5, 6]
    # Lowest-index-first would put it at 0 and block the 4g.20gb (only start 0).
    assert geom.feasible_starts([("1g.5gb", 0)], "4g.20gb") == []
    assert geom.choose_start([], "1g.5gb") == 6
    assert geom.choose_start([], 19) == 6
    after = [("1g.5gb", 6)]
    assert geom.feasible_starts(after, "4g.20gb") == [0]
    assert geom.feasible_starts(after, "3g.20gb") == [0]
    assert geom.choose_start(after, "1g.5gb") == 4
    assert geom.choose_start([(19, 6), (19, 4)], "1g.5gb") == 5
    assert geom.choose_start([], "2g.10gb") == 4
    assert geom.choose_start([], "3g.20gb") == 4
    assert geom.choose_start([], "7g.40gb") == 0
    assert geom.choose_start([("1g.5gb", 0)], "7g.40gb") is None
    # The brute-force oracle agrees on each of them.
    assert _oracle_gpu("a100-40gb", [[]], 19) == (0, 6)


def test_80gb_me_profile_and_limit() -> None:
    geom = MigGeometry.builtin("h100-80gb")
    occ: list[tuple[int | str, int]] = [("1g.10gb", 0), ("1g.10gb", 1), ("1g.10gb", 5)]
    assert geom.feasible_starts(occ, "1g.10gb+me") == [2, 3, 4, 6]
    assert geom.choose_start(occ, "1g.10gb+me") == 4
    assert geom.choose_start(occ, "2g.20gb") == 2
    assert geom.feasible_starts([("1g.10gb+me", 3)], "1g.10gb+me") == []
    assert geom.choose_start([("1g.10gb+me", 3)], 20) is None


def test_choose_gpu_documented_cases() -> None:
    geom = MigGeometry.builtin("a100-40gb")
    # A split GPU takes the small instance; whole GPUs stay whole.
    assert geom.choose_gpu([[], [("3g.20gb", 0)], []], "1g.5gb") == (1, 6)
    assert geom.choose_gpu([[], [("4g.20gb", 0), ("3g.20gb", 4)]], "3g.20gb") == (0, 4)
    # Equal loss: the fuller GPU; equal everything: the lowest index.
    gpus: list[list[tuple[int | str, int]]] = [
        [(19, 6), (19, 4)],
        [(19, 6), (19, 4), (14, 0)],
    ]
    assert geom.choose_gpu(gpus, 19) == (1, 5)
    assert geom.choose_gpu([[], []], 19) == (0, 6)
    assert geom.choose_gpu([], 19) is None
    assert geom.choose_gpu([[(0, 0)], [(0, 0)]], 19) is None


# --------------------------------------------------------------------------------------------
# Errors


def _raises(fn: Callable[[], object], *fragments: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        fn()
    assert isinstance(info.value, ValueError) and isinstance(info.value, TopoplaceError)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_errors_name_what_is_wrong() -> None:
    geom = MigGeometry.builtin("a100-40gb")
    _raises(lambda: MigGeometry.builtin("v100-16gb"), "v100-16gb", "a100-40gb")
    _raises(lambda: geom.choose_start([], "3g.40gb"), '"3g.40gb"', "3g.20gb")
    _raises(lambda: geom.choose_start([], 42), "42")
    _raises(lambda: geom.feasible_starts([], -1), "-1")
    _raises(lambda: geom.choose_start([], 1.5), "1.5")  # type: ignore[arg-type]
    _raises(lambda: geom.profile("1g.10gb"), "1g.10gb")
    _raises(lambda: geom.profile(7), "7")
    # Occupied states: unknown profile, disallowed start, overlap, negative start.
    _raises(lambda: geom.choose_start([("9g.1gb", 0)], 19), "9g.1gb")
    _raises(lambda: geom.choose_start([(42, 0)], 19), "42")
    _raises(lambda: geom.feasible_starts([("3g.20gb", 2)], 19), "3g.20gb", "slice 2", "allowed")
    _raises(lambda: geom.choose_start([("3g.20gb", 0), ("1g.5gb", 3)], 19), "overlaps")
    _raises(lambda: geom.choose_gpu([[], [("2g.10gb", 0), ("2g.10gb", 0)]], 19), "overlaps")
    _raises(lambda: geom.choose_start([(19, -2)], 19), "-2")
    h100 = MigGeometry.builtin("h100-80gb")
    _raises(lambda: h100.choose_start([(20, 0), (20, 1)], 19), "limit is 1")
    # Geometry tables.
    _raises(lambda: MigGeometry.from_json("{"), "JSON")
    _raises(lambda: MigGeometry.from_json("{}"), "memory_slices")
    _raises(
        lambda: MigGeometry.from_json(
            '{"memory_slices": 8, "compute_slices": 7, "profiles": [{"id": 1, "name": "x"}]}'
        ),
        "profiles[0].size",
    )
    _raises(lambda: MigGeometry(8, 7, [MigProfile(1, "x", 4, [6])]), "start 6")
    _raises(lambda: MigGeometry(8, 7, [MigProfile(1, "x", 1, [0]), MigProfile(1, "y", 1, [1])]))
    twins = MigGeometry(8, 7, [MigProfile(1, "x", 1, [0]), MigProfile(2, "x", 2, [0])])
    _raises(lambda: twins.choose_start([], "x"), "ambiguous")
    assert twins.choose_start([], 2) == 0


# --------------------------------------------------------------------------------------------
# Property test against the oracle

N_GPUS = 8

# A step: ("req", profile index in the table) or ("rel", which live instance, as a fraction).
step = st.one_of(
    st.tuples(st.just("req"), st.integers(0, 6)),
    st.tuples(st.just("rel"), st.floats(0, 1, exclude_max=True)),
)


@pytest.mark.parametrize("name", sorted(TABLES))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=70))
def test_choose_gpu_matches_brute_force(name: str, steps: list[tuple[str, float]]) -> None:
    geom = MigGeometry.builtin(name)
    table = TABLES[name]
    gpus: list[Occupied] = [[] for _ in range(N_GPUS)]
    for kind, arg in steps:
        live = [(g, i) for g, occ in enumerate(gpus) for i in range(len(occ))]
        if kind == "rel":
            if live:
                g, i = live[int(arg * len(live))]
                del gpus[g][i]
            continue
        pid = table[int(arg) % len(table)][0]
        got = geom.choose_gpu(gpus, pid)
        assert got == _oracle_gpu(name, gpus, pid)
        any_feasible = any(_feasible(name, occ, pid) for occ in gpus)
        assert (got is None) == (not any_feasible)
        # Single-GPU calls agree with the oracle restricted to that GPU.
        for occ in gpus[:2]:
            assert geom.feasible_starts(occ, pid) == _feasible(name, occ, pid)
            one = _oracle_gpu(name, [occ], pid)
            assert geom.choose_start(occ, pid) == (None if one is None else one[1])
        if got is not None:
            g, s = got
            assert s in _feasible(name, gpus[g], pid)
            gpus[g].append((pid, s))
        _check_invariants(name, gpus)


# --------------------------------------------------------------------------------------------
# Against lowest-index-first


def _weights(name: str) -> list[tuple[int, float]]:
    """Mostly small instances, some large: the mix of a shared inference cluster."""
    by_size = {1: 0.45, 2: 0.3, 4: 0.15, 8: 0.1}
    rows = TABLES[name]
    per_size = {s: sum(1 for r in rows if r[2] == s) for s in by_size}
    return [(pid, by_size[size] / per_size[size]) for pid, _, size, _, _ in rows]


def _run_stream(name: str, seed: int, n: int, churn: float) -> dict[str, int]:
    """One request stream on two clusters of 8 GPUs: topoplace's choice and lowest-first.

    With ``churn`` > 0, a step may instead release a random earlier request, from whichever
    cluster holds it. Returns the placed counts and the one-sided refusals.
    """
    geom = MigGeometry.builtin(name)
    rng = random.Random(seed)
    pids, weights = zip(*_weights(name), strict=True)
    clusters: dict[str, list[list[tuple[int, int, int]]]] = {
        "topoplace": [[] for _ in range(N_GPUS)],
        "lowest": [[] for _ in range(N_GPUS)],
    }
    stats = dict.fromkeys(["requests", "topoplace", "lowest", "lowest_refused_topoplace_placed"], 0)
    stats["topoplace_refused_lowest_placed"] = 0
    for req in range(n):
        if churn and req > 0 and rng.random() < churn:
            victim = rng.randrange(req)
            for gpus in clusters.values():
                for occ in gpus:
                    occ[:] = [x for x in occ if x[2] != victim]
            continue
        pid = rng.choices(pids, weights)[0]
        stats["requests"] += 1
        placed = {}
        for key, gpus in clusters.items():
            plain = [[(p, s) for p, s, _ in occ] for occ in gpus]
            if key == "topoplace":
                got = geom.choose_gpu(plain, pid)
            else:
                got = _lowest_first(name, plain, pid)
            placed[key] = got is not None
            if got is not None:
                stats[key] += 1
                gpus[got[0]].append((pid, got[1], req))
            _check_invariants(name, [[(p, s) for p, s, _ in occ] for occ in gpus])
        if placed["topoplace"] and not placed["lowest"]:
            stats["lowest_refused_topoplace_placed"] += 1
        if placed["lowest"] and not placed["topoplace"]:
            stats["topoplace_refused_lowest_placed"] += 1
    return stats


STREAMS = [(name, churn) for name in sorted(TABLES) for churn in (0.0, 0.35)]

# Where the fixed stream shows topoplace placing fewer instances than lowest-index-first. The
# choices do follow the documented rule (the oracle test above); the rule itself loses here:
# protecting the largest profiles first (e.g. a 1g at slice 6 on an empty GPU) strands slices
# that smaller profiles would have used. Strict: if the rule improves, these start to pass and
# the marks must go.
_FEWER = pytest.mark.xfail(
    strict=True, reason="largest-first loss rule places fewer than lowest-index-first here"
)
FEWER = {
    ("a100-40gb", 0.35),
    ("a100-80gb", 0.0),
    ("a100-80gb", 0.35),
    ("h100-80gb", 0.0),
    ("h100-80gb", 0.35),
}


@functools.cache
def _stream_stats(name: str, churn: float) -> tuple[tuple[str, int], ...]:
    stats = _run_stream(name, seed=20240611, n=400, churn=churn)
    print(f"{name} churn={churn}: {stats}")
    return tuple(stats.items())


@pytest.mark.parametrize(("name", "churn"), STREAMS)
def test_places_what_lowest_index_first_refuses(name: str, churn: float) -> None:
    stats = dict(_stream_stats(name, churn))
    assert stats["lowest_refused_topoplace_placed"] > 0


@pytest.mark.parametrize(
    ("name", "churn"),
    [pytest.param(n, c, marks=[_FEWER] if (n, c) in FEWER else []) for n, c in STREAMS],
)
def test_never_places_fewer_than_lowest_index_first(name: str, churn: float) -> None:
    stats = dict(_stream_stats(name, churn))
    assert stats["topoplace"] >= stats["lowest"], stats
