"""``topoplace gang`` on files of Kubernetes objects (tests/data/k8s-gang, see its README).

The cut of the reference cluster: block-0 = rack-00 (n00; n01 cordoned) + rack-01 (n00, n01);
block-1 = rack-02 (n00, n01) + rack-03 (n00, n01, n02); plus cpu-n00 outside the GPU pool.
Every pod of the gangs takes a whole node's 8 GPUs, so the racks' sizes decide the answers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from topoplace import k8s_topology as k8s
from topoplace.cli import main
from topoplace.errors import InvalidValueError
from topoplace.k8s_topology.files import load_objects_or_spec

DATA = Path(__file__).parent / "data" / "k8s-gang"


def gang(
    capsys: pytest.CaptureFixture[str], cluster: str | Path, gang: str | Path, *more: str
) -> tuple[int, str, str]:
    """Runs ``topoplace gang`` in-process: (exit status, stdout, stderr)."""
    argv = ["gang", "--cluster", str(DATA / cluster), "--gang", str(DATA / gang), *more]
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def placed(capsys: pytest.CaptureFixture[str], cluster: str | Path, gang_file: str | Path) -> Any:
    status, out, err = gang(capsys, cluster, gang_file, "--format", "json")
    assert err == ""
    doc = json.loads(out)
    assert status == (0 if doc["feasible"] else 3)
    return doc


def test_kueue_topology_nodes_and_annotated_job(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = gang(capsys, "kueue-cluster.yaml", "kueue-job.yaml")
    assert (status, err) == (0, "")
    # Required rack, 3 whole nodes: only rack-03 has three. The nodes carry the flavor's taint
    # and the job no toleration: the flavor's toleration was added, as Kueue does on admission.
    assert out.splitlines() == [
        "gang finetune-3x8: 3 pods placed",
        "  main[0] -> gpu-b1-r03-n00",
        "  main[1] -> gpu-b1-r03-n01",
        "  main[2] -> gpu-b1-r03-n02",
    ]


def test_kueue_flavor_taints_the_nodes_and_keeps_its_pool(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Workload pods get no flavor toleration: the 8 tainted schedulable GPU nodes refuse them,
    # the cordoned one is counted apart, and cpu-n00 (not in the flavor's pool) is not there.
    status, out, _ = gang(capsys, "kueue-cluster.yaml", "workload-pods.yaml")
    assert status == 3
    assert out.splitlines() == [
        "gang eval: unschedulable",
        "  group workers: the cluster fits 0 of 2 pods; 8 nodes tainted or not selected, "
        "1 node unschedulable",
    ]


def test_hypernodes_nodes_and_volcano_job(capsys: pytest.CaptureFixture[str]) -> None:
    doc = placed(capsys, "volcano-cluster.json", "volcano-job.yaml")
    nodes = [p["node"] for p in doc["placements"]]
    # One block (block-0 holds one partition of 2 only), each partition in one rack.
    assert nodes == ["gpu-b1-r02-n00", "gpu-b1-r02-n01", "gpu-b1-r03-n00", "gpu-b1-r03-n01"]
    assert [(p["group"], p["index"]) for p in doc["placements"]] == [
        ("worker", i) for i in range(4)
    ]


def test_workload_and_its_pods(capsys: pytest.CaptureFixture[str]) -> None:
    doc = placed(capsys, "volcano-cluster.json", "workload-pods.yaml")
    # The two pods of the Workload (the unrelated debug pod is not one), on rack-02 as selected.
    assert doc["gang"] == "eval"
    assert [(p["group"], p["node"]) for p in doc["placements"]] == [
        ("workers", "gpu-b1-r02-n00"),
        ("workers", "gpu-b1-r02-n01"),
    ]


def test_nrt_refuses_a_pod_that_fits_only_across_numa_nodes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = placed(capsys, "nrt-cluster.yaml", "nrt-pod-96.yaml")
    assert [(p["node"], p["numa"]) for p in doc["placements"]] == [("gpu-b0-r00-n00", 1)]
    doc = placed(capsys, "nrt-cluster.yaml", "nrt-pod-120.yaml")
    # 172 CPUs and 4 GPUs free on the node, but at most 110 CPUs on one NUMA node.
    assert doc["feasible"] is False and doc["placements"] == []
    assert doc["reasons"] == [
        "group main: the cluster fits 0 of 1 pods; 1 node with room only across NUMA nodes"
    ]
    # The NRT is what refuses it: without it, the node totals take the pod.
    objects = load_objects_or_spec(DATA / "nrt-cluster.yaml")
    assert isinstance(objects, list)
    bare = tmp_path / "no-nrt.json"
    bare.write_text(json.dumps([o for o in objects if o["kind"] != "NodeResourceTopology"]))
    doc = placed(capsys, bare, "nrt-pod-120.yaml")
    assert [(p["node"], p["numa"]) for p in doc["placements"]] == [("gpu-b0-r00-n00", None)]


def test_json_output_shape(capsys: pytest.CaptureFixture[str]) -> None:
    doc = placed(capsys, "kueue-cluster.yaml", "kueue-job.yaml")
    assert {"feasible", "placements", "reasons"} <= doc.keys()
    assert doc["feasible"] is True and doc["reasons"] == []
    for i, p in enumerate(doc["placements"]):
        assert p.keys() == {"group", "index", "node", "numa"}
        assert (p["group"], p["index"], p["numa"]) == ("main", i, None)
        assert p["node"].startswith("gpu-b1-r03-")


def test_ambiguous_bags_are_errors_naming_file_and_kinds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = gang(capsys, "two-topologies.yaml", "kueue-job.yaml")
    assert (status, out) == (1, "")
    assert err == (
        f"topoplace: error: {DATA / 'two-topologies.yaml'}: 2 Kueue Topologies (Topology "
        "dc-gpu, Topology dc-cpu); the objects found: 2 Topology (kueue.x-k8s.io), 1 Node\n"
    )
    status, _, err = gang(capsys, "kueue-cluster.yaml", "two-gangs.yaml")
    assert status == 1
    assert (
        f"{DATA / 'two-gangs.yaml'}: 2 gang-defining objects (Workload ml-team/llm-pretrain, "
        "PodGroup ml-team/llm-pretrain)"
    ) in err
    assert "1 Workload (scheduling.k8s.io), 1 PodGroup (scheduling.x-k8s.io), 1 Pod" in err


def test_bags_with_nothing_recognisable_are_errors(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = gang(capsys, "kueue-cluster.yaml", "queues.yaml")
    assert status == 1
    assert f"{DATA / 'queues.yaml'}: nothing that defines a gang (expected one Workload" in err
    # Kueue's own Workload is its admission record, not the gang API: listed, not read.
    assert "the objects found: 1 LocalQueue (kueue.x-k8s.io), 1 Workload (kueue.x-k8s.io)" in err
    status, _, err = gang(capsys, "queues.yaml", "kueue-job.yaml")
    assert status == 1
    assert "no Kueue Topology and no Volcano HyperNode to give the levels" in err
    status, _, err = gang(capsys, "kueue-cluster.yaml", "volcano-job.yaml")
    assert status == 1
    assert "Job ml-team/pretrain-4x8 needs the cluster's HyperNode objects" in err


def test_malformed_object_errors_name_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (job,) = yaml.safe_load_all((DATA / "kueue-job.yaml").read_text())
    job["spec"]["template"]["metadata"]["annotations"]["kueue.x-k8s.io/podset-slice-size"] = "2"
    bad = tmp_path / "job.yaml"
    bad.write_text(yaml.safe_dump(job))
    status, _, err = gang(capsys, "kueue-cluster.yaml", bad)
    assert status == 1
    assert err.startswith(f"topoplace: error: {bad}: Job ml-team/finetune-3x8: ")
    assert "podset-slice-size" in err


def test_interchange_and_object_files_mix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    objects = load_objects_or_spec(DATA / "volcano-cluster.json")
    assert isinstance(objects, list)
    spec = tmp_path / "cluster.yaml"
    spec.write_text(yaml.safe_dump(k8s.cluster_from_objects(objects)))
    assert load_objects_or_spec(spec) == k8s.cluster_from_objects(objects)
    doc = placed(capsys, spec, "workload-pods.yaml")
    assert [p["node"] for p in doc["placements"]] == ["gpu-b1-r02-n00", "gpu-b1-r02-n01"]
    gang_spec = tmp_path / "gang.json"
    gang_spec.write_text(json.dumps(k8s.gang_from_objects(load_list("workload-pods.yaml"))))
    assert placed(capsys, "volcano-cluster.json", gang_spec) == doc


def load_list(name: str) -> list[dict[str, Any]]:
    loaded = load_objects_or_spec(DATA / name)
    assert isinstance(loaded, list)
    return loaded


def test_load_objects_or_spec_tells_objects_from_interchange(tmp_path: Path) -> None:
    assert [o["kind"] for o in load_list("workload-pods.yaml")] == ["Workload", "Pod", "Pod", "Pod"]
    assert len(load_list("volcano-cluster.json")) == 17  # a List: 7 HyperNodes, 10 Nodes
    assert [o["kind"] for o in load_list("kueue-job.yaml")] == ["Job"]  # one object
    spec = tmp_path / "gang.yaml"
    spec.write_text("name: g\ngroups: []\n")
    assert load_objects_or_spec(spec) == {"name": "g", "groups": []}
    empty = tmp_path / "empty.yaml"
    empty.write_text("---\n")
    with pytest.raises(InvalidValueError, match="empty"):
        load_objects_or_spec(empty)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(InvalidValueError, match="invalid JSON"):
        load_objects_or_spec(broken)


def test_owned_jobs_and_pods_do_not_count_as_more_gangs() -> None:
    (job,) = load_list("kueue-job.yaml")
    owner = [{"kind": "Job", "name": "finetune-3x8"}]
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"p{i}", "namespace": "ml-team", "ownerReferences": owner},
            "spec": job["spec"]["template"]["spec"],
        }
        for i in range(3)
    ]
    (group,) = k8s.gang_from_objects([job, *pods])["groups"]
    assert (group["name"], group["count"]) == ("main", 3)
    # Without its Job, the pods are three candidate gangs.
    with pytest.raises(InvalidValueError, match=r"3 jobs \(Pod ml-team/p0, Pod ml-team/p1"):
        k8s.gang_from_objects(pods)


def test_the_gang_gets_the_flavor_of_the_cluster_topology() -> None:
    cluster = load_list("kueue-cluster.yaml")
    (job,) = load_list("kueue-job.yaml")
    (group,) = k8s.gang_from_objects([job], cluster_objects=cluster)["groups"]
    assert group["node_selector"] == {"node.example.com/pool": "h100-8x"}
    assert group["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    (group,) = k8s.gang_from_objects([job])["groups"]
    assert "tolerations" not in group
    nodes = k8s.cluster_from_objects(cluster)["nodes"]
    assert "cpu-n00" not in [n["name"] for n in nodes]  # outside the flavor's pool
    second = {**cluster[1], "metadata": {"name": "h100-tas-2"}}
    with pytest.raises(InvalidValueError, match="2 ResourceFlavors name Topology dc-gpu"):
        k8s.cluster_from_objects([*cluster, second])
