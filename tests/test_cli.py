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
    assert out.startswith("placed (kubelet mode, single-numa-node): CPUs ")
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
