//! Best-effort GPU set selection (`node::gpu::best_effort`, go-gpuallocator's objective) on
//! synthetic machines:
//!
//! - best 4 of 8 on a DGX-1 V100 (hybrid cube-mesh NVLink);
//! - best 8 of 16 and 3 of 16 on a DGX-2-like machine (all 16 GPUs through NVSwitch) and on a
//!   PCIe-only machine (PIX / PHB / NODE / SYS mix);
//! - best 8 of 32 on a 32-GPU NVSwitch machine (2 GPUs per PCIe switch, 8 switches per socket),
//!   all free and with 12 taken (seeded random);
//! - best 8 of 72 on an NVSwitch domain of 72 GPUs (every pair NV18, no PCIe relation, as in
//!   an NVL72 rack) with 30 already taken (seeded random), and the same on a 72-GPU NVSwitch
//!   machine whose pairs also score their PCIe relation (4 GPUs per PCIe switch, 18 switches
//!   over 2 sockets): the search must then prove which packing of switches is best.
//!
//! Setup prints the candidate groups each search scores, next to what an exhaustive search
//! would face: the groups of `size` among the free GPUs, and the splits go-gpuallocator
//! enumerates (every partition of the free GPUs into groups of `size`, one of them padded).
//!
//! Run: `cargo bench -p topoplace-core --bench gpu`.
#![allow(clippy::print_stdout)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use topoplace_core::node::gpu::{PairScores, best_effort};
use topoplace_core::synthetic::{NvlinkPattern, SyntheticSpec};

fn machine(sockets: u32, roots: u32, gpus: u32, nvlink: NvlinkPattern) -> PairScores {
    let topo = SyntheticSpec {
        name: "gpu-bench".to_owned(),
        sockets,
        cores_per_numa: 4,
        pcie_roots_per_numa: roots,
        gpus_per_root: gpus,
        nvlink,
        ..Default::default()
    }
    .build()
    .expect("synthetic machine");
    PairScores::from_topology(&topo)
}

fn all(n: usize) -> u128 {
    if n >= 128 {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

/// `n` GPUs with `taken` of them removed by a seeded xorshift generator.
fn partly_taken(n: usize, taken: usize, mut seed: u64) -> u128 {
    let mut mask = all(n);
    while (mask.count_ones() as usize) > n - taken {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        mask &= !(1u128 << (seed % n as u64));
    }
    mask
}

/// `C(n, k)`, `None` past `u128`.
fn binomial(n: u128, k: u128) -> Option<u128> {
    let mut r = 1u128;
    for i in 0..k {
        r = r.checked_mul(n - i)? / (i + 1);
    }
    Some(r)
}

/// The splits go-gpuallocator enumerates for `size` of `free` GPUs: the padded group's GPUs
/// (`size - pad` of them), then every partition of the rest into groups of `size`.
fn upstream_splits(free: u128, size: u128) -> Option<u128> {
    let pad = (size - free % size) % size;
    let mut n = free;
    let mut r = 1u128;
    if pad > 0 {
        r = binomial(n, size - pad)?;
        n -= size - pad;
    }
    while n > 0 {
        r = r.checked_mul(binomial(n - 1, size - 1)?)?;
        n -= size;
    }
    Some(r)
}

fn print_selection(name: &str, scores: &PairScores, available: u128, size: usize) {
    let sel = best_effort(scores, available, 0, size, true)
        .expect("search")
        .expect("feasible");
    let free = u128::from(available.count_ones());
    let size128 = size as u128;
    let show = |v: Option<u128>| v.map_or_else(|| "more than 2^128".to_owned(), |v| v.to_string());
    println!(
        "{name}: {:?} score {} split {}; candidates scored {} (exhaustive: {} groups, {} upstream splits)",
        sel.gpus,
        sel.score,
        sel.split_score,
        sel.candidates_scored,
        show(binomial(free, size128)),
        show(upstream_splits(free, size128)),
    );
}

fn bench_gpu(c: &mut Criterion) {
    let dgx1 = machine(2, 2, 2, NvlinkPattern::HybridCubeMesh);
    let dgx2 = machine(2, 4, 2, NvlinkPattern::NvSwitch);
    let pcie16 = machine(2, 2, 4, NvlinkPattern::None);
    let nvswitch32 = machine(2, 8, 2, NvlinkPattern::NvSwitch);
    let mixed72 = machine(2, 9, 4, NvlinkPattern::NvSwitch);
    let mut nvl72 = PairScores::new(72).expect("72 GPUs");
    for i in 0..72 {
        for j in i + 1..72 {
            nvl72.add(i, j, 1800).expect("pair");
        }
    }
    let cases: [(&str, &PairScores, u128, usize); 8] = [
        ("dgx1-v100/4-of-8", &dgx1, all(8), 4),
        ("nvswitch16/8-of-16", &dgx2, all(16), 8),
        ("nvswitch16/3-of-16", &dgx2, all(16), 3),
        ("pcie16/8-of-16", &pcie16, all(16), 8),
        ("pcie16/3-of-16", &pcie16, all(16), 3),
        ("nvswitch32/8-of-32", &nvswitch32, all(32), 8),
        (
            "nvswitch32/8-of-20-free",
            &nvswitch32,
            partly_taken(32, 12, 0x2545_f491_4f6c_dd1d),
            8,
        ),
        (
            "nvswitch72/8-of-42-free",
            &nvl72,
            partly_taken(72, 30, 0x9e37_79b9_7f4a_7c15),
            8,
        ),
    ];
    let mut group = c.benchmark_group("gpu-best-effort");
    for (name, scores, available, size) in cases {
        print_selection(name, scores, available, size);
        group.bench_function(name, |b| {
            b.iter(|| best_effort(black_box(scores), black_box(available), 0, size, true))
        });
    }
    group.finish();

    let mut slow = c.benchmark_group("gpu-best-effort-72-mixed");
    slow.sample_size(10);
    let available = partly_taken(72, 30, 0x9e37_79b9_7f4a_7c15);
    print_selection("nvswitch72-pcie/8-of-42-free", &mixed72, available, 8);
    slow.bench_function("nvswitch72-pcie/8-of-42-free", |b| {
        b.iter(|| best_effort(black_box(&mixed72), black_box(available), 0, 8, true))
    });
    slow.finish();
}

criterion_group!(benches, bench_gpu);
criterion_main!(benches);
