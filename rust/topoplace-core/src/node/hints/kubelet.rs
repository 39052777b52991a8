//! The kubelet's exhaustive merge: every combination of one hint per list, compared pairwise
//! with the kubelet's rules. Kept as the reference the search merge is tested against.

use super::admit::filter_single_numa;
use super::mask::NumaMask;
use super::numa::{MaskOrder, NumaInfo};
use super::policy::{Policy, PolicyOptions};
use super::{Hint, finish, uses_closest, validate};
use crate::error::{Error, Result};

/// Merges `providers` (one hint list per provider and resource, already normalised the way the
/// kubelet does for providers that returned nothing) exactly as the kubelet does, by
/// enumerating every combination.
///
/// # Errors
/// [`crate::Error::Value`] when the machine has more NUMA nodes than
/// `opts.max_allowable_numa_nodes` (unless `policy` is `none`), when a hint names a node the
/// machine does not have, or when `prefer-closest-numa-nodes` is on without distances.
pub fn merge_exhaustive(
    policy: Policy,
    opts: &PolicyOptions,
    numa: &NumaInfo,
    providers: &[Vec<Hint>],
) -> Result<Hint> {
    if matches!(policy, Policy::None) {
        return Ok(Hint::new(None, false));
    }
    if numa.nodes().len() > opts.max_allowable_numa_nodes {
        return Err(Error::Value(format!(
            "the exhaustive (kubelet) merge is unsupported on machines with more than {} NUMA nodes (this one has {}); raise max-allowable-numa-nodes or use the search merge",
            opts.max_allowable_numa_nodes,
            numa.nodes().len()
        )));
    }
    validate(policy, opts, numa, providers)?;
    let filtered: Vec<Vec<Hint>>;
    let lists: &[Vec<Hint>] = if matches!(policy, Policy::SingleNumaNode) {
        filtered = providers.iter().map(|l| filter_single_numa(l)).collect();
        &filtered
    } else {
        providers
    };
    let merger = Merger {
        order: MaskOrder {
            numa,
            closest: uses_closest(policy, opts),
        },
        best_non_preferred_count: max_of_min_counts(lists),
    };
    let all = numa.all();
    let mut best: Option<Hint> = None;
    let mut picks = vec![0usize; lists.len()];
    // Odometer over the cross product, last list fastest (the kubelet's recursion order).
    'combos: loop {
        let mut merged = all;
        let mut preferred = true;
        let mut first: Option<NumaMask> = None;
        for (list, &i) in lists.iter().zip(&picks) {
            let Some(hint) = list.get(i) else {
                break 'combos; // an empty list: no combination at all
            };
            if let Some(mask) = hint.mask {
                merged = merged.and(mask);
                match first {
                    None => first = Some(mask),
                    Some(f) if f != mask => preferred = false,
                    Some(_) => {}
                }
            }
            if !hint.preferred {
                preferred = false;
            }
        }
        merger.compare(&mut best, Hint::new(Some(merged), preferred));
        let mut level = lists.len();
        loop {
            if level == 0 {
                break 'combos;
            }
            level -= 1;
            let (Some(i), Some(list)) = (picks.get_mut(level), lists.get(level)) else {
                break 'combos;
            };
            *i += 1;
            if *i < list.len() {
                break;
            }
            *i = 0;
        }
    }
    let hint = best.unwrap_or(Hint::new(Some(all), false));
    Ok(finish(policy, numa, hint))
}

/// The largest, over lists, of the width of the list's narrowest mask (lists of `None` only
/// are skipped). The kubelet's `maxOfMinAffinityCounts`.
pub(super) fn max_of_min_counts(lists: &[Vec<Hint>]) -> u32 {
    lists
        .iter()
        .filter_map(|l| l.iter().filter_map(|h| h.mask).map(NumaMask::count).min())
        .max()
        .unwrap_or(0)
}

/// The kubelet's `HintMerger` comparison state.
struct Merger<'a> {
    order: MaskOrder<'a>,
    best_non_preferred_count: u32,
}

impl Merger<'_> {
    /// `compareNUMAAffinityMasks`: the better of two hints of equal preference.
    fn better_mask(&self, current: Hint, candidate: Hint) -> Hint {
        let (Some(cur), Some(cand)) = (current.mask, candidate.mask) else {
            return current;
        };
        if cur == cand || self.order.picks_first(cur, cand) {
            current
        } else {
            candidate
        }
    }

    /// The kubelet's `compare`, updating `best` in place.
    fn compare(&self, best: &mut Option<Hint>, candidate: Hint) {
        let cand_count = candidate.mask.map_or(0, NumaMask::count);
        if cand_count == 0 {
            return;
        }
        let Some(current) = *best else {
            *best = Some(candidate);
            return;
        };
        let next = match (current.preferred, candidate.preferred) {
            (false, true) => candidate,
            (true, false) => current,
            (true, true) => self.better_mask(current, candidate),
            (false, false) => {
                let target = self.best_non_preferred_count;
                let cur_count = current.mask.map_or(0, NumaMask::count);
                if cur_count > target {
                    self.better_mask(current, candidate)
                } else if cur_count == target {
                    if cand_count == target {
                        self.better_mask(current, candidate)
                    } else {
                        current
                    }
                } else if cand_count > target {
                    current
                } else if cand_count == target || cand_count > cur_count {
                    candidate
                } else if cand_count < cur_count {
                    current
                } else {
                    self.better_mask(current, candidate)
                }
            }
        };
        *best = Some(next);
    }
}
