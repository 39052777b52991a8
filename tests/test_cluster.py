"""Gang placement from Python: the reference cluster of ``tests/data/k8s-topology`` (read
through the Kueue and NRT readers) with the example gangs, the CLI, commit/release under
threads, and errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

import topoplace
from topoplace import k8s_topology as k8s
from topoplace.cli import main
from topoplace.cluster import Cluster, placement_dict
from topoplace.errors import InvalidValueError, ObjectError

DATA = Path(__file__).parent / "data" / "k8s-topology"
BLOCK, RACK = "topology.example.com/block", "topology.example.com/rack"


def _load(name: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((DATA / name).read_text())
    return loaded


def _node(b: int, r: int, n: int) -> dict[str, Any]:
    name = f"gpu-b{b}-r{r:02d}-n{n:02d}"
    return {
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "topology.kubernetes.io/zone": "zone-a",
                BLOCK: f"block-{b}",
                RACK: f"rack-{r:02d}",
                "kubernetes.io/hostname": name,
                "node.example.com/pool": "h100-8x",
            },
        },
        "status": {
            "allocatable": {"cpu": "224", "memory": "2Ti", "nvidia.com/gpu": "8"},
        },
    }


def _cluster(policy: str | None = None) -> dict[str, Any]:
    """The README's 64 nodes (2 blocks x 2 racks x 16 nodes) through the Kueue reader, each
    with the NRT example's two NUMA zones."""
    topology = next(o for o in _load("kueue/topology-and-flavor.json") if o["kind"] == "Topology")
    nodes = [_node(b, r, n) for b in range(2) for r in (2 * b, 2 * b + 1) for n in range(16)]
    cluster = k8s.cluster_from_kueue(topology, nodes)
    numa, _, nrt_policy = k8s.numa_from_nrt(_load("nrt/noderesourcetopology-2numa-8gpu.json")[0])
    for node in cluster["nodes"]:
        node["numa"] = numa
        node["topology_policy"] = policy or nrt_policy
    return cluster


def _gangs() -> dict[str, dict[str, Any]]:
    return {
        g["name"]: g
        for g in (k8s.gang_from_kueue_job(j) for j in _load("kueue/jobs-tas-annotations.json"))
    }


def _domain(c: Cluster, pods: list[tuple[str, int, str, int | None]], level: int) -> set[str]:
    # Node names encode block and rack: gpu-b<B>-r<RR>-n<NN>.
    return {node.split("-")[1 + level] for _, _, node, _ in pods}


def test_kueue_gangs_on_the_reference_cluster() -> None:
    cluster = _cluster()
    c = Cluster(cluster)
    assert c.levels[1:3] == [BLOCK, RACK] and len(c.node_names()) == 64
    gangs = _gangs()
    # 32 pods x 8 GPUs in one block, slices of 8 per rack: a block is 32 nodes.
    # Under the nodes' single-numa-node policy (from the NRT object) an 8-GPU pod needs one
    # NUMA node with 8 GPUs; each has 4: the kubelet would refuse every pod, so it is not
    # placed (a node-total count, as Kueue keeps, would admit it).
    p = c.place(gangs["llm-pretrain-32x8"])
    assert not p.feasible
    assert p.reasons[0].endswith("32 nodes with room only across NUMA nodes")
    unaligned = {**gangs["llm-pretrain-32x8"]["groups"][0], "numa_aligned": False}
    p = c.place({"name": "unaligned", "groups": [unaligned]})
    assert p.feasible and len(p) == 32
    assert len(_domain(c, p.pods, 0)) == 1
    for i in range(0, 32, 8):
        assert len(_domain(c, p.pods[i : i + 8], 1)) == 1
    # 12 x 4 GPUs, rack preferred: one pod per NUMA node, 6 nodes of one rack.
    p = c.place(gangs["finetune-12x4"])
    assert p.feasible and len(_domain(c, p.pods, 1)) == 1
    assert {numa for *_, numa in p.pods} == {0, 1}


def test_commit_release_and_what_if() -> None:
    c = Cluster(_cluster(policy="none"))
    big = _gangs()["llm-pretrain-32x8"]
    first = c.place(big)
    assert first.feasible
    c.commit(first)
    assert first.committed
    assert c.free(first.pods[0][2])["nvidia.com/gpu"] == 0
    with pytest.raises(InvalidValueError, match="already committed"):
        c.commit(first)
    # The second block takes the next one; a third does not fit, and says where it came
    # closest.
    second = c.place(big)
    assert second.feasible and _domain(c, second.pods, 0) != _domain(c, first.pods, 0)
    seq = c.what_if([big, big])
    assert [p.feasible for p in seq] == [True, False]
    assert seq[1].reasons == [
        "group main: required topology.example.com/block: best topology.example.com/block "
        "block-0 fits 0 of 32 pods in slices of 8 per topology.example.com/rack; "
        "32 nodes short of memory, 32 nodes short of nvidia.com/gpu"
    ]
    c.release(first)
    assert c.free(first.pods[0][2])["nvidia.com/gpu"] == 8
    with pytest.raises(InvalidValueError, match="not committed"):
        c.release(first)


def test_threads_commit_consistently() -> None:
    c = Cluster(_cluster(policy="none"))
    small = {"name": "s", "groups": [{"count": 2, "request": {"cpu": "8", "nvidia.com/gpu": 1}}]}
    committed: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(40):
            p = c.place(small)
            try:
                c.commit(p)
            except InvalidValueError:
                continue  # another thread took the room first: the commit is refused whole
            with lock:
                committed.append(p)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    used = 64 * 8 - sum(c.free(n)["nvidia.com/gpu"] for n in c.node_names())
    assert used == 2 * len(committed) and len(committed) > 0


def test_cli_gang(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = tmp_path / "cluster.json"
    cluster.write_text(json.dumps(_cluster(policy="none")))
    gang = tmp_path / "gang.json"
    gang.write_text(json.dumps(_gangs()["finetune-12x4"]))
    assert main(["gang", "--cluster", str(cluster), "--gang", str(gang), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["feasible"] and len(out["placements"]) == 12 and out["reasons"] == []
    too_big = {
        "name": "huge",
        "groups": [{"count": 600, "request": {"nvidia.com/gpu": 1}, "required_level": RACK}],
    }
    gang.write_text(json.dumps(too_big))
    assert main(["gang", "--cluster", str(cluster), "--gang", str(gang)]) == 3
    text = capsys.readouterr().out
    assert text.startswith("gang huge: unschedulable\n")
    assert "best topology.example.com/rack rack-00 fits 128 of 600 pods" in text


def test_bad_input_names_the_field() -> None:
    with pytest.raises(ObjectError, match=r"cluster: nodes\[0\]\.capacity\[cpu\]"):
        Cluster({"levels": [], "nodes": [{"name": "a", "capacity": {"cpu": "lots"}}]})
    with pytest.raises(InvalidValueError, match="node a appears twice"):
        Cluster({"levels": [], "nodes": [{"name": "a"}, {"name": "a"}]})
    c = Cluster(_cluster())
    with pytest.raises(ObjectError, match=r"gang g: groups\[0\]\.count: must be at least 1"):
        c.place({"name": "g", "groups": [{"count": 0}]})
    p = c.place({"name": "g", "groups": [{"count": 1, "request": {"example.com/fpga": 1}}]})
    assert not p and p.reasons == ["group pods: no node of the cluster has example.com/fpga"]
    assert placement_dict(p)["feasible"] is False


def test_from_arrays_equals_the_dict_path() -> None:
    import numpy as np

    spec = _cluster(policy="single-numa-node")
    nodes = spec["nodes"]
    gib = 1 << 30
    capacity = np.array([[224_000, 2048 * gib, 8]] * len(nodes), dtype=np.int64)
    numa = np.array([[[110_000, 1000 * gib, 4]] * 2] * len(nodes), dtype=np.int64)
    numa_used = np.zeros_like(numa)
    numa_used[::3, 0, 2] = 3  # every third node: 3 GPUs of NUMA node 0 in use
    used = numa_used.sum(axis=1)
    for i, n in enumerate(nodes):
        n["numa"] = [{"cpu": "110", "memory": "1000Gi", "nvidia.com/gpu": 4}] * 2
        n["capacity"] = {"cpu": "224", "memory": "2Ti", "nvidia.com/gpu": 8}
        if i % 3 == 0:
            n["used"] = {"nvidia.com/gpu": 3}
            n["numa_used"] = [{"nvidia.com/gpu": 3}, {}]
    levels = {
        key: sorted({n["labels"][key] for n in nodes if key in n["labels"]})
        for key in spec["levels"]
    }
    from_dict = Cluster(spec)
    from_arrays = Cluster.from_arrays(
        [n["name"] for n in nodes],
        ["cpu", "memory", "nvidia.com/gpu"],
        capacity,
        {
            key: (np.array([values.index(n["labels"][key]) for n in nodes]), values)
            for key, values in levels.items()
        },
        used=used,
        numa=numa,
        numa_used=numa_used,
        single_numa=np.ones(len(nodes), dtype=bool),
    )
    assert from_arrays.levels == from_dict.levels
    for gang in _gangs().values():
        a, b = from_dict.place(gang), from_arrays.place(gang)
        assert (a.feasible, a.pods, a.reasons) == (b.feasible, b.pods, b.reasons)
    with pytest.raises(InvalidValueError, match="capacity has 3 values, expected 6"):
        Cluster.from_arrays(["a", "b"], ["cpu", "memory", "x"], np.ones((1, 3)), {})
    with pytest.raises(InvalidValueError, match="label id 5 of level rack is out of range"):
        Cluster.from_arrays(["a"], ["cpu"], np.ones((1, 1)), {"rack": (np.array([5]), ["r0"])})


def test_nodes_from_a_topology() -> None:
    def node(i: int, **extra: Any) -> dict[str, Any]:
        return {
            "name": f"dgx-{i}",
            "labels": {"rack": "r0"},
            "topology": "builtin:dgx-h100",
            "topology_policy": "single-numa-node",
            **extra,
        }

    c = Cluster({"levels": ["rack"], "nodes": [node(0), node(1, used={"nvidia.com/gpu": 0})]})
    assert c.free("dgx-0") == {"cpu": 224_000, "memory": 2 << 40, "nvidia.com/gpu": 8}

    def gang(count: int, gpus: int) -> dict[str, Any]:
        request = {"cpu": "8", "nvidia.com/gpu": gpus}
        return {"name": "g", "groups": [{"count": count, "request": request}]}

    # The DGX H100 has 4 GPUs per NUMA node: an 8-GPU pod cannot be aligned, 4-GPU pods
    # take one NUMA node each.
    assert "room only across NUMA nodes" in c.place(gang(1, 8)).reasons[0]
    placed = c.place(gang(4, 4))
    assert [(n, z) for _, _, n, z in placed.pods] == [
        ("dgx-0", 0),
        ("dgx-0", 1),
        ("dgx-1", 0),
        ("dgx-1", 1),
    ]
    # Each pod's CPUs and GPUs come from its node's allocator, on the pod's NUMA node.
    topo = topoplace.Topology.builtin("dgx-h100")
    numa_of = {cpu: z.index for z in topo.numa_nodes for cpu in z.cpus}
    gpu_numa = [g.numa_node for g in topo.gpus]
    for (_, _, _, zone), alloc in zip(placed.pods, placed.allocations, strict=True):
        assert alloc is not None
        assert len(alloc["cpus"]) == 8 and len(alloc["gpus"]) == 4
        assert {numa_of[cpu] for cpu in alloc["cpus"]} == {zone}
        assert {gpu_numa[g] for g in alloc["gpus"]} == {zone}
    out = placement_dict(placed)["placements"][0]
    assert out["gpus"] == placed.allocations[0]["gpus"]  # type: ignore[index]
    # Committed pods hold their CPUs: the next placement gets others.
    first = c.place(gang(1, 1))
    c.commit(first)
    second = c.place(gang(1, 1))
    a, b = first.allocations[0], second.allocations[0]
    assert a is not None and b is not None
    assert not set(a["cpus"]) & set(b["cpus"]) and a["gpus"] != b["gpus"]
    c.release(first)
    assert c.place(gang(1, 1)).allocations == first.allocations
    with pytest.raises(InvalidValueError, match=r"cluster: nodes\[0\]\.topology: "):
        Cluster({"levels": [], "nodes": [node(0, topology="builtin:no-such-machine")]})
