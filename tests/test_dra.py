"""topoplace.dra: the structured-parameters DRA allocator on the example objects of
tests/data/dra/k8s (JSON conversions of the k8s/dra YAML examples), errors, the bulk form,
threads and the ``topoplace dra`` command."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from topoplace import dra
from topoplace.cli import main
from topoplace.errors import InvalidValueError, ObjectError

DATA = Path(__file__).parent / "data" / "dra" / "k8s"
PRIO = "DRAPrioritizedList"
PART = "DRAPartitionableDevices"
CONSUMABLE = "DRAConsumableCapacity"


def objects(name: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((DATA / f"{name}.json").read_text())
    return loaded


CLASSES = objects("deviceclasses")
GPU_NODE = objects("node-8gpu-2numa-8nic.resourceslices")
CPU_GROUPED = objects("cpu-2socket-grouped.resourceslices")
MIG_NODE = objects("gpu-partitionable-mig.v1_35plus.resourceslices")
MIG_NODE_134 = objects("gpu-partitionable-mig.v1_34.resourceslice")
HELD = objects("resourceclaim-allocated.example")


def claim(name: str) -> dict[str, Any]:
    found = [c for c in objects("resourceclaims") if c["metadata"]["name"] == name]
    assert len(found) == 1
    return copy.deepcopy(found[0])


def devices(allocation: dict[str, Any]) -> list[str]:
    return [r["device"] for r in allocation["devices"]["results"]]


def requests(allocation: dict[str, Any]) -> list[str]:
    return [r["request"] for r in allocation["devices"]["results"]]


def allocated(result: list[dict[str, Any]] | dra.Unsatisfiable) -> list[dict[str, Any]]:
    assert not isinstance(result, dra.Unsatisfiable), result
    return result


# --- the examples -----------------------------------------------------------------------


def test_two_gpus() -> None:
    result = allocated(dra.allocate(GPU_NODE, CLASSES, [claim("two-gpus")], node="gpu-node-01"))
    assert len(result) == 1
    assert devices(result[0]) == ["gpu-0", "gpu-1"]
    assert {r["driver"] for r in result[0]["devices"]["results"]} == {"gpu.nvidia.com"}
    # The allocation is pinned to the node.
    assert "gpu-node-01" in json.dumps(result[0]["nodeSelector"])


def test_gpu_nic_same_pcie_root() -> None:
    result = allocated(
        dra.allocate(GPU_NODE, CLASSES, claim("gpu-nic-same-pcie-root"), node="gpu-node-01")
    )
    assert devices(result[0]) == ["gpu-0", "gpu0rdma0"]
    assert requests(result[0]) == ["gpu", "nic"]


def test_slices_of_another_node_are_unreachable() -> None:
    result = dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), node="other-node")
    assert isinstance(result, dra.Unsatisfiable)
    assert not result
    assert result.reason
    assert isinstance(dra.allocate(GPU_NODE, CLASSES, claim("two-gpus")), dra.Unsatisfiable)


def test_node_forms_agree() -> None:
    forms: list[dra.NodeLike] = [
        "gpu-node-01",
        {"name": "gpu-node-01", "labels": {"kubernetes.io/hostname": "gpu-node-01"}},
        {"metadata": {"name": "gpu-node-01"}},
    ]
    results = [dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), node=n) for n in forms]
    assert results[0] == results[1] == results[2]


def test_json_text_and_parsed_inputs_agree() -> None:
    expected = dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), node="gpu-node-01")
    as_text = dra.allocate(
        json.dumps(GPU_NODE),
        json.dumps({"kind": "DeviceClassList", "items": CLASSES}),
        json.dumps(claim("two-gpus")),
        node="gpu-node-01",
    )
    parsed = dra.allocate(
        dra.parse_slices(GPU_NODE),
        dra.parse_classes(CLASSES),
        dra.parse_claims([claim("two-gpus")]),
        node="gpu-node-01",
    )
    assert expected == as_text == parsed
    assert len(dra.parse_slices(GPU_NODE)) == 2


def test_four_gpu_nic_pairs_one_numa() -> None:
    result = allocated(
        dra.allocate(
            GPU_NODE + CPU_GROUPED,
            CLASSES,
            claim("four-gpu-nic-pairs-one-numa"),
            node="gpu-node-01",
            features=[CONSUMABLE],
        )
    )
    results = result[0]["devices"]["results"]
    gpus = [r["device"] for r in results if r["driver"] == "gpu.nvidia.com"]
    nics = [r["device"] for r in results if r["driver"] == "dra.net"]
    cpus = [r for r in results if r["driver"] == "dra.cpu"]
    assert gpus == ["gpu-0", "gpu-1", "gpu-2", "gpu-3"]
    assert len(nics) == 4
    assert len(cpus) == 1
    assert cpus[0]["consumedCapacity"]
    # All on NUMA node 0: the GPUs, NICs and CPU group of the first socket.
    numa = {
        d["name"]: d["attributes"].get("resource.kubernetes.io/numaNode")
        for s in GPU_NODE + CPU_GROUPED
        for d in s["spec"].get("devices", [])
    }
    assert {json.dumps(numa[r["device"]]) for r in results} == {json.dumps(numa["gpu-0"])}


def test_four_gpu_nic_pairs_without_consumable_capacity() -> None:
    # With the gate off the capacity request is not honoured: the CPU group is taken whole.
    result = allocated(
        dra.allocate(
            GPU_NODE + CPU_GROUPED,
            CLASSES,
            claim("four-gpu-nic-pairs-one-numa"),
            node="gpu-node-01",
        )
    )
    cpus = [r for r in result[0]["devices"]["results"] if r["driver"] == "dra.cpu"]
    assert len(cpus) == 1
    assert "consumedCapacity" not in cpus[0]


@pytest.mark.parametrize("slices", [MIG_NODE, MIG_NODE_134], ids=["v1_35plus", "v1_34"])
def test_gpu_or_mig_fallback(slices: list[dict[str, Any]]) -> None:
    one = claim("gpu-or-mig-fallback")
    two = claim("gpu-or-mig-fallback")
    two["metadata"]["name"] = "gpu-or-mig-fallback-2"
    features = [PRIO, PART]
    single = allocated(dra.allocate(slices, CLASSES, [one], node="mig-node-01", features=features))
    assert requests(single[0]) == ["accel/full"]
    both = allocated(
        dra.allocate(slices, CLASSES, [one, two], node="mig-node-01", features=features)
    )
    # The first claim is backtracked from the full GPU to a 3g.40gb half.
    assert [requests(a) for a in both] == [["accel/half"], ["accel/half"]]
    # Both 3g.40gb devices (profile attribute "3g.40gb"), one per claim.
    assert [devices(a) for a in both] == [["gpu-0-mig-9-0-4"], ["gpu-0-mig-9-4-4"]]
    # Three copies: a half at memory slices 4-7 and two pairs of 1g.10gb at slices 0-3.
    three = claim("gpu-or-mig-fallback")
    three["metadata"]["name"] = "gpu-or-mig-fallback-3"
    third = allocated(
        dra.allocate(slices, CLASSES, [one, two, three], node="mig-node-01", features=features)
    )
    assert [devices(a) for a in third] == [
        ["gpu-0-mig-9-4-4"],
        ["gpu-0-mig-19-0-1", "gpu-0-mig-19-1-1"],
        ["gpu-0-mig-19-2-1", "gpu-0-mig-19-3-1"],
    ]


def test_all_rdma_nics() -> None:
    result = allocated(dra.allocate(GPU_NODE, CLASSES, claim("all-rdma-nics"), node="gpu-node-01"))
    got = devices(result[0])
    assert len(got) == 8
    assert all("rdma" in d for d in got)
    pool = result[0]["devices"]["results"][0]["pool"]
    in_use = {"driver": "dra.net", "pool": pool, "device": got[3]}
    refused = dra.allocate(
        GPU_NODE, CLASSES, claim("all-rdma-nics"), node="gpu-node-01", allocated=[in_use]
    )
    assert isinstance(refused, dra.Unsatisfiable)


def test_big_hopper_gpu_cel_80g_not_80gi() -> None:
    fits = allocated(
        dra.allocate(GPU_NODE, CLASSES, claim("big-hopper-gpu-cel"), node="gpu-node-01")
    )
    assert devices(fits[0]) == ["gpu-0"]
    gi = claim("big-hopper-gpu-cel")
    sel = gi["spec"]["devices"]["requests"][0]["exactly"]["selectors"][0]["cel"]
    sel["expression"] = sel["expression"].replace("quantity('80G')", "quantity('80Gi')")
    assert "80Gi" in sel["expression"]
    assert isinstance(dra.allocate(GPU_NODE, CLASSES, gi, node="gpu-node-01"), dra.Unsatisfiable)


def test_allocated_devices_are_skipped() -> None:
    first = allocated(dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), node="gpu-node-01"))
    in_use = [
        {"driver": r["driver"], "pool": r["pool"], "device": r["device"]}
        for r in first[0]["devices"]["results"]
    ]
    second = allocated(
        dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), node="gpu-node-01", allocated=in_use)
    )
    assert devices(second[0]) == ["gpu-2", "gpu-3"]


def test_result_round_trips_as_allocated_example() -> None:
    # The allocation is in the API's shape: a claim with it as status.allocation parses.
    result = allocated(
        dra.allocate(GPU_NODE, CLASSES, claim("gpu-nic-same-pcie-root"), node="gpu-node-01")
    )
    done = claim("gpu-nic-same-pcie-root")
    done["status"] = {"allocation": result[0]}
    assert len(dra.parse_claims(done)) == 1


# --- claims already allocated ------------------------------------------------------------


def held(name: str) -> dict[str, Any]:
    found = [c for c in HELD if c["metadata"]["name"] == name]
    assert len(found) == 1
    return copy.deepcopy(found[0])


def cpu_claim(name: str, cpus: int) -> dict[str, Any]:
    exactly = {"deviceClassName": "dra.cpu", "capacity": {"requests": {"dra.cpu/cpu": str(cpus)}}}
    return {
        "metadata": {"name": name, "namespace": "training"},
        "spec": {"devices": {"requests": [{"name": "cpus", "exactly": exactly}]}},
    }


def cpu_share(name: str, device: str, cpus: int) -> dict[str, Any]:
    share = held("cpus-from-numa-group")
    share["metadata"]["name"] = name
    result = share["status"]["allocation"]["devices"]["results"][0]
    result["device"] = device
    result["consumedCapacity"] = {"dra.cpu/cpu": str(cpus)}
    return share


def cpu_device(held_claims: list[dict[str, Any]], cpus: int = 32) -> list[str] | None:
    result = dra.allocate(
        CPU_GROUPED,
        CLASSES,
        cpu_claim("more-cpus", cpus),
        node="gpu-node-01",
        allocated_claims=held_claims,
        features=[CONSUMABLE],
    )
    return None if isinstance(result, dra.Unsatisfiable) else devices(result[0])


def test_allocated_claims_hold_whole_devices() -> None:
    # The example holds gpu-0 and gpu0rdma0: the same claim again gets the next pair.
    again = allocated(
        dra.allocate(
            GPU_NODE,
            CLASSES,
            claim("gpu-nic-same-pcie-root"),
            node="gpu-node-01",
            allocated_claims=[held("gpu-nic-same-pcie-root")],
        )
    )
    assert devices(again[0]) == ["gpu-1", "gpu1rdma0"]
    # The same as naming the devices, in every form the claims take.
    refs = [{"driver": "gpu.nvidia.com", "pool": "gpu-node-01", "device": "gpu-0"}]
    by_ref = dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), node="gpu-node-01", allocated=refs)
    forms: list[Any] = [
        [held("gpu-nic-same-pcie-root")],
        held("gpu-nic-same-pcie-root"),
        json.dumps(HELD[:1]),
        dra.parse_claims(HELD[:1]),
        (c for c in HELD[:1]),
    ]
    for form in forms:
        got = dra.allocate(
            GPU_NODE, CLASSES, claim("two-gpus"), node="gpu-node-01", allocated_claims=form
        )
        assert got == by_ref
        assert devices(allocated(got)[0]) == ["gpu-1", "gpu-2"]


def test_allocated_claims_share_capacity() -> None:
    # Nothing held: 32 CPUs from the first NUMA group.
    assert cpu_device([]) == ["cpudevnuma000"]
    # The example's share takes 16 of its 64 CPUs: 48 are left, 32 still fit there.
    assert cpu_device([held("cpus-from-numa-group")]) == ["cpudevnuma000"]
    # A share of 48 leaves 16: 32 CPUs go to the other NUMA group.
    assert cpu_device([cpu_share("big", "cpudevnuma000", 48)]) == ["cpudevnuma001"]
    # Shares add up, per device.
    two = [cpu_share("a", "cpudevnuma000", 24), cpu_share("b", "cpudevnuma000", 24)]
    assert cpu_device(two) == ["cpudevnuma001"]
    assert cpu_device(two, 16) == ["cpudevnuma000"]
    both = [cpu_share("a", "cpudevnuma000", 48), cpu_share("b", "cpudevnuma001", 48)]
    assert cpu_device(both) is None
    # A claim with no allocation holds nothing.
    pending = held("cpus-from-numa-group")
    del pending["status"]
    assert cpu_device([pending, cpu_share("big", "cpudevnuma001", 48)]) == ["cpudevnuma000"]


def test_allocated_claims_without_consumable_capacity_hold_the_device() -> None:
    # With the gate off a share is not told apart: the whole group is held, as upstream.
    result = allocated(
        dra.allocate(
            GPU_NODE + CPU_GROUPED,
            CLASSES,
            claim("four-gpu-nic-pairs-one-numa"),
            node="gpu-node-01",
            allocated_claims=[held("cpus-from-numa-group")],
        )
    )
    results = result[0]["devices"]["results"]
    assert [r["device"] for r in results if r["driver"] == "dra.cpu"] == ["cpudevnuma001"]
    assert [r["device"] for r in results if r["driver"] == "gpu.nvidia.com"] == [
        "gpu-4",
        "gpu-5",
        "gpu-6",
        "gpu-7",
    ]


@pytest.mark.parametrize("slices", [MIG_NODE, MIG_NODE_134], ids=["v1_35plus", "v1_34"])
def test_allocated_claims_consume_counters(slices: list[dict[str, Any]]) -> None:
    # The example holds the 3g.40gb half at memory slices 0-3: the full GPU no longer fits.
    result = allocated(
        dra.allocate(
            slices,
            CLASSES,
            claim("gpu-or-mig-fallback"),
            node="mig-node-01",
            allocated_claims=[held("gpu-or-mig-fallback")],
            features=[PRIO, PART],
        )
    )
    assert requests(result[0]) == ["accel/half"]
    assert devices(result[0]) == ["gpu-0-mig-9-4-4"]


def test_allocate_many_with_allocated_claims() -> None:
    out = dra.allocate_many(
        {"gpu-node-01": GPU_NODE, "other": node_copy("other")},
        CLASSES,
        claim("two-gpus"),
        allocated_claims=[held("gpu-nic-same-pcie-root")],
    )
    assert devices(allocated(out["gpu-node-01"])[0]) == ["gpu-1", "gpu-2"]
    assert devices(allocated(out["other"])[0]) == ["gpu-0", "gpu-1"]


# --- errors -----------------------------------------------------------------------------


def test_feature_gates_known_ignored_and_unknown() -> None:
    plain = dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), node="gpu-node-01")
    ignored = ["DynamicResourceAllocation", "DRAResourceClaimDeviceStatus", "DRAExtendedResource"]
    assert (
        dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), node="gpu-node-01", features=ignored)
        == plain
    )
    with pytest.raises(InvalidValueError, match='unknown DRA feature gate "DRAPrioritisedList"'):
        dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), features=[PRIO, "DRAPrioritisedList"])
    with pytest.raises(InvalidValueError, match=r"known: DRAAdminAccess, .*DynamicResourceAll"):
        dra.allocate_many({"n": GPU_NODE}, CLASSES, claim("two-gpus"), features=["Nope"])


def test_inconsistent_counter_pool_is_the_schedulers_error() -> None:
    # 1.35+ layout: a device consuming a counter set no slice of its pool defines.
    bad = copy.deepcopy(MIG_NODE)
    device = bad[1]["spec"]["devices"][0]
    device["consumesCounters"][0]["counterSet"] = "gpu-9-counter-set"
    c = claim("gpu-or-mig-fallback")
    with pytest.raises(InvalidValueError, match="counter set gpu-9-counter-set not found"):
        dra.allocate(bad, CLASSES, c, node="mig-node-01", features=[PRIO, PART])
    # A slice with both devices and counters beside a counter-only slice of the same pool.
    mixed = copy.deepcopy(MIG_NODE)
    mixed[1]["spec"]["sharedCounters"] = [{"name": "extra", "counters": {"x": {"value": "1"}}}]
    with pytest.raises(InvalidValueError, match="only one of sharedCounters and devices"):
        dra.allocate(mixed, CLASSES, c, node="mig-node-01", features=[PRIO, PART])


def test_slice_limits_are_object_errors() -> None:
    bad = copy.deepcopy(MIG_NODE)
    consumes = bad[1]["spec"]["devices"][0]["consumesCounters"]
    consumes.extend({"counterSet": f"set-{i}", "counters": {"c": {"value": "1"}}} for i in range(2))
    with pytest.raises(ObjectError) as info:
        dra.parse_slices(bad)
    assert info.value.path == "spec.devices[0].consumesCounters"
    assert "at most 2" in str(info.value)


def test_malformed_claim_names_object_and_path() -> None:
    bad = claim("gpu-nic-same-pcie-root")
    bad["spec"]["devices"]["requests"][1]["exactly"]["count"] = "two"
    with pytest.raises(ObjectError) as info:
        dra.allocate(GPU_NODE, CLASSES, bad, node="gpu-node-01")
    assert info.value.object == "ResourceClaim training/gpu-nic-same-pcie-root"
    assert info.value.path == "spec.devices.requests[1].exactly.count"


def test_malformed_slice_and_wrong_kind() -> None:
    bad = copy.deepcopy(GPU_NODE)
    del bad[0]["spec"]["driver"]
    with pytest.raises(ObjectError) as info:
        dra.parse_slices(bad)
    assert "ResourceSlice" in (info.value.object or "")
    with pytest.raises(ObjectError):
        dra.parse_classes(GPU_NODE)


def test_bad_json_text_and_bad_inputs() -> None:
    with pytest.raises(InvalidValueError):
        dra.parse_claims("{not json")
    with pytest.raises(InvalidValueError, match='unknown DRA allocation mode "fastest"'):
        dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), mode="fastest")
    with pytest.raises(InvalidValueError, match="alignment: unknown level 'rack'"):
        dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), mode="scored", alignment={"rack": []})
    with pytest.raises(InvalidValueError, match="pool"):
        dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), allocated=[{"driver": "x"}])
    with pytest.raises(InvalidValueError):
        dra.allocate(GPU_NODE, CLASSES, claim("two-gpus"), node={"labels": {}})


def test_unknown_class_is_the_schedulers_error() -> None:
    c = claim("two-gpus")
    c["spec"]["devices"]["requests"][0]["exactly"]["deviceClassName"] = "no-such-class"
    with pytest.raises(InvalidValueError, match="no-such-class"):
        dra.allocate(GPU_NODE, CLASSES, c, node="gpu-node-01")


# --- the bulk form ----------------------------------------------------------------------


def node_copy(name: str) -> list[dict[str, Any]]:
    out = copy.deepcopy(GPU_NODE)
    for s in out:
        s["metadata"]["name"] = s["metadata"]["name"].replace("gpu-node-01", name)
        s["spec"]["nodeName"] = name
        s["spec"]["pool"]["name"] = name
    return out


@pytest.fixture(scope="module")
def thousand_nodes() -> dict[str, dra.DraSlices]:
    return {
        f"gpu-node-{i:04d}": dra.parse_slices(node_copy(f"gpu-node-{i:04d}")) for i in range(1000)
    }


def test_allocate_many_equals_per_node_calls(thousand_nodes: dict[str, dra.DraSlices]) -> None:
    c = claim("gpu-nic-same-pcie-root")
    bulk = dra.allocate_many(thousand_nodes, CLASSES, c)
    assert list(bulk) == list(thousand_nodes)
    for name, slices in thousand_nodes.items():
        assert bulk[name] == dra.allocate(slices, CLASSES, c, node=name)
    first = allocated(bulk["gpu-node-0000"])
    assert devices(first[0]) == ["gpu-0", "gpu0rdma0"]


def test_allocate_many_mixed_answers_and_nodes() -> None:
    by_node: dict[str, dra.SlicesLike] = {
        "a": node_copy("a"),
        "b": node_copy("b"),
        "c": node_copy("x"),
    }
    pool_a = "a"
    in_use = [{"driver": "dra.net", "pool": pool_a, "device": "gpu0rdma0"}]
    out = dra.allocate_many(
        by_node,
        CLASSES,
        claim("all-rdma-nics"),
        nodes={"b": {"name": "b", "labels": {"zone": "z1"}}},
        allocated=in_use,
    )
    assert isinstance(out["a"], dra.Unsatisfiable)
    assert len(devices(allocated(out["b"])[0])) == 8
    assert isinstance(out["c"], dra.Unsatisfiable)  # slices of node "x" under the name "c"
    with pytest.raises(InvalidValueError, match="unknown DRA allocation mode"):
        dra.allocate_many(by_node, CLASSES, claim("two-gpus"), mode="fast")


def test_allocate_many_raises_the_schedulers_error(
    thousand_nodes: dict[str, dra.DraSlices],
) -> None:
    c = claim("two-gpus")
    c["spec"]["devices"]["requests"][0]["exactly"]["deviceClassName"] = "no-such-class"
    with pytest.raises(InvalidValueError, match="no-such-class"):
        dra.allocate_many(thousand_nodes, CLASSES, c)
    assert dra.allocate_many({}, CLASSES, c) == {}


def test_threads_agree(thousand_nodes: dict[str, dra.DraSlices]) -> None:
    c = dra.parse_claims(claim("gpu-nic-same-pcie-root"))
    classes = dra.parse_classes(CLASSES)
    subset = dict(list(thousand_nodes.items())[:100])
    expected = dra.allocate_many(subset, classes, c)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                assert dra.allocate_many(subset, classes, c) == expected
                name = "gpu-node-0007"
                assert dra.allocate(subset[name], classes, c, node=name) == expected[name]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# --- the command ------------------------------------------------------------------------


def write(tmp: Path, name: str, objs: Any) -> Path:
    path = tmp / name
    path.write_text(json.dumps(objs))
    return path


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    slices = tmp_path / "slices"
    slices.mkdir()
    write(slices, "gpu.json", GPU_NODE)
    classes = write(tmp_path, "classes.json", CLASSES)
    claims = write(tmp_path, "claims.json", [claim("gpu-nic-same-pcie-root")])
    argv = ["dra", "--slices", str(slices), "--classes", str(classes), "--claims", str(claims)]
    assert main([*argv, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["name"] == "gpu-nic-same-pcie-root"
    assert devices(out[0]["status"]["allocation"]) == ["gpu-0", "gpu0rdma0"]
    assert main([*argv, "--node", "elsewhere"]) == 3
    assert "cannot allocate" in capsys.readouterr().err


def test_cli_yaml_and_features(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    yaml = pytest.importorskip("yaml")
    slices = write(tmp_path, "mig.json", MIG_NODE)
    classes = tmp_path / "classes.yaml"
    classes.write_text(yaml.safe_dump_all(CLASSES))
    two = claim("gpu-or-mig-fallback")
    two["metadata"]["name"] = "second"
    claims = tmp_path / "claims.yaml"
    claims.write_text(
        yaml.safe_dump({"kind": "ResourceClaimList", "items": [claim("gpu-or-mig-fallback"), two]})
    )
    argv = ["dra", "--slices", str(slices), "--classes", str(classes), "--claims", str(claims)]
    assert main([*argv, "--features", f"{PRIO},{PART}", "--node", "mig-node-01"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["name"] for d in docs] == ["gpu-or-mig-fallback", "second"]
    assert [requests(d["status"]["allocation"]) for d in docs] == [["accel/half"], ["accel/half"]]
    # Without DRAPrioritizedList the firstAvailable claim is the scheduler's error (exit 1).
    assert main(argv) == 1
    assert "error" in capsys.readouterr().err


def test_load_objects_yaml_dir(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all(GPU_NODE))
    (tmp_path / "b.json").write_text(
        json.dumps({"kind": "ResourceSliceList", "items": CPU_GROUPED})
    )
    (tmp_path / "ignored.txt").write_text("x")
    assert dra.load_objects(tmp_path) == GPU_NODE + CPU_GROUPED


def test_cli_scored_and_allocated_claims(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slices = write(tmp_path, "gpu.json", GPU_NODE)
    classes = write(tmp_path, "classes.json", CLASSES)
    pairs = {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": {"name": "pairs", "namespace": "default"},
        "spec": {
            "devices": {
                "requests": [
                    {"name": "gpu", "exactly": {"deviceClassName": "gpu.nvidia.com", "count": 2}},
                    {"name": "nic", "exactly": {"deviceClassName": "dranet-rdma", "count": 2}},
                ]
            }
        },
    }
    claims = write(tmp_path, "claims.json", [pairs])
    argv = ["dra", "--slices", str(slices), "--classes", str(classes), "--claims", str(claims)]
    # gpu-0 is held by an allocated claim: first fit takes gpu-1, gpu-2 and the first NICs;
    # scored pairs each GPU with the NIC on its PCIe root.
    held = copy.deepcopy(pairs)
    held["metadata"]["name"] = "held"
    held["status"] = {
        "allocation": {
            "devices": {
                "results": [
                    {
                        "request": "gpu",
                        "driver": "gpu.nvidia.com",
                        "pool": "gpu-node-01",
                        "device": "gpu-0",
                    }
                ]
            }
        }
    }
    argv += ["--allocated-claims", str(write(tmp_path, "held.json", [held])), "--format", "json"]
    assert main(argv) == 0
    exact = devices(json.loads(capsys.readouterr().out)[0]["status"]["allocation"])
    assert exact == ["gpu-1", "gpu-2", "gpu0rdma0", "gpu1rdma0"]
    assert main([*argv, "--mode", "scored"]) == 0
    scored = devices(json.loads(capsys.readouterr().out)[0]["status"]["allocation"])
    assert scored == ["gpu-1", "gpu-2", "gpu1rdma0", "gpu2rdma0"]


def test_allocate_many_answers_decode_when_read() -> None:
    by_node = {"a": GPU_NODE, "b": GPU_NODE}
    busy = [
        {"driver": "gpu.nvidia.com", "pool": "gpu-node-01", "device": f"gpu-{i}"} for i in range(7)
    ]
    out = dra.allocate_many(
        by_node, CLASSES, claim("two-gpus"), nodes={"a": "gpu-node-01"}, allocated=busy
    )
    assert list(out) == ["a", "b"] and len(out) == 2
    assert out.feasible() == []  # "a" has one GPU left; "b" reaches no device
    assert repr(out) == "<Allocations: 0 of 2 nodes feasible>"
    assert isinstance(out["a"], dra.Unsatisfiable) and out["a"] is out["a"]
    assert "wants 2" in out["a"].reason
    with pytest.raises(KeyError):
        out["c"]
