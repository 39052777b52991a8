"""The Topology Manager merge: the search form agrees with the kubelet's exhaustive enumeration
on random inputs of up to 8 NUMA nodes (hypothesis), and runs where the kubelet cannot."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topoplace import InvalidValueError, merge_numa_hints

POLICIES = ["best-effort", "restricted", "single-numa-node"]


@st.composite
def merge_inputs(
    draw: st.DrawFn,
) -> tuple[str, list[list[tuple[list[int] | None, bool]]], list[int], list[list[int]], bool]:
    n = draw(st.integers(1, 8))
    nodes = sorted(draw(st.sets(st.integers(0, 12), min_size=n, max_size=n)))
    far = draw(st.lists(st.sampled_from([11, 12, 20, 21, 32]), min_size=n * n, max_size=n * n))
    distances = [
        [10 if i == j else far[min(i, j) * n + max(i, j)] for j in range(n)] for i in range(n)
    ]
    mask = st.one_of(st.none(), st.sets(st.sampled_from(nodes), min_size=1).map(sorted))
    hint = st.tuples(mask, st.booleans())
    providers = draw(st.lists(st.lists(hint, min_size=1, max_size=5), max_size=3))
    return draw(st.sampled_from(POLICIES)), providers, nodes, distances, draw(st.booleans())


@settings(max_examples=400, deadline=None)
@given(merge_inputs())
def test_search_agrees_with_kubelet_enumeration(
    case: tuple[str, list[list[tuple[list[int] | None, bool]]], list[int], list[list[int]], bool],
) -> None:
    policy, providers, nodes, distances, closest = case
    options = {"prefer-closest-numa-nodes": closest}
    fast = merge_numa_hints(
        policy, providers, numa_nodes=nodes, distances=distances, options=options
    )
    slow = merge_numa_hints(
        policy, providers, numa_nodes=nodes, distances=distances, options=options, exhaustive=True
    )
    assert fast == slow


def _providers(nodes: list[int], width: int) -> list[list[tuple[list[int] | None, bool]]]:
    # Like the kubelet's CPU and device providers: every mask up to `width` nodes that can hold
    # the request, preferred at the narrowest width.
    hints = [
        (list(m), len(m) == 1)
        for k in range(1, width + 1)
        for m in itertools.combinations(nodes, k)
    ]
    return [hints, hints, hints]


@pytest.mark.parametrize("n", [24, 64, 128])
def test_large_machines(n: int) -> None:
    nodes = list(range(n))
    assert merge_numa_hints("restricted", _providers(nodes, 2), numa_nodes=nodes) == ([0], True)
    with pytest.raises(InvalidValueError, match="max-allowable-numa-nodes"):
        merge_numa_hints("restricted", _providers(nodes, 1), numa_nodes=nodes, exhaustive=True)


def test_bad_hints() -> None:
    with pytest.raises(InvalidValueError, match="does not have"):
        merge_numa_hints("best-effort", [[([5], True)]], numa_nodes=[0, 1])
    with pytest.raises(InvalidValueError, match="single-numa-node"):
        merge_numa_hints("strict", [], numa_nodes=[0])  # type: ignore[arg-type]
