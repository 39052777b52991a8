//! The grouping tree of one group's placement: the required level's domains, then every
//! preferred or slice level below it, then the nodes; each domain's capacity counted in whole
//! units (slices); and the choice, tier by tier, of which domains and nodes take how many pods
//! under a [`Strategy`].
//!
//! A tier's *unit* is the largest slice size whose level is at that tier's depth or below: a
//! rack holding slices of 4 pods takes a multiple of 4, and so does the block around it, while
//! the hosts inside the rack take any number. A domain's capacity is the sum of its children's,
//! rounded down to its unit, which is exact for identical pods: slices of an inner level
//! combine freely into a slice of an outer level when the sizes nest.
//!
//! Leaves are sorted so that every domain's nodes are contiguous (a stable counting sort per
//! tier, innermost first, keyed by each domain's first appearance in node order), so the tree
//! is built in linear time without a map.

use super::gang::Strategy;
use super::model::{Cluster, NO_DOMAIN};

/// The tier of a group without a required level: the whole cluster, one domain.
pub(super) const ROOT: usize = usize::MAX;

/// One level of the chain.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tier {
    pub level: usize,
    pub unit: usize,
    /// A node without this level's label holds no pod (required and slice levels); otherwise
    /// it is a domain of its own (preferred level).
    pub strict: bool,
}

/// A domain of a tier: its leaves are `leaves[start..end]`, its children the bins of the next
/// tier from `child` on (or the leaves themselves on the innermost tier).
#[derive(Debug, Clone, Copy)]
pub(super) struct Bin {
    pub start: u32,
    pub end: u32,
    pub child: u32,
    pub cap: usize,
    pub whole: bool,
}

/// The tree over the nodes that hold at least one pod.
pub(super) struct Tree {
    pub tiers: Vec<Tier>,
    pub bins: Vec<Vec<Bin>>,
    /// `(node, fit, whole)` in tree order.
    pub leaves: Vec<(usize, usize, bool)>,
}

impl Tree {
    /// Builds the tree of `tiers` (outermost first) over `nodes` (in node order) with
    /// `fits[n] > 0`; `whole[n]` says a node is entirely free (only read by
    /// [`Strategy::Pack`]).
    pub(super) fn build(
        c: &Cluster,
        tiers: Vec<Tier>,
        fits: &[usize],
        whole: &[bool],
        nodes: impl Iterator<Item = usize>,
    ) -> Self {
        let mut leaves: Vec<usize> = nodes
            .filter(|&n| fits[n] > 0)
            .filter(|&n| {
                tiers
                    .iter()
                    .all(|t| !t.strict || c.domain_of[t.level][n] != NO_DOMAIN)
            })
            .collect();
        // Per tier, each leaf's group index by first appearance in node order (a node
        // without the level's label is a group of its own).
        let keys: Vec<Vec<u32>> = tiers
            .iter()
            .map(|t| {
                if t.level == ROOT {
                    return vec![0; leaves.len()];
                }
                let ndom = c.domain_names[t.level].len();
                let mut slot = vec![u32::MAX; ndom + leaves.len()];
                let mut next = 0u32;
                leaves
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| {
                        let d = c.domain_of[t.level][n];
                        let k = if d == NO_DOMAIN { ndom + i } else { d as usize };
                        if slot[k] == u32::MAX {
                            slot[k] = next;
                            next += 1;
                        }
                        slot[k]
                    })
                    .collect()
            })
            .collect();
        // LSD counting sort: innermost key first, each pass stable.
        let mut pos: Vec<u32> = (0..u32::try_from(leaves.len()).unwrap_or(u32::MAX)).collect();
        for key in keys.iter().rev() {
            let groups = key.iter().max().map_or(0, |&m| m as usize + 1);
            let mut count = vec![0u32; groups + 1];
            for &p in &pos {
                count[key[p as usize] as usize + 1] += 1;
            }
            for i in 1..count.len() {
                count[i] += count[i - 1];
            }
            let mut out = vec![0u32; pos.len()];
            for &p in &pos {
                let k = key[p as usize] as usize;
                out[count[k] as usize] = p;
                count[k] += 1;
            }
            pos = out;
        }
        let sorted_keys: Vec<Vec<u32>> = keys
            .iter()
            .map(|k| pos.iter().map(|&p| k[p as usize]).collect())
            .collect();
        leaves = pos.iter().map(|&p| leaves[p as usize]).collect();
        let leaves: Vec<(usize, usize, bool)> = leaves
            .into_iter()
            .map(|n| (n, fits[n], whole.get(n).copied().unwrap_or(false)))
            .collect();
        // Bins per tier, innermost first: runs of equal keys at this tier and every outer one.
        let mut bins: Vec<Vec<Bin>> = vec![Vec::new(); tiers.len()];
        for t in (0..tiers.len()).rev() {
            let mut level_bins = Vec::new();
            let mut i = 0;
            let mut child = 0usize;
            while i < leaves.len() {
                let mut j = i + 1;
                while j < leaves.len() && (0..=t).all(|u| sorted_keys[u][j] == sorted_keys[u][i]) {
                    j += 1;
                }
                let first_child = child;
                let sum: usize = if t + 1 == tiers.len() {
                    leaves[i..j].iter().map(|l| l.1).sum()
                } else {
                    let inner = &bins[t + 1];
                    let mut s = 0;
                    while child < inner.len() && (inner[child].start as usize) < j {
                        s += inner[child].cap;
                        child += 1;
                    }
                    s
                };
                let unit = tiers[t].unit.max(1);
                let rep = leaves[i].0;
                let level = tiers[t].level;
                let d = if level == ROOT {
                    NO_DOMAIN
                } else {
                    c.domain_of[level][rep]
                };
                let whole = if level == ROOT {
                    false
                } else if d == NO_DOMAIN {
                    leaves[i].2
                } else {
                    c.members[level][d as usize]
                        .iter()
                        .all(|&n| whole.get(n).copied().unwrap_or(false))
                };
                level_bins.push(Bin {
                    start: u32::try_from(i).unwrap_or(u32::MAX),
                    end: u32::try_from(j).unwrap_or(u32::MAX),
                    child: u32::try_from(if t + 1 == tiers.len() { i } else { first_child })
                        .unwrap_or(u32::MAX),
                    cap: sum / unit * unit,
                    whole,
                });
                i = j;
            }
            bins[t] = level_bins;
        }
        Self {
            tiers,
            bins,
            leaves,
        }
    }

    /// The children of bin `b` of tier `t`: `(capacity, whole)` each, and the unit they are
    /// counted in.
    fn children(&self, t: usize, b: &Bin, out: &mut Vec<(usize, bool)>) -> usize {
        out.clear();
        if t + 1 == self.tiers.len() {
            out.extend(
                self.leaves[b.start as usize..b.end as usize]
                    .iter()
                    .map(|l| (l.1, l.2)),
            );
            1
        } else {
            let inner = &self.bins[t + 1];
            let mut i = b.child as usize;
            while i < inner.len() && inner[i].start < b.end {
                out.push((inner[i].cap, inner[i].whole));
                i += 1;
            }
            self.tiers[t + 1].unit.max(1)
        }
    }

    /// `take` pods inside bin `b` of tier `t`, as `(node, pods)` in rank order appended to
    /// `out`; `broken[t']` counts the entirely free domains of tier `t'` (and, last, the
    /// entirely free nodes) that receive pods.
    pub(super) fn select(
        &self,
        t: usize,
        b: usize,
        take: usize,
        strategy: Strategy,
        out: &mut Vec<(usize, usize)>,
        broken: &mut [usize],
    ) {
        let bin = self.bins[t][b];
        if bin.whole && take > 0 {
            broken[t] += 1;
        }
        let mut kids = Vec::new();
        let unit = self.children(t, &bin, &mut kids);
        let caps: Vec<usize> = kids.iter().map(|k| k.0 / unit).collect();
        let whole: Vec<bool> = kids.iter().map(|k| k.1).collect();
        for (i, k) in choose(strategy, &caps, &whole, take / unit) {
            if t + 1 == self.tiers.len() {
                let leaf = self.leaves[bin.start as usize + i];
                if leaf.2 {
                    broken[self.tiers.len()] += 1;
                }
                out.push((leaf.0, k * unit));
            } else {
                self.select(
                    t + 1,
                    bin.child as usize + i,
                    k * unit,
                    strategy,
                    out,
                    broken,
                );
            }
        }
    }
}

/// Which bins take how many items, `(bin, taken)` in rank order, for `count` items.
pub(super) fn choose(
    strategy: Strategy,
    caps: &[usize],
    whole: &[bool],
    count: usize,
) -> Vec<(usize, usize)> {
    match strategy {
        Strategy::Tight => best_fit(caps, |_| true, count),
        Strategy::Pack => {
            // Partly used bins first (they break nothing whole), then whole ones, each run
            // by best fit: the fewest whole bins are broken.
            let partial: usize = (0..caps.len())
                .filter(|&i| !whole[i])
                .map(|i| caps[i])
                .sum();
            if partial >= count {
                best_fit(caps, |i| !whole[i], count)
            } else {
                let mut out = best_fit(caps, |i| !whole[i], partial);
                out.extend(best_fit(caps, |i| whole[i], count - partial));
                out
            }
        }
        Strategy::Balanced => water_fill(caps, count),
    }
}

/// `count` items from the bins `i` with `keep(i)` and capacity `caps[i]`: as few bins as
/// possible, largest first, the last the smallest bin that holds what is left (Kueue TAS's
/// best fit); `(bin, taken)` in order. Ties go to the lower index. Bins are sorted once; each
/// step is a binary search.
pub(super) fn best_fit(
    caps: &[usize],
    keep: impl Fn(usize) -> bool,
    count: usize,
) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..caps.len())
        .filter(|&i| caps[i] > 0 && keep(i))
        .collect();
    order.sort_unstable_by_key(|&i| (std::cmp::Reverse(caps[i]), i));
    let mut out = Vec::new();
    let mut left = count;
    let mut next = 0;
    while left > 0 && next < order.len() {
        // Unused bins are `order[next..]`, by capacity descending: the tightest holding all
        // that is left is the first of the last run of capacities >= left.
        let rest = &order[next..];
        let holding = rest.partition_point(|&i| caps[i] >= left);
        if holding > 0 {
            let c = caps[rest[holding - 1]];
            let first = rest.partition_point(|&i| caps[i] > c);
            out.push((rest[first], left));
            break;
        }
        let i = order[next];
        next += 1;
        out.push((i, caps[i]));
        left -= caps[i];
    }
    out
}

/// `count` items spread as evenly as the capacities allow: every bin takes `min(cap, level)`
/// for the lowest level that reaches `count`, the surplus taken back from the last bins at
/// that level; `(bin, taken)` in bin order.
fn water_fill(caps: &[usize], count: usize) -> Vec<(usize, usize)> {
    let total = |level: usize| caps.iter().map(|&c| c.min(level)).sum::<usize>();
    let (mut lo, mut hi) = (0usize, caps.iter().copied().max().unwrap_or(0));
    if total(hi) < count {
        return Vec::new();
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if total(mid) >= count {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let mut share: Vec<usize> = caps.iter().map(|&c| c.min(lo)).collect();
    let mut surplus = total(lo) - count;
    for s in share.iter_mut().rev() {
        if surplus == 0 {
            break;
        }
        if *s == lo && lo > 0 {
            *s -= 1;
            surplus -= 1;
        }
    }
    share
        .into_iter()
        .enumerate()
        .filter(|&(_, s)| s > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_fit_takes_largest_then_tightest() {
        assert_eq!(best_fit(&[4, 8, 3, 8], |_| true, 11), [(1, 8), (2, 3)]);
        assert_eq!(best_fit(&[4, 8, 3, 8], |_| true, 4), [(0, 4)]);
        assert_eq!(best_fit(&[4, 8, 3, 8], |i| i != 0, 4), [(1, 4)]);
        assert_eq!(best_fit(&[1, 1], |_| true, 3), [(0, 1), (1, 1)]);
    }

    #[test]
    fn pack_uses_partial_bins_before_whole_ones() {
        let caps = [8, 3, 8, 2];
        let whole = [true, false, true, false];
        assert_eq!(choose(Strategy::Pack, &caps, &whole, 4), [(1, 3), (3, 1)]);
        assert_eq!(
            choose(Strategy::Pack, &caps, &whole, 7),
            [(1, 3), (3, 2), (0, 2)]
        );
        // Tight would break a whole bin for 4 (the tightest holding 4 is... 8).
        assert_eq!(choose(Strategy::Tight, &caps, &whole, 4), [(0, 4)]);
    }

    #[test]
    fn water_fill_spreads_evenly() {
        assert_eq!(water_fill(&[8, 8, 8], 7), [(0, 3), (1, 2), (2, 2)]);
        assert_eq!(water_fill(&[1, 8, 8], 7), [(0, 1), (1, 3), (2, 3)]);
        assert_eq!(water_fill(&[1, 2], 4), []);
        assert_eq!(water_fill(&[3, 3], 6), [(0, 3), (1, 3)]);
    }
}
