"""Trace replay from Python: a hand-checked tiny trace (``tests/data/replay``), errors, the JSON
and CSV shapes, sweeps in one and two processes, the command line, the plot, and one run of
the FGD paper's default workload against the authors' published numbers when the shared trace
folder is beside the repository."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
import sys
import threading
from pathlib import Path

import pytest

from topoplace import _core
from topoplace.cli import main
from topoplace.errors import InvalidValueError, TopologyError
from topoplace.replay import (
    BUCKETS,
    POLICIES,
    ReplayResult,
    ReplayTrace,
    Workload,
    find_workloads,
    format_table,
    load_trace,
    parse_seeds,
    plot,
    replay,
    require_plotting,
    sweep,
    write_csvs,
)

DATA = Path(__file__).parent / "data" / "replay"
NODES, PODS = DATA / "nodes.csv", DATA / "pods.csv"
SHARED = Path(__file__).parents[2] / "shared" / "traces" / "alibaba-gpu-2023"
# 4 GPUs (4,000 milli) and pods asking for 5,000 milli: at 1.25 the list is neither padded nor
# thinned, so the run offers exactly the six pods.
EXACT = 1.25


@pytest.fixture(scope="module")
def tiny() -> ReplayTrace:
    return load_trace(NODES, PODS)


def _defined(values: tuple[float, ...]) -> dict[int, float]:
    return {k: v for k, v in enumerate(values) if not math.isnan(v)}


def test_policies_come_from_the_native_module() -> None:
    assert POLICIES == _core.POLICIES
    assert {"bestfit", "fgd", "random"} <= set(POLICIES)


def test_trace_handle(tiny: ReplayTrace) -> None:
    assert (tiny.node_count, tiny.pod_count) == (2, 6)
    assert tiny.pods_file == str(PODS) and tiny.nodes_file == str(NODES)
    assert repr(tiny) == f"<ReplayTrace {PODS}: 6 pods on 2 nodes>"


def test_bestfit_by_hand(tiny: ReplayTrace) -> None:
    """Seed 42 offers p2, p3, p5, p6, p4, p1 (Go's shuffle). BestFit's score is
    int(100 (1 - 0.5 cpu_left/128000 - 0.5 gpu_left/8000)); node-a: 8 vCPU, 2 x T4, node-b:
    16 vCPU, 2 x P100. No step ties, so the node priority does not matter:
    p2 (2 vCPU, 0.5 GPU): a 88, b 85 -> a, GPU 0 (a: 6 vCPU, GPUs 500/1000 free);
    p3 (2 whole GPUs): only b has two free GPUs -> b, GPUs 0 and 1 (b: 12 vCPU, no GPU);
    p5 (1 GPU, P100 only): b has none left -> fails;
    p6 (6 vCPU, no GPU): a 90, b 97 -> b;
    p4 (0.5 GPU): only a fits; the tightest GPU is 0 (500 free) -> a, GPU 0;
    p1 (1 whole GPU): a's GPU 1."""
    run = replay(tiny, "bestfit", 42, tune_ratio=EXACT, placements=True)
    assert run.placements == (
        ("p2", "node-a", (0,)),
        ("p3", "node-b", (0, 1)),
        ("p5", None, ()),
        ("p6", "node-b", ()),
        ("p4", "node-a", (0,)),
        ("p1", "node-a", (1,)),
    )
    assert (run.pods_offered, run.pods_failed, run.final_used_milli) == (6, 1, 4000)
    assert (run.workload, run.policy, run.label, run.seed) == ("pods", "bestfit", "05-BestFit", 42)
    assert (run.total_gpus, run.tune_ratio) == (4, EXACT)
    # Records: arrived 500, 2500, 3500, 3500, 4000, 5000 milli = 12.5, 62.5, 87.5, 87.5, 100,
    # 125 % (rounded half to even: 12, 62, 88, 88, 100, 125); allocated 12.5, 62.5, 62.5, 62.5,
    # 75, 100 %. A bucket without a record takes the records one percent either side.
    expected = {k: 12.5 for k in (11, 12, 13)}
    expected |= {k: 62.5 for k in (61, 62, 63, 87, 88, 89)}
    expected |= {k: 75.0 for k in (99, 100, 101)} | {k: 100.0 for k in (124, 125, 126)}
    assert _defined(run.allocation_ratio) == expected
    assert len(run.allocation_ratio) == len(run.fragmentation) == BUCKETS
    assert _defined(run.fragmentation).keys() == expected.keys()
    # Bucket 130 is empty: the unallocated GPUs come from the final state (all 4 used).
    assert run.unallocated_gpus_at_end == 0.0


def test_placements_only_when_asked(tiny: ReplayTrace) -> None:
    run = replay(tiny, "fgd", 42, tune_ratio=EXACT)
    assert run.placements == () and "placements" not in run.to_dict()
    raw = _core.replay(tiny, "fgd", 42, tune_ratio=EXACT)
    assert "placements" not in raw and len(raw["allocation_ratio"]) == BUCKETS


def test_every_policy_runs_and_repeats(tiny: ReplayTrace) -> None:
    for policy in POLICIES:
        first = replay(tiny, policy, 43)
        assert first == replay(tiny, policy, 43)
        assert first.policy == policy and first.pods_offered >= 6
        assert 0 <= first.pods_failed <= first.pods_offered


def test_results_compare_without_seconds(tiny: ReplayTrace) -> None:
    run = replay(tiny, "bestfit", 42, tune_ratio=EXACT)
    fresh_nans = tuple(float(str(v)) for v in run.allocation_ratio)  # NaN != NaN
    again = dataclasses.replace(run, seconds=run.seconds + 1.0, allocation_ratio=fresh_nans)
    assert run == again and hash(run) == hash(again) and len({run, again}) == 1
    assert run != dataclasses.replace(run, seed=43) and run != object()


def test_json_shape(tiny: ReplayTrace) -> None:
    run = replay(tiny, "bestfit", 42, tune_ratio=EXACT, placements=True)
    doc = json.loads(run.to_json())
    for key in ("workload", "policy", "seed", "total_gpus", "unallocated_gpus_at_end"):
        assert key in doc
    assert len(doc["allocation_ratio"]) == len(doc["fragmentation"]) == BUCKETS
    assert doc["allocation_ratio"][0] is None and doc["allocation_ratio"][100] == 75.0
    assert sum(v is None for v in doc["allocation_ratio"]) == BUCKETS - 15
    assert doc["placements"][2] == {"pod": "p5", "node": None, "gpus": []}
    assert "NaN" not in run.to_json(indent=2)


def test_malformed_row_names_file_line_column(tmp_path: Path) -> None:
    with pytest.raises(TopologyError) as info:
        load_trace(NODES, DATA / "pods-bad-number.csv")
    err = info.value
    assert err.source == str(DATA / "pods-bad-number.csv")
    assert (err.line, err.object) == (3, "num_gpu")
    assert '"one"' in str(err) and isinstance(err, ValueError)


def test_missing_column(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match=r"nodes-missing-column\.csv:1: memory_mib") as info:
        load_trace(DATA / "nodes-missing-column.csv", PODS)
    assert info.value.line == 1


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError):
        load_trace(NODES, DATA / "no-such-file.csv")


def test_bad_values(tiny: ReplayTrace) -> None:
    with pytest.raises(InvalidValueError, match="expected one of random, "):
        replay(tiny, "tetris", 42)
    with pytest.raises(InvalidValueError, match="unknown replay policy"):
        _core.replay(tiny, "tetris", 42)
    with pytest.raises(InvalidValueError, match="tune ratio must be positive"):
        replay(tiny, "bestfit", 42, tune_ratio=0.0)
    fractions = ReplayTrace(
        NODES.read_text(), "name,cpu_milli,memory_mib,num_gpu,gpu_milli\nq,1000,10,2,500\n"
    )
    with pytest.raises(InvalidValueError, match="pod q: 2 GPUs of 500 milli"):
        replay(fractions, "fgd", 42)


def test_threads_share_a_trace(tiny: ReplayTrace) -> None:
    want = {p: replay(tiny, p, 44) for p in POLICIES}
    got: dict[str, ReplayResult] = {}

    def work(policy: str) -> None:
        for _ in range(20):
            got[policy] = replay(tiny, policy, 44)

    threads = [threading.Thread(target=work, args=(p,)) for p in POLICIES]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert got == want


def test_parse_seeds() -> None:
    assert parse_seeds("42-51") == list(range(42, 52))
    assert parse_seeds("42, 45-47") == [42, 45, 46, 47]
    for bad in ("", "a", "51-42", "42-"):
        with pytest.raises(InvalidValueError):
            parse_seeds(bad)


def _trace_folder(root: Path) -> Path:
    """A trace folder in the shared layout holding the tiny trace twice."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(NODES, root / "openb_node_list_gpu_node.csv")
    shutil.copy(PODS, root / "openb_pod_list_tiny.csv")
    shutil.copy(PODS, root / "openb_pod_list_alsotiny.csv")
    return root


def test_find_workloads(tmp_path: Path) -> None:
    folder = _trace_folder(tmp_path / "t")
    assert [w.name for w in find_workloads(folder)] == ["alsotiny", "tiny"]
    picked = find_workloads(folder, ["openb_pod_list_tiny", "alsotiny"])
    assert picked[0] == Workload("tiny", folder / "openb_node_list_gpu_node.csv", picked[0].pods)
    with pytest.raises(InvalidValueError, match="no pod list for huge"):
        find_workloads(folder, ["huge"])
    with pytest.raises(InvalidValueError, match="node list not found"):
        find_workloads(folder, nodes=folder / "none.csv")


def test_sweep_is_deterministic_across_processes(tmp_path: Path) -> None:
    workloads = find_workloads(_trace_folder(tmp_path / "t"))
    serial = sweep(workloads, None, range(42, 46), processes=1, progress=False)
    parallel = sweep(workloads, None, range(42, 46), processes=2, progress=False)
    assert serial == parallel
    assert len(serial) == 2 * len(POLICIES) * 4
    order = [(r.workload, r.policy, r.seed) for r in serial]
    assert order == [(w.name, p, s) for w in workloads for p in POLICIES for s in range(42, 46)]


def test_sweep_pairs_and_errors(tmp_path: Path) -> None:
    runs = sweep([(NODES, PODS)], ["bestfit"], [42], processes=1, progress=False, tune_ratio=EXACT)
    assert runs == [replay(load_trace(NODES, PODS), "bestfit", 42, tune_ratio=EXACT)]
    with pytest.raises(InvalidValueError, match="unknown replay policy 'tetris'"):
        sweep([(NODES, PODS)], ["tetris"], [42], progress=False)
    with pytest.raises(InvalidValueError, match="processes must be at least 1"):
        sweep([(NODES, PODS)], None, [42], processes=0, progress=False)
    with pytest.raises(TopologyError):
        sweep([(NODES, DATA / "pods-bad-number.csv")], None, [42], progress=False)


def test_sweep_without_tqdm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    runs = sweep([(NODES, PODS)], ["fgd"], [42, 43], processes=1, progress=True)
    assert len(runs) == 2


def test_sweep_with_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    sweep([(NODES, PODS)], ["fgd"], [42, 43], processes=1, progress=True)
    assert "2/2" in capsys.readouterr().err


def test_csv_layout(tmp_path: Path, tiny: ReplayTrace) -> None:
    runs = [replay(tiny, p, s, tune_ratio=EXACT) for p in ("fgd", "bestfit") for s in (43, 42)]
    allo, frag = write_csvs(runs, tmp_path / "out")
    rows = list(csv.reader(allo.read_text().splitlines()))
    buckets = [str(k) for k in range(BUCKETS)]
    assert rows[0] == ["workload", "sc_policy", "tune", "seed", "total_gpus", *buckets]
    assert [r[:4] for r in rows[1:]] == [
        ["openb_pod_list_pods", "05-BestFit", "1.25", "42"],
        ["openb_pod_list_pods", "05-BestFit", "1.25", "43"],
        ["openb_pod_list_pods", "06-FGD", "1.25", "42"],
        ["openb_pod_list_pods", "06-FGD", "1.25", "43"],
    ]
    bestfit = rows[1]
    assert bestfit[4] == "4" and bestfit[5] == "" and bestfit[5 + 100] == "75.0"
    frag_rows = list(csv.reader(frag.read_text().splitlines()))
    assert frag_rows[0] == ["workload", "sc_policy", "tune", "seed", *buckets]
    assert len(frag_rows) == 5 and all(len(r) == 4 + BUCKETS for r in frag_rows)


def test_format_table(tiny: ReplayTrace) -> None:
    one = format_table([replay(tiny, "bestfit", 42, tune_ratio=EXACT)])
    head, row = one.splitlines()
    assert head.split() == [
        "workload", "policy", "seed", "alloc@100", "alloc@130", "unalloc", "GPUs", "failed", "s"
    ]  # fmt: skip
    assert row.split()[:7] == ["pods", "bestfit", "42", "75.00", "-", "0.0", "1"]
    many = format_table([replay(tiny, "fgd", s) for s in range(42, 52)])
    assert many.splitlines()[1].split()[:3] == ["pods", "fgd", "42-51"]


def test_plot_written(tmp_path: Path, tiny: ReplayTrace) -> None:
    pytest.importorskip("matplotlib")
    runs = [replay(tiny, p, s) for p in POLICIES for s in (42, 43)]
    runs += [dataclasses.replace(r, workload="other") for r in runs[:2]]  # a second panel
    out = plot(runs, tmp_path / "alloc.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot(runs, tmp_path / "alloc.svg").stat().st_size > 1000
    with pytest.raises(InvalidValueError, match="no results"):
        plot([], tmp_path / "empty.png")


def test_plot_needs_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidValueError, match=r"pip install 'topoplace\[plot\]'"):
        require_plotting()
    code = main(["replay", "--nodes", str(NODES), "--pods", str(PODS), "--plot", "x.png"])
    assert code == 1 and not (tmp_path / "x.png").exists()


# --- the command line ---


def test_cli_one_run_text(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["replay", "--nodes", str(NODES), "--pods", str(PODS), "--policy", "bestfit"]
    assert main([*argv, "--seed", "43"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["workload", "policy", "seed", "alloc@100"]
    assert out[1].split()[:3] == ["pods", "bestfit", "43"]
    assert out[2].startswith("1 run(s) in ")


def test_cli_one_run_json(capsys: pytest.CaptureFixture[str], tiny: ReplayTrace) -> None:
    assert main(["replay", "--nodes", str(NODES), "--pods", str(PODS), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    want = replay(tiny, "fgd", 42).to_dict()  # the defaults: fgd, seed 42
    assert {k: v for k, v in doc.items() if k != "seconds"} == {
        k: v for k, v in want.items() if k != "seconds"
    }


def test_cli_sweep(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = _trace_folder(tmp_path / "t")
    argv = ["replay", "--sweep", "--traces", str(folder), "--workloads", "tiny"]
    argv += ["--policies", "bestfit,fgd", "--seeds", "42-44", "--processes", "1"]
    argv += ["--out", str(tmp_path / "out"), "--format", "json"]
    assert main(argv) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [(d["workload"], d["policy"], d["seed"]) for d in docs] == [
        ("tiny", p, s) for p in ("bestfit", "fgd") for s in (42, 43, 44)
    ]
    rows = list(
        csv.reader((tmp_path / "out" / "analysis_allo_discrete.csv").read_text().splitlines())
    )
    assert len(rows) == 7 and rows[1][:2] == ["openb_pod_list_tiny", "05-BestFit"]
    assert (tmp_path / "out" / "analysis_frag_discrete.csv").is_file()


def test_cli_sweep_text_and_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    folder = _trace_folder(tmp_path / "t")
    png = tmp_path / "sweep.png"
    argv = ["replay", "--sweep", "--traces", str(folder), "--seeds", "42,43"]
    assert main([*argv, "--processes", "2", "--plot", str(png), "--no-progress"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 2 + 2 * len(POLICIES)  # header, a row per workload x policy, total
    assert lines[1].split()[:3] == ["alsotiny", POLICIES[0], "42,43"]
    assert f"wrote {png}" in captured.err and png.stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["replay"], "needs --nodes and --pods"),
        (["replay", "--sweep"], "needs --traces"),
        (["replay", "--sweep", "--traces", ".", "--seed", "1"], "--seed are for one run"),
        (["replay", "--nodes", "n", "--pods", "p", "--seeds", "1"], "need --sweep"),
        (["replay", "--sweep", "--traces", "/nonexistent-folder"], "not a folder"),
    ],
)
def test_cli_misuse(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def test_cli_malformed_file(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["replay", "--nodes", str(NODES), "--pods", str(DATA / "pods-bad-number.csv")]
    assert main(argv) == 1
    assert "pods-bad-number.csv:3: num_gpu" in capsys.readouterr().err


def test_cli_unknown_policy(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--nodes", str(NODES), "--pods", str(PODS), "--policy", "tetris"])
    assert "invalid choice" in capsys.readouterr().err


# --- the FGD paper's default workload, against the authors' published runs ---


def _expected_row(workload: str, label: str, seed: int) -> dict[str, str]:
    with (SHARED / "fgd-expected-results" / "analysis_allo_discrete.csv").open() as f:
        for row in csv.DictReader(f):
            if (row["workload"], row["sc_policy"], row["seed"]) == (workload, label, str(seed)):
                return row
    raise AssertionError(f"no expected row for {workload} {label} {seed}")


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared/traces/alibaba-gpu-2023 not found")
def test_default_workload_bestfit_matches_the_authors(tmp_path: Path) -> None:
    trace = load_trace(
        SHARED / "openb_node_list_gpu_node.csv", SHARED / "openb_pod_list_default.csv"
    )
    run = replay(trace, "bestfit", 42)
    want = _expected_row("openb_pod_list_default", "05-BestFit", 42)
    assert run.total_gpus == int(want["total_gpus"]) == 6212
    for percent in (100, 130):
        assert run.allocation_at(percent) == pytest.approx(float(want[str(percent)]), abs=0.01)
    # The CSV this module writes has the authors' header.
    allo, _ = write_csvs([run], tmp_path)
    with (SHARED / "fgd-expected-results" / "analysis_allo_discrete.csv").open() as f:
        assert allo.read_text().splitlines()[0] == f.readline().rstrip("\n")
