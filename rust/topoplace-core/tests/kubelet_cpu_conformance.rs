//! Runs the kubelet CPU Manager conformance vectors (`tests/data/conformance/kubelet/`) and
//! requires every case to pass; plus properties of the packed picker on generated machines.

use proptest::prelude::*;
use topoplace_core::CpuSet;
use topoplace_core::conformance::{CaseResult, kubelet_cpu};
use topoplace_core::node::cpu::{CpuDetails, Level, SortingStrategy, take_by_topology_packed};
use topoplace_core::synthetic::SyntheticSpec;

const TOPOLOGIES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/conformance/kubelet/topologies.json"
));
const ASSIGNMENT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/conformance/kubelet/cpu_assignment.json"
));
const ACCUMULATOR: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/conformance/kubelet/cpu_accumulator.json"
));

fn report(results: &[CaseResult]) -> usize {
    let failed: Vec<&CaseResult> = results.iter().filter(|r| !r.passed).collect();
    for r in &failed {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("FAIL {} [{}] {}: {}", r.id, r.file, r.name, r.detail);
        }
    }
    failed.len()
}

#[test]
fn cpu_assignment_vectors_all_pass() {
    let results = kubelet_cpu::run_assignment(TOPOLOGIES, ASSIGNMENT, "cpu_assignment.json")
        .expect("vector files parse");
    let failed = report(&results);
    assert_eq!(results.len(), 81, "case count");
    assert_eq!(failed, 0, "{failed} of {} cases failed", results.len());
}

#[test]
fn cpu_accumulator_vectors_all_pass() {
    let results = kubelet_cpu::run_accumulator(TOPOLOGIES, ACCUMULATOR, "cpu_accumulator.json")
        .expect("vector files parse");
    let failed = report(&results);
    assert_eq!(results.len(), 29, "case count");
    assert_eq!(failed, 0, "{failed} of {} cases failed", results.len());
}

#[test]
fn bad_json_names_file_and_line() {
    let err = kubelet_cpu::run_assignment(TOPOLOGIES, "{\n  \"cases\": [\n  oops", "x.json")
        .expect_err("bad JSON is an error");
    let text = err.to_string();
    assert!(text.starts_with("x.json:3"), "{text}");
}

#[test]
fn unknown_function_is_a_failed_case() {
    let cases = r#"{"cases": [{"id": "x", "name": "n", "function": "nope",
        "topology": "topoSingleSocketHT", "available_cpus": [0], "request": {"num_cpus": 1}}]}"#;
    let results = kubelet_cpu::run_assignment(TOPOLOGIES, cases, "c.json").expect("parses");
    assert_eq!(results.len(), 1);
    assert!(!results[0].passed);
    assert!(
        results[0].detail.contains("unknown function"),
        "{}",
        results[0].detail
    );
}

// Properties of the packed picker.

fn machines() -> Vec<CpuDetails> {
    let shapes = [
        (1, 1, 1, 4, 2),
        (2, 2, 2, 4, 2),
        (2, 1, 1, 3, 4),
        (1, 2, 2, 6, 1),
    ];
    shapes
        .iter()
        .map(
            |&(sockets, numa_per_socket, l3_per_numa, cores_per_numa, threads_per_core)| {
                let topo = SyntheticSpec {
                    sockets,
                    numa_per_socket,
                    l3_per_numa,
                    cores_per_numa,
                    threads_per_core,
                    ..SyntheticSpec::default()
                }
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
                CpuDetails::from_topology(&topo)
            },
        )
        .collect()
}

proptest! {
    #[test]
    fn packed_pick_is_exact_and_whole_core_when_possible(
        machine in 0usize..4,
        mask in any::<u64>(),
        fraction in 0.0f64..=1.0,
        prefer_uncore in any::<bool>(),
    ) {
        let machines = machines();
        let details = &machines[machine];
        let all: Vec<u32> = details.cpus().iter().collect();
        let available: CpuSet = all
            .iter()
            .enumerate()
            .filter(|(i, _)| mask >> (i % 64) & 1 == 1)
            .map(|(_, &cpu)| cpu)
            .collect();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let n = (available.len() as f64 * fraction).floor() as usize;
        let strategy = SortingStrategy::Packed;
        let first = take_by_topology_packed(details, &available, n, strategy, prefer_uncore);
        let again = take_by_topology_packed(details, &available, n, strategy, prefer_uncore);
        prop_assert_eq!(&first, &again);
        let picked = first.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(picked.len(), n);
        prop_assert!(picked.is_subset(&available));

        let per_core = details.cpus_per_core();
        let whole_free_cores = details
            .ids(Level::Core)
            .filter(|&c| details.group_cpus(Level::Core, c).is_subset(&available))
            .count();
        if !prefer_uncore && n % per_core == 0 && whole_free_cores * per_core >= n {
            prop_assert_eq!(details.whole_cores_of(&picked), picked);
        }
    }
}
