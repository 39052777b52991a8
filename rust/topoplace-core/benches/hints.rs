//! NUMA hint merging (kubelet Topology Manager policies).
//!
//! Covers:
//! - `hints/8numa-3prov/{aligned,mixed}/{exhaustive,search}`: 8 NUMA nodes, 3 providers that
//!   list every NUMA subset fitting their request, preferred at the narrowest width (as the
//!   kubelet's CPU and device managers do). `aligned`: every provider fits on one node, so a
//!   preferred combination exists. `mixed`: the CPU request needs two nodes while the others fit
//!   on one, so nothing is preferred and the non-preferred rules decide. The exhaustive form
//!   walks all ~16 million combinations, as the kubelet does.
//! - `hints/{16,32,64,128}numa-3prov/{aligned,mixed}/search`: the search merge on larger machines,
//!   providers listing every fitting mask of one or two nodes (136 to 8,256 hints each).
//!
//! Policy `restricted`, no options, unless the name says `closest`.
//!
//! Run: `cargo bench -p topoplace-core --bench hints`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use topoplace_core::node::hints::{
    Hint, NumaInfo, NumaMask, Policy, PolicyOptions, merge, merge_exhaustive,
};

/// `n` nodes: 10 to itself, 12 within a group of 4, 20 within a socket of 16, 30 otherwise.
fn machine(n: u32) -> NumaInfo {
    let ids: Vec<u32> = (0..n).collect();
    let d: Vec<Vec<u32>> = ids
        .iter()
        .map(|&a| {
            ids.iter()
                .map(|&b| match () {
                    () if a == b => 10,
                    () if a / 4 == b / 4 => 12,
                    () if a / 16 == b / 16 => 20,
                    () => 30,
                })
                .collect()
        })
        .collect();
    NumaInfo::new(&ids, &d).expect("valid machine")
}

/// Every mask of at most `max_width` of the `n` nodes (all of them when `max_width >= n`,
/// which is only used for small `n`) whose total capacity covers `request`, preferred at the
/// narrowest fitting width.
fn provider(n: u32, capacity: impl Fn(u32) -> u32, request: u32, max_width: u32) -> Vec<Hint> {
    let masks: Vec<u128> = if max_width >= n {
        (1u128..(1u128 << n)).collect()
    } else {
        let mut v: Vec<u128> = (0..n).map(|a| 1u128 << a).collect();
        for a in 0..n {
            for b in a + 1..n {
                v.push((1u128 << a) | (1u128 << b));
            }
        }
        v
    };
    let fits: Vec<NumaMask> = masks
        .into_iter()
        .map(NumaMask::from_bits)
        .filter(|m| m.iter().map(&capacity).sum::<u32>() >= request)
        .collect();
    let narrowest = fits.iter().map(|m| m.count()).min().unwrap_or(0);
    fits.into_iter()
        .map(|m| Hint::new(Some(m), m.count() == narrowest))
        .collect()
}

/// CPUs, GPUs and memory. `mixed`: the CPU request needs two nodes.
fn providers(n: u32, mixed: bool) -> Vec<Vec<Hint>> {
    let width = if n <= 8 { n } else { 2 };
    let cpu_request = if mixed { 12 } else { 6 };
    vec![
        provider(n, |x| if x == 0 { 4 } else { 8 }, cpu_request, width),
        provider(n, |_| 1, 1, width),
        provider(n, |_| 64, 48, width),
    ]
}

fn bench_hints(c: &mut Criterion) {
    let restricted = Policy::Restricted;
    let plain = PolicyOptions::default();
    let closest = PolicyOptions {
        prefer_closest_numa_nodes: true,
        ..PolicyOptions::default()
    };

    let numa8 = machine(8);
    for (label, mixed) in [("aligned", false), ("mixed", true)] {
        let lists = providers(8, mixed);
        let mut group = c.benchmark_group(format!("hints/8numa-3prov/{label}"));
        group.sample_size(10);
        group.bench_function("exhaustive", |b| {
            b.iter(|| merge_exhaustive(restricted, &plain, &numa8, black_box(&lists)));
        });
        group.bench_function("search", |b| {
            b.iter(|| merge(restricted, &plain, &numa8, black_box(&lists)));
        });
        group.finish();
    }

    for n in [16u32, 32, 64, 128] {
        let numa = machine(n);
        for (label, mixed) in [("aligned", false), ("mixed", true)] {
            let lists = providers(n, mixed);
            c.bench_function(&format!("hints/{n}numa-3prov/{label}/search"), |b| {
                b.iter(|| merge(restricted, &plain, &numa, black_box(&lists)));
            });
            c.bench_function(
                &format!("hints/{n}numa-3prov/{label}/search-closest"),
                |b| {
                    b.iter(|| merge(restricted, &closest, &numa, black_box(&lists)));
                },
            );
        }
    }
}

criterion_group!(benches, bench_hints);
criterion_main!(benches);
