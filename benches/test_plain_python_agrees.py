"""The plain-Python packed picker (`kubelet_packed_plain.py`) must give the kubelet's answers
before its timings mean anything: every `takeByTopologyNUMAPacked` case of the shared kubelet
conformance vectors with the packed CPU order and no options set.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from kubelet_packed_plain import NotEnoughCpus, take_packed  # noqa: E402

VECTORS = Path(__file__).parent.parent / "tests" / "data" / "conformance" / "kubelet"


def _load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((VECTORS / name).read_text())
    return doc


def _plain_packed_cases() -> list[dict[str, Any]]:
    cases = _load("cpu_assignment.json")["cases"]
    return [
        c
        for c in cases
        if c["function"] == "takeByTopologyNUMAPacked"
        and c.get("cpu_sorting_strategy", "packed") == "packed"
        and all(str(v).lower() == "false" for v in (c.get("options") or {}).values())
    ]


TOPOLOGIES = {t["name"]: t for t in _load("topologies.json")["topologies"]}
CASES = _plain_packed_cases()


def test_there_are_cases() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_plain_packed_pick_matches_kubelet(case: dict[str, Any]) -> None:
    topo = TOPOLOGIES[case["topology"]]
    details = {c["cpu"]: (c["core"], c["socket"], c["numa"]) for c in topo["cpus"]}
    declared = topo["declared"]
    kwargs = {
        "num_cpus": declared["num_cpus"],
        "num_sockets": declared["num_sockets"],
        "num_cores": declared["num_cores"],
        "num_numa_nodes": declared["num_numa_nodes"],
    }
    free = case["available_cpus"]
    count = case["request"]["num_cpus"]
    if case.get("expected_error"):
        with pytest.raises(NotEnoughCpus):
            take_packed(details, free, count, **kwargs)
        return
    assert sorted(take_packed(details, free, count, **kwargs)) == case["expected_cpus"]
