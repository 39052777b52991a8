//! Parser benchmarks: the time to turn a topology file into a validated `Topology` (parsing plus
//! `TopologyParts::build`).
//!
//! Covers hwloc XML: `hwloc/192em64t-24n8c2t` (SGI UV, 340 KB, 384 PUs, 24 NUMA nodes, PCI) and
//! `hwloc/256ppc-8n8s4t` (POWER7, 256 PUs, 8 NUMA nodes). Inputs are embedded from
//! `tests/data/hwloc/`.
//!
//! Run: `cargo bench -p topoplace-core --bench parse` (add `-- --quick` for a short run, or a
//! name filter such as `-- hwloc/192`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use topoplace_core::parse::hwloc;

const HWLOC_192: &str = include_str!("../../../tests/data/hwloc/192em64t-24n8c2t.xml");
const HWLOC_256PPC: &str = include_str!("../../../tests/data/hwloc/256ppc-8n8s4t.xml");

fn hwloc_files(c: &mut Criterion) {
    c.bench_function("hwloc/192em64t-24n8c2t", |b| {
        b.iter(|| hwloc::parse(black_box(HWLOC_192), "192em64t-24n8c2t.xml"));
    });
    c.bench_function("hwloc/256ppc-8n8s4t", |b| {
        b.iter(|| hwloc::parse(black_box(HWLOC_256PPC), "256ppc-8n8s4t.xml"));
    });
}

criterion_group!(hwloc_benches, hwloc_files);
criterion_main!(hwloc_benches);

// more benchmarks are added below by other files' owners
