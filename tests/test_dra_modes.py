"""The DRA allocator's modes against each other.

``plain`` is the scheduler's search as it is (the reference); ``pruned`` and ``exact`` must
give its answer allocation for allocation, on random small inputs (hypothesis) and on the
refusals that make it exponential; ``scored`` must be feasible exactly when it is, and pick
the best-aligned allocation on the example node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dra_refusals as refusals
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topoplace import dra
from topoplace.errors import InvalidValueError

DATA = Path(__file__).parent / "data" / "dra" / "k8s"
DRIVER = "dra.example.com"
FEATURES = ("DRAPrioritizedList", "DRAConsumableCapacity")


def _load(name: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((DATA / f"{name}.json").read_text())
    return loaded


@st.composite
def _inputs(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any]]:
    n = draw(st.integers(1, 9))
    devices = [
        {
            "name": f"d{i}",
            "attributes": {
                "model": {"string": draw(st.sampled_from(["a", "b"]))},
                "group": {"int": draw(st.integers(0, 2))},
                "resource.kubernetes.io/pcieRoot": {"string": f"r{draw(st.integers(0, 3))}"},
            },
        }
        for i in range(n)
    ]
    slices = [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"name": "s"},
            "spec": {
                "driver": DRIVER,
                "nodeName": "n",
                "pool": {"name": "p", "generation": 1, "resourceSliceCount": 1},
                "devices": devices,
            },
        }
    ]
    selectors = [
        [],
        [{"cel": {"expression": f"device.attributes['{DRIVER}'].model == 'a'"}}],
        [{"cel": {"expression": f"device.attributes['{DRIVER}'].group >= 1"}}],
    ]
    constraints = [
        [],
        [{"matchAttribute": f"{DRIVER}/group"}],
        [{"matchAttribute": "resource.kubernetes.io/pcieRoot", "requests": ["r0"]}],
        [{"distinctAttribute": f"{DRIVER}/model"}],
    ]
    claims = []
    for c in range(draw(st.integers(1, 2))):
        requests: list[dict[str, Any]] = []
        for r in range(draw(st.integers(1, 2))):
            one = {
                "deviceClassName": "example",
                "count": draw(st.integers(1, 3)),
                "selectors": draw(st.sampled_from(selectors)),
            }
            if draw(st.booleans()):
                requests.append({"name": f"r{r}", "exactly": one})
            else:
                other = {"deviceClassName": "example", "count": 1}
                requests.append(
                    {
                        "name": f"r{r}",
                        "firstAvailable": [{"name": "x", **one}, {"name": "y", **other}],
                    }
                )
        claims.append(
            {
                "apiVersion": "resource.k8s.io/v1",
                "kind": "ResourceClaim",
                "metadata": {"name": f"c{c}", "namespace": "default"},
                "spec": {
                    "devices": {
                        "requests": requests,
                        "constraints": draw(st.sampled_from(constraints)),
                    }
                },
            }
        )
    busy = [
        {"driver": DRIVER, "pool": "p", "device": f"d{i}"}
        for i in range(n)
        if draw(st.integers(0, 4)) == 0
    ]
    return slices, claims, busy


CLASSES = refusals.classes()


def _run(slices: Any, claims: Any, busy: Any, mode: str) -> Any:
    return dra.allocate(
        slices, CLASSES, claims, node="n", allocated=busy, features=FEATURES, mode=mode
    )


@settings(max_examples=300, deadline=None)
@given(_inputs())
def test_pruned_and_exact_give_the_plain_answer(
    case: tuple[list[dict[str, Any]], list[dict[str, Any]], list[Any]],
) -> None:
    slices, claims, busy = case
    plain = _run(slices, claims, busy, "plain")
    assert _run(slices, claims, busy, "pruned") == plain
    assert _run(slices, claims, busy, "exact") == plain
    scored = _run(slices, claims, busy, "scored")
    assert isinstance(scored, dra.Unsatisfiable) == isinstance(plain, dra.Unsatisfiable)


@pytest.mark.parametrize("mode", ["exact", "pruned", "scored"])
def test_exponential_refusals_are_answered(mode: str) -> None:
    slices = dra.parse_slices(refusals.slices())

    def run(claims: Any, busy: Any) -> Any:
        return dra.allocate(slices, CLASSES, claims, node=refusals.NODE, allocated=busy, mode=mode)

    no_group = run(refusals.no_group(), refusals.busy())
    assert isinstance(no_group, dra.Unsatisfiable)
    assert "none has enough" in no_group.reason
    assert "the closest, pci0000:00, has devices 8 of 9" in no_group.reason
    too_many = run(refusals.one_too_many(), [])
    assert isinstance(too_many, dra.Unsatisfiable)
    reason = "request devices: wants 10, 9 match its class and selectors, 9 free"
    assert reason in too_many.reason
    # One device fewer in use, or one fewer wanted, and first fit answers.
    fits = run(refusals.no_group(), refusals.busy(7))
    assert not isinstance(fits, dra.Unsatisfiable)
    assert [d["device"] for d in fits[0]["devices"]["results"]] == [
        f"dev-{i:03d}" for i in range(7, 16)
    ]
    fits = run(refusals.one_too_many(9), [])
    assert not isinstance(fits, dra.Unsatisfiable)
    assert len(fits[0]["devices"]["results"]) == 9


def _pairs_claim(extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    requests = [
        {"name": "gpu", "exactly": {"deviceClassName": "gpu.nvidia.com", "count": 2}},
        {"name": "nic", "exactly": {"deviceClassName": "dranet-rdma", "count": 2}},
        *(extra or []),
    ]
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "pairs", "namespace": "default"},
        "spec": {"devices": {"requests": requests}},
    }


def test_scored_pairs_gpus_with_their_nics() -> None:
    slices, classes = _load("node-8gpu-2numa-8nic.resourceslices"), _load("deviceclasses")
    busy = [{"driver": "gpu.nvidia.com", "pool": "gpu-node-01", "device": "gpu-0"}]

    def devices(mode: str) -> list[str]:
        got = dra.allocate(
            slices, classes, _pairs_claim(), node="gpu-node-01", allocated=busy, mode=mode
        )
        assert not isinstance(got, dra.Unsatisfiable)
        return [d["device"] for d in got[0]["devices"]["results"]]

    assert devices("exact") == ["gpu-1", "gpu-2", "gpu0rdma0", "gpu1rdma0"]
    assert devices("scored") == ["gpu-1", "gpu-2", "gpu1rdma0", "gpu2rdma0"]


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(InvalidValueError, match='unknown DRA allocation mode "best"'):
        dra.allocate([], [], [], mode="best")
