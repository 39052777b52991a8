"""Kill a process while it writes checkpoints, many times: the last complete checkpoint always
restores, and never half a state."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from topoplace import NodeAllocator, Topology

WRITER = r"""
import sys
from topoplace import NodeAllocator, Request, Topology
path = sys.argv[1]
alloc = NodeAllocator(Topology.builtin("epyc-nps4"))
i = 0
while True:
    i += 1
    if i > 200:
        alloc.release(f"pod-{i - 200}")  # keep at most 200 pods: the count then stays put
    assert alloc.allocate(f"pod-{i}", Request(1, memory="64Mi")).placed
    alloc.snapshot(path)
    print(len(alloc.owners()), flush=True)
"""


def test_kill_during_writes_leaves_a_restorable_checkpoint(tmp_path: Path) -> None:
    topo = Topology.builtin("epyc-nps4")
    rng = random.Random(7)
    path = tmp_path / "state.ckpt"
    runs = 25
    for _ in range(runs):
        with subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdout=subprocess.PIPE,
            text=True,
        ) as proc:
            assert proc.stdout is not None
            # Let it write a few checkpoints, then kill it at a random moment.
            first = proc.stdout.readline()
            assert first.strip().isdigit()
            time.sleep(rng.uniform(0.0, 0.05))
            os.kill(proc.pid, signal.SIGKILL)
            rest = proc.stdout.read().split()
            proc.wait()
        reported = int(rest[-1]) if rest else int(first)
        restored = NodeAllocator.restore(path, topo)
        owners = len(restored.owners())
        # The file holds the last reported checkpoint, or the one being reported when killed.
        assert owners in (reported, reported + 1)
        # Never a temporary file mistaken for the checkpoint.
        leftovers = [p.name for p in tmp_path.iterdir() if p.name != "state.ckpt"]
        assert all(name.startswith(".state.ckpt.tmp.") for name in leftovers)
        path.unlink()
