"""The FGD paper's trace replay through Python: one run of the default workload
(``openb_pod_list_default.csv``, 8,152 pods padded to 10,866 offers at 130 % of the 6,212 GPUs
on the 1,213 GPU nodes) with seed 42, under ``fgd`` and under ``bestfit``. The trace is parsed
once, outside the timing; each round is one whole run, with the GIL released.

Its peers, ``test_default_<policy>_numpy`` and ``_plain_python``, replay the same run with
``fgd_plain.py`` (numpy, and plain Python): the arrival order and node priority from
``topoplace.replay.arrivals``, everything else their own; three rounds each, the pod lists
parsed once outside the timing. ``test_fgd_plain_agrees.py`` checks that they give
topoplace's results; ``benches/report.py`` prints the ratios. Skipped when the shared trace folder
(``../shared/traces/alibaba-gpu-2023`` beside the repository) is absent.

Run: ``pytest benches/test_bench_replay.py --benchmark-only``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

sys.path.insert(0, str(Path(__file__).parent))

import fgd_plain  # noqa: E402

from topoplace.replay import ReplayResult, ReplayTrace, load_trace, replay  # noqa: E402

SHARED = Path(__file__).parents[2] / "shared" / "traces" / "alibaba-gpu-2023"

pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason="shared/traces/alibaba-gpu-2023 not found"
)


@pytest.fixture(scope="module")
def default_trace() -> ReplayTrace:
    return load_trace(
        SHARED / "openb_node_list_gpu_node.csv", SHARED / "openb_pod_list_default.csv"
    )


def _check(run: ReplayResult) -> None:
    assert run.pods_offered == 10866 and run.total_gpus == 6212


def test_default_fgd_topoplace(benchmark: BenchmarkFixture, default_trace: ReplayTrace) -> None:
    _check(benchmark(replay, default_trace, "fgd", 42))


def test_default_bestfit_topoplace(benchmark: BenchmarkFixture, default_trace: ReplayTrace) -> None:
    _check(benchmark(replay, default_trace, "bestfit", 42))


@pytest.fixture(scope="module")
def default_rows() -> tuple[list[fgd_plain.Node], list[fgd_plain.Pod]]:
    """The default workload as the peers read it (parsed once, like ``default_trace``)."""
    return (
        fgd_plain.read_nodes(SHARED / "openb_node_list_gpu_node.csv"),
        fgd_plain.read_pods(SHARED / "openb_pod_list_default.csv"),
    )


def _peer(
    benchmark: BenchmarkFixture,
    trace: ReplayTrace,
    rows: tuple[list[fgd_plain.Node], list[fgd_plain.Pod]],
    kind: str,
    policy: str,
) -> None:
    run = benchmark.pedantic(
        fgd_plain.run, args=(kind, trace, *rows, policy, 42), rounds=3, iterations=1
    )
    assert len(run.nodes) == 10866


def test_default_fgd_numpy(
    benchmark: BenchmarkFixture,
    default_trace: ReplayTrace,
    default_rows: tuple[list[fgd_plain.Node], list[fgd_plain.Pod]],
) -> None:
    _peer(benchmark, default_trace, default_rows, "numpy", "fgd")


def test_default_bestfit_numpy(
    benchmark: BenchmarkFixture,
    default_trace: ReplayTrace,
    default_rows: tuple[list[fgd_plain.Node], list[fgd_plain.Pod]],
) -> None:
    _peer(benchmark, default_trace, default_rows, "numpy", "bestfit")


def test_default_fgd_plain_python(
    benchmark: BenchmarkFixture,
    default_trace: ReplayTrace,
    default_rows: tuple[list[fgd_plain.Node], list[fgd_plain.Pod]],
) -> None:
    _peer(benchmark, default_trace, default_rows, "plain", "fgd")


def test_default_bestfit_plain_python(
    benchmark: BenchmarkFixture,
    default_trace: ReplayTrace,
    default_rows: tuple[list[fgd_plain.Node], list[fgd_plain.Pod]],
) -> None:
    _peer(benchmark, default_trace, default_rows, "plain", "bestfit")
