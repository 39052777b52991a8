//! The default merge: the kubelet's answer, found without enumerating the cross product.
//!
//! See the module documentation of [`super`] for the argument. In short, the kubelet's result
//! is the minimum of a total order over the merged (mask, preferred) pairs; preferred masks
//! are recognised by set membership, and only when none exists is the non-preferred minimum
//! searched, over ANDs of one mask per list, with memoised states and a rank bound.

use super::admit::single_numa_keeps;
use super::mask::NumaMask;
use super::numa::{MaskKey, MaskOrder, NumaInfo};
use super::policy::{Policy, PolicyOptions};
use super::set::MaskSet;
use super::{Hint, finish, uses_closest, validate};
use crate::error::Result;

/// Initial size of the per-level sets of visited states (they grow as needed).
const MEMO_START: usize = 64;

/// Merges `providers` under `policy`, giving exactly the hint [`super::merge_exhaustive`]
/// gives, without enumerating the cross product of the lists and without the
/// `max-allowable-numa-nodes` limit (node ids must be below 128).
///
/// # Errors
/// [`crate::Error::Value`] when a hint names a node the machine does not have, or
/// `prefer-closest-numa-nodes` is on (outside `single-numa-node`) without distances.
pub fn merge(
    policy: Policy,
    opts: &PolicyOptions,
    numa: &NumaInfo,
    providers: &[Vec<Hint>],
) -> Result<Hint> {
    if matches!(policy, Policy::None) {
        return Ok(Hint::new(None, false));
    }
    validate(policy, opts, numa, providers)?;
    let search = Search {
        order: MaskOrder {
            numa,
            closest: uses_closest(policy, opts),
        },
        single_numa: matches!(policy, Policy::SingleNumaNode),
        all: numa.all(),
    };
    let hint = if let Some(mask) = search.best_preferred(providers) {
        Hint::new(Some(mask), true)
    } else {
        let mask = search.best_non_preferred(providers).unwrap_or(search.all);
        Hint::new(Some(mask), false)
    };
    Ok(finish(policy, numa, hint))
}

struct Search<'a> {
    order: MaskOrder<'a>,
    single_numa: bool,
    all: NumaMask,
}

impl Search<'_> {
    /// Whether the policy's pre-filter keeps `hint`.
    fn keeps(&self, hint: &Hint) -> bool {
        !self.single_numa || single_numa_keeps(hint)
    }

    /// The preferred non-empty masks of a list (with repeats), `None` masks excluded.
    fn preferred_masks<'h>(&self, list: &'h [Hint]) -> impl Iterator<Item = NumaMask> + 'h {
        let single_numa = self.single_numa;
        list.iter()
            .filter(move |h| !single_numa || single_numa_keeps(h))
            .filter(|h| h.preferred)
            .filter_map(|h| h.mask)
            .filter(|m| !m.is_empty())
    }

    /// The best mask of a preferred combination, if there is one.
    ///
    /// A combination is preferred iff all its hints are preferred and all its masks are one
    /// mask `m` (its result, non-empty), or all its hints are preferred `None` (result: every
    /// node). So `m` qualifies iff every list has a preferred hint on `m` or a preferred `None`.
    fn best_preferred(&self, lists: &[Vec<Hint>]) -> Option<NumaMask> {
        let mut best: Option<(MaskKey, NumaMask)> = None;
        let mut offer = |m: NumaMask| {
            let key = self.order.key(m);
            if best.is_none_or(|(k, _)| key < k) {
                best = Some((key, m));
            }
        };
        // Lists that constrain m (those without a preferred `None`), with their number of
        // preferred masks.
        let mut strict: Vec<(&[Hint], usize)> = Vec::with_capacity(lists.len());
        for list in lists {
            let mut any = false;
            let mut count = 0usize;
            for h in list.iter().filter(|h| h.preferred && self.keeps(h)) {
                match h.mask {
                    None => any = true,
                    Some(m) if !m.is_empty() => count += 1,
                    Some(_) => {}
                }
            }
            if !any {
                strict.push((list.as_slice(), count));
            }
        }
        let Some(driver_at) = (0..strict.len()).min_by_key(|&i| strict.get(i).map_or(0, |s| s.1))
        else {
            // Every list accepts anything preferred: every preferred mask qualifies, and so
            // does "every node" (all hints `None`).
            for list in lists {
                self.preferred_masks(list).for_each(&mut offer);
            }
            if !self.all.is_empty() {
                offer(self.all);
            }
            return best.map(|(_, m)| m);
        };
        let (driver, driver_len) = strict.get(driver_at).copied().unwrap_or_default();
        if driver_len == 0 {
            return None;
        }
        // Hash the driver's candidates; stream every other strict list through the table,
        // counting for each candidate the lists (in order) that have it.
        let mut candidates = MaskSet::with_capacity(driver_len);
        for m in self.preferred_masks(driver) {
            candidates.insert(m.bits());
        }
        let mut seen_by = vec![0u32; candidates.slot_count()];
        let mut rounds = 0u32;
        for (i, (list, _)) in strict.iter().enumerate() {
            if i == driver_at {
                continue;
            }
            for m in self.preferred_masks(list) {
                let slot = candidates.slot_of(m.bits());
                if let Some(n) = slot.and_then(|at| seen_by.get_mut(at)) {
                    // Counted once per list, and only if every earlier list had it.
                    if *n == rounds {
                        *n = rounds + 1;
                    }
                }
            }
            rounds += 1;
        }
        for m in self.preferred_masks(driver) {
            let slot = candidates.slot_of(m.bits());
            if slot.and_then(|at| seen_by.get(at)) == Some(&rounds) {
                offer(m);
            }
        }
        best.map(|(_, m)| m)
    }

    /// The best mask of a non-preferred combination (called when no combination is
    /// preferred), or `None` when every combination's mask is empty.
    fn best_non_preferred(&self, lists: &[Vec<Hint>]) -> Option<NumaMask> {
        if self.all.is_empty() {
            return None;
        }
        // The kubelet's target width: the largest, over lists, of the narrowest mask width.
        let target = lists
            .iter()
            .filter_map(|l| {
                l.iter()
                    .filter(|h| self.keeps(h))
                    .filter_map(|h| h.mask)
                    .map(NumaMask::count)
                    .min()
            })
            .max()
            .unwrap_or(0);
        let rank = Ranker {
            order: self.order,
            target,
        };
        // Non-empty masks per list (`None` is every node); shortest list first.
        let mut masks: Vec<Vec<u128>> = Vec::with_capacity(lists.len());
        for list in lists {
            let l: Vec<u128> = list
                .iter()
                .filter(|h| self.keeps(h))
                .map(|h| h.mask.unwrap_or(self.all).bits())
                .filter(|&m| m != 0)
                .collect();
            if l.is_empty() {
                return None;
            }
            masks.push(l);
        }
        masks.sort_by_key(Vec::len);
        let mut dfs = Dfs {
            memo: masks
                .iter()
                .map(|_| MaskSet::with_capacity(MEMO_START))
                .collect(),
            lists: &masks,
            rank,
            best: None,
        };
        dfs.visit(0, self.all.bits());
        dfs.best.map(|(_, m)| NumaMask::from_bits(m))
    }
}

/// The kubelet's order on non-preferred masks, as a sort key.
#[derive(Clone, Copy)]
struct Ranker<'a> {
    order: MaskOrder<'a>,
    target: u32,
}

/// Rank of a non-preferred mask: smaller is better. `tier` 0 is a width equal to the target,
/// 1 narrower than the target (wider first), 2 wider (narrower first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    tier: u8,
    within: u32,
    key: MaskKey,
}

impl Ranker<'_> {
    fn tier(&self, count: u32) -> (u8, u32) {
        if count == self.target {
            (0, 0)
        } else if count < self.target {
            (1, self.target - count)
        } else {
            (2, count)
        }
    }

    fn rank(&self, mask: NumaMask) -> Rank {
        let (tier, within) = self.tier(mask.count());
        Rank {
            tier,
            within,
            key: self.order.key(mask),
        }
    }

    /// A rank no non-empty subset of `acc` can beat.
    fn bound(&self, acc: NumaMask) -> Rank {
        let best_width = self.target.max(1);
        let count = acc.count();
        if count <= best_width {
            // The only subset that can reach the best reachable width is `acc` itself.
            return self.rank(acc);
        }
        let (tier, within) = self.tier(best_width);
        Rank {
            tier,
            within,
            key: MaskKey {
                count: best_width,
                sum: if self.order.closest {
                    self.order.numa.distance_sum_lower_bound(best_width)
                } else {
                    0
                },
                value: acc.lowest(best_width).bits(),
            },
        }
    }
}

/// Depth-first search over ANDs of one mask per list.
struct Dfs<'a> {
    lists: &'a [Vec<u128>],
    memo: Vec<MaskSet>,
    rank: Ranker<'a>,
    best: Option<(Rank, u128)>,
}

impl Dfs<'_> {
    fn visit(&mut self, level: usize, acc: u128) {
        let lists = self.lists;
        let Some(list) = lists.get(level) else {
            let r = self.rank.rank(NumaMask::from_bits(acc));
            if self.best.is_none_or(|(b, _)| r < b) {
                self.best = Some((r, acc));
            }
            return;
        };
        if level > 0 && !self.memo.get_mut(level).is_some_and(|s| s.insert(acc)) {
            return;
        }
        // The most promising child first, so that a good incumbent prunes the rest early.
        let mut first: Option<(Rank, usize)> = None;
        for (i, &m) in list.iter().enumerate() {
            let next = acc & m;
            if next == 0 {
                continue;
            }
            let b = self.rank.bound(NumaMask::from_bits(next));
            if first.is_none_or(|(fb, _)| b < fb) {
                first = Some((b, i));
            }
        }
        let Some((first_bound, first_at)) = first else {
            return;
        };
        if self.best.is_some_and(|(b, _)| first_bound >= b) {
            return; // no child can beat the incumbent
        }
        if let Some(&m) = list.get(first_at) {
            self.visit(level + 1, acc & m);
        }
        for (i, &m) in list.iter().enumerate() {
            let next = acc & m;
            if next == 0 || i == first_at {
                continue;
            }
            let hopeless = self
                .best
                .is_some_and(|(b, _)| self.rank.bound(NumaMask::from_bits(next)) >= b);
            if hopeless {
                continue;
            }
            self.visit(level + 1, next);
        }
    }
}
