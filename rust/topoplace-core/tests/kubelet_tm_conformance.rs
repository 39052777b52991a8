//! Kubelet Topology Manager hint merging: the 98 conformance vectors, the search merge against
//! the exhaustive (kubelet) merge on random inputs, and machines of 24, 64 and 128 NUMA nodes.

use proptest::prelude::*;
use topoplace_core::conformance::kubelet_tm;
use topoplace_core::node::hints::{
    Hint, NumaInfo, NumaMask, Policy, PolicyOptions, admit, merge, merge_exhaustive,
};

const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/conformance/kubelet/topology_manager.json"
));

#[test]
fn all_topology_manager_vectors_pass() {
    let results = kubelet_tm::run(VECTORS, "topology_manager.json").unwrap();
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{} ({}): {}", r.id, r.name, r.detail))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        results.len(),
        failed.join("\n")
    );
    assert_eq!(results.len(), 98);
}

#[test]
fn bad_json_names_the_line() {
    let err = kubelet_tm::run("{\n\"cases\": [\n  {oops}\n]}", "tm.json").unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("tm.json:3"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Random inputs: the search merge equals the exhaustive merge.

/// A machine of up to 8 nodes (ids possibly sparse) with a symmetric distance matrix, 10 on
/// the diagonal; off-diagonal values from a small set so that ties are common.
fn machine() -> impl Strategy<Value = NumaInfo> {
    let ids = prop_oneof![
        (1u32..=8).prop_map(|n| (0..n).collect::<Vec<u32>>()),
        proptest::sample::subsequence((0u32..12).collect::<Vec<_>>(), 1..=8),
    ];
    let upper = proptest::collection::vec(
        proptest::sample::select(vec![11u32, 12, 13, 20, 21, 30]),
        28,
    );
    (ids, upper).prop_map(|(ids, upper)| {
        // Pair (i, j), i < j, takes the value at its index in the upper triangle, row-major.
        let n = ids.len();
        let upper_index = |i: usize, j: usize| i * n - i * (i + 1) / 2 + (j - i - 1);
        let d: Vec<Vec<u32>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| match i.cmp(&j) {
                        std::cmp::Ordering::Equal => 10,
                        std::cmp::Ordering::Less => upper[upper_index(i, j)],
                        std::cmp::Ordering::Greater => upper[upper_index(j, i)],
                    })
                    .collect()
            })
            .collect();
        NumaInfo::new(&ids, &d).unwrap()
    })
}

/// A hint over the first 8 node positions: `None` (no preference) or a random subset
/// (possibly empty), preferred or not.
fn raw_hint() -> impl Strategy<Value = (Option<u8>, bool)> {
    (proptest::option::weighted(0.85, any::<u8>()), any::<bool>())
}

fn raw_providers(
    max_lists: usize,
    max_hints: usize,
) -> impl Strategy<Value = Vec<Vec<(Option<u8>, bool)>>> {
    let list = prop_oneof![
        12 => proptest::collection::vec(raw_hint(), 1..=max_hints),
        1 => Just(Vec::new()),
    ];
    proptest::collection::vec(list, 0..=max_lists)
}

/// Maps position bits onto the machine's node ids.
fn to_providers(numa: &NumaInfo, raw: &[Vec<(Option<u8>, bool)>]) -> Vec<Vec<Hint>> {
    raw.iter()
        .map(|l| {
            l.iter()
                .map(|&(bits, preferred)| {
                    let mask = bits.map(|b| {
                        let ids = numa
                            .nodes()
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| (b >> i) & 1 == 1)
                            .map(|(_, &id)| id);
                        NumaMask::from_ids(ids).unwrap()
                    });
                    Hint::new(mask, preferred)
                })
                .collect()
        })
        .collect()
}

fn policy() -> impl Strategy<Value = Policy> {
    proptest::sample::select(Policy::ALL.to_vec())
}

fn check_same(policy: Policy, closest: bool, numa: &NumaInfo, providers: &[Vec<Hint>]) {
    let opts = PolicyOptions {
        prefer_closest_numa_nodes: closest,
        ..PolicyOptions::default()
    };
    let slow = merge_exhaustive(policy, &opts, numa, providers).unwrap();
    let fast = merge(policy, &opts, numa, providers).unwrap();
    assert_eq!(
        fast,
        slow,
        "policy {policy}, closest {closest}, nodes {:?}, providers {providers:?}",
        numa.nodes()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn search_equals_exhaustive(
        numa in machine(),
        raw in raw_providers(4, 5),
        policy in policy(),
        closest in any::<bool>(),
    ) {
        let providers = to_providers(&numa, &raw);
        check_same(policy, closest, &numa, &providers);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn search_equals_exhaustive_many_lists(
        numa in machine(),
        raw in raw_providers(6, 4),
        policy in policy(),
        closest in any::<bool>(),
    ) {
        let providers = to_providers(&numa, &raw);
        check_same(policy, closest, &numa, &providers);
    }
}

#[test]
fn none_policy_and_admit() {
    let numa = NumaInfo::without_distances(&[0, 1]).unwrap();
    let opts = PolicyOptions::default();
    let h = merge(
        Policy::None,
        &opts,
        &numa,
        &[vec![Hint::NO_POSSIBLE_AFFINITY]],
    )
    .unwrap();
    assert_eq!(h, Hint::new(None, false));
    assert!(admit(Policy::None, &h));
    assert!(admit(Policy::BestEffort, &h));
    assert!(!admit(Policy::Restricted, &h));
    assert!(!admit(Policy::SingleNumaNode, &h));
}

#[test]
fn errors() {
    let numa = NumaInfo::without_distances(&[0, 1]).unwrap();
    let opts = PolicyOptions::default();
    let bad = vec![vec![Hint::new(
        Some(NumaMask::from_ids([2u32]).unwrap()),
        true,
    )]];
    let err = merge(Policy::BestEffort, &opts, &numa, &bad).unwrap_err();
    assert!(err.to_string().contains("[2]"), "{err}");
    assert!(merge_exhaustive(Policy::BestEffort, &opts, &numa, &bad).is_err());
    let closest = PolicyOptions {
        prefer_closest_numa_nodes: true,
        ..opts
    };
    assert!(merge(Policy::Restricted, &closest, &numa, &[]).is_err());
    let nine = NumaInfo::without_distances(&(0..9).collect::<Vec<_>>()).unwrap();
    let err = merge_exhaustive(Policy::BestEffort, &opts, &nine, &[]).unwrap_err();
    assert!(err.to_string().contains("more than 8"), "{err}");
    assert_eq!(
        merge(Policy::BestEffort, &opts, &nine, &[]).unwrap(),
        Hint::new(Some(nine.all()), true)
    );
}

// ---------------------------------------------------------------------------------------------
// Large machines.

/// `n` nodes: 10 to itself, 12 within a group of 4, 20 within a socket of 16, 30 otherwise.
fn big_machine(n: u32) -> NumaInfo {
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
    NumaInfo::new(&ids, &d).unwrap()
}

/// A provider the way the kubelet's CPU / device managers build hints: every mask of up to
/// `max_width` of the `nodes` whose capacity covers `request`, preferred at the narrowest
/// width that fits.
fn fitting(
    nodes: &[u32],
    capacity: impl Fn(u32) -> u32,
    request: u32,
    max_width: usize,
) -> Vec<Hint> {
    let mut masks: Vec<Vec<u32>> = nodes.iter().map(|&a| vec![a]).collect();
    if max_width >= 2 {
        for (i, &a) in nodes.iter().enumerate() {
            for &b in nodes.iter().skip(i + 1) {
                masks.push(vec![a, b]);
            }
        }
    }
    let fits: Vec<&Vec<u32>> = masks
        .iter()
        .filter(|m| m.iter().map(|&x| capacity(x)).sum::<u32>() >= request)
        .collect();
    let min_width = fits.iter().map(|m| m.len()).min().unwrap_or(0);
    fits.into_iter()
        .map(|m| {
            Hint::new(
                Some(NumaMask::from_ids(m.iter().copied()).unwrap()),
                m.len() == min_width,
            )
        })
        .collect()
}

fn raised(n: u32, closest: bool) -> PolicyOptions {
    PolicyOptions {
        prefer_closest_numa_nodes: closest,
        max_allowable_numa_nodes: n as usize,
    }
}

#[test]
fn large_machines_single_node_alignment() {
    for n in [24u32, 64, 128] {
        let numa = big_machine(n);
        let all: Vec<u32> = (0..n).collect();
        // CPUs: fit on one node except the first five (busy); GPUs on odd nodes; memory anywhere.
        let cpu = fitting(&all, |x| if x < 5 { 2 } else { 8 }, 6, 2);
        let gpus: Vec<u32> = all.iter().copied().filter(|x| x % 2 == 1).collect();
        let gpu = fitting(&gpus, |_| 1, 1, 2);
        let mem = fitting(&all, |_| 64, 32, 2);
        let providers = vec![cpu, gpu, mem];
        for closest in [false, true] {
            let opts = raised(n, closest);
            for policy in [
                Policy::BestEffort,
                Policy::Restricted,
                Policy::SingleNumaNode,
            ] {
                let h = merge(policy, &opts, &numa, &providers).unwrap();
                assert_eq!(
                    h,
                    Hint::new(Some(NumaMask::from_ids([5u32]).unwrap()), true),
                    "n={n}"
                );
            }
        }
        // Two of the lists (the GPU list is small) are cheap enough to enumerate.
        let two = vec![providers[1].clone(), providers[0].clone()];
        for closest in [false, true] {
            for policy in Policy::ALL {
                let opts = raised(n, closest);
                assert_eq!(
                    merge(policy, &opts, &numa, &two).unwrap(),
                    merge_exhaustive(policy, &opts, &numa, &two).unwrap(),
                    "n={n} {policy}"
                );
            }
        }
    }
}

#[test]
fn large_machines_mixed_widths_match_exhaustive() {
    for n in [24u32, 64, 128] {
        let numa = big_machine(n);
        let all: Vec<u32> = (0..n).collect();
        // CPUs need two nodes (preferred pairs); GPUs fit on one node of a few: no preferred
        // combination, so the non-preferred search decides.
        let cpu = fitting(&all, |x| if x % 3 == 0 { 6 } else { 4 }, 10, 2);
        let gpu_nodes: Vec<u32> = all.iter().copied().filter(|x| x % 7 == 3).take(6).collect();
        let gpu = fitting(&gpu_nodes, |_| 2, 2, 2);
        let providers = vec![cpu, gpu];
        for closest in [false, true] {
            for policy in Policy::ALL {
                let opts = raised(n, closest);
                let fast = merge(policy, &opts, &numa, &providers).unwrap();
                let slow = merge_exhaustive(policy, &opts, &numa, &providers).unwrap();
                assert_eq!(fast, slow, "n={n} {policy} closest={closest}");
            }
        }
    }
}

#[test]
fn large_machine_three_lists_match_exhaustive_at_24() {
    let n = 24u32;
    let numa = big_machine(n);
    let all: Vec<u32> = (0..n).collect();
    let cpu = fitting(&all, |x| if x % 5 == 0 { 8 } else { 3 }, 6, 2);
    let gpu_nodes: Vec<u32> = vec![2, 9, 13, 17, 22];
    let gpu = fitting(&gpu_nodes, |_| 1, 2, 2);
    let mem = fitting(&all[..12], |_| 16, 20, 2);
    let providers = vec![cpu, gpu, mem];
    for closest in [false, true] {
        for policy in Policy::ALL {
            let opts = raised(n, closest);
            assert_eq!(
                merge(policy, &opts, &numa, &providers).unwrap(),
                merge_exhaustive(policy, &opts, &numa, &providers).unwrap(),
                "{policy} closest={closest}"
            );
        }
    }
}
