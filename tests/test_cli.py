"""The command line, in process and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from topoplace.cli import main

DATA = Path(__file__).parent / "data"


def test_show_builtin_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "builtin:dgx-h100"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Machine dgx-h100") and "GPU GPU0" in out


def test_show_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "builtin:epyc-nps4", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for key in ("packages", "numa_nodes", "cores", "cpus", "gpus", "nics", "memory_bytes"):
        assert isinstance(doc[key], int)
    assert doc["has_distances"] is True and doc["numa_nodes"] == 8
    assert len(doc["topology"]["numa_nodes"]) == 8


def test_show_sysfs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "sysfs", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["cpus"] >= 1


def test_show_error_exit_code(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text('<?xml version="1.0"?>\n<topology version="2.0">\n<object type="Machine"')
    assert main(["show", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("topoplace: error:") and "bad.xml" in err


def test_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "dgx-h100" in out and "epyc-nps4" in out and "32em64t-2n8c2t-pci-normalio" in out
    assert "nearest NIC" in out
    # The joint sequence: placements with their score, an explained refusal, a release.
    assert "train-a (3 GPUs, pcie-root required): placed" in out
    assert "refused (not-aligned): no NUMA node holds 2 GPUs" in out
    assert "closest is NUMA node" in out
    assert "alignment none (looser than requested)" in out
    assert "score " in out and "fragmentation" in out


def test_place_joint_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["place", "--topology", "builtin:dgx-h100", "--gpus", "2", "--nics-per-gpu", "1"]
    args += ["--cpus", "24", "--memory", "128Gi"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "GPU GPU0 (NUMA 0) with mlx5_0 (PIX)" in out
    assert "GPU GPU1 (NUMA 0) with mlx5_1 (PIX)" in out
    assert "score 1900 = GPU links 1820 + NIC paths 100 - NUMA distance 0" in out
    assert main([*args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["gpus"] == ["GPU0", "GPU1"] and doc["nics"] == ["mlx5_0", "mlx5_1"]
    assert doc["nic_gpus"] == ["GPU0", "GPU1"] and doc["alignment"] == "pcie-root"
    assert doc["score"]["total"] == 1900
    # Nine GPUs do not exist: refused, exit 3, with the reason.
    code = main(["place", "--topology", "builtin:dgx-h100", "--gpus", "9"])
    assert code == 3
    assert "refused (not-enough-gpus): 9 GPUs requested" in capsys.readouterr().out


def test_console_script_runs() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "topoplace", "show", "builtin:xeon-2s", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(proc.stdout)["cpus"] == 80


def test_place_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["place", "--topology", "builtin:epyc-nps4", "--cpus", "8", "--memory", "16Gi"]
    assert main([*args, "--policy", "single-numa-node", "--mode", "kubelet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("placed (kubelet mode, single-numa-node) on epyc-nps4:\n  CPUs ")
    assert main([*args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["placed"] is True and len(doc["numa_nodes"]) == 1
    assert sum(doc["memory"].values()) == 16 * 2**30


def test_place_refused_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "place",
            "--topology",
            "builtin:epyc-nps4",
            "--cpus",
            "40",
            "--policy",
            "single-numa-node",
            "--mode",
            "kubelet",
        ]
    )
    assert code == 3
    assert capsys.readouterr().out.startswith("refused (")


def test_place_bad_option(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["place", "--topology", "builtin:xeon-2s", "--cpus", "2", "--cpu-option", "bogus"]
    assert main(args) == 1
    assert "bogus" in capsys.readouterr().err
