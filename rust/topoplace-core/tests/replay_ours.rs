//! topoplace's own replay policy, FGD-Reach, against FGD on the FGD paper's experiment (the
//! Alibaba GPU trace in the repository's sibling `shared/` folder): same arrivals, same node
//! priority, ten seeds, mean allocation ratio at 100 % and 130 % arrived.
//!
//! Skipped, with a note on stderr, when that folder is absent. The default run checks the
//! default workload (FGD-Reach strictly above FGD) and two more (not below); an ignored test
//! checks every workload that has a pod file and prints the table of `docs/replay-policy.md`:
//! `cargo test --release -p topoplace-core --test replay_ours -- --ignored --nocapture`.
#![allow(
    clippy::print_stderr,
    reason = "the tests explain why they skip, and print the table"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use topoplace_core::replay::{NodeRow, PodRow, Policy, read_nodes, read_pods, replay};

/// The paper's seeds; the ignored test takes others from `REPLAY_SEEDS` (e.g. `52-71`).
const SEEDS: std::ops::RangeInclusive<i64> = 42..=51;
/// The arrived percentages compared.
const POINTS: [usize; 2] = [100, 130];

fn trace_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces/alibaba-gpu-2023");
    dir.join("FGD-PROCEDURE.md").is_file().then_some(dir)
}

fn load(dir: &Path, workload: &str) -> Vec<PodRow> {
    let file = format!("openb_pod_list_{workload}.csv");
    let text = std::fs::read_to_string(dir.join(&file)).expect("pod list is readable");
    read_pods(&text, &file).expect("pod list parses")
}

fn nodes(dir: &Path) -> Vec<NodeRow> {
    let text = std::fs::read_to_string(dir.join("openb_node_list_gpu_node.csv")).expect("nodes");
    read_nodes(&text, "openb_node_list_gpu_node.csv").expect("node list parses")
}

/// Means over `seeds` at [`POINTS`], `[fgd, fgd_reach]` per workload, on two threads.
fn means(dir: &Path, workloads: &[String], seeds: &[i64]) -> Vec<[[f64; 2]; 2]> {
    let nodes = nodes(dir);
    let pods: Vec<Vec<PodRow>> = workloads.iter().map(|w| load(dir, w)).collect();
    let policies = [Policy::Fgd, Policy::FgdReach];
    let tasks: Vec<(usize, usize, i64)> = (0..workloads.len())
        .flat_map(|w| (0..2).flat_map(move |p| seeds.iter().map(move |&s| (w, p, s))))
        .collect();
    let next = AtomicUsize::new(0);
    let sums = Mutex::new(vec![[[0.0; 2]; 2]; workloads.len()]);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while let Some(&(w, p, seed)) = tasks.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let run = replay(&nodes, &pods[w], policies[p], seed).expect("replay runs");
                    let mut sums = sums.lock().expect("no worker panicked");
                    for (i, k) in POINTS.into_iter().enumerate() {
                        sums[w][p][i] += run.allocation_ratio[k];
                    }
                }
            });
        }
    });
    let n = seeds.len() as f64;
    let mut out = sums.into_inner().expect("no worker panicked");
    for v in out.iter_mut().flatten().flatten() {
        *v /= n;
    }
    out
}

/// Sort key: `default` first, then by name with the numeric suffix compared as a number.
fn order(w: &str) -> (bool, String, u32) {
    let digits = w.trim_start_matches(|c: char| !c.is_ascii_digit());
    let stem = w[..w.len() - digits.len()].to_owned();
    (w != "default", stem, digits.parse().unwrap_or(0))
}

/// Workloads (of `wanted`, or all) whose pod file is in the trace folder.
fn present(dir: &Path, wanted: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = std::fs::read_dir(dir)
        .expect("trace folder lists")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            let w = name.strip_prefix("openb_pod_list_")?.strip_suffix(".csv")?;
            Some(w.to_owned())
        })
        .filter(|w| wanted.is_empty() || wanted.contains(&w.as_str()))
        .collect();
    all.sort_by_key(|w| order(w));
    all
}

/// Checks FGD-Reach against FGD on `wanted` (all when empty) over `seeds`: strictly above on
/// `default`, not below anywhere. Prints the comparison as a markdown table.
fn compare(wanted: &[&str], seeds: &[i64]) {
    let Some(dir) = trace_dir() else {
        eprintln!("note: shared/traces/alibaba-gpu-2023 not found; skipping FGD-Reach vs FGD");
        return;
    };
    let workloads = present(&dir, wanted);
    let m = means(&dir, &workloads, seeds);
    let mut table = String::from(
        "| workload | FGD 100 % | FGD-Reach 100 % | diff | FGD 130 % | FGD-Reach 130 % | diff |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let mut bad = String::new();
    for (w, [fgd, reach]) in workloads.iter().zip(&m) {
        let row = (0..2)
            .map(|i| {
                let (a, b) = (fgd[i], reach[i]);
                format!("{a:.2} | {b:.2} | {:+.2}", b - a)
            })
            .collect::<Vec<_>>()
            .join(" | ");
        writeln!(table, "| {w} | {row} |").ok();
        for (i, k) in POINTS.into_iter().enumerate() {
            let worse = if w == "default" {
                reach[i] <= fgd[i]
            } else {
                reach[i] < fgd[i]
            };
            if worse {
                let (a, b) = (fgd[i], reach[i]);
                writeln!(bad, "{w} at {k} %: FGD {a:.3}, FGD-Reach {b:.3}").ok();
            }
        }
    }
    eprintln!("{table}");
    assert!(bad.is_empty(), "FGD-Reach does not beat FGD:\n{bad}");
}

/// The default workload, a model-restricted one and a CPU-heavy one.
#[test]
fn fgd_reach_beats_fgd_on_default() {
    compare(
        &["default", "gpuspec33", "cpu200"],
        &SEEDS.collect::<Vec<_>>(),
    );
}

/// Every workload with a pod file (`REPLAY_WORKLOADS=a,b` for a subset), seeds 42-51 or
/// `REPLAY_SEEDS=first-last`; slow in a debug build.
#[test]
#[ignore = "every workload; run in a release build"]
fn fgd_reach_not_below_fgd_on_any_workload() {
    let wanted = std::env::var("REPLAY_WORKLOADS").unwrap_or_default();
    let wanted: Vec<&str> = wanted.split(',').filter(|w| !w.is_empty()).collect();
    let seeds: Vec<i64> = match std::env::var("REPLAY_SEEDS") {
        Ok(range) => {
            let (a, b) = range.split_once('-').expect("REPLAY_SEEDS is first-last");
            (a.parse().expect("first seed")..=b.parse().expect("last seed")).collect()
        }
        Err(_) => SEEDS.collect(),
    };
    compare(&wanted, &seeds);
}
