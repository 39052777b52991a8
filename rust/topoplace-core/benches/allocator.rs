//! The stateful allocator: `allocate` then `release` of 16 CPUs + 64 GiB on a half-full machine.
//!
//! The machine is first half filled with 16-CPU + 8 GiB grants (whole NUMA nodes on the 24-node
//! machine, so the Memory Manager's single/cross-NUMA rule leaves the other half usable).
//!
//! Covers `192em64t-24n8c2t.xml` (24 NUMA nodes, hwloc fixture) and a synthetic 2 sockets x 4
//! NUMA x 16 cores x 2 threads machine, in kubelet mode (`best-effort`,
//! `max-allowable-numa-nodes` raised to the node count) and in the default mode. Target: median
//! under 5 µs.
//!
//! Run: `cargo bench -p topoplace-core --bench allocator`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use topoplace_core::node::allocator::{AllocRequest, Mode, NodeAllocator};
use topoplace_core::node::hints::PolicyOptions;
use topoplace_core::synthetic::SyntheticSpec;
use topoplace_core::{CpuSet, Topology};

const GIB: u64 = 1 << 30;

fn half_full(topo: &Arc<Topology>, mode: Mode, opts: PolicyOptions) -> NodeAllocator {
    let mut a = NodeAllocator::new(topo.clone(), CpuSet::new(), Vec::new()).expect("allocator");
    let total = a.free_cpus().len();
    let fill = AllocRequest::new(16, 8 * GIB)
        .with_mode(mode)
        .with_tm_options(opts);
    let mut i = 0;
    while a.free_cpus().len() > total / 2 {
        let _ = a.allocate(&format!("fill-{i:04}"), &fill).expect("fill");
        i += 1;
    }
    a
}

fn bench_allocator(c: &mut Criterion) {
    let hwloc = Arc::new(
        topoplace_core::parse::hwloc::parse(
            include_str!("../../../tests/data/hwloc/192em64t-24n8c2t.xml"),
            "192em64t-24n8c2t.xml",
        )
        .expect("fixture parses"),
    );
    let synthetic = Arc::new(
        SyntheticSpec {
            name: "2x4x16x2".into(),
            sockets: 2,
            numa_per_socket: 4,
            l3_per_numa: 2,
            cores_per_numa: 16,
            threads_per_core: 2,
            ..SyntheticSpec::default()
        }
        .build()
        .expect("valid spec"),
    );
    for (name, topo) in [("24n8c2t", &hwloc), ("2x4x16x2", &synthetic)] {
        for mode in Mode::ALL {
            let opts = PolicyOptions {
                max_allowable_numa_nodes: topo.numa_nodes().len().max(8),
                ..PolicyOptions::default()
            };
            let mut a = half_full(topo, mode, opts);
            let req = AllocRequest::new(16, 64 * GIB)
                .with_mode(mode)
                .with_tm_options(opts);
            assert!(a.check(&req).expect("check").is_placed(), "{name} {mode}");
            c.bench_function(&format!("allocate-release/{name}/{mode}"), |b| {
                b.iter(|| {
                    let out = a.allocate("bench", black_box(&req)).expect("allocate");
                    black_box(out);
                    black_box(a.release("bench"));
                });
            });
        }
    }
}

criterion_group!(benches, bench_allocator);
criterion_main!(benches);
