from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from topoplace import CpuSet, InvalidValueError, TopoplaceError


def test_list_syntax_round_trip() -> None:
    cpus = CpuSet("0-3,8-11, 16\n")
    assert len(cpus) == 9
    assert str(cpus) == "0-3,8-11,16"
    assert repr(cpus) == 'CpuSet("0-3,8-11,16")'
    assert list(cpus) == [0, 1, 2, 3, 8, 9, 10, 11, 16]
    assert CpuSet(str(cpus)) == cpus


def test_from_iterables_and_masks() -> None:
    assert CpuSet([3, 1, 2, 2]) == CpuSet("1-3")
    assert CpuSet(range(4)) == CpuSet.from_mask("0x0000000f")
    assert CpuSet.from_mask("00000001,00000000") == CpuSet("32")
    assert CpuSet() == CpuSet("") and not CpuSet()
    assert CpuSet(CpuSet("5")) == CpuSet("5")


def test_algebra() -> None:
    a, b = CpuSet("0-7"), CpuSet("4-11")
    assert a & b == CpuSet("4-7")
    assert a | b == CpuSet("0-11")
    assert a - b == CpuSet("0-3")
    assert CpuSet("1,2").issubset(a) and not b.issubset(a)
    assert a.intersects(b) and not a.intersects(CpuSet("20"))
    assert 3 in a and 9 not in a and -1 not in a
    assert (a.first, a.last) == (0, 7) and CpuSet().first is None


def test_hash_pickle_numpy() -> None:
    a = CpuSet("0-3,8")
    assert {a: 1}[CpuSet([0, 1, 2, 3, 8])] == 1
    assert pickle.loads(pickle.dumps(a)) == a
    arr = a.to_numpy()
    assert arr.dtype == np.uint32 and arr.tolist() == [0, 1, 2, 3, 8]


@pytest.mark.parametrize("bad", ["3-1", "a", "1-", "0-7:0", "99999999", "1,,x"])
def test_bad_lists(bad: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        CpuSet(bad)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TopoplaceError)


def test_bad_ids() -> None:
    with pytest.raises(InvalidValueError, match="-1"):
        CpuSet([-1])
    with pytest.raises(InvalidValueError):
        CpuSet.from_mask("0xzz")


@given(st.sets(st.integers(min_value=0, max_value=5000), max_size=200))
def test_round_trip_property(ids: set[int]) -> None:
    cpus = CpuSet(ids)
    assert sorted(ids) == cpus.to_list()
    assert CpuSet(str(cpus)) == cpus
    assert len(cpus) == len(ids)
