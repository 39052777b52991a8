//! Runs the DRA allocator conformance vectors (`tests/data/dra/cases.json`, transcribed from
//! Kubernetes 1.34's allocator test table) and pins how many pass.

use std::collections::BTreeMap;

use topoplace_core::conformance;

/// How many of the 100 cases pass today; raise it when a fix lands.
const EXPECTED_PASSING: usize = 100;

#[test]
fn dra_allocator_cases() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/dra/cases.json"
    );
    let text = std::fs::read_to_string(path).expect("cases.json is readable");
    let results = conformance::run_dra(&text).expect("cases.json is well formed");
    assert_eq!(results.len(), 100);
    let cases: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let category: BTreeMap<&str, &str> = cases["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or(""),
                c["category"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let mut per: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut report = String::new();
    for r in &results {
        let e = per
            .entry(category.get(r.name.as_str()).copied().unwrap_or("?"))
            .or_default();
        e.1 += 1;
        if r.passed {
            e.0 += 1;
        } else {
            report.push_str(&format!("FAIL {}: {}\n", r.name, r.detail));
        }
    }
    for (c, (p, n)) in &per {
        report.push_str(&format!("{c}: {p}/{n}\n"));
    }
    let passed = results.iter().filter(|r| r.passed).count();
    assert_eq!(
        passed, EXPECTED_PASSING,
        "DRA allocator cases passing:\n{report}"
    );
}

/// The plain (reference) and pruned searches give the scheduler's answer on every case.
#[test]
fn dra_allocator_cases_every_exact_mode() {
    use topoplace_core::dra::allocator::Mode;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/dra/cases.json"
    );
    let text = std::fs::read_to_string(path).expect("cases.json is readable");
    for mode in [Mode::Pruned, Mode::Plain] {
        let results = conformance::run_dra_in(&text, mode).expect("cases.json is well formed");
        let failed: Vec<String> = results
            .iter()
            .filter(|r| !r.passed)
            .map(|r| format!("{}: {}", r.name, r.detail))
            .collect();
        assert!(failed.is_empty(), "{mode:?}: {failed:#?}");
        assert_eq!(results.len(), 100);
    }
}
