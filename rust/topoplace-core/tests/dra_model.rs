//! The DRA object model against the conformance objects (`tests/data/dra/cases.json`), the
//! example objects (`tests/data/dra/k8s/`), a table of invalid objects and a table of
//! corruptions that must give errors, never panics.

use serde_json::{Value, json};
use topoplace_core::dra::model::{
    AllocationMode, AllocationResult, ConstraintKind, DeviceClass, DeviceSelector, Node,
    NodeSelection, NodeSelector, RequestKind, ResourceClaim, ResourceSlice, pool_counter_sets,
};
use topoplace_core::dra::value::{AttrValue, QualifiedName, Quantity};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/dra");

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{DIR}/{name}")).expect("read fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

#[test]
fn every_conformance_object_parses() {
    let cases = load("cases.json");
    let cases = list(&cases["cases"]);
    assert_eq!(cases.len(), 100);
    let (mut slices, mut classes, mut claims, mut nodes) = (0, 0, 0, 0);
    let (mut unknown_selectors, mut unknown_constraints, mut big_counts) = (0, 0, 0);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        for s in list(&case["slices"]) {
            ResourceSlice::from_json(s).unwrap_or_else(|e| panic!("{name}: {e}"));
            slices += 1;
        }
        for c in list(&case["classes"]) {
            DeviceClass::from_json(c).unwrap_or_else(|e| panic!("{name}: {e}"));
            classes += 1;
        }
        for c in list(&case["claims"]) {
            let claim = ResourceClaim::from_json(c).unwrap_or_else(|e| panic!("{name}: {e}"));
            claims += 1;
            let mut total = 0;
            for r in &claim.requests {
                if let RequestKind::Exactly(e) = &r.kind {
                    unknown_selectors += e
                        .selectors
                        .iter()
                        .filter(|s| **s == DeviceSelector::Unknown)
                        .count();
                    if e.allocation_mode == AllocationMode::ExactCount {
                        total += e.count;
                    }
                }
            }
            big_counts += usize::from(total > 32);
            unknown_constraints += claim
                .constraints
                .iter()
                .filter(|c| c.kind == ConstraintKind::Unknown)
                .count();
        }
        if !case["node"].is_null() {
            Node::from_json(&case["node"]).unwrap_or_else(|e| panic!("{name}: {e}"));
            nodes += 1;
        }
    }
    assert_eq!((slices, classes, claims, nodes), (116, 119, 117, 96));
    // Objects the allocator itself must refuse stay representable.
    assert_eq!(unknown_selectors, 1);
    assert_eq!(unknown_constraints, 1);
    // Claims beyond the 32-device limit (`exceeds the claim limit`).
    assert_eq!(big_counts, 3);
}

fn parse_all(file: &str) -> (Vec<ResourceSlice>, Vec<DeviceClass>, Vec<ResourceClaim>) {
    let objects = load(&format!("k8s/{file}.json"));
    let (mut s, mut d, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for o in list(&objects) {
        match o["kind"].as_str() {
            Some("ResourceSlice") => s.push(ResourceSlice::from_json(o).unwrap()),
            Some("DeviceClass") => d.push(DeviceClass::from_json(o).unwrap()),
            Some("ResourceClaim") => c.push(ResourceClaim::from_json(o).unwrap()),
            other => panic!("{file}: unexpected kind {other:?}"),
        }
    }
    (s, d, c)
}

#[test]
fn example_objects_parse() {
    let (gpu, _, _) = parse_all("node-8gpu-2numa-8nic.resourceslices");
    assert_eq!(gpu.len(), 2);
    assert_eq!(gpu[0].driver, "gpu.nvidia.com");
    assert_eq!(gpu[0].devices.len(), 8);
    assert_eq!(gpu[1].devices.len(), 9);
    assert_eq!(
        gpu[0].node_selection,
        NodeSelection::NodeName("gpu-node-01".into())
    );
    let gpu0 = &gpu[0].devices[0];
    assert_eq!(
        gpu0.attributes[&QualifiedName::parse("productName", "gpu.nvidia.com")],
        AttrValue::String("NVIDIA H100 80GB HBM3".into())
    );
    assert!(gpu0.attributes.contains_key(&QualifiedName::parse(
        "resource.kubernetes.io/pcieRoot",
        "x"
    )));
    let mem = &gpu0.capacity[&QualifiedName::parse("memory", "gpu.nvidia.com")];
    assert_eq!(mem.value, Quantity::parse("81559Mi").unwrap());

    let (cpu, _, _) = parse_all("cpu-2socket-individual.resourceslices");
    assert_eq!(cpu.iter().map(|s| s.devices.len()).sum::<usize>(), 128);
    let (grouped, _, _) = parse_all("cpu-2socket-grouped.resourceslices");
    assert!(
        grouped[0]
            .devices
            .iter()
            .all(|d| d.allow_multiple_allocations)
    );

    let (_, classes, _) = parse_all("deviceclasses");
    assert_eq!(classes.len(), 5);
    assert_eq!(
        classes[0].extended_resource_name.as_deref(),
        Some("nvidia.com/gpu")
    );
    assert_eq!(classes[3].selectors.len(), 2);

    let (_, _, claims) = parse_all("resourceclaims");
    assert_eq!(claims.len(), 6);
    assert_eq!(claims[0].namespace.as_deref(), Some("training"));
    let RequestKind::FirstAvailable(subs) = &claims[3].request("accel").unwrap().kind else {
        panic!("firstAvailable expected");
    };
    assert_eq!(subs.len(), 3);
    assert_eq!(subs[2].count, 2);
    let RequestKind::Exactly(all) = &claims[4].requests[0].kind else {
        panic!("exactly expected");
    };
    assert_eq!(all.allocation_mode, AllocationMode::All);
    let RequestKind::Exactly(cpus) = &claims[2].requests[2].kind else {
        panic!("exactly expected");
    };
    assert_eq!(cpus.capacity["dra.cpu/cpu"], Quantity::from_units(16));
    assert_eq!(
        claims[2].constraints[0].kind,
        ConstraintKind::MatchAttribute(QualifiedName::parse("resource.kubernetes.io/numaNode", ""))
    );
}

#[test]
fn counter_layouts_agree() {
    let (old, _, _) = parse_all("gpu-partitionable-mig.v1_34.resourceslice");
    let (new, _, _) = parse_all("gpu-partitionable-mig.v1_35plus.resourceslices");
    assert_eq!(old.len(), 1);
    assert_eq!(new.len(), 2);
    assert!(new[0].devices.is_empty() && !new[0].shared_counters.is_empty());
    assert!(new[1].shared_counters.is_empty());
    let (a, b) = (pool_counter_sets(&old), pool_counter_sets(&new));
    assert_eq!(a, b);
    let set = a[&(
        "gpu.nvidia.com".to_owned(),
        "mig-node-01".to_owned(),
        "gpu-0-counter-set".to_owned(),
    )];
    assert_eq!(set.counters.len(), 15);
    assert_eq!(set.counters["multiprocessors"], Quantity::from_units(132));
    assert_eq!(old[0].devices, new[1].devices);
    assert_eq!(old[0].devices.len(), 11);
    assert!(
        old[0]
            .devices
            .iter()
            .all(|d| d.consumes_counters.len() == 1)
    );
}

#[test]
fn allocation_round_trip() {
    let objects = load("k8s/resourceclaim-allocated.example.json");
    for o in list(&objects) {
        let claim = ResourceClaim::from_json(o).unwrap();
        let alloc = claim.allocation.expect("allocated");
        let out = alloc.to_json();
        assert_eq!(out, o["status"]["allocation"], "{}", claim.name);
        assert_eq!(AllocationResult::from_json(&out, "test").unwrap(), alloc);
    }
    let full = json!({
        "devices": {
            "results": [{
                "request": "req-0/sub-1", "driver": "driver-a", "pool": "pool-1",
                "device": "device-1", "adminAccess": true,
                "tolerations": [{"key": "k", "operator": "Equal", "value": "v",
                                  "effect": "NoExecute", "tolerationSeconds": 30}],
                "bindingConditions": ["ready"], "bindingFailureConditions": ["failed"],
                "shareID": "5f0c2d7e-8a1b-4c3d-9e2f-1a2b3c4d5e6f",
                "consumedCapacity": {"driver-a/memory": "1536Mi"}
            }],
            "config": [{"source": "FromClass", "requests": ["req-0"],
                        "opaque": {"driver": "driver-a", "parameters": {"a": [1, {"b": null}]}}}]
        },
        "nodeSelector": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "region", "operator": "Exists"}]}]},
        "allocationTimestamp": "2026-01-02T03:04:05Z"
    });
    let alloc = AllocationResult::from_json(&full, "test").unwrap();
    assert_eq!(alloc.to_json(), full);
    assert_eq!(AllocationResult::default().to_json(), json!({}));
}

#[test]
fn node_selectors_match() {
    let node = Node::from_json(&json!({"metadata": {"name": "node-1",
        "labels": {"region": "region-1", "gen": "5"}}}))
    .unwrap();
    let slice = |sel: Value| {
        ResourceSlice::from_json(&json!({"metadata": {"name": "s"}, "spec": {
            "driver": "d", "pool": {"name": "p", "generation": 1, "resourceSliceCount": 1},
            "nodeSelector": {"nodeSelectorTerms": [sel]}}}))
        .unwrap()
    };
    let sel = |s: &ResourceSlice| match &s.node_selection {
        NodeSelection::NodeSelector(sel) => sel.clone(),
        other => panic!("{other:?}"),
    };
    let names = ["region-1"];
    for (list, key, op, values, want) in [
        ("matchExpressions", "region", "In", &names[..], true),
        ("matchExpressions", "region", "NotIn", &names[..], false),
        ("matchExpressions", "gen", "Gt", &["4"][..], true),
        ("matchExpressions", "gen", "Lt", &["4"][..], false),
        ("matchExpressions", "zone", "DoesNotExist", &[][..], true),
        ("matchExpressions", "zone", "Exists", &[][..], false),
        ("matchFields", "metadata.name", "In", &["node-1"][..], true),
        ("matchFields", "metadata.name", "In", &["node-2"][..], false),
    ] {
        let term = json!({ list: [{"key": key, "operator": op, "values": values}] });
        assert_eq!(sel(&slice(term.clone())).matches(&node), want, "{term}");
    }
    assert!(!sel(&slice(json!({}))).matches(&node));
    assert!(NodeSelector::for_node_name("node-1").matches(&node));
}

#[path = "dra_model/invalid.rs"]
mod invalid;
#[path = "dra_model/pools.rs"]
mod pools;
