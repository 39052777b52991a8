//! One FGD paper run (USENIX ATC '23) on the Alibaba GPU trace's default workload: the 1,213
//! GPU nodes, `openb_pod_list_default.csv` padded to 130 % of the GPU capacity (10,866 pods
//! for seed 42), with FGD and with BestFit (`replay::replay`, reading and bucketing included,
//! CSV parsing excluded).
//!
//! The trace is read from the repository's sibling `shared/traces/alibaba-gpu-2023`; without
//! it the benchmark prints a note and measures nothing. Targets: under 0.1 s for FGD and
//! 0.02 s for BestFit in a release build.
//!
//! Run: `cargo bench -p topoplace-core --bench replay`.
#![allow(clippy::print_stdout, reason = "the note on a missing trace folder")]

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use topoplace_core::replay::{Policy, read_nodes, read_pods, replay};

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces/alibaba-gpu-2023");
    let (Ok(nodes), Ok(pods)) = (
        std::fs::read_to_string(dir.join("openb_node_list_gpu_node.csv")),
        std::fs::read_to_string(dir.join("openb_pod_list_default.csv")),
    ) else {
        println!("note: {} not found; nothing to measure", dir.display());
        return;
    };
    let nodes = read_nodes(&nodes, "openb_node_list_gpu_node.csv").expect("node list parses");
    let pods = read_pods(&pods, "openb_pod_list_default.csv").expect("pod list parses");
    let mut group = c.benchmark_group("replay_default");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    for policy in [Policy::Fgd, Policy::BestFit] {
        group.bench_function(policy.name(), |b| {
            b.iter(|| {
                replay(black_box(&nodes), black_box(&pods), policy, 42).expect("replay runs")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
