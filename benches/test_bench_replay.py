"""The FGD paper's trace replay through Python: one run of the default workload
(``openb_pod_list_default.csv``, 8,152 pods padded to 10,866 offers at 130 % of the 6,212 GPUs
on the 1,213 GPU nodes) with seed 42, under ``fgd`` and under ``bestfit``. The trace is parsed
once, outside the timing; each round is one whole run, with the GIL released.

A plain-Python or numpy peer of the same run would be ``test_default_<policy>_plain_python`` or
``_numpy`` (``benches/report.py`` prints the ratios). Skipped when the shared trace folder
(``../shared/traces/alibaba-gpu-2023`` beside the repository) is absent.

Run: ``pytest benches/test_bench_replay.py --benchmark-only``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from topoplace.replay import ReplayResult, ReplayTrace, load_trace, replay

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
