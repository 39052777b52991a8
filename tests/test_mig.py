"""MIG placement: the built-in tables, the documented choices, errors, and a brute-force oracle.

The oracle below is written from the rule in the module documentation of
``topoplace_core::node::mig`` and shares no code with it: ``keep`` and ``E`` are recomputed
here from the test's own copy of the tables (``E`` with exact ``Fraction`` arithmetic, by plain
memoised recursion where the core precomputes a table per geometry), and the choice is the
minimum of the documented key over every (GPU, start).
"""

from __future__ import annotations

import functools
import json
import pickle
import random
from collections.abc import Callable, Sequence
from fractions import Fraction

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


def _used(name: str, occ: Occupied) -> int:
    sizes = {pid: size for pid, size, _, _ in _table(name)}
    used = 0
    for pid, start in occ:
        used |= _mask(sizes[pid], start)
    return used


def _limited(name: str, occ: Occupied) -> tuple[int, ...]:
    """Instance counts of the profiles with an instance limit, in table order."""
    rows = _table(name)
    return tuple(sum(1 for p, _ in occ if p == r[0]) for r in rows if r[3] is not None)


def _fits(name: str, used: int, limited: tuple[int, ...], pid: int) -> list[int]:
    """Feasible starts of ``pid`` on the state (used slices, limited-profile counts)."""
    k = 0
    for rpid, size, starts, mx in _table(name):
        if rpid == pid:
            if mx is not None and limited[k] >= mx:
                return []
            return sorted(s for s in starts if _mask(size, s) & used == 0)
        k += mx is not None
    raise KeyError(pid)


def _plus(name: str, limited: tuple[int, ...], pid: int) -> tuple[int, ...]:
    out, k = list(limited), 0
    for rpid, _, _, mx in _table(name):
        if mx is not None:
            out[k] += rpid == pid
            k += 1
    return tuple(out)


def _feasible(name: str, occ: Occupied, pid: int) -> list[int]:
    return _fits(name, _used(name, occ), _limited(name, occ), pid)


def _keep(name: str, occ: Occupied) -> tuple[int, ...]:
    """For each profile with one allowed start, largest first: can it still be placed."""
    single = sorted((r for r in _table(name) if len(r[2]) == 1), key=lambda r: (-r[1], r[0]))
    return tuple(int(bool(_feasible(name, occ, r[0]))) for r in single)


@functools.cache
def _expected(name: str, used: int, limited: tuple[int, ...]) -> Fraction:
    """E: requests uniform over the profiles that still fit, each placed where E is highest."""
    gains = []
    for pid, size, _, _ in _table(name):
        starts = _fits(name, used, limited, pid)
        if starts:
            after = _plus(name, limited, pid)
            best = max(_expected(name, used | _mask(size, s), after) for s in starts)
            gains.append(1 + best)
    return sum(gains, Fraction(0)) / len(gains) if gains else Fraction(0)


def _e(name: str, occ: Occupied) -> Fraction:
    return _expected(name, _used(name, occ), _limited(name, occ))


def _oracle_gpu(name: str, gpus: Sequence[Occupied], pid: int) -> tuple[int, int] | None:
    """Minimum over every feasible (GPU, start) of the documented key."""
    best: tuple[bool, tuple[int, ...], Fraction, int, int, int] | None = None
    for g, occ in enumerate(gpus):
        keep_before, e_before = _keep(name, occ), _e(name, occ)
        used = bin(_used(name, occ)).count("1")
        for s in _feasible(name, occ, pid):
            after = [*occ, (pid, s)]
            keep_loss = tuple(b - a for b, a in zip(keep_before, _keep(name, after), strict=True))
            assert min(keep_loss, default=0) >= 0, (occ, pid, s)
            key = (used == 0, keep_loss, e_before - _e(name, after), -used, g, s)
            if best is None or key < best:
                best = key
    return None if best is None else (best[4], best[5])


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
    # The module documentation's numbers: E(empty) = 17/5; after a 1g.5gb at 0..=3 E = 9/2
    # but the 4g.20gb is lost; at 4 or 5 E = 4, at 6 E = 7/2.
    assert _e("a100-40gb", []) == Fraction(17, 5)
    es = [_e("a100-40gb", [(19, s)]) for s in range(7)]
    assert es == [Fraction(9, 2)] * 4 + [Fraction(4), Fraction(4), Fraction(7, 2)]
    assert [_keep("a100-40gb", [(19, s)]) for s in (0, 4)] == [(0, 0), (0, 1)]
    assert geom.choose_start([], "1g.5gb") == 4
    assert geom.choose_start([], 19) == 4
    after = [("1g.5gb", 4)]
    assert geom.feasible_starts(after, "4g.20gb") == [0]
    assert geom.feasible_starts(after, "3g.20gb") == [0]
    assert geom.choose_start(after, "1g.5gb") == 5
    assert geom.choose_start([(19, 4), (19, 5)], "1g.5gb") == 6
    assert geom.choose_start([(19, 4), (19, 5), (19, 6)], "1g.5gb") == 0
    assert geom.choose_start([], "2g.10gb") == 4
    assert geom.choose_start([], "3g.20gb") == 4
    assert geom.choose_start([], "7g.40gb") == 0
    assert geom.choose_start([("1g.5gb", 0)], "7g.40gb") is None
    # The brute-force oracle agrees.
    assert _oracle_gpu("a100-40gb", [[]], 19) == (0, 4)


def test_80gb_me_profile_and_limit() -> None:
    geom = MigGeometry.builtin("h100-80gb")
    # Empty GPU: no stranded slice 7 (a 1g.10gb at 6 would strand it), 1g.20gb at 6.
    assert geom.choose_start([], "1g.10gb") == 4
    assert geom.choose_start([], "1g.20gb") == 6
    occ: list[tuple[int | str, int]] = [("1g.10gb", 0), ("1g.10gb", 1), ("1g.10gb", 5)]
    assert geom.feasible_starts(occ, "1g.10gb+me") == [2, 3, 4, 6]
    # E after the 1g.10gb+me: 3 at 2 or 3, 22/9 at 4, 7/3 at 6 (no single-start profile fits).
    plain = [(19, 0), (19, 1), (19, 5)]
    assert [_e("h100-80gb", [*plain, (20, s)]) for s in (2, 3, 4, 6)] == [
        Fraction(3),
        Fraction(3),
        Fraction(22, 9),
        Fraction(7, 3),
    ]
    assert geom.choose_start(occ, "1g.10gb+me") == 2
    assert geom.choose_start(occ, "2g.20gb") == 2
    assert geom.feasible_starts([("1g.10gb+me", 3)], "1g.10gb+me") == []
    assert geom.choose_start([("1g.10gb+me", 3)], 20) is None


def test_choose_gpu_documented_cases() -> None:
    geom = MigGeometry.builtin("a100-40gb")
    # A split GPU takes the small instance; whole GPUs stay whole.
    assert geom.choose_gpu([[], [("3g.20gb", 0)], []], "1g.5gb") == (1, 4)
    assert geom.choose_gpu([[], [("4g.20gb", 0), ("3g.20gb", 4)]], "3g.20gb") == (0, 4)
    # Both split, no keep loss: the smaller loss of E, then the fuller GPU; equal everything:
    # the lowest index.
    gpus: list[list[tuple[int | str, int]]] = [
        [(19, 6), (19, 4)],
        [(19, 6), (19, 4), (14, 0)],
    ]
    assert geom.choose_gpu(gpus, 19) == (1, 2)
    assert geom.choose_gpu([[], []], 19) == (0, 4)
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


MIXES: dict[str, dict[int, float] | None] = {
    # Mostly small instances, some large: the mix of a shared inference cluster.
    "small": {1: 0.45, 2: 0.3, 4: 0.15, 8: 0.1},
    # Every profile of the table equally often.
    "uniform": None,
    # Mostly half and whole GPUs.
    "large": {1: 0.15, 2: 0.25, 4: 0.4, 8: 0.2},
}


def _weights(name: str, mix: str) -> list[tuple[int, float]]:
    """Request weights per profile id: per size as in ``MIXES``, spread over that size."""
    rows = TABLES[name]
    by_size = MIXES[mix]
    if by_size is None:
        return [(pid, 1.0) for pid, *_ in rows]
    per_size = {s: sum(1 for r in rows if r[2] == s) for s in by_size}
    return [(pid, by_size[size] / per_size[size]) for pid, _, size, _, _ in rows]


def _run_stream(name: str, seed: int, n: int, churn: float, mix: str = "small") -> dict[str, int]:
    """One request stream on two clusters of 8 GPUs: topoplace's choice and lowest-first.

    With ``churn`` > 0, a step may instead release a random earlier request, from whichever
    cluster holds it. Returns the placed counts (instances and memory slices) and the
    one-sided refusals.
    """
    geom = MigGeometry.builtin(name)
    sizes = {pid: size for pid, _, size, _, _ in TABLES[name]}
    rng = random.Random(seed)
    pids, weights = zip(*_weights(name, mix), strict=True)
    clusters: dict[str, list[list[tuple[int, int, int]]]] = {
        "topoplace": [[] for _ in range(N_GPUS)],
        "lowest": [[] for _ in range(N_GPUS)],
    }
    stats = dict.fromkeys(["requests", "topoplace", "lowest", "lowest_refused_topoplace_placed"], 0)
    stats |= dict.fromkeys(["topoplace_refused_lowest_placed", "topoplace_slices"], 0)
    stats["lowest_slices"] = 0
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
                stats[f"{key}_slices"] += sizes[pid]
                gpus[got[0]].append((pid, got[1], req))
            _check_invariants(name, [[(p, s) for p, s, _ in occ] for occ in gpus])
        if placed["topoplace"] and not placed["lowest"]:
            stats["lowest_refused_topoplace_placed"] += 1
        if placed["lowest"] and not placed["topoplace"]:
            stats["topoplace_refused_lowest_placed"] += 1
    return stats


# The fixed streams: seed 20240611, 400 requests, every table (a100-80gb and h100-80gb share
# theirs), with and without releases, every mix. All of them are kept; the ones where
# topoplace places fewer instances are strict xfails below, with the figures.
STREAMS = [(name, churn, mix) for name in sorted(TABLES) for churn in (0.0, 0.35) for mix in MIXES]

# Where the fixed stream shows topoplace placing fewer instances than lowest-index-first. The
# choices do follow the documented rule (the oracle test above); the rule loses here: 46
# instances against 49 (both clusters also place nearly the same memory slices, 118 against
# 126). Strict: if the rule improves, this starts to pass and the mark must go.
_FEWER = pytest.mark.xfail(
    strict=True, reason="(keep, E) rule places 46 instances, lowest-index-first 49, on this stream"
)
FEWER = {("a100-40gb", 0.35, "large")}


@functools.cache
def _stream_stats(name: str, churn: float, mix: str, seed: int = 20240611) -> dict[str, int]:
    stats = _run_stream(name, seed=seed, n=400, churn=churn, mix=mix)
    print(f"{name} churn={churn} mix={mix} seed={seed}: {stats}")
    return stats


@pytest.mark.parametrize(("name", "churn"), [(n, c) for n in sorted(TABLES) for c in (0.0, 0.35)])
def test_places_what_lowest_index_first_refuses(name: str, churn: float) -> None:
    stats = _stream_stats(name, churn, "small")
    assert stats["lowest_refused_topoplace_placed"] > 0


@pytest.mark.parametrize(
    ("name", "churn", "mix"),
    [pytest.param(*s, marks=[_FEWER] if s in FEWER else []) for s in STREAMS],
)
def test_never_places_fewer_than_lowest_index_first(name: str, churn: float, mix: str) -> None:
    stats = _stream_stats(name, churn, mix)
    assert stats["topoplace"] >= stats["lowest"], stats


# 30 seeds per (table, churn, mix): per seed topoplace places at least as many instances as
# lowest-index-first in 18 to 25 of the 30 streams (not in all: see the module documentation's
# trade-off), and more in total in every one of the 12 groups, which is what is asserted.
SEEDS = range(1000, 1030)


@pytest.mark.parametrize("mix", sorted(MIXES))
@pytest.mark.parametrize("churn", [0.0, 0.35])
@pytest.mark.parametrize("name", ["a100-40gb", "h100-80gb"])
def test_places_more_over_30_seeds(name: str, churn: float, mix: str) -> None:
    runs = [_run_stream(name, seed, 400, churn, mix) for seed in SEEDS]
    ours, base = sum(r["topoplace"] for r in runs), sum(r["lowest"] for r in runs)
    at_least = sum(r["topoplace"] >= r["lowest"] for r in runs)
    print(f"{name} churn={churn} mix={mix}: {ours} against {base}, >= in {at_least}/30")
    assert ours > base, (ours, base, at_least)
