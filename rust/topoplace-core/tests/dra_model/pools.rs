//! Checks across the slices of a pool (both counter layouts), the slice device limits at
//! their boundaries, the feature gate names, and the allocator's answer for an inconsistent
//! pool.

use serde_json::{Value, json};
use topoplace_core::Error;
use topoplace_core::dra::allocator::{self, Alignment, AllocInput, Features, Mode, Outcome};
use topoplace_core::dra::cel::SelectorCache;
use topoplace_core::dra::model::{
    DeviceClass, Node, ResourceClaim, ResourceSlice, pool_error, validate_pools,
};

use super::{list, load};

/// A ResourceSlice of pool `pool-1` (generation `gen`, two slices) on `node-1`.
fn slice(name: &str, gen_: i64, spec: &Value) -> Value {
    let mut s = json!({"metadata": {"name": name}, "spec": {
        "driver": "driver-a", "nodeName": "node-1",
        "pool": {"name": "pool-1", "generation": gen_, "resourceSliceCount": 2}}});
    let fields = spec.as_object().expect("an object");
    s["spec"].as_object_mut().unwrap().extend(fields.clone());
    s
}

fn counters(set: &str) -> Value {
    json!({"sharedCounters": [{"name": set, "counters": {"mem": {"value": "8Gi"}}}]})
}

fn consumer(set: &str, counter: &str) -> Value {
    json!({"devices": [{"name": "dev-0", "consumesCounters": [
        {"counterSet": set, "counters": {counter: {"value": "4Gi"}}}]}]})
}

fn parse(objects: &[Value]) -> Vec<ResourceSlice> {
    objects
        .iter()
        .map(|o| ResourceSlice::from_json(o).unwrap())
        .collect()
}

#[test]
fn consistent_pools_pass() {
    for file in [
        "gpu-partitionable-mig.v1_34.resourceslice",
        "gpu-partitionable-mig.v1_35plus.resourceslices",
        "cpu-2socket-individual.resourceslices",
        "node-8gpu-2numa-8nic.resourceslices",
    ] {
        let objects = load(&format!("k8s/{file}.json"));
        validate_pools(&parse(list(&objects))).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    let cases = load("cases.json");
    for case in list(&cases["cases"]) {
        let slices = parse(list(&case["slices"]));
        validate_pools(&slices).unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
    }
    let new_layout = parse(&[
        slice("c", 1, &counters("set-1")),
        slice("d", 1, &consumer("set-1", "mem")),
    ]);
    let refs: Vec<&ResourceSlice> = new_layout.iter().collect();
    assert!(pool_error(&refs).is_none());
}

#[test]
fn pool_errors_name_slice_and_path() {
    let both = {
        let mut b = consumer("set-1", "mem");
        b["sharedCounters"] = counters("set-2")["sharedCounters"].clone();
        b
    };
    let cases: Vec<(Vec<Value>, &str, &str, &str)> = vec![
        (
            vec![slice("c", 1, &counters("set-1")), slice("b", 1, &both)],
            "ResourceSlice b",
            "spec",
            "only one of sharedCounters and devices may be set: slice c of pool pool-1 holds \
             only counters (the 1.35+ layout)",
        ),
        (
            vec![
                slice("c", 1, &counters("set-1")),
                slice("c2", 1, &counters("set-1")),
                slice("d", 1, &consumer("set-1", "mem")),
            ],
            "ResourceSlice c2",
            "spec.sharedCounters[0].name",
            "duplicate counter set name set-1",
        ),
        (
            vec![
                slice("c", 1, &counters("set-1")),
                slice("d", 1, &consumer("set-9", "mem")),
            ],
            "ResourceSlice d",
            "spec.devices[0].consumesCounters[0].counterSet",
            "counter set set-9 not found",
        ),
        (
            vec![
                slice("c", 1, &counters("set-1")),
                slice("d", 1, &consumer("set-1", "cpu")),
            ],
            "ResourceSlice d",
            "spec.devices[0].consumesCounters[0].counters[cpu]",
            "counter cpu not found in counter set set-1",
        ),
    ];
    for (objects, object, path, message) in cases {
        let slices = parse(&objects);
        let err = validate_pools(&slices).expect_err(message);
        let Error::Object {
            object: o,
            path: p,
            message: m,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(
            (o.as_str(), p.as_str(), m.as_str()),
            (object, path, message)
        );
        let refs: Vec<&ResourceSlice> = slices.iter().collect();
        assert_eq!(
            pool_error(&refs).map(|e| e.to_string()),
            Some(err.to_string())
        );
    }
}

/// In the 1.34 layout counter sets belong to their slice: a name may repeat across the
/// slices of a pool, and a missing set only makes its device unusable.
#[test]
fn the_1_34_layout_has_no_pool_wide_rules() {
    let both = |set: &str| {
        let mut b = consumer(set, "mem");
        b["sharedCounters"] = counters(set)["sharedCounters"].clone();
        b
    };
    for objects in [
        vec![slice("a", 1, &both("set-1")), slice("b", 1, &both("set-1"))],
        vec![
            slice("a", 1, &both("set-1")),
            slice("b", 1, &consumer("set-9", "mem")),
        ],
        vec![slice("d", 1, &consumer("set-9", "mem"))],
    ] {
        validate_pools(&parse(&objects)).unwrap();
    }
}

#[test]
fn only_the_newest_generation_is_checked() {
    let slices = parse(&[
        slice("old", 1, &consumer("set-9", "mem")),
        slice("c", 2, &counters("set-1")),
        slice("d", 2, &consumer("set-1", "mem")),
    ]);
    validate_pools(&slices).unwrap();
    let slices = parse(&[
        slice("c", 1, &counters("set-1")),
        slice("d", 1, &consumer("set-1", "mem")),
        slice("c", 2, &counters("set-1")),
        slice("new", 2, &consumer("set-9", "mem")),
    ]);
    let err = validate_pools(&slices).unwrap_err().to_string();
    assert!(err.starts_with("ResourceSlice new: "), "{err}");
}

#[test]
fn device_limits_at_the_boundary() {
    let devices = |n: usize, extra: &Value| -> Value {
        let mut out: Vec<Value> = (0..n).map(|i| json!({"name": format!("d-{i}")})).collect();
        out[n - 1]
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        Value::Array(out)
    };
    let taint = json!({"taints": [{"key": "k", "effect": "NoSchedule"}]});
    let ok = [
        (64, taint.clone()),
        (128, json!({})),
        (
            64,
            json!({"consumesCounters": [{"counterSet": "s", "counters": {}}]}),
        ),
    ];
    for (n, extra) in ok {
        let v = slice("s", 1, &json!({"devices": devices(n, &extra)}));
        ResourceSlice::from_json(&v).unwrap_or_else(|e| panic!("{n}: {e}"));
    }
    let v = slice("s", 1, &json!({"devices": devices(65, &taint)}));
    let err = ResourceSlice::from_json(&v).unwrap_err();
    assert!(
        err.to_string()
            .contains("spec.devices: must have at most 64 items"),
        "{err}"
    );
}

#[test]
fn feature_gate_names() {
    let f = Features::from_names(["DRAPartitionableDevices", "DynamicResourceAllocation"]).unwrap();
    assert!(f.partitionable_devices && !f.prioritized_list);
    let all: Vec<&str> = Features::ALLOCATOR_GATES
        .iter()
        .chain(&Features::IGNORED_GATES)
        .copied()
        .collect();
    let f = Features::from_names(all).unwrap();
    assert!(
        f.admin_access
            && f.prioritized_list
            && f.partitionable_devices
            && f.device_taints
            && f.binding_conditions
            && f.consumable_capacity
    );
    for unknown in [
        "DRAPrioritisedList",
        "DRADeviceCompatibilityGroups",
        "dynamicresourceallocation",
    ] {
        let Err(Error::Value(m)) = Features::from_names(["DRAAdminAccess", unknown]) else {
            panic!("{unknown} accepted");
        };
        assert!(
            m.starts_with(&format!("unknown DRA feature gate {unknown:?} (known: ")),
            "{m}"
        );
        assert!(m.contains("DRAAdminAccess, DRAConsumableCapacity"), "{m}");
        assert!(m.contains("DRASchedulerFilterTimeout"), "{m}");
    }
}

/// Allocates one device of a selector-less class on `node-1` from `slices`.
fn allocate_one(slices: &[ResourceSlice], features: Features) -> Result<Outcome, Error> {
    let classes =
        [DeviceClass::from_json(&json!({"metadata": {"name": "class-a"}, "spec": {}})).unwrap()];
    let claims = [ResourceClaim::from_json(&json!({
        "metadata": {"name": "claim-0", "namespace": "default"},
        "spec": {"devices": {"requests": [
            {"name": "req-0", "exactly": {"deviceClassName": "class-a"}}]}}
    }))
    .unwrap()];
    let node = Node::from_json(&json!({"metadata": {"name": "node-1"}})).unwrap();
    let cache = SelectorCache::default();
    allocator::allocate(&AllocInput {
        node: Some(&node),
        slices,
        classes: &classes,
        claims: &claims,
        allocated_devices: &[],
        allocated_capacity: &[],
        features,
        selectors: &cache,
        mode: Mode::Exact,
        alignment: Alignment::standard(),
    })
}

/// With `DRAPartitionableDevices` on, a 1.35+ pool whose device consumes a counter set that no
/// slice defines is invalid: allocating from it fails with upstream's words. With the gate
/// off the device is not usable at all (it consumes counters), so the claim cannot be
/// allocated. In the 1.34 layout (no counter-only slice) the device is not usable either,
/// and there is no error, as 1.34 answers.
#[test]
fn allocator_answers_for_a_missing_counter_set() {
    let on = Features::from_names(["DRAPartitionableDevices"]).unwrap();
    let new_layout = parse(&[
        slice("c", 1, &counters("set-1")),
        slice("d", 1, &consumer("set-9", "mem")),
    ]);
    let err = allocate_one(&new_layout, on).unwrap_err().to_string();
    assert!(err.contains("pool pool-1 is invalid"), "{err}");
    assert!(err.contains("counter set set-9 not found"), "{err}");
    let off = allocate_one(&new_layout, Features::default());
    assert!(matches!(off, Ok(Outcome::Unsatisfiable(_))), "{off:?}");
    let old_layout = parse(&[slice("d", 1, &consumer("set-9", "mem"))]);
    let got = allocate_one(&old_layout, on);
    assert!(matches!(got, Ok(Outcome::Unsatisfiable(_))), "{got:?}");
    let fine = parse(&[
        slice("c", 1, &counters("set-1")),
        slice("d", 1, &consumer("set-1", "mem")),
    ]);
    let got = allocate_one(&fine, on);
    assert!(matches!(got, Ok(Outcome::Allocated(_))), "{got:?}");
}
