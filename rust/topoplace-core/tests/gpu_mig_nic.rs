//! The `nearest-nic` and `mig-placement` cases of the GPU conformance vectors
//! (`tests/data/conformance/gpu`), and the nearest NICs cross-checked against the topology parsed
//! from the same `nvidia-smi topo -m` fixture.

use serde_json::Value;
use topoplace_core::conformance::gpu_mig_nic::{nearest_nics, run_mig, run_nearest_nic};
use topoplace_core::node::mig::{self, Instance, MigGeometry};
use topoplace_core::parse::smi;

const CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/conformance/gpu/cases.json"
));
const TOPOLOGIES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/conformance/gpu/topologies.json"
));
const SMI_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/nvidia-smi");

fn load() -> (Vec<Value>, Vec<Value>) {
    let cases: Value = serde_json::from_str(CASES).unwrap();
    let topos: Value = serde_json::from_str(TOPOLOGIES).unwrap();
    (
        cases["cases"].as_array().unwrap().clone(),
        topos["topologies"].as_array().unwrap().clone(),
    )
}

fn topology<'a>(topos: &'a [Value], name: &str) -> &'a Value {
    topos
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no topology {name}"))
}

fn run_policy(policy: &str, run: fn(&Value, &Value) -> Result<(), String>) -> (usize, Vec<String>) {
    let (cases, topos) = load();
    let mut total = 0;
    let mut failures = Vec::new();
    for case in cases.iter().filter(|c| c["policy"] == policy) {
        total += 1;
        let topo = topology(&topos, case["topology"].as_str().unwrap());
        if let Err(e) = run(case, topo) {
            failures.push(format!("{}: {e}", case["name"]));
        }
    }
    (total, failures)
}

#[test]
fn nearest_nic_cases_pass() {
    let (total, failures) = run_policy("nearest-nic", run_nearest_nic);
    assert_eq!(total, 27);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn mig_placement_cases_pass() {
    let (total, failures) = run_policy("mig-placement", run_mig);
    assert_eq!(total, 23);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn runners_report_differences() {
    let (cases, topos) = load();
    let nic = cases.iter().find(|c| c["policy"] == "nearest-nic").unwrap();
    let mut wrong = nic.clone();
    wrong["expected_link"] = "PIX".into();
    wrong["expected"] = serde_json::json!(["nope"]);
    let topo = topology(&topos, nic["topology"].as_str().unwrap());
    assert!(run_nearest_nic(&wrong, topo).is_err());
    assert!(run_nearest_nic(&serde_json::json!({}), topo).is_err());

    let m = cases
        .iter()
        .find(|c| c["policy"] == "mig-placement")
        .unwrap();
    let topo = topology(&topos, m["topology"].as_str().unwrap());
    let mut wrong = m.clone();
    wrong["expected"] = serde_json::json!([7]);
    assert!(run_mig(&wrong, topo).is_err());
    let mut wrong = m.clone();
    wrong["occupied"] = serde_json::json!([[999, 0]]);
    assert!(run_mig(&wrong, topo).is_err());
    assert!(run_mig(&serde_json::json!({}), topo).is_err());
}

#[test]
fn builtin_geometries_match_the_vectors() {
    let (_, topos) = load();
    let a100 = MigGeometry::from_json(topology(&topos, "mig-a100-40gb")).unwrap();
    assert_eq!(a100, MigGeometry::a100_40gb());
    let g80 = MigGeometry::from_json(topology(&topos, "mig-80gb-a100-h100")).unwrap();
    assert_eq!(g80, MigGeometry::a100_80gb());
    assert_eq!(g80, MigGeometry::h100_80gb());
}

#[test]
fn blocked_4g_example() {
    // `1g5gb@0/request-4g20gb`: a 1g.5gb at slice 0 blocks the 4g.20gb; choose_start avoids it
    // (slice 4: the highest expected further instances among the starts that keep the 4g).
    let g = MigGeometry::a100_40gb();
    assert_eq!(
        mig::feasible_starts(&g, &[Instance::new(19, 0)], 5),
        Ok(vec![])
    );
    let s = mig::choose_start(&g, &[], 19).unwrap().unwrap();
    assert_eq!(s, 4);
    assert_eq!(
        mig::feasible_starts(&g, &[Instance::new(19, s)], 5),
        Ok(vec![0])
    );
}

#[test]
fn nearest_nic_agrees_with_parsed_topology() {
    let (cases, topos) = load();
    let mut checked = 0;
    for t in topos.iter().filter(|t| t["kind"] == "parsed-fixture") {
        let Some(fixture) = t["source_fixture"].as_str() else {
            continue;
        };
        let file = fixture.rsplit('/').next().unwrap();
        if file.starts_with("amd") {
            continue;
        }
        let text = std::fs::read_to_string(format!("{SMI_DIR}/{file}")).unwrap();
        let topo = smi::parse_nvidia(&text, None, file).unwrap();
        let dev = |name: &str| {
            topo.devices()
                .iter()
                .position(|d| d.name == name)
                .unwrap_or_else(|| panic!("{file}: no device {name}")) as u32
        };
        for case in cases
            .iter()
            .filter(|c| c["policy"] == "nearest-nic" && c["topology"] == t["name"])
        {
            let gpu = case["gpu"].as_u64().unwrap() as u32;
            let (names, label) = nearest_nics(t, gpu).unwrap().unwrap();
            let g = dev(&format!("GPU{gpu}"));
            for name in &names {
                let class = topo.link_class(g, dev(name)).unwrap();
                assert_eq!(class.as_str(), label, "{file}: GPU{gpu}-{name}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 27);
}
