//! The kubelet's NUMA-distributing picker (`takeByTopologyNUMADistributed`,
//! `distribute-cpus-across-numa`): spread a request evenly over the fewest NUMA nodes that can
//! hold it, in groups of `group_size` CPUs, choosing the node set that leaves the free CPUs of
//! all nodes most balanced.

use std::collections::BTreeMap;

use super::accumulator::{CpuAccumulator, SortingStrategy};
use super::details::{CpuDetails, Level};
use super::error::PickError;
use super::packed::take_by_topology_packed;
use crate::topology::CpuSet;

/// Picks `n` CPUs out of `available`, distributed over NUMA nodes in groups of `group_size`.
///
/// When `n` is not a multiple of `group_size`, or no set of NUMA nodes can take an even share,
/// this is [`take_by_topology_packed`] (without uncore alignment). A `group_size` of 0 is
/// treated as 1.
///
/// # Errors
/// [`PickError::NotEnoughCpus`] when fewer than `n` CPUs of the machine are available;
/// [`PickError::AllocationFailed`] if the per-node picks do not add up (not expected).
pub fn take_by_topology_distributed(
    details: &CpuDetails,
    available: &CpuSet,
    n: usize,
    group_size: usize,
    strategy: SortingStrategy,
) -> Result<CpuSet, PickError> {
    let group = group_size.max(1);
    if n % group != 0 {
        return take_by_topology_packed(details, available, n, strategy, false);
    }
    let mut acc = CpuAccumulator::new(details, available, n, strategy);
    if let Some(answer) = acc.settled_before_picking(n, available) {
        return answer;
    }
    let numas = acc.sorted_numa_nodes();
    let free: BTreeMap<u32, usize> = numas
        .iter()
        .map(|&id| (id, free_in(&acc, id).len()))
        .collect();
    let (min_numas, max_numas) = numa_range(&acc, group, numas.len());
    for k in min_numas..=max_numas {
        let Some(choice) = best_choice(&numas, &free, k, n, group) else {
            continue;
        };
        let distribution = n / choice.combo.len() / group * group;
        for &numa in &choice.combo {
            let cpus = packed_in(&acc, numa, distribution);
            acc.take(&cpus);
        }
        let mut remainder = n - distribution * choice.combo.len();
        while remainder > 0 {
            let before = remainder;
            for &numa in &choice.remainder {
                if remainder == 0 {
                    break;
                }
                if free_in(&acc, numa).len() < group {
                    continue;
                }
                let cpus = packed_in(&acc, numa, group);
                acc.take(&cpus);
                remainder -= group;
            }
            if remainder == before {
                break;
            }
        }
        if acc.needed() != 0 {
            return Err(PickError::AllocationFailed {
                remaining: acc.needed(),
            });
        }
        return Ok(acc.result().clone());
    }
    take_by_topology_packed(details, available, n, strategy, false)
}

/// The NUMA node set chosen for a request and the nodes that take the remainder groups.
struct Choice {
    combo: Vec<u32>,
    remainder: Vec<u32>,
}

fn free_in(acc: &CpuAccumulator<'_>, numa: u32) -> CpuSet {
    acc.topo()
        .group_cpus(Level::Numa, numa)
        .intersection(acc.free())
}

/// A packed pick of `count` CPUs inside one NUMA node; empty when it cannot be made (the
/// caller's accounting then reports the shortfall).
fn packed_in(acc: &CpuAccumulator<'_>, numa: u32, count: usize) -> CpuSet {
    take_by_topology_packed(
        acc.topo(),
        &free_in(acc, numa),
        count,
        acc.strategy(),
        false,
    )
    .unwrap_or_default()
}

/// The fewest and most NUMA nodes worth trying for the accumulator's need.
fn numa_range(acc: &CpuAccumulator<'_>, group: usize, available_numas: usize) -> (usize, usize) {
    let topo = acc.topo();
    let num_numas = topo.ids(Level::Numa).count().max(1);
    let num_cpus = topo.cpus().len().max(1);
    let groups_total = (num_cpus - 1) / group + 1;
    let groups_per_numa = (groups_total - 1) / num_numas + 1;
    let needed = usize::try_from(acc.needed()).unwrap_or(0).max(1);
    let groups_needed = (needed - 1) / group + 1;
    let min = (groups_needed - 1) / groups_per_numa + 1;
    (min, groups_needed.min(available_numas))
}

/// The best-balanced combination of `k` nodes out of `numas`, if any can take the request.
fn best_choice(
    numas: &[u32],
    free: &BTreeMap<u32, usize>,
    k: usize,
    n: usize,
    group: usize,
) -> Option<Choice> {
    let free_of = |numa: u32| free.get(&numa).copied().unwrap_or(0);
    let mut best_balance = f64::MAX;
    let mut best: Option<(ComboRef, Vec<u32>)> = None;
    let arena = for_each_combination(numas, k, &mut |combo, handle| {
        if best_balance == 0.0 {
            return false;
        }
        let total: usize = combo.iter().map(|&c| free_of(c)).sum();
        let groups: usize = combo.iter().map(|&c| free_of(c) / group).sum();
        if total < n || groups * group < n {
            return true;
        }
        let distribution = n / combo.len() / group * group;
        if combo.iter().any(|&c| free_of(c) < distribution) {
            return true;
        }
        let mut after = free.clone();
        for &c in combo {
            if let Some(v) = after.get_mut(&c) {
                *v -= distribution;
            }
        }
        let remainder = n - distribution * combo.len();
        let candidates: Vec<u32> = combo
            .iter()
            .copied()
            .filter(|c| after.get(c).copied().unwrap_or(0) >= group)
            .collect();
        let (local_balance, local_remainder) = if remainder == 0 {
            (standard_deviation(after.values().copied()), Vec::new())
        } else {
            best_remainder(&candidates, &after, remainder, group)
        };
        if local_balance < best_balance {
            best_balance = local_balance;
            best = Some((handle, local_remainder));
        }
        true
    });
    best.map(|(handle, remainder)| Choice {
        combo: arena.resolve(handle),
        remainder,
    })
}

/// Among subsets of `candidates` (largest first), the one whose taking of `remainder` CPUs in
/// groups leaves the most balanced free counts; returns its balance score and the subset.
fn best_remainder(
    candidates: &[u32],
    after: &BTreeMap<u32, usize>,
    remainder: usize,
    group: usize,
) -> (f64, Vec<u32>) {
    let mut best_balance = f64::MAX;
    let mut best = Vec::new();
    for k in (1..=candidates.len()).rev() {
        let mut found: Option<ComboRef> = None;
        let arena = for_each_combination(candidates, k, &mut |subset, handle| {
            let mut local = after.clone();
            let groups: usize = subset
                .iter()
                .map(|c| local.get(c).copied().unwrap_or(0) / group)
                .sum();
            if groups * group < remainder {
                return true;
            }
            let mut left = remainder;
            while left > 0 {
                for c in subset {
                    if left == 0 {
                        break;
                    }
                    match local.get_mut(c) {
                        Some(v) if *v >= group => {
                            *v -= group;
                            left -= group;
                        }
                        _ => {}
                    }
                }
            }
            let balance = standard_deviation(local.values().copied());
            if balance < best_balance {
                best_balance = balance;
                found = Some(handle);
            }
            true
        });
        if let Some(handle) = found {
            best = arena.resolve(handle);
        }
    }
    (best_balance, best)
}

/// A combination handed to a [`for_each_combination`] callback, to read back once the walk is
/// over with [`ComboArena::resolve`].
#[derive(Debug, Clone, Copy)]
struct ComboRef {
    buffer: usize,
    len: usize,
}

/// The buffers a combination walk wrote its combinations into.
///
/// The kubelet builds each combination by appending to its prefix with Go's `append`, so
/// combinations longer than three ids share their tail with the combinations enumerated after
/// them: a combination remembered during the walk reads, once the walk is over, the last
/// values written into its buffer. The walk here reproduces those buffers (Go grows a slice's
/// capacity 0, 1, 2, 4, 8, ... and copies only when it is full), so a remembered combination
/// resolves to what the kubelet would go on to use.
struct ComboArena {
    buffers: Vec<Vec<u32>>,
}

impl ComboArena {
    fn resolve(&self, combo: ComboRef) -> Vec<u32> {
        self.buffers
            .get(combo.buffer)
            .and_then(|b| b.get(..combo.len))
            .map(<[u32]>::to_vec)
            .unwrap_or_default()
    }

    /// Appends `id` to the slice (`buffer`, `len`, `cap`), Go style; returns the new slice.
    fn append(&mut self, buffer: usize, len: usize, cap: usize, id: u32) -> (usize, usize) {
        if len == cap {
            let mut grown: Vec<u32> = self
                .buffers
                .get(buffer)
                .and_then(|b| b.get(..len))
                .map(<[u32]>::to_vec)
                .unwrap_or_default();
            grown.push(id);
            self.buffers.push(grown);
            return (self.buffers.len() - 1, if cap == 0 { 1 } else { cap * 2 });
        }
        if let Some(b) = self.buffers.get_mut(buffer) {
            b.truncate(len);
            b.push(id);
        }
        (buffer, cap)
    }
}

/// Calls `f` on every `k`-subset of `items`, in the kubelet's order (lexicographic by
/// position), until `f` returns `false`; returns the buffers the subsets live in.
fn for_each_combination(
    items: &[u32],
    k: usize,
    f: &mut dyn FnMut(&[u32], ComboRef) -> bool,
) -> ComboArena {
    let mut arena = ComboArena {
        buffers: vec![Vec::new()],
    };
    if k > 0 {
        walk(items, k, 0, (0, 0, 0), &mut arena, f);
    }
    arena
}

/// One level of the walk: `slice` is the prefix as (buffer, len, cap).
fn walk(
    items: &[u32],
    k: usize,
    start: usize,
    slice: (usize, usize, usize),
    arena: &mut ComboArena,
    f: &mut dyn FnMut(&[u32], ComboRef) -> bool,
) -> bool {
    let (buffer, len, cap) = slice;
    if k == 0 {
        let combo = ComboRef { buffer, len };
        let current = arena.resolve(combo);
        return f(&current, combo);
    }
    if items.len() < k {
        return true;
    }
    for i in start..=items.len() - k {
        let Some(&id) = items.get(i) else {
            return true;
        };
        let (next, next_cap) = arena.append(buffer, len, cap, id);
        if !walk(items, k - 1, i + 1, (next, len + 1, next_cap), arena, f) {
            return false;
        }
    }
    true
}

/// The kubelet's balance score: population standard deviation, with the mean and the result
/// rounded to three decimals.
fn standard_deviation(values: impl Iterator<Item = usize> + Clone) -> f64 {
    let count = values.clone().count();
    if count == 0 {
        return f64::NAN;
    }
    #[allow(clippy::cast_precision_loss)]
    let len = count as f64;
    #[allow(clippy::cast_precision_loss)]
    let sum: f64 = values.clone().map(|v| v as f64).sum();
    let mean = (sum / len * 1000.0).round() / 1000.0;
    #[allow(clippy::cast_precision_loss)]
    let squares: f64 = values.map(|v| (v as f64 - mean) * (v as f64 - mean)).sum();
    ((squares / len).sqrt() * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_in_order() {
        let mut seen = Vec::new();
        for_each_combination(&[1, 2, 3, 4], 2, &mut |c, _| {
            seen.push(c.to_vec());
            true
        });
        assert_eq!(
            seen,
            vec![
                vec![1, 2],
                vec![1, 3],
                vec![1, 4],
                vec![2, 3],
                vec![2, 4],
                vec![3, 4]
            ]
        );
    }

    #[test]
    fn long_combinations_share_their_tail_like_go_slices() {
        let mut first = None;
        let arena = for_each_combination(&[1, 2, 3, 4, 5, 6], 4, &mut |c, handle| {
            if first.is_none() {
                assert_eq!(c, [1, 2, 3, 4]);
                first = Some(handle);
            }
            true
        });
        // [1,2,3,4] shares its buffer with [1,2,3,5] and [1,2,3,6], enumerated after it.
        let first = first.map(|h| arena.resolve(h));
        assert_eq!(first, Some(vec![1, 2, 3, 6]));
    }

    #[test]
    fn balance_score_rounds() {
        assert!((standard_deviation([4usize, 4, 4, 20].into_iter()) - 6.928).abs() < 1e-9);
        assert!(standard_deviation([3usize, 3].into_iter()).abs() < 1e-12);
    }
}
