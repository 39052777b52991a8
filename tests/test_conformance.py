"""`topoplace conformance`: the runner's contract (exit codes, the summary line, errors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from topoplace import TopoplaceError, conformance
from topoplace._core import run_conformance
from topoplace.cli import main

VECTORS = Path(__file__).parent / "data" / "conformance" / "kubelet"


def test_unknown_suite_and_file() -> None:
    with pytest.raises(TopoplaceError, match="unknown suite"):
        conformance.run("kubelets", VECTORS)
    with pytest.raises(ValueError, match="no vector file"):
        run_conformance("kubelet", [("cases.json", "[]")])
    with pytest.raises(ValueError, match="unknown conformance suite"):
        run_conformance("nope", [])


def test_empty_directory_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "kubelet", str(tmp_path)]) == 1
    assert "none of the kubelet vector files" in capsys.readouterr().err


def test_bad_json_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "topology_manager.json").write_text("[\n{oops")
    assert main(["conformance", "kubelet", str(tmp_path)]) == 1
    assert "topology_manager.json:2" in capsys.readouterr().err


def test_kubelet_cpu_vectors_all_pass() -> None:
    cases = conformance.run("kubelet", VECTORS)
    by_file: dict[str, list[bool]] = {}
    for case in cases:
        by_file.setdefault(case["file"], []).append(case["passed"])
    failing = [f"{c['id']}: {c['detail']}" for c in cases if not c["passed"]]
    assert not failing
    assert len(by_file["cpu_assignment.json"]) == 81
    assert len(by_file["cpu_accumulator.json"]) == 29
    assert len(by_file["topology_manager.json"]) == 98


def test_cli_summary_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "kubelet", str(VECTORS)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "208 passed, 0 failed"


def test_cli_reports_a_failing_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    doc = json.loads((VECTORS / "cpu_assignment.json").read_text())
    case = next(c for c in doc["cases"] if c.get("expected_cpus"))
    case["expected_cpus"] = [c + 1000 for c in case["expected_cpus"]]
    doc["cases"], doc["count"] = [case], 1
    (tmp_path / "cpu_assignment.json").write_text(json.dumps(doc))
    (tmp_path / "topologies.json").write_text((VECTORS / "topologies.json").read_text())
    assert main(["conformance", "kubelet", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"FAIL {case['id']}")
    assert out[-1] == "0 passed, 1 failed"


GPU_VECTORS = Path(__file__).parent / "data" / "conformance" / "gpu"


def test_gpu_vectors_all_pass(capsys: pytest.CaptureFixture[str]) -> None:
    cases = conformance.run("gpu", GPU_VECTORS)
    assert len(cases) == 186
    assert [f"{c['id']}: {c['detail']}" for c in cases if not c["passed"]] == []
    assert main(["conformance", "gpu", str(GPU_VECTORS)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "186 passed, 0 failed"


DRA_VECTORS = Path(__file__).parent / "data" / "dra"


def test_dra_allocator_vectors(capsys: pytest.CaptureFixture[str]) -> None:
    cases = conformance.run("dra", DRA_VECTORS)
    assert len(cases) == 100
    assert [f"{c['id']}: {c['detail']}" for c in cases if not c["passed"]] == []
    assert main(["conformance", "dra", str(DRA_VECTORS)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "100 passed, 0 failed"
