//! Invalid objects: each error names the object, the JSON path and the reason; corrupted
//! objects give errors, never panics.

use serde_json::{Value, json};
use topoplace_core::Error;
use topoplace_core::dra::model::{
    AllocationMode, AllocationResult, ConstraintKind, DeviceClass, DeviceSelector, Node,
    RequestKind, ResourceClaim, ResourceSlice,
};

use super::load;

fn claim_base() -> Value {
    json!({"metadata": {"name": "claim-0", "namespace": "default"}, "spec": {"devices": {
        "requests": [
            {"name": "req-0", "exactly": {"deviceClassName": "class-a",
                "capacity": {"requests": {"memory": "1Gi"}},
                "tolerations": [{"key": "k", "operator": "Exists"}]}},
            {"name": "req-1", "firstAvailable": [
                {"name": "sub-0", "deviceClassName": "class-a", "count": 2},
                {"name": "sub-1", "deviceClassName": "class-b"}]}],
        "constraints": [{"requests": ["req-0", "req-1/sub-0"],
                         "matchAttribute": "driver-a/numa"}],
        "config": [{"requests": ["req-0"], "opaque": {"driver": "driver-a", "parameters": {}}}]}}})
}

fn slice_base() -> Value {
    json!({"metadata": {"name": "slice-1"}, "spec": {
        "driver": "driver-a", "pool": {"name": "pool-1", "generation": 1, "resourceSliceCount": 1},
        "nodeName": "node-1",
        "sharedCounters": [{"name": "set-1", "counters": {"mem": {"value": "8Gi"}}}],
        "devices": [{"name": "device-1",
            "attributes": {"model": {"string": "a100"}, "driverVersion": {"version": "1.2.3"}},
            "capacity": {"memory": {"value": "8Gi", "requestPolicy": {"default": "1Gi",
                "validRange": {"min": "1Gi", "step": "1Gi"}}}},
            "consumesCounters": [{"counterSet": "set-1", "counters": {"mem": {"value": "8Gi"}}}],
            "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}]}})
}

/// `n` devices named `d-<i>`, the first with the fields of `extra`.
fn devices(n: usize, extra: Value) -> Value {
    let mut out: Vec<Value> = (0..n).map(|i| json!({"name": format!("d-{i}")})).collect();
    if let (Some(first), Value::Object(fields)) = (out[0].as_object_mut(), extra) {
        first.extend(fields);
    }
    Value::Array(out)
}

fn class_base() -> Value {
    json!({"metadata": {"name": "class-a"}, "spec": {
        "selectors": [{"cel": {"expression": "device.driver == \"driver-a\""}}],
        "config": [{"opaque": {"driver": "driver-a", "parameters": {"x": 1}}}]}})
}

/// `base` with the value at JSON `pointer` set (added when missing; null removes it, as the
/// API reads it).
fn with(base: &Value, pointer: &str, value: Value) -> Value {
    let mut v = base.clone();
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer");
    let last = last.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent).unwrap_or_else(|| panic!("{pointer}")) {
        Value::Object(m) => {
            m.insert(last, value);
        }
        Value::Array(a) => a[last.parse::<usize>().expect("an index")] = value,
        other => panic!("{pointer}: {other}"),
    }
    v
}

fn parse_any(kind: &str, v: &Value) -> Result<(), Error> {
    match kind {
        "claim" => ResourceClaim::from_json(v).map(drop),
        "slice" => ResourceSlice::from_json(v).map(drop),
        "class" => DeviceClass::from_json(v).map(drop),
        "node" => Node::from_json(v).map(drop),
        _ => AllocationResult::from_json(v, "AllocationResult").map(drop),
    }
}

#[test]
fn invalid_objects_name_object_path_and_reason() {
    let (c, s, d) = (claim_base(), slice_base(), class_base());
    parse_any("claim", &c).unwrap();
    parse_any("slice", &s).unwrap();
    parse_any("class", &d).unwrap();
    let req = "/spec/devices/requests";
    let dev = "/spec/devices/0";
    let cases: Vec<(&str, Value, &str, &str, &str)> = vec![
        (
            "claim",
            with(&c, &format!("{req}/1/firstAvailable/0/count"), json!(0)),
            "ResourceClaim default/claim-0",
            "spec.devices.requests[1].firstAvailable[0].count",
            "must be at least 1, got 0",
        ),
        (
            "claim",
            with(&c, &format!("{req}/0/exactly/count"), json!("2")),
            "ResourceClaim default/claim-0",
            "spec.devices.requests[0].exactly.count",
            "expected an integer, got string",
        ),
        (
            "claim",
            with(&c, &format!("{req}/0/firstAvailable"), json!([])),
            "ResourceClaim default/claim-0",
            "spec.devices.requests[0]",
            "exactly one of exactly and firstAvailable must be set, got both",
        ),
        (
            "claim",
            with(&c, &format!("{req}/0/exactly"), Value::Null),
            "ResourceClaim default/claim-0",
            "spec.devices.requests[0]",
            "exactly one of exactly and firstAvailable must be set, got none",
        ),
        (
            "claim",
            with(&c, &format!("{req}/1/name"), json!("req-0")),
            "ResourceClaim default/claim-0",
            "spec.devices.requests[1].name",
            "duplicate request name \"req-0\"",
        ),
        (
            "claim",
            with(&c, &format!("{req}/0/name"), json!("req_0")),
            "ResourceClaim default/claim-0",
            "spec.devices.requests[0].name",
            "\"req_0\" is not a request name",
        ),
        (
            "claim",
            with(
                &c,
                &format!("{req}/0/exactly/capacity/requests/memory"),
                json!("1Xi"),
            ),
            "ResourceClaim default/claim-0",
            "spec.devices.requests[0].exactly.capacity.requests[memory]",
            "\"1Xi\" is not a quantity: unknown suffix",
        ),
        (
            "claim",
            with(
                &c,
                &format!("{req}/0/exactly/tolerations/0/operator"),
                json!("Maybe"),
            ),
            "ResourceClaim default/claim-0",
            "spec.devices.requests[0].exactly.tolerations[0].operator",
            "unsupported value \"Maybe\": supported values: \"Exists\", \"Equal\"",
        ),
        (
            "claim",
            with(
                &c,
                "/spec/devices/constraints/0/requests/1",
                json!("req-1/sub-9"),
            ),
            "ResourceClaim default/claim-0",
            "spec.devices.constraints[0].requests[1]",
            "\"req-1/sub-9\" is not a request (or request/subrequest) of the claim",
        ),
        (
            "claim",
            with(
                &c,
                "/spec/devices/constraints/0/matchAttribute",
                json!("numa"),
            ),
            "ResourceClaim default/claim-0",
            "spec.devices.constraints[0].matchAttribute",
            "\"numa\" is not fully qualified",
        ),
        (
            "claim",
            with(&c, "/spec/devices/config/0/opaque", Value::Null),
            "ResourceClaim default/claim-0",
            "spec.devices.config[0].opaque",
            "required field is missing",
        ),
        (
            "claim",
            with(&c, "/metadata/name", Value::Null),
            "ResourceClaim default/<unnamed>",
            "metadata.name",
            "required field is missing",
        ),
        (
            "slice",
            with(&s, &format!("{dev}/attributes/model/int"), json!(3)),
            "ResourceSlice slice-1",
            "spec.devices[0].attributes[model]",
            "exactly one of int, bool, string, version must be set, got int and string",
        ),
        (
            "slice",
            with(&s, &format!("{dev}/attributes/model"), json!({})),
            "ResourceSlice slice-1",
            "spec.devices[0].attributes[model]",
            "exactly one of int, bool, string, version must be set, got none",
        ),
        (
            "slice",
            with(
                &s,
                &format!("{dev}/attributes/driverVersion/version"),
                json!("1.2"),
            ),
            "ResourceSlice slice-1",
            "spec.devices[0].attributes[driverVersion].version",
            "\"1.2\" is not a semantic version",
        ),
        (
            "slice",
            with(&s, "/spec/allNodes", json!(true)),
            "ResourceSlice slice-1",
            "spec",
            "at most one of nodeName, nodeSelector, allNodes, perDeviceNodeSelection may be set, \
          got nodeName and allNodes",
        ),
        (
            "slice",
            with(&s, "/spec/nodeName", Value::Null),
            "ResourceSlice slice-1",
            "spec",
            "exactly one of nodeName, nodeSelector, allNodes, perDeviceNodeSelection must be set, \
          got none",
        ),
        (
            "slice",
            with(&s, &format!("{dev}/name"), json!("Device_1")),
            "ResourceSlice slice-1",
            "spec.devices[0].name",
            "\"Device_1\" is not a DNS label",
        ),
        (
            "slice",
            with(&s, &format!("{dev}/capacity/memory/value"), json!("8 GiB")),
            "ResourceSlice slice-1",
            "spec.devices[0].capacity[memory].value",
            "is not a quantity",
        ),
        (
            "slice",
            with(
                &s,
                &format!("{dev}/taints/0/effect"),
                json!("PreferNoSchedule"),
            ),
            "ResourceSlice slice-1",
            "spec.devices[0].taints[0].effect",
            "unsupported value \"PreferNoSchedule\"",
        ),
        (
            "slice",
            with(&s, "/spec/pool/resourceSliceCount", json!(0)),
            "ResourceSlice slice-1",
            "spec.pool.resourceSliceCount",
            "must be at least 1, got 0",
        ),
        (
            "slice",
            with(&s, "/spec/driver", Value::Null),
            "ResourceSlice slice-1",
            "spec.driver",
            "required field is missing",
        ),
        (
            "slice",
            with(&s, &format!("{dev}/nodeName"), json!("node-1")),
            "ResourceSlice slice-1",
            "spec.devices[0]",
            "may be set on a device only when the slice uses perDeviceNodeSelection",
        ),
        (
            "slice",
            with(&s, "/spec/nodeName", Value::Null).pipe(|v| {
                with(
                    &v,
                    "/spec/nodeSelector",
                    json!({"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "a", "operator": "Near", "values": ["b"]}]}]}),
                )
            }),
            "ResourceSlice slice-1",
            "spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].operator",
            "unsupported value \"Near\"",
        ),
        (
            "slice",
            with(&s, "/spec/devices", json!(vec![json!({"name": "d"}); 129])),
            "ResourceSlice slice-1",
            "spec.devices",
            "must have at most 128 items, got 129",
        ),
        (
            // 1.35+: 64 devices at most once one has taints or consumes counters.
            "slice",
            with(
                &s,
                "/spec/devices",
                devices(
                    65,
                    json!({"taints": [
                {"key": "k", "effect": "NoSchedule"}]}),
                ),
            ),
            "ResourceSlice slice-1",
            "spec.devices",
            "must have at most 64 items when a device has taints or consumesCounters, got 65",
        ),
        (
            "slice",
            with(
                &s,
                "/spec/devices",
                devices(
                    65,
                    json!({"consumesCounters": [
                {"counterSet": "set-1", "counters": {"mem": {"value": "1Gi"}}}]}),
                ),
            ),
            "ResourceSlice slice-1",
            "spec.devices",
            "must have at most 64 items when a device has taints or consumesCounters, got 65",
        ),
        (
            "slice",
            with(
                &s,
                &format!("{dev}/consumesCounters"),
                json!([
                {"counterSet": "set-1", "counters": {}},
                {"counterSet": "set-2", "counters": {}},
                {"counterSet": "set-3", "counters": {}}]),
            ),
            "ResourceSlice slice-1",
            "spec.devices[0].consumesCounters",
            "must have at most 2 items, got 3",
        ),
        (
            "slice",
            with(
                &s,
                &format!("{dev}/consumesCounters"),
                json!([
                {"counterSet": "set-1", "counters": {"mem": {"value": "1Gi"}}},
                {"counterSet": "set-1", "counters": {"mem": {"value": "1Gi"}}}]),
            ),
            "ResourceSlice slice-1",
            "spec.devices[0].consumesCounters[1].counterSet",
            "duplicate counter set \"set-1\": one entry per counter set",
        ),
        (
            "slice",
            with(
                &s,
                "/spec/sharedCounters",
                json!(
                    (0..9)
                        .map(|i| json!({"name": format!("set-{i}"), "counters": {}}))
                        .collect::<Vec<_>>()
                ),
            ),
            "ResourceSlice slice-1",
            "spec.sharedCounters",
            "must have at most 8 items, got 9",
        ),
        (
            "slice",
            with(
                &s,
                "/spec/sharedCounters",
                json!([
                {"name": "set-1", "counters": {}}, {"name": "set-1", "counters": {}}]),
            ),
            "ResourceSlice slice-1",
            "spec.sharedCounters[1].name",
            "duplicate counter set \"set-1\"",
        ),
        (
            "slice",
            with(
                &s,
                "/spec/sharedCounters/0/counters",
                json!(
                    (0..33)
                        .map(|i| (format!("c-{i}"), json!({"value": "1"})))
                        .collect::<serde_json::Map<_, _>>()
                ),
            ),
            "ResourceSlice slice-1",
            "spec.sharedCounters[0].counters",
            "must have at most 32 counters",
        ),
        (
            "slice",
            with(
                &s,
                "/spec/devices/0/consumesCounters/0/counters/mem/value",
                json!(true),
            ),
            "ResourceSlice slice-1",
            "spec.devices[0].consumesCounters[0].counters[mem].value",
            "expected a quantity string, got boolean",
        ),
        (
            "class",
            with(&d, "/spec/selectors", json!({})),
            "DeviceClass class-a",
            "spec.selectors",
            "expected an array, got object",
        ),
        (
            "class",
            with(&d, "/spec/config/0/opaque/driver", json!("Driver A")),
            "DeviceClass class-a",
            "spec.config[0].opaque.driver",
            "is not a driver name",
        ),
        (
            "node",
            json!({"metadata": {"name": "n", "labels": {"a": "b c"}}}),
            "Node n",
            "metadata.labels[a]",
            "\"b c\" is not a label value",
        ),
        (
            "alloc",
            json!({"devices": {"config": [{"source": "FromNowhere"}]}}),
            "AllocationResult",
            "devices.config[0].source",
            "unsupported value \"FromNowhere\"",
        ),
        (
            "alloc",
            json!([]),
            "AllocationResult",
            "<root>",
            "expected an object, got array",
        ),
    ];
    for (kind, value, object, path, message) in cases {
        let err = parse_any(kind, &value).expect_err(path);
        let Error::Object {
            object: o,
            path: p,
            message: m,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!((o.as_str(), p.as_str()), (object, path), "{err}");
        assert!(m.contains(message), "{err}\n  wanted: {message}");
        assert_eq!(err.to_string(), format!("{o}: {p}: {m}"));
    }
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl Pipe for Value {}

#[test]
fn allocator_failures_stay_representable() {
    let c = claim_base();
    let v = with(
        &c,
        "/spec/devices/requests/0/exactly/allocationMode",
        json!("Some"),
    );
    let claim = ResourceClaim::from_json(&v).unwrap();
    let RequestKind::Exactly(e) = &claim.requests[0].kind else {
        panic!()
    };
    assert_eq!(e.allocation_mode, AllocationMode::Unknown("Some".into()));
    let v = with(
        &c,
        "/spec/devices/requests/0/exactly/selectors",
        json!([{}]),
    );
    let claim = ResourceClaim::from_json(&v).unwrap();
    let RequestKind::Exactly(e) = &claim.requests[0].kind else {
        panic!()
    };
    assert_eq!(e.selectors, vec![DeviceSelector::Unknown]);
    let v = with(&c, "/spec/devices/constraints/0", json!({}));
    assert_eq!(
        ResourceClaim::from_json(&v).unwrap().constraints[0].kind,
        ConstraintKind::Unknown
    );
}

/// Every JSON pointer inside `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            let k = k.replace('~', "~0").replace('/', "~1");
            pointers(x, format!("{at}/{k}"), out);
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| pointers(x, format!("{at}/{i}"), out)),
        _ => {}
    }
}

#[test]
fn corrupted_objects_never_panic() {
    let replacements = [
        Value::Null,
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(i64::MIN),
        json!(""),
        json!("x"),
        json!("-1Ei"),
        json!(true),
        json!([]),
        json!({}),
        json!([null]),
        json!({"a": null}),
        json!("a/b/c"),
        json!("9".repeat(40)),
    ];
    let allocated = load("k8s/resourceclaim-allocated.example.json")[1].clone();
    let objects = [
        ("claim", claim_base()),
        ("claim", allocated.clone()),
        ("slice", slice_base()),
        ("class", class_base()),
        ("alloc", allocated["status"]["allocation"].clone()),
        (
            "node",
            json!({"metadata": {"name": "n", "labels": {"a": "b"}}}),
        ),
    ];
    let mut errors = 0;
    for (kind, base) in &objects {
        let mut all = Vec::new();
        pointers(base, String::new(), &mut all);
        for p in &all {
            for r in &replacements {
                let v = if p.is_empty() {
                    r.clone()
                } else {
                    with(base, p, r.clone())
                };
                for k in ["claim", "slice", "class", "node", "alloc"] {
                    let failed = parse_any(k, &v).is_err();
                    errors += usize::from(k == *kind && failed);
                }
            }
        }
    }
    assert!(errors > 500, "{errors}");
}
