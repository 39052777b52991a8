"""Unsatisfiable claim sets (``dra_refusals``) answered by ``mode="exact"`` (target under
1 ms) beside the plain first-fit search, upstream's, which enumerates orderings (run once:
it takes seconds). The report prints the ratio of each pair."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pytest_benchmark.fixture import BenchmarkFixture

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

import dra_refusals as r  # noqa: E402

from topoplace import dra  # noqa: E402

SLICES = dra.parse_slices(r.slices())
CLASSES = dra.parse_classes(r.classes())


def _run(claims: Any, allocated: Any, mode: str) -> Any:
    return dra.allocate(SLICES, CLASSES, claims, node=r.NODE, allocated=allocated, mode=mode)


def _refused(result: Any) -> None:
    assert isinstance(result, dra.Unsatisfiable), result


def test_refusal_no_group_exact(benchmark: BenchmarkFixture) -> None:
    claims, busy = dra.parse_claims(r.no_group()), r.busy()
    _refused(benchmark(_run, claims, busy, "exact"))


def test_refusal_no_group_plain_search(benchmark: BenchmarkFixture) -> None:
    claims, busy = dra.parse_claims(r.no_group()), r.busy()
    _refused(benchmark.pedantic(_run, (claims, busy, "plain"), rounds=1, iterations=1))


def test_refusal_one_too_many_exact(benchmark: BenchmarkFixture) -> None:
    claims = dra.parse_claims(r.one_too_many())
    _refused(benchmark(_run, claims, [], "exact"))


def test_refusal_one_too_many_plain_search(benchmark: BenchmarkFixture) -> None:
    claims = dra.parse_claims(r.one_too_many())
    _refused(benchmark.pedantic(_run, (claims, [], "plain"), rounds=1, iterations=1))
