"""topoplace.k8s_topology: Kubernetes topology and gang objects into the interchange dicts.

The objects are the shared examples (tests/data/k8s-topology, JSON copies of the YAML). The
examples hold no Node objects, so :func:`make_nodes` builds the 64 the README describes.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from topoplace import k8s_topology as k8s
from topoplace.errors import InvalidValueError, ObjectError

DATA = Path(__file__).parent / "data" / "k8s-topology"
ZONE, BLOCK, RACK, HOST = (
    "topology.kubernetes.io/zone",
    "topology.example.com/block",
    "topology.example.com/rack",
    "kubernetes.io/hostname",
)
POOL = "node.example.com/pool"
WHOLE_NODE = {"cpu": "96", "memory": "1536Gi", "nvidia.com/gpu": "8"}


def load(name: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = json.loads((DATA / name).read_text())
    return objects


def make_nodes(extra: int = 0) -> list[dict[str, Any]]:
    """The README's 64 GPU nodes (zone-a, block-0/1, rack-00..03, n00..n15), 8 GPUs, 2 TiB, 224
    CPUs each, tainted nvidia.com/gpu; then ``extra`` CPU nodes outside the GPU pool."""
    nodes = []
    for rack in range(4):
        block = rack // 2
        for n in range(16):
            name = f"gpu-b{block}-r{rack:02d}-n{n:02d}"
            labels = {ZONE: "zone-a", BLOCK: f"block-{block}", RACK: f"rack-{rack:02d}"}
            labels |= {HOST: name, POOL: "h100-8x"}
            nodes.append(
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": name, "labels": labels},
                    "spec": {"taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]},
                    "status": {
                        "capacity": {"cpu": "224", "memory": "2Ti", "nvidia.com/gpu": "8"},
                        "allocatable": {
                            "cpu": "224",
                            "memory": "2Ti",
                            "nvidia.com/gpu": "8",
                            "example.com/rdma-nic": "8",
                        },
                        "conditions": [{"type": "Ready", "status": "True"}],
                    },
                }
            )
    for i in range(extra):
        labels = {ZONE: "zone-a", HOST: f"cpu-{i}"}
        nodes.append(
            {
                "kind": "Node",
                "metadata": {"name": f"cpu-{i}", "labels": labels},
                "status": {"capacity": {"cpu": "64", "memory": "256Gi"}},
            }
        )
    return nodes


def kueue_objects() -> tuple[dict[str, Any], dict[str, Any]]:
    topology, flavor, _queue, _local = load("kueue/topology-and-flavor.json")
    return topology, flavor


def pod(name: str, requests: dict[str, Any], **spec: Any) -> dict[str, Any]:
    container = {"name": "c", "resources": {"requests": requests}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "ml-team", "labels": {}},
        "spec": {"containers": [container], **spec},
    }


# ---------------------------------------------------------------------------------------------
# Clusters


def test_kueue_cluster_has_the_readme_tree() -> None:
    topology, _ = kueue_objects()
    cluster = k8s.cluster_from_kueue(topology, make_nodes())
    assert cluster["levels"] == [ZONE, BLOCK, RACK, HOST]
    nodes = cluster["nodes"]
    assert len(nodes) == 64
    assert Counter(n["labels"][RACK] for n in nodes) == {f"rack-{r:02d}": 16 for r in range(4)}
    assert Counter(n["labels"][BLOCK] for n in nodes) == {"block-0": 32, "block-1": 32}
    racks_of = {b: {n["labels"][RACK] for n in nodes if n["labels"][BLOCK] == b} for b in
                ("block-0", "block-1")}  # fmt: skip
    assert racks_of == {"block-0": {"rack-00", "rack-01"}, "block-1": {"rack-02", "rack-03"}}
    first = nodes[0]
    assert first["name"] == "gpu-b0-r00-n00"
    assert first["capacity"] == {
        "cpu": "224",
        "memory": "2Ti",
        "nvidia.com/gpu": "8",
        "example.com/rdma-nic": "8",
    }
    assert first["taints"] == [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]
    assert "unschedulable" not in first
    json.dumps(cluster)  # plain data


def test_kueue_flavor_selects_nodes_adds_taints_and_checks_topology_name() -> None:
    topology, flavor = kueue_objects()
    everything = k8s.cluster_from_kueue(topology, make_nodes(extra=3))
    assert len(everything["nodes"]) == 67
    cluster = k8s.cluster_from_kueue(topology, make_nodes(extra=3), flavor=flavor)
    assert len(cluster["nodes"]) == 64
    assert all(n["labels"][POOL] == "h100-8x" for n in cluster["nodes"])
    tainted = copy.deepcopy(flavor)
    tainted["spec"]["nodeTaints"] = [
        {"key": "example.com/reserved", "value": "ml", "effect": "NoExecute"}
    ]
    nodes = k8s.cluster_from_kueue(topology, make_nodes(), flavor=tainted)["nodes"]
    assert nodes[5]["taints"][-1] == {
        "key": "example.com/reserved",
        "value": "ml",
        "effect": "NoExecute",
    }
    other = copy.deepcopy(flavor)
    other["spec"]["topologyName"] = "other"
    with pytest.raises(ObjectError, match=r"ResourceFlavor h100-tas: spec.topologyName: names"):
        k8s.cluster_from_kueue(topology, [], flavor=other)


def test_node_state_capacity_fallback_not_ready_and_cordoned() -> None:
    topology, _ = kueue_objects()
    nodes = make_nodes(extra=1)
    nodes[0]["status"]["conditions"] = [{"type": "Ready", "status": "Unknown"}]
    nodes[1]["spec"]["unschedulable"] = True
    cluster = k8s.cluster_from_kueue(topology, nodes)["nodes"]
    assert cluster[0]["unschedulable"] is True
    assert cluster[1]["unschedulable"] is True
    assert "unschedulable" not in cluster[2]
    assert cluster[-1]["capacity"] == {"cpu": "64", "memory": "256Gi"}  # status.capacity
    assert "taints" not in cluster[-1]


def test_hypernodes_give_the_same_grouping_as_kueue_labels() -> None:
    hypernodes = load("volcano/hypernode-hierarchy.json")
    cluster = k8s.cluster_from_hypernodes(hypernodes, make_nodes())
    tier = {t: k8s.HYPERNODE_LABEL_PREFIX + t for t in ("zone", "block", "rack")}
    assert cluster["levels"] == [tier["zone"], tier["block"], tier["rack"], HOST]
    assert k8s.hypernode_levels(hypernodes) == {1: tier["rack"], 2: tier["block"], 3: tier["zone"]}
    assert len(cluster["nodes"]) == 64
    for node in cluster["nodes"]:  # regexMatch (racks 00, 02) and labelMatch (01, 03) agree
        labels = node["labels"]
        assert labels[tier["rack"]] == labels[RACK]
        assert labels[tier["block"]] == labels[BLOCK]
        assert labels[tier["zone"]] == "zone-a"
    bare = k8s.cluster_from_hypernodes(hypernodes, make_nodes(extra=1), node_level=False)
    assert bare["levels"] == [tier["zone"], tier["block"], tier["rack"]]
    outside = bare["nodes"][-1]["labels"]  # in no HyperNode: an uneven tree
    assert not any(k.startswith(k8s.HYPERNODE_LABEL_PREFIX) for k in outside)


def test_hypernodes_without_tier_names_and_with_selectors() -> None:
    hypernodes = [
        {"kind": "HyperNode", "metadata": {"name": "s0"},
         "spec": {"tier": "1", "members": [
             {"type": "Node", "selector": {"exactMatch": {"name": "gpu-b0-r00-n00"}}},
             {"type": "Node", "selector": {"exactMatch": {"name": "not-given"}}},
             {"type": "Node", "selector": {"labelMatch": {"matchExpressions": [
                 {"key": RACK, "operator": "In", "values": ["rack-03"]}]}}}]}},
        {"kind": "HyperNode", "metadata": {"name": "top"},
         "spec": {"tier": 3, "members": [{"type": "HyperNode",
                                           "selector": {"regexMatch": {"pattern": "s[0-9]"}}}]}},
    ]  # fmt: skip
    cluster = k8s.cluster_from_hypernodes(hypernodes, make_nodes())
    t1, t3 = k8s.HYPERNODE_LABEL_PREFIX + "tier-1", k8s.HYPERNODE_LABEL_PREFIX + "tier-3"
    assert cluster["levels"] == [t3, t1, HOST]
    in_s0 = [n["name"] for n in cluster["nodes"] if n["labels"].get(t1) == "s0"]
    assert len(in_s0) == 17 and in_s0[0] == "gpu-b0-r00-n00"
    assert sum(n["labels"].get(t3) == "top" for n in cluster["nodes"]) == 17


def test_a_node_in_two_hypernodes_of_one_tier_is_an_error_naming_both() -> None:
    hypernodes = load("volcano/hypernode-hierarchy.json")
    rack_01 = next(h for h in hypernodes if h["metadata"]["name"] == "rack-01")
    rack_01["spec"]["members"].append(
        {"type": "Node", "selector": {"exactMatch": {"name": "gpu-b0-r00-n03"}}}
    )
    with pytest.raises(ObjectError) as info:
        k8s.cluster_from_hypernodes(hypernodes, make_nodes())
    message = str(info.value)
    assert "gpu-b0-r00-n03" in message and "rack-00" in message and "rack-01" in message
    assert info.value.path == "spec.members"


def test_nrt_gives_two_numa_zones_and_the_policy() -> None:
    (nrt,) = load("nrt/noderesourcetopology-2numa-8gpu.json")
    numa, used, policy = k8s.numa_from_nrt(nrt)
    assert policy == "single-numa-node"
    alloc = {"cpu": "110", "memory": "1000Gi", "hugepages-1Gi": "0", "nvidia.com/gpu": "4",
             "example.com/rdma-nic": "4"}  # fmt: skip
    assert numa == [alloc, alloc]
    assert used[0] == {"cpu": "48", "memory": "512Gi", "hugepages-1Gi": "0", "nvidia.com/gpu": "4",
                       "example.com/rdma-nic": "4"}  # fmt: skip
    assert used[1] == dict.fromkeys(alloc, "0")


def test_nrt_zone_order_and_deprecated_policy_field() -> None:
    (nrt,) = load("nrt/noderesourcetopology-2numa-8gpu.json")
    nrt["zones"].reverse()
    nrt["zones"].append({"name": "socket-0", "type": "Socket", "resources": []})
    nrt["attributes"] = [a for a in nrt["attributes"] if a["name"] != "topologyManagerPolicy"]
    numa, used, policy = k8s.numa_from_nrt(nrt)
    assert len(numa) == 2 and used[0]["cpu"] == "48"  # node-0 first again
    assert policy == "single-numa-node"  # from topologyPolicies: SingleNUMANodePodLevel
    nrt["topologyPolicies"] = ["BestEffortContainerLevel"]
    assert k8s.numa_from_nrt(nrt)[2] == "best-effort"
    del nrt["topologyPolicies"]
    assert k8s.numa_from_nrt(nrt)[2] is None


def test_apply_nrt_fills_the_matching_node_only() -> None:
    topology, _ = kueue_objects()
    cluster = k8s.cluster_from_kueue(topology, make_nodes())
    nrts = load("nrt/noderesourcetopology-2numa-8gpu.json")
    stray = copy.deepcopy(nrts[0])
    stray["metadata"]["name"] = "not-in-cluster"
    out = k8s.apply_nrt(cluster, nrts + [stray])
    first, second = out["nodes"][0], out["nodes"][1]
    assert first["topology_policy"] == "single-numa-node"
    assert len(first["numa"]) == len(first["numa_used"]) == 2
    assert first["numa_used"][0]["cpu"] == "48"
    # The node's own use is at least its NUMA nodes' (a Node object does not say it).
    assert first["used"]["cpu"] == "48" and first["used"]["nvidia.com/gpu"] == "4"
    assert first["used"]["memory"] == "512Gi"
    assert "numa" not in second
    assert "numa" not in cluster["nodes"][0]  # the input is not changed
    with pytest.raises(ObjectError, match="came before"):
        k8s.apply_nrt(cluster, nrts + nrts)


# ---------------------------------------------------------------------------------------------
# Gangs


def test_kueue_jobs_give_counts_levels_and_slices() -> None:
    _, flavor = kueue_objects()
    jobs = {j["metadata"]["name"]: j for j in load("kueue/jobs-tas-annotations.json")}
    (group,) = k8s.gang_from_kueue_job(jobs["llm-pretrain-32x8"])["groups"]
    assert group == {
        "name": "main",
        "count": 32,
        "min_count": 32,
        "request": WHOLE_NODE,
        "required_level": BLOCK,
        "slice_level": RACK,
        "slice_size": 8,
    }
    (group,) = k8s.gang_from_kueue_job(jobs["finetune-12x4"])["groups"]
    assert (group["count"], group["preferred_level"]) == (12, RACK)
    assert group["request"] == {"cpu": "48", "memory": "768Gi", "nvidia.com/gpu": "4"}
    assert "required_level" not in group
    gang = k8s.gang_from_kueue_job(jobs["moe-64x8"])
    assert gang["name"] == "moe-64x8"
    (group,) = gang["groups"]
    assert (group["name"], group["count"], group["min_count"]) == ("workers", 64, 64)
    assert group["required_level"] == ZONE
    assert (group["slice_level"], group["slice_size"]) == (RACK, 16)
    assert group["slices"] == [{"level": BLOCK, "size": 32}, {"level": RACK, "size": 16}]
    (group,) = k8s.gang_from_kueue_job(jobs["eval-1x1"], flavor=flavor)["groups"]
    assert group["count"] == 1  # parallelism defaults to 1
    assert not {"required_level", "preferred_level", "slice_level"} & group.keys()
    assert group["node_selector"] == {POOL: "h100-8x"}
    assert group["tolerations"] == flavor["spec"]["tolerations"]


def test_kueue_kubeflow_roles_become_groups() -> None:
    template = {
        "metadata": {"annotations": {"kueue.x-k8s.io/podset-required-topology": RACK}},
        "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": 8}}}]},
    }
    job = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": "pt", "namespace": "ml-team"},
        "spec": {
            "pytorchReplicaSpecs": {
                "Master": {"template": template},
                "Worker": {"replicas": 7, "template": template},
            }
        },
    }
    groups = k8s.gang_from_kueue_job(job)["groups"]
    assert [(g["name"], g["count"]) for g in groups] == [("master", 1), ("worker", 7)]
    assert groups[1]["request"] == {"nvidia.com/gpu": 8}  # requests default to limits
    assert groups[1]["required_level"] == RACK


def test_workload_v1alpha1_counts_the_job_pods() -> None:
    workload, job = load("workload/workload-gang-v1alpha1-k8s-1.35.json")
    gang = k8s.gang_from_workload(workload, [workload, job])
    assert gang == {
        "name": "llm-pretrain",
        "groups": [{"name": "workers", "count": 32, "min_count": 32, "request": WHOLE_NODE}],
    }


def test_workload_v1alpha1_replica_keys_and_basic_policy() -> None:
    workload, _ = load("workload/workload-gang-v1alpha1-k8s-1.35.json")
    workload["spec"]["podGroups"].append({"name": "eval", "policy": {"basic": {}}})
    pods = []
    for i in range(4):
        ref = {"name": "llm-pretrain", "podGroup": "workers", "podGroupReplicaKey": f"r{i % 2}"}
        pods.append(pod(f"w{i}", {"cpu": "1"}, workloadRef=ref))
    pods.append(pod("e", {"cpu": "2"}, workloadRef={"name": "llm-pretrain", "podGroup": "eval"}))
    workload["spec"]["podGroups"][0]["policy"]["gang"]["minCount"] = 2
    groups = k8s.gang_from_workload(workload, pods)["groups"]
    summary = [(g["name"], g["count"], g["min_count"]) for g in groups]
    assert summary == [("workers/r0", 2, 2), ("workers/r1", 2, 2), ("eval", 1, 1)]


def test_workload_v1beta1_reads_the_podgroup() -> None:
    objects = load("workload/workload-podgroup-v1beta1.json")
    gang = k8s.gang_from_workload(objects[0], objects)
    assert gang["groups"] == [
        {
            "name": "llm-pretrain-workers-0",
            "count": 32,
            "min_count": 32,
            "request": WHOLE_NODE,
            "required_level": BLOCK,
        }
    ]
    with pytest.raises(ObjectError, match="no PodGroup of this Workload"):
        k8s.gang_from_workload(objects[0], [objects[2]])


def test_workload_v1alpha3_composite_becomes_one_group_of_rack_slices() -> None:
    objects = load("workload/composite-podgroup-v1alpha3.json")
    pods = []
    for g in range(4):
        for i in range(8):
            p = pod(
                f"tp-{g}-{i}", WHOLE_NODE, schedulingGroup={"podGroupName": f"llm-pretrain-tp-g{g}"}
            )
            pods.append(p)
    gang = k8s.gang_from_workload(objects[0], objects + pods)
    assert gang["groups"] == [
        {
            "name": "llm-pretrain-tp-job-0",
            "count": 32,
            "min_count": 32,
            "request": WHOLE_NODE,
            "required_level": BLOCK,
            "slice_size": 8,
            "slice_level": RACK,
        }
    ]
    pods[-1]["spec"]["containers"][0]["resources"]["requests"] = {"cpu": "1"}
    with pytest.raises(ObjectError, match="CompositePodGroup .* llm-pretrain-tp-g3 differ"):
        k8s.gang_from_workload(objects[0], objects + pods)


def test_volcano_job_maps_tiers_and_partitions() -> None:
    job, _podgroup = load("volcano/vcjob-network-topology.json")
    hypernodes = load("volcano/hypernode-hierarchy.json")
    gang = k8s.gang_from_volcano_job(job, hypernodes)
    assert gang["groups"] == [
        {
            "name": "worker",
            "count": 32,
            "min_count": 32,
            "request": WHOLE_NODE,
            "required_level": k8s.HYPERNODE_LABEL_PREFIX + "block",
            "slice_size": 8,
            "slice_level": k8s.HYPERNODE_LABEL_PREFIX + "rack",
        }
    ]
    job["spec"]["networkTopology"] = {"mode": "hard", "highestTierAllowed": 1}
    job["spec"]["minAvailable"] = 24
    del job["spec"]["tasks"][0]["partitionPolicy"]
    (group,) = k8s.gang_from_volcano_job(job, hypernodes)["groups"]
    assert group["required_level"] == k8s.HYPERNODE_LABEL_PREFIX + "rack"
    assert group["min_count"] == 24 and "slice_size" not in group
    job["spec"]["networkTopology"] = {"mode": "soft"}
    (group,) = k8s.gang_from_volcano_job(job, hypernodes)["groups"]
    assert group["preferred_level"] == k8s.HYPERNODE_LABEL_PREFIX + "rack"


def test_coscheduling_podgroup_counts_labelled_jobs_and_pods() -> None:
    podgroup, job = load("coscheduling/podgroup-scheduler-plugins.json")
    gang = k8s.gang_from_coscheduling(podgroup, [job])
    assert gang["groups"] == [
        {"name": "llm-pretrain", "count": 32, "min_count": 32, "request": WHOLE_NODE}
    ]
    extra = pod("spare", WHOLE_NODE)
    extra["metadata"]["labels"]["scheduling.x-k8s.io/pod-group"] = "llm-pretrain"
    other_ns = copy.deepcopy(extra)
    other_ns["metadata"]["namespace"] = "elsewhere"
    (group,) = k8s.gang_from_coscheduling(podgroup, [job, extra, other_ns])["groups"]
    assert (group["count"], group["min_count"]) == (33, 32)


def test_pods_of_different_shapes_split_only_when_all_are_required() -> None:
    podgroup, _ = load("coscheduling/podgroup-scheduler-plugins.json")
    pods = [pod(f"p{i}", {"cpu": "1" if i < 2 else "2"}) for i in range(3)]
    for p in pods:
        p["metadata"]["labels"]["scheduling.x-k8s.io/pod-group"] = "llm-pretrain"
    podgroup["spec"]["minMember"] = 3
    groups = k8s.gang_from_coscheduling(podgroup, pods)["groups"]
    assert [(g["name"], g["count"], g["min_count"]) for g in groups] == [
        ("llm-pretrain-0", 2, 2),
        ("llm-pretrain-1", 1, 1),
    ]
    podgroup["spec"]["minMember"] = 2
    with pytest.raises(ObjectError, match="a minimum of 2 of 3"):
        k8s.gang_from_coscheduling(podgroup, pods)


def test_effective_requests_follow_kubernetes_rules() -> None:
    podgroup, _ = load("coscheduling/podgroup-scheduler-plugins.json")
    podgroup["spec"]["minMember"] = 1
    p = pod("p", {"cpu": "500m", "memory": "512Mi"})
    p["spec"]["containers"].append(
        {
            "name": "b",
            "resources": {
                "requests": {"cpu": "1", "memory": "512Mi"},
                "limits": {"example.com/nic": 1},
            },
        }
    )
    p["spec"]["initContainers"] = [
        {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "250m"}}},
        {"name": "setup", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}},
    ]
    p["spec"]["overhead"] = {"memory": "1Mi"}
    p["spec"]["tolerations"] = [{"key": "k", "operator": "Exists"}]
    p["spec"]["nodeSelector"] = {POOL: "h100-8x"}
    p["metadata"]["labels"]["scheduling.x-k8s.io/pod-group"] = "llm-pretrain"
    (group,) = k8s.gang_from_coscheduling(podgroup, [p])["groups"]
    # containers 1.5 CPU + sidecar 0.25 = 1.75; init setup 3 + sidecar 0.25 = 3.25 wins.
    # memory: 1Gi (containers) vs 1Gi (setup), plus 1Mi overhead.
    assert group["request"] == {"cpu": "3250m", "memory": "1025Mi", "example.com/nic": 1}
    assert group["node_selector"] == {POOL: "h100-8x"}
    assert group["tolerations"] == [{"key": "k", "operator": "Exists"}]
    p["spec"]["resources"] = {"requests": {"cpu": "8"}}  # pod-level resources win
    (group,) = k8s.gang_from_coscheduling(podgroup, [p])["groups"]
    assert group["request"]["cpu"] == "8"


# ---------------------------------------------------------------------------------------------
# Loading


def test_load_yaml_documents_reads_yaml_and_json(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    text = "a: 1\nkind: Node\n---\n---\nkind: NodeList\nitems:\n- kind: Node\n- kind: Node\n"
    (tmp_path / "x.yaml").write_text(text)
    assert [d.get("kind") for d in k8s.load_yaml_documents(tmp_path / "x.yaml")] == ["Node"] * 3
    (tmp_path / "x.json").write_text(json.dumps([{"kind": "A"}, {"kind": "B"}]))
    assert k8s.objects_of_kind(k8s.load_yaml_documents(tmp_path / "x.json"), "B") == [{"kind": "B"}]
    (tmp_path / "bad.yaml").write_text("- 3\n")
    with pytest.raises(InvalidValueError, match="document 0: expected an object"):
        k8s.load_yaml_documents(tmp_path / "bad.yaml")


def test_load_yaml_documents_without_pyyaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("topoplace.k8s_topology._common.yaml_module", lambda: None)
    (tmp_path / "x.yaml").write_text("kind: Node\n")
    with pytest.raises(InvalidValueError, match="needs pyyaml"):
        k8s.load_yaml_documents(tmp_path / "x.yaml")


# ---------------------------------------------------------------------------------------------
# Malformed objects


def _set(path: list[Any], value: Any) -> Callable[[Any], None]:
    def edit(obj: Any) -> None:
        for key in path[:-1]:
            obj = obj[key]
        if value is _DELETE:
            del obj[path[-1]]
        else:
            obj[path[-1]] = value

    return edit


_DELETE = object()


def _kueue(edit: Callable[[Any], None]) -> None:
    topology, flavor = kueue_objects()
    edit(topology)
    k8s.cluster_from_kueue(topology, make_nodes(), flavor=flavor)


def _kueue_node(edit: Callable[[Any], None]) -> None:
    topology, _ = kueue_objects()
    nodes = make_nodes()
    edit(nodes[3])
    k8s.cluster_from_kueue(topology, nodes)


def _hypernodes(edit: Callable[[Any], None]) -> None:
    hypernodes = load("volcano/hypernode-hierarchy.json")
    edit(hypernodes[4])  # block-0
    k8s.cluster_from_hypernodes(hypernodes, make_nodes())


def _nrt(edit: Callable[[Any], None]) -> None:
    (nrt,) = load("nrt/noderesourcetopology-2numa-8gpu.json")
    edit(nrt)
    k8s.numa_from_nrt(nrt)


def _kueue_job(edit: Callable[[Any], None]) -> None:
    job = load("kueue/jobs-tas-annotations.json")[0]
    edit(job)
    k8s.gang_from_kueue_job(job)


def _workload(edit: Callable[[Any], None]) -> None:
    objects = load("workload/workload-podgroup-v1beta1.json")
    edit(objects)
    k8s.gang_from_workload(objects[0], objects)


def _volcano(edit: Callable[[Any], None]) -> None:
    job, _ = load("volcano/vcjob-network-topology.json")
    edit(job)
    k8s.gang_from_volcano_job(job, load("volcano/hypernode-hierarchy.json"))


ANN = ["spec", "template", "metadata", "annotations"]
BLOCK_0_MEMBERS = load("volcano/hypernode-hierarchy.json")[4]["spec"]["members"]
K = "kueue.x-k8s.io/podset-"
MALFORMED = [
    ("kueue level missing", _kueue, _set(["spec", "levels", 1, "nodeLabel"], _DELETE),
     "Topology dc-gpu", "spec.levels[1].nodeLabel", "missing"),
    ("kueue level bad key", _kueue, _set(["spec", "levels", 2, "nodeLabel"], "a b"),
     "Topology dc-gpu", "spec.levels[2].nodeLabel", "not a valid label key"),
    ("kueue level repeated", _kueue, _set(["spec", "levels", 2], {"nodeLabel": ZONE}),
     "Topology dc-gpu", "spec.levels[2].nodeLabel", "repeats spec.levels[0]"),
    ("kueue hostname not last", _kueue,
     _set(["spec", "levels"], [{"nodeLabel": HOST}, {"nodeLabel": RACK}]),
     "Topology dc-gpu", "spec.levels[0].nodeLabel", "must be last"),
    ("kueue levels not a list", _kueue, _set(["spec", "levels"], "zone"),
     "Topology dc-gpu", "spec.levels", "expected a list"),
    ("kueue wrong kind", _kueue, _set(["kind"], "ResourceFlavor"),
     "ResourceFlavor dc-gpu", "kind", "expected Topology"),
    ("node bad quantity", _kueue_node, _set(["status", "allocatable", "memory"], "2 TiB"),
     "Node gpu-b0-r00-n03", 'status.allocatable.memory', "not a Kubernetes quantity"),
    ("node negative quantity", _kueue_node, _set(["status", "allocatable", "cpu"], "-1"),
     "Node gpu-b0-r00-n03", "status.allocatable.cpu", "must not be negative"),
    ("node gpu as list", _kueue_node, _set(["status", "allocatable", "nvidia.com/gpu"], [8]),
     "Node gpu-b0-r00-n03", 'status.allocatable["nvidia.com/gpu"]', "expected a quantity"),
    ("node taint effect", _kueue_node, _set(["spec", "taints", 0, "effect"], "Never"),
     "Node gpu-b0-r00-n03", "spec.taints[0].effect", "not one of"),
    ("node unnamed", _kueue_node, _set(["metadata", "name"], _DELETE),
     "Node <unnamed>", "metadata.name", "missing"),
    ("node duplicate", _kueue_node, _set(["metadata", "name"], "gpu-b0-r00-n00"),
     "Node gpu-b0-r00-n00", "metadata.name", "came before"),
    ("node unschedulable string", _kueue_node, _set(["spec", "unschedulable"], "yes"),
     "Node gpu-b0-r00-n03", "spec.unschedulable", "expected a boolean"),
    ("hypernode two selectors", _hypernodes,
     _set(["spec", "members", 0, "selector", "regexMatch"], {"pattern": "x"}),
     "HyperNode block-0", "spec.members[0].selector", "exactly one of"),
    ("hypernode unknown child", _hypernodes,
     _set(["spec", "members", 1, "selector", "exactMatch", "name"], "rack-09"),
     "HyperNode block-0", "spec.members[1].selector", "no HyperNode named 'rack-09'"),
    ("hypernode tier renamed", _hypernodes, _set(["spec", "tier"], 1),
     "HyperNode block-0", "spec.tierName", "tier 1 is already named 'rack'"),
    ("hypernode child not lower", _hypernodes, _set(["spec"], {"tier": 1, "tierName": "rack",
                                                               "members": BLOCK_0_MEMBERS}),
     "HyperNode block-0", "spec.members[0].selector", "'rack-00' is not of a lower tier"),
    ("hypernode label match for hypernode", _hypernodes,
     _set(["spec", "members", 0, "selector"], {"labelMatch": {"matchLabels": {"a": "b"}}}),
     "HyperNode block-0", "spec.members[0].selector.labelMatch", "only valid for type Node"),
    ("hypernode bad regex", _hypernodes,
     _set(["spec", "members", 0, "selector"], {"regexMatch": {"pattern": "("}}),
     "HyperNode block-0", "spec.members[0].selector.regexMatch.pattern", "invalid regular"),
    ("hypernode member type", _hypernodes, _set(["spec", "members", 0, "type"], "Rack"),
     "HyperNode block-0", "spec.members[0].type", "not Node or HyperNode"),
    ("hypernode tier text", _hypernodes, _set(["spec", "tier"], "two"),
     "HyperNode block-0", "spec.tier", "expected an integer"),
    ("nrt available too big", _nrt, _set(["zones", 1, "resources", 0, "available"], "111"),
     "NodeResourceTopology gpu-b0-r00-n00", "zones[1].resources[0].available", "exceeds"),
    ("nrt allocatable missing", _nrt, _set(["zones", 0, "resources", 1, "allocatable"], _DELETE),
     "NodeResourceTopology gpu-b0-r00-n00", "zones[0].resources[1].allocatable",
     "expected a quantity"),
    ("nrt policy", _nrt, _set(["attributes", 0, "value"], "single"),
     "NodeResourceTopology gpu-b0-r00-n00", "attributes[0].value", "not one of"),
    ("kueue slice size missing", _kueue_job, _set([*ANN, K + "slice-size"], _DELETE),
     "Job ml-team/llm-pretrain-32x8", f'{".".join(ANN)}["{K}slice-size"]', "missing"),
    ("kueue slice size not dividing", _kueue_job, _set([*ANN, K + "slice-size"], "5"),
     "Job ml-team/llm-pretrain-32x8", f'{".".join(ANN)}["{K}slice-size"]', "does not divide 32"),
    ("kueue required and preferred", _kueue_job, _set([*ANN, K + "preferred-topology"], RACK),
     "Job ml-team/llm-pretrain-32x8", f'{".".join(ANN)}["{K}preferred-topology"]',
     "mutually exclusive"),
    ("kueue container request", _kueue_job,
     _set(["spec", "template", "spec", "containers", 0, "resources", "requests", "cpu"], "many"),
     "Job ml-team/llm-pretrain-32x8", "spec.template.spec.containers[0].resources.requests.cpu",
     "not a Kubernetes quantity"),
    ("kueue no containers", _kueue_job, _set(["spec", "template", "spec", "containers"], []),
     "Job ml-team/llm-pretrain-32x8", "spec.template.spec.containers", "missing"),
    ("kueue parallelism", _kueue_job, _set(["spec", "parallelism"], -1),
     "Job ml-team/llm-pretrain-32x8", "spec.parallelism", "at least 0"),
    ("workload gang policy", _workload,
     _set([0, "spec", "podGroupTemplates", 0, "schedulingPolicy"], {"gang": {}}),
     "Workload ml-team/llm-pretrain", "spec.podGroupTemplates[0].schedulingPolicy.gang.minCount",
     "missing"),
    ("podgroup two policies", _workload,
     _set([1, "spec", "schedulingPolicy", "basic"], {}),
     "PodGroup ml-team/llm-pretrain-workers-0", "spec.schedulingPolicy", "exactly one of"),
    ("podgroup two topologies", _workload,
     _set([1, "spec", "schedulingConstraints", "topology"], [{"key": BLOCK}, {"key": RACK}]),
     "PodGroup ml-team/llm-pretrain-workers-0", "spec.schedulingConstraints.topology[1]",
     "at most one"),
    ("podgroup unknown template", _workload, _set([1, "spec", "workloadRef", "templateName"], "x"),
     "PodGroup ml-team/llm-pretrain-workers-0", "spec.workloadRef.templateName",
     "no such template"),
    ("podgroup min above pods", _workload, _set([2, "spec", "parallelism"], 16),
     "PodGroup ml-team/llm-pretrain-workers-0", "<object>", "minimum 32 exceeds the 16 pods"),
    ("volcano partitions", _volcano,
     _set(["spec", "tasks", 0, "partitionPolicy", "totalPartitions"], 3),
     "Job ml-team/llm-pretrain-32x8", "spec.tasks[0].partitionPolicy", "not replicas 32"),
    ("volcano tier name", _volcano, _set(["spec", "networkTopology", "highestTierName"], "pod"),
     "Job ml-team/llm-pretrain-32x8", "spec.networkTopology.highestTierName", "no HyperNode tier"),
    ("volcano both tiers", _volcano, _set(["spec", "networkTopology", "highestTierAllowed"], 2),
     "Job ml-team/llm-pretrain-32x8", "spec.networkTopology.highestTierName", "not both"),
    ("volcano min above replicas", _volcano, _set(["spec", "minAvailable"], 40),
     "Job ml-team/llm-pretrain-32x8", "spec.minAvailable", "40 pods exceed the 32 replicas"),
    ("nrt zone twice", _nrt, _set(["zones", 1, "name"], "node-0"),
     "NodeResourceTopology gpu-b0-r00-n00", "zones[1].name", "came before"),
    ("volcano mode", _volcano, _set(["spec", "networkTopology", "mode"], "strict"),
     "Job ml-team/llm-pretrain-32x8", "spec.networkTopology.mode", "not hard or soft"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "read", "edit", "obj", "path", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_objects_name_the_object_and_field(
    case: str, read: Callable[[Callable[[Any], None]], None], edit: Callable[[Any], None],
    obj: str, path: str, reason: str,
) -> None:  # fmt: skip
    with pytest.raises(ObjectError) as info:
        read(edit)
    error = info.value
    assert (error.object, error.path) == (obj, path), str(error)
    assert reason in error.reason, str(error)
    assert str(error) == f"{obj}: {path}: {error.reason}"
    assert isinstance(error, ValueError)


def test_wrong_api_group_and_kind_mixups_are_named() -> None:
    volcano_job, volcano_podgroup = load("volcano/vcjob-network-topology.json")
    with pytest.raises(ObjectError, match="apiVersion: a Volcano Job"):
        k8s.gang_from_kueue_job(volcano_job)
    with pytest.raises(ObjectError, match="apiVersion: expected the API group scheduling.x-k8s.io"):
        k8s.gang_from_coscheduling(volcano_podgroup, [])
    with pytest.raises(ObjectError, match="^Job: expected an object, got list"):
        k8s.gang_from_kueue_job([])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first", "second", "total"),
    [
        ("512Mi", "512Mi", "1Gi"),
        ("100m", "1", "1100m"),
        ("1.5", "1", "2500m"),
        (2, 6, 8),
        ("1G", "500M", "1500M"),
        ("1e3", "1k", "2k"),
        ("1Ki", "1", "1025"),
        ("0", "3Gi", "3Gi"),
        ("0.5", 0.25, "750m"),
    ],
)
def test_quantities_are_summed_exactly_and_kept_in_kubernetes_syntax(
    first: Any, second: Any, total: Any
) -> None:
    p = pod("p", {"example.com/r": first})
    p["spec"]["containers"].append(
        {"name": "b", "resources": {"requests": {"example.com/r": second}}}
    )
    p["metadata"]["labels"]["scheduling.x-k8s.io/pod-group"] = "g"
    podgroup = {"kind": "PodGroup", "metadata": {"name": "g"}, "spec": {"minMember": 1}}
    (group,) = k8s.gang_from_coscheduling(podgroup, [p])["groups"]
    assert group["request"] == {"example.com/r": total}


def test_kueue_multi_layer_slices_are_checked() -> None:
    job = load("kueue/jobs-tas-annotations.json")[2]
    ann = job["spec"]["replicatedJobs"][0]["template"]["spec"]["template"]["metadata"][
        "annotations"
    ]
    key = "kueue.x-k8s.io/podset-slice-required-topology-constraints"
    ann[key] = json.dumps([{"topology": BLOCK, "size": 32}, {"topology": RACK, "size": 12}])
    with pytest.raises(ObjectError, match=r"\[1\]: slice size 12 does not divide 32"):
        k8s.gang_from_kueue_job(job)
    ann[key] = "[{"
    with pytest.raises(ObjectError, match="invalid JSON"):
        k8s.gang_from_kueue_job(job)
    ann[key] = json.dumps([{"topology": RACK, "size": 16}])
    (group,) = k8s.gang_from_kueue_job(job)["groups"]
    assert (group["slice_level"], group["slice_size"]) == (RACK, 16)
    assert "slices" not in group
