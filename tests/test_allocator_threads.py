"""One allocator shared by 8 threads: no double holding, capacity respected, and the final state
equals a serial replay of the committed operations in their commit order."""

from __future__ import annotations

import random
import threading
import time

from topoplace import NodeAllocator, Request, Topology

THREADS = 8
OPS_PER_THREAD = 10_000


def test_many_threads_consistent_and_replayable() -> None:
    topo = Topology.synthetic(
        sockets=2, numa_per_socket=4, cores_per_numa=16, threads_per_core=2, name="2x4x16x2"
    )
    alloc = NodeAllocator(topo)
    requests = [
        Request(cpus, memory=f"{mem}Gi", policy=policy, mode=mode)
        for cpus in (1, 2, 4, 8)
        for mem in (1, 4)
        for policy in ("best-effort", "single-numa-node")
        for mode in ("default", "kubelet")
    ]
    logs: list[list[tuple[int, str, str, int]]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        rng = random.Random(t)
        held: list[str] = []
        try:
            for i in range(OPS_PER_THREAD):
                if held and (rng.random() < 0.45 or len(held) > 6):
                    owner = held.pop(rng.randrange(len(held)))
                    got = alloc.release(owner)
                    assert got is not None and got.sequence is not None
                    logs[t].append((got.sequence, "release", owner, -1))
                else:
                    owner = f"t{t}-{i}"
                    k = rng.randrange(len(requests))
                    got = alloc.allocate(owner, requests[k])
                    if got.placed:
                        assert got.sequence is not None
                        held.append(owner)
                        logs[t].append((got.sequence, "allocate", owner, k))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=240)
    assert not errors, errors[:3]

    # No CPU or memory byte held twice; capacity never exceeded.
    seen = set()
    for owner in alloc.owners():
        got = alloc.get(owner)
        assert got is not None
        assert not (set(got.cpus) & seen)
        seen |= set(got.cpus)
    free = alloc.free()
    assert set(alloc.free_cpus).isdisjoint(seen)
    assert len(alloc.free_cpus) + len(seen) == len(topo.cpus) == 256
    assert all(node["memory"] >= 0 for node in free)

    # Serial replay in commit order reaches the same state.
    ops = sorted(op for log in logs for op in log)
    assert (
        [op[0] for op in ops] == list(range(1, len(ops) + 1)) == list(range(1, alloc.changes + 1))
    )
    replay = NodeAllocator(topo)
    for _, kind, owner, k in ops:
        if kind == "allocate":
            assert replay.allocate(owner, requests[k]).placed
        else:
            assert replay.release(owner) is not None
    assert replay.to_checkpoint() == alloc.to_checkpoint()


def test_heavy_calls_release_the_gil() -> None:
    topo = Topology.synthetic(sockets=8, numa_per_socket=16, cores_per_numa=4, name="128numa")
    alloc = NodeAllocator(topo)
    request = Request(40, memory="1Gi", mode="default")
    ticks = 0
    stop = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    calls = 0
    th = threading.Thread(target=ticker)
    th.start()
    start = time.perf_counter()
    while time.perf_counter() - start < 0.5:
        alloc.check(request)
        calls += 1
    stop.set()
    th.join()
    # Both threads made progress in the same half second.
    assert calls > 0 and ticks > 1000
