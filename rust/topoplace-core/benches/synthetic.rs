//! Synthetic machine generation.
//!
//! Covers: `synthetic/1024numa-16384cpu` (16 sockets x 64 NUMA x 8 cores x 2 threads, the
//! foundation issue's target: under 20 ms) and `builtin/dgx-h100`.
//!
//! Run: `cargo bench -p topoplace-core --bench synthetic`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use topoplace_core::synthetic::{SyntheticSpec, builtin};

fn bench_synthetic(c: &mut Criterion) {
    let spec = SyntheticSpec {
        sockets: 16,
        numa_per_socket: 64,
        cores_per_numa: 8,
        threads_per_core: 2,
        ..SyntheticSpec::default()
    };
    c.bench_function("synthetic/1024numa-16384cpu", |b| {
        b.iter(|| black_box(spec.build()).expect("valid spec"));
    });
    c.bench_function("builtin/dgx-h100", |b| {
        b.iter(|| black_box(builtin("dgx-h100")).expect("known name"));
    });
}

criterion_group!(benches, bench_synthetic);
criterion_main!(benches);
