"""The FGD replay peers (`fgd_plain.py`) must give topoplace's results before their timings
in `test_bench_replay.py` mean anything. On the default workload with seed 42 (the benchmarked
run), under `fgd` and `bestfit`:

- the numpy peer and the plain-Python peer give the same 131-value allocation curve as
  `topoplace.replay.replay`, the same failures and the same final allocation;
- every offered pod goes to the same node, which pins a disagreement to its first pod;

and on a thinned workload (tune ratio 0.5: `arrivals` removes pods instead of padding, and the
buckets past 50 % are empty) both peers agree again. Everything here is deterministic: the draws
come from a seeded port of Go's generator and the peers break ties by the given node priority.

Skipped when the shared trace folder (`../shared/traces/alibaba-gpu-2023` beside the
repository) is absent. About 10 s on a 2-core machine.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import fgd_plain  # noqa: E402

from topoplace.replay import ReplayResult, ReplayTrace, load_trace, replay  # noqa: E402

SHARED = Path(__file__).parents[2] / "shared" / "traces" / "alibaba-gpu-2023"

pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason="shared/traces/alibaba-gpu-2023 not found"
)


class Inputs(NamedTuple):
    trace: ReplayTrace
    nodes: list[fgd_plain.Node]
    pods: list[fgd_plain.Pod]


@pytest.fixture(scope="module")
def default() -> Inputs:
    nodes_csv = SHARED / "openb_node_list_gpu_node.csv"
    pods_csv = SHARED / "openb_pod_list_default.csv"
    return Inputs(
        load_trace(nodes_csv, pods_csv),
        fgd_plain.read_nodes(nodes_csv),
        fgd_plain.read_pods(pods_csv),
    )


def _differing_buckets(ours: list[float], theirs: tuple[float, ...]) -> list[int]:
    """Buckets whose values differ (NaN, an empty bucket, matches NaN)."""
    assert len(ours) == len(theirs) == fgd_plain.BUCKETS
    return [
        k
        for k, (a, b) in enumerate(zip(ours, theirs, strict=True))
        if not (a == b or (math.isnan(a) and math.isnan(b)))
    ]


def _check_same(peer: fgd_plain.Run, ref: ReplayResult, inputs: Inputs) -> None:
    names = [n.name for n in inputs.nodes]
    ours = [None if n is None else names[n] for n in peer.nodes]
    theirs = [node for _, node, _ in ref.placements]
    assert len(ours) == len(theirs) == ref.pods_offered
    first = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b), None)
    assert first is None, (
        f"pod {first} of {len(ours)}: peer {ours[first]}, topoplace {theirs[first]}"
    )
    assert _differing_buckets(peer.allocation_ratio, ref.allocation_ratio) == []
    assert (peer.pods_failed, peer.final_used_milli) == (ref.pods_failed, ref.final_used_milli)


@pytest.mark.parametrize("kind", ["numpy", "plain"])
@pytest.mark.parametrize("policy", fgd_plain.POLICIES)
def test_peer_matches_topoplace_on_the_default_run(default: Inputs, policy: str, kind: str) -> None:
    ref = replay(default.trace, policy, 42, placements=True)
    assert ref.pods_offered == 10866
    peer = fgd_plain.run(kind, default.trace, default.nodes, default.pods, policy, 42)
    _check_same(peer, ref, default)


@pytest.mark.parametrize("kind", ["numpy", "plain"])
@pytest.mark.parametrize("policy", fgd_plain.POLICIES)
def test_peer_matches_topoplace_on_a_thinned_run(default: Inputs, policy: str, kind: str) -> None:
    ref = replay(default.trace, policy, 43, tune_ratio=0.5, placements=True)
    assert ref.pods_offered < default.trace.pod_count
    assert math.isnan(ref.allocation_ratio[60])
    peer = fgd_plain.run(kind, default.trace, default.nodes, default.pods, policy, 43, 0.5)
    _check_same(peer, ref, default)


def test_typical_pods_of_the_default_workload(default: Inputs) -> None:
    # FGD-PROCEDURE.md, item 10: 35 of the 91 shapes, 95.26 % of the pods.
    typical = fgd_plain.typical_pods(default.pods)
    assert len(typical) == 35
    assert math.isclose(sum(t.freq for t in typical), 1.0)
