"""The DRA allocator through Python: the ``gpu-nic-same-pcie-root`` claim on ``gpu-node-01``
(8 GPUs, 8 RDMA NICs), per call (issue target under 50 us) and against 1,000 such nodes in one
bulk call (target under 20 ms). The bulk answers come back as a mapping that decodes a node's
allocation when it is read, so a second bulk case also reads every node's. Parsed inputs are
what a scheduler holds (its informer cache keeps slices and classes); the dict-input cases add
the JSON round trip of every call."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from topoplace import dra

DATA = Path(__file__).parent.parent / "tests" / "data" / "dra" / "k8s"


def _load(name: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((DATA / f"{name}.json").read_text())
    return loaded


SLICES = _load("node-8gpu-2numa-8nic.resourceslices")
CLASSES = _load("deviceclasses")
CLAIM = next(
    c for c in _load("resourceclaims") if c["metadata"]["name"] == "gpu-nic-same-pcie-root"
)


def _node(name: str) -> list[dict[str, Any]]:
    out = copy.deepcopy(SLICES)
    for s in out:
        s["metadata"]["name"] = s["metadata"]["name"].replace("gpu-node-01", name)
        s["spec"]["nodeName"] = name
        s["spec"]["pool"]["name"] = name
    return out


def _check(result: list[dict[str, Any]] | dra.Unsatisfiable) -> None:
    assert not isinstance(result, dra.Unsatisfiable)
    assert [r["device"] for r in result[0]["devices"]["results"]] == ["gpu-0", "gpu0rdma0"]


def test_one_node_parsed(benchmark: BenchmarkFixture) -> None:
    slices, classes = dra.parse_slices(SLICES), dra.parse_classes(CLASSES)
    claims = dra.parse_claims(CLAIM)
    _check(benchmark(dra.allocate, slices, classes, claims, node="gpu-node-01"))


def test_one_node_dicts(benchmark: BenchmarkFixture) -> None:
    _check(benchmark(dra.allocate, SLICES, CLASSES, CLAIM, node="gpu-node-01"))


@pytest.fixture(scope="module")
def thousand() -> dict[str, dra.DraSlices]:
    return {f"gpu-node-{i:04d}": dra.parse_slices(_node(f"gpu-node-{i:04d}")) for i in range(1000)}


def test_thousand_nodes_bulk(
    benchmark: BenchmarkFixture, thousand: dict[str, dra.DraSlices]
) -> None:
    classes, claims = dra.parse_classes(CLASSES), dra.parse_claims(CLAIM)
    out = benchmark(dra.allocate_many, thousand, classes, claims)
    assert len(out) == 1000
    _check(out["gpu-node-0000"])


def _read_all(
    slices: dict[str, dra.DraSlices], classes: dra.DraClasses, claims: dra.DraClaims
) -> dra.Allocations:
    out = dra.allocate_many(slices, classes, claims)
    for name in out:
        out[name]
    return out


def test_thousand_nodes_bulk_read_all(
    benchmark: BenchmarkFixture, thousand: dict[str, dra.DraSlices]
) -> None:
    classes, claims = dra.parse_classes(CLASSES), dra.parse_claims(CLAIM)
    out = benchmark(_read_all, thousand, classes, claims)
    assert len(out.feasible()) == 1000
    _check(out["gpu-node-0999"])
