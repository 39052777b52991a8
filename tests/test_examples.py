"""The scripts of examples/: each main() runs and prints what its README paragraph says."""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from topoplace import Topology

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TRACE = EXAMPLES.parent.parent / "shared" / "traces" / "alibaba-gpu-2023"


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_main(name: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert example(name).main(argv) == 0
    return capsys.readouterr().out


# --- dra_cpu_controller ------------------------------------------------------------------


def shares(action: dict[str, Any]) -> list[tuple[str, str]]:
    results = action["body"]["status"]["allocation"]["devices"]["results"]
    return [(r["device"], r["consumedCapacity"]["cpu"]) for r in results]


def test_dra_controller_patches_and_events(capsys: pytest.CaptureFixture[str]) -> None:
    actions = json.loads(run_main("dra_cpu_controller", [], capsys))
    by_claim = {a["claim"]: a for a in actions}
    # Already allocated: no action. The others in list order, first fit per NUMA group, the
    # 16 CPUs held by training/trainer-cpus on cpudevnuma000 counted.
    assert list(by_claim) == [
        "default/web-cpus",
        "default/db-cpus",
        "default/batch-cpus",
        "default/huge-cpus",
        "default/cache-cpus",
        "default/late-cpus",
    ]
    assert {k: a["action"] for k, a in by_claim.items()} == {
        "default/web-cpus": "patch",
        "default/db-cpus": "patch",
        "default/batch-cpus": "patch",
        "default/huge-cpus": "event",
        "default/cache-cpus": "patch",
        "default/late-cpus": "event",
    }
    assert shares(by_claim["default/web-cpus"]) == [("cpudevnuma000", "16")]
    assert shares(by_claim["default/db-cpus"]) == [("cpudevnuma001", "48")]
    assert shares(by_claim["default/batch-cpus"]) == [("cpudevnuma000", "32")]
    assert shares(by_claim["default/cache-cpus"]) == [("cpudevnuma001", "16")]
    for action in actions:
        if action["action"] == "patch":
            assert list(action["body"]) == ["status"]
            assert list(action["body"]["status"]) == ["allocation"]
            terms = action["body"]["status"]["allocation"]["nodeSelector"]["nodeSelectorTerms"]
            assert terms[0]["matchFields"][0]["values"] == ["cpu-node-01"]
        else:
            event = action["body"]
            assert event["type"] == "Warning" and event["reason"] == "AllocationFailed"
            assert event["regarding"]["kind"] == "ResourceClaim"
            assert event["note"].startswith("cannot allocate on node cpu-node-01: ")


def test_dra_controller_second_pass_only_reports_refusals() -> None:
    ctl = example("dra_cpu_controller")
    claims = ctl.items(json.loads((ctl.DATA / "resourceclaims.json").read_text()))
    slices = ctl.items(json.loads((ctl.DATA / "resourceslices.json").read_text()))
    classes = ctl.items(json.loads((ctl.DATA / "deviceclasses.json").read_text()))
    first = ctl.reconcile(claims, slices, classes)
    patched = {a["claim"]: a["body"]["status"] for a in first if a["action"] == "patch"}
    for claim in claims:
        if ctl.claim_key(claim) in patched:
            claim["status"] = patched[ctl.claim_key(claim)]
    second = ctl.reconcile(claims, slices, classes)
    assert [(a["claim"], a["action"]) for a in second] == [
        ("default/huge-cpus", "event"),
        ("default/late-cpus", "event"),
    ]


# --- preferred_allocation ----------------------------------------------------------------


def pair_score(topology: Topology, ordinals: list[int]) -> int:
    scores = topology.gpu_pair_scores()
    return sum(int(scores[a][b]) for a, b in itertools.combinations(ordinals, 2))


def test_preferred_allocation_main(capsys: pytest.CaptureFixture[str]) -> None:
    out = json.loads(run_main("preferred_allocation", [], capsys))
    topology = Topology.builtin("dgx-h100")
    names = [g.name for g in topology.gpus]
    requests = out["request"]["containerRequests"]
    responses = out["response"]["containerResponses"]
    assert len(responses) == len(requests) == 3
    for req, resp in zip(requests, responses, strict=True):
        got = resp["deviceIDs"]
        available, must = req["availableDeviceIDs"], req["mustIncludeDeviceIDs"]
        assert len(got) == len(set(got)) == req["allocationSize"]
        assert set(must) <= set(got) <= set(available)
        ordinal = {d: names.index(d) if d in names else int(d) for d in available}
        chosen = [ordinal[d] for d in got]
        # NVLink-best: every pair on NVSwitch, and no other admissible set scores higher.
        for a, b in itertools.combinations(chosen, 2):
            assert topology.link_class(names[a], names[b]) in ("NV", "NVSWITCH")
        best = max(
            pair_score(topology, [ordinal[d] for d in combo])
            for combo in itertools.combinations(available, len(got))
            if set(must) <= set(combo)
        )
        assert pair_score(topology, chosen) == best
    # GPU6 with two free GPUs of its own NUMA node (GPU4 is in use).
    assert responses[0]["deviceIDs"] == ["GPU5", "GPU6", "GPU7"]
    assert responses[2]["deviceIDs"] == ["0", "1", "2", "3"]


def test_preferred_allocation_refuses_bad_requests() -> None:
    helper = example("preferred_allocation").get_preferred_allocation
    topology = Topology.builtin("dgx-h100")
    assert helper(topology, ["GPU0", "GPU7"], ["GPU7"], 1) == ["GPU7"]
    with pytest.raises(ValueError, match="not available"):
        helper(topology, ["GPU0", "GPU1"], ["GPU2"], 2)
    with pytest.raises(ValueError, match="size 3"):
        helper(topology, ["GPU0", "GPU1"], [], 3)
    with pytest.raises(ValueError, match="not a GPU"):
        helper(topology, ["GPU0", "mlx5_0"], [], 1)


def test_preferred_allocation_runs_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "preferred_allocation.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(done.stdout)["response"]["containerResponses"]


# --- capacity_planning -------------------------------------------------------------------


def test_capacity_planning_without_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert example("capacity_planning").main([str(tmp_path / "missing")]) == 2
    assert "no trace folder" in capsys.readouterr().err


@pytest.mark.skipif(not TRACE.is_dir(), reason=f"{TRACE} not present")
def test_capacity_planning_on_the_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_main(
        "capacity_planning", [str(TRACE), "--seeds", "42", "--out", str(tmp_path)], capsys
    )
    rows = {
        line.split()[0]: [float(v) for v in line.split()[1:]]
        for line in out.splitlines()
        if line.split() and line.split()[0] in ("bestfit", "fgd", "fgdreach")
    }
    assert set(rows) == {"bestfit", "fgd", "fgdreach"}
    # alloc@100, alloc@130, unallocated GPUs: fgdreach fills at least as much as fgd at 130 %.
    assert rows["fgdreach"][1] >= rows["fgd"][1] >= rows["bestfit"][1]
    assert rows["fgdreach"][2] <= rows["fgd"][2]
    assert (tmp_path / "analysis_allo_discrete.csv").is_file()
    if "figure: skipped" not in out:
        assert (tmp_path / "allocation.png").stat().st_size > 0
