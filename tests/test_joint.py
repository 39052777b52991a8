"""Joint requests through Python: GPUs, NICs, CPUs and memory placed together and aligned,
released, checkpointed, refused with reasons, and consistent under many threads."""

from __future__ import annotations

import random
import threading

import pytest

from topoplace import InvalidValueError, NodeAllocator, Request, Topology


def _dgx() -> NodeAllocator:
    return NodeAllocator(Topology.builtin("dgx-h100"))


def test_joint_fields_and_score_parts() -> None:
    alloc = _dgx()
    req = Request(24, memory="128Gi", gpus=2, nics_per_gpu=1, align="pcie-root")
    assert (req.gpus, req.nics, req.align, req.align_required) == (2, 2, "pcie-root", False)
    got = alloc.allocate("a", req)
    assert got.placed and got.gpus == [0, 1] and got.nics == [0, 1]
    assert got.nic_gpus == [0, 1] and got.alignment == "pcie-root" and got.preferred
    assert got.numa_nodes == [0] and len(got.cpus) == 24
    assert got.score == {
        "gpu_links": 1820,
        "nic_paths": 100,
        "numa_distance": 0,
        "fragmentation": 20,
        "total": 1900,
    }
    assert "gpus=[0, 1]" in repr(got) and "gpus=2" in repr(req)
    # A CPU-only request has no device fields.
    plain = alloc.check(Request(4))
    assert plain.score is None and plain.alignment is None and plain.gpus == []


def test_release_and_checkpoint_cover_devices() -> None:
    alloc = _dgx()
    alloc.allocate("a", Request(8, gpus=3, nics_per_gpu=1, align="numa", align_required=True))
    alloc.allocate("b", Request(0, gpus=1, nics=2))
    text = alloc.to_checkpoint()
    back = NodeAllocator.from_checkpoint(text, alloc.topology)
    for owner in ["a", "b"]:
        x, y = alloc.get(owner), back.get(owner)
        assert x is not None and y is not None
        assert (x.gpus, x.nics, x.nic_gpus, x.score) == (y.gpus, y.nics, y.nic_gpus, y.score)
    released = back.release("a")
    assert released is not None and released.gpus == [0, 1, 2]
    # GPUs 0-2 are free again: a 3-GPU numa-required request gets exactly them back.
    again = back.check(Request(0, gpus=3, align="numa", align_required=True))
    assert again.gpus == [0, 1, 2]


def test_refusals_explain() -> None:
    alloc = _dgx()
    three = Request(24, memory="128Gi", gpus=3, nics_per_gpu=1, align="pcie-root")
    alloc.allocate("a", three)
    alloc.allocate("b", three)
    two = Request(16, gpus=2, nics_per_gpu=1, align="numa", align_required=True)
    got = alloc.check(two)
    assert not got.placed and got.refusal_kind == "not-aligned"
    assert got.reason is not None and "closest is NUMA node" in got.reason
    assert "GPUs 1/2" in got.reason
    many = alloc.check(Request(0, gpus=3))
    assert many.refusal_kind == "not-enough-gpus"
    nics = alloc.check(Request(0, nics=3))
    assert nics.refusal_kind == "not-enough-nics"
    model = alloc.check(Request(0, gpus=1, gpu_model="MI300"))
    assert model.refusal_kind == "not-enough-gpus" and "MI300" in (model.reason or "")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gpus": 1, "nics": 1, "nics_per_gpu": 1},
        {"nics_per_gpu": 1},
        {"gpus": 1, "align": "rack"},
        {"gpus": 1, "gpu_memory": "lots"},
    ],
)
def test_bad_requests_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidValueError):
        Request(0, **kwargs)  # type: ignore[arg-type]


def test_kubelet_mode_refuses_devices() -> None:
    with pytest.raises(InvalidValueError, match="default mode"):
        _dgx().check(Request(2, gpus=1, mode="kubelet"))


def test_threads_never_share_a_device() -> None:
    alloc = _dgx()
    shapes = [
        Request(4, memory="8Gi", gpus=g, nics_per_gpu=q, align=a)
        for g in (1, 2)
        for q in (0, 1)
        for a in ("pcie-root", "numa", "none")
    ]
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        rng = random.Random(t)
        held: list[str] = []
        try:
            for i in range(1500):
                if held and (rng.random() < 0.5 or len(held) > 2):
                    alloc.release(held.pop(rng.randrange(len(held))))
                    continue
                owner = f"t{t}-{i}"
                if alloc.allocate(owner, rng.choice(shapes)).placed:
                    held.append(owner)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    gpus: list[int] = []
    nics: list[int] = []
    for owner in alloc.owners():
        got = alloc.get(owner)
        assert got is not None
        gpus += got.gpus
        nics += got.nics
    assert len(gpus) == len(set(gpus)) and len(nics) == len(set(nics))
    text = alloc.to_checkpoint()  # the checkpoint reader re-verifies the whole ledger
    NodeAllocator.from_checkpoint(text, alloc.topology)
