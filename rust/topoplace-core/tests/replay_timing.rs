//! Wall-clock timing of one replay per policy on the default workload (ignored by default:
//! `cargo test --release --test replay_timing -- --ignored --nocapture`).
#![allow(clippy::print_stderr, reason = "the timing is the output")]

use std::path::Path;
use std::time::Instant;

use topoplace_core::replay::{Policy, read_nodes, read_pods, replay};

#[test]
#[ignore = "timing only; run in a release build"]
fn time_default_workload() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces/alibaba-gpu-2023");
    let Ok(nodes) = std::fs::read_to_string(dir.join("openb_node_list_gpu_node.csv")) else {
        eprintln!("note: trace folder absent; nothing to time");
        return;
    };
    let nodes = read_nodes(&nodes, "nodes").expect("nodes");
    let workload = std::env::var("REPLAY_WORKLOAD").unwrap_or_else(|_| "default".to_owned());
    let pods =
        std::fs::read_to_string(dir.join(format!("openb_pod_list_{workload}.csv"))).expect("pods");
    let pods = read_pods(&pods, "pods").expect("pods");
    let only = std::env::var("REPLAY_POLICY").ok();
    for policy in Policy::ALL
        .into_iter()
        .filter(|p| only.as_deref().is_none_or(|o| o == p.name()))
    {
        let mut times: Vec<f64> = (42..49)
            .map(|seed| {
                let t = Instant::now();
                let r = replay(&nodes, &pods, policy, seed).expect("replay");
                assert_eq!(r.allocation_ratio.len(), 131);
                t.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        eprintln!(
            "{workload} {:>14}: median {:.4} s (min {:.4}, max {:.4})",
            policy.name(),
            times[3],
            times[0],
            times[6]
        );
    }
}
