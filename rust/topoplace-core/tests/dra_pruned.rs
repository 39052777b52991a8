//! The pruned DRA search against the plain one (upstream's search, the reference): on random
//! small inputs both give the same outcome, allocation for allocation; the scored mode is
//! feasible exactly when they are. And the refusals that make the plain search exponential
//! are answered by the pruned one.

use proptest::prelude::*;
use serde_json::{Value, json};
use topoplace_core::dra::allocator::{
    self, Alignment, AllocInput, DeviceId, Features, Mode, Outcome,
};
use topoplace_core::dra::cel::SelectorCache;
use topoplace_core::dra::model::{DeviceClass, Node, ResourceClaim, ResourceSlice};

/// Random inputs: one node, up to 10 devices with a model and a group, some in use; up to
/// two claims of up to two requests (optionally `firstAvailable`), with `matchAttribute`
/// or `distinctAttribute` constraints.
#[derive(Debug, Clone)]
struct Case {
    devices: Vec<(u8, u8, bool)>,
    claims: Vec<ClaimSpec>,
}

/// `(selector kind, count, firstAvailable second count)` per request; constraint kind.
type ClaimSpec = (Vec<(u8, u8, Option<u8>)>, u8);

fn case() -> impl Strategy<Value = Case> {
    let device = (0u8..2, 0u8..3, prop::bool::weighted(0.2));
    let request = (0u8..3, 1u8..4, prop::option::weighted(0.3, 1u8..3));
    let claim = (prop::collection::vec(request, 1..3), 0u8..4);
    (
        prop::collection::vec(device, 1..11),
        prop::collection::vec(claim, 1..3),
    )
        .prop_map(|(devices, claims)| Case { devices, claims })
}

fn slices(devices: &[(u8, u8, bool)]) -> Vec<ResourceSlice> {
    let devs: Vec<Value> = devices
        .iter()
        .enumerate()
        .map(|(i, &(model, group, _))| {
            json!({"name": format!("dev-{i}"), "attributes": {
                "model": {"string": format!("m{model}")},
                "group": {"int": group},
                "dra.example.com/numa": {"int": group / 2},
            }})
        })
        .collect();
    let slice = json!({
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
        "metadata": {"name": "s"},
        "spec": {"driver": "dra.example.com", "nodeName": "n1",
                 "pool": {"name": "p", "generation": 1, "resourceSliceCount": 1},
                 "devices": devs}
    });
    vec![ResourceSlice::from_json(&slice).expect("slice")]
}

fn class() -> DeviceClass {
    DeviceClass::from_json(&json!({
        "apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass",
        "metadata": {"name": "c"},
        "spec": {"selectors": [{"cel": {"expression": "device.driver == 'dra.example.com'"}}]}
    }))
    .expect("class")
}

fn claims(spec: &[ClaimSpec]) -> Vec<ResourceClaim> {
    spec.iter()
        .enumerate()
        .map(|(ci, (reqs, con))| {
            let selector = |kind: u8| match kind {
                0 => json!([]),
                1 => json!([{"cel": {"expression": "device.attributes['dra.example.com'].model == 'm0'"}}]),
                _ => json!([{"cel": {"expression": "device.attributes['dra.example.com'].group >= 1"}}]),
            };
            let requests: Vec<Value> = reqs
                .iter()
                .enumerate()
                .map(|(ri, &(kind, count, alt))| match alt {
                    None => json!({"name": format!("r{ri}"), "exactly": {
                        "deviceClassName": "c", "count": count, "selectors": selector(kind)}}),
                    Some(second) => json!({"name": format!("r{ri}"), "firstAvailable": [
                        {"name": "a", "deviceClassName": "c", "count": count + 1, "selectors": selector(kind)},
                        {"name": "b", "deviceClassName": "c", "count": second, "selectors": selector(0)},
                    ]}),
                })
                .collect();
            let constraints = match con {
                1 => json!([{"matchAttribute": "dra.example.com/group"}]),
                2 => json!([{"matchAttribute": "dra.example.com/model", "requests": ["r0"]}]),
                3 => json!([{"distinctAttribute": "dra.example.com/group"}]),
                _ => json!([]),
            };
            ResourceClaim::from_json(&json!({
                "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
                "metadata": {"name": format!("claim-{ci}"), "namespace": "default"},
                "spec": {"devices": {"requests": requests, "constraints": constraints}}
            }))
            .expect("claim")
        })
        .collect()
}

/// Allocates `claims` on node `n1` holding `devices` (those marked in use taken).
fn allocate_on(
    devices: &[(u8, u8, bool)],
    claims: &[ResourceClaim],
    features: Features,
    mode: Mode,
    cache: &SelectorCache,
) -> Result<Outcome, String> {
    let slices = slices(devices);
    let classes = [class()];
    let node = Node::from_json(&json!({"metadata": {"name": "n1"}})).expect("node");
    let allocated: Vec<DeviceId> = devices
        .iter()
        .enumerate()
        .filter(|d| d.1.2)
        .map(|(i, _)| DeviceId {
            driver: "dra.example.com".into(),
            pool: "p".into(),
            device: format!("dev-{i}"),
        })
        .collect();
    let input = AllocInput {
        node: Some(&node),
        slices: &slices,
        classes: &classes,
        claims,
        allocated_devices: &allocated,
        allocated_capacity: &[],
        features,
        selectors: cache,
        mode,
        alignment: Alignment::standard(),
    };
    allocator::allocate(&input).map_err(|e| e.to_string())
}

fn run(c: &Case, mode: Mode, cache: &SelectorCache) -> Result<Outcome, String> {
    let features = Features {
        prioritized_list: true,
        consumable_capacity: true,
        ..Features::default()
    };
    allocate_on(&c.devices, &claims(&c.claims), features, mode, cache)
}

fn feasible(o: &Result<Outcome, String>) -> Option<bool> {
    match o {
        Ok(Outcome::Allocated(_)) => Some(true),
        Ok(Outcome::Unsatisfiable(_)) => Some(false),
        Err(_) => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn pruned_and_exact_give_the_plain_answer(c in case()) {
        let cache = SelectorCache::default();
        let plain = run(&c, Mode::Plain, &cache);
        prop_assert_eq!(&run(&c, Mode::Pruned, &cache), &plain);
        prop_assert_eq!(&run(&c, Mode::Exact, &cache), &plain);
        prop_assert_eq!(feasible(&run(&c, Mode::Scored, &cache)), feasible(&plain));
    }
}

/// 128 devices in 8 groups of 16, `busy` of each group in use; one claim of `count` devices
/// of one group (or, with `model_only`, of the 8 devices of model m0, no constraint).
fn refusal(busy: usize, count: usize, model_only: bool, mode: Mode) -> Result<Outcome, String> {
    let devices: Vec<(u8, u8, bool)> = (0..128)
        .map(|i| {
            let model = u8::from(!(model_only && i % 16 == 0));
            (
                model,
                u8::try_from(i / 16).unwrap_or(0),
                !model_only && i % 16 < busy,
            )
        })
        .collect();
    let (selector, constraints) = if model_only {
        (
            json!([{"cel": {"expression": "device.attributes['dra.example.com'].model == 'm0'"}}]),
            json!([]),
        )
    } else {
        (
            json!([]),
            json!([{"matchAttribute": "dra.example.com/group"}]),
        )
    };
    let claims = [ResourceClaim::from_json(&json!({
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
        "metadata": {"name": "big", "namespace": "default"},
        "spec": {"devices": {"requests": [{"name": "r", "exactly": {
            "deviceClassName": "c", "count": count, "selectors": selector}}],
            "constraints": constraints}}
    }))
    .expect("claim")];
    let cache = SelectorCache::default();
    allocate_on(&devices, &claims, Features::default(), mode, &cache)
}

#[test]
fn refusals_the_plain_search_enumerates_are_answered() {
    for mode in [Mode::Exact, Mode::Pruned, Mode::Scored] {
        // No group has 8 free devices (7 each).
        let got = refusal(9, 8, false, mode);
        assert!(
            matches!(got, Ok(Outcome::Unsatisfiable(_))),
            "{mode:?}: {got:?}"
        );
        // One device more than match.
        let got = refusal(0, 9, true, mode);
        assert!(
            matches!(got, Ok(Outcome::Unsatisfiable(_))),
            "{mode:?}: {got:?}"
        );
        // And the satisfiable neighbours are found, first fit.
        let Ok(Outcome::Allocated(r)) = refusal(8, 8, false, mode) else {
            panic!("{mode:?}: 8 free devices in each group");
        };
        let names: Vec<&str> = r[0].results.iter().map(|d| d.device.as_str()).collect();
        let want: Vec<String> = (8..16).map(|i| format!("dev-{i}")).collect();
        assert_eq!(names, want);
    }
}
