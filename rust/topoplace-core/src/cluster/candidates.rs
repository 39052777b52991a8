//! A group's candidates: per-node fits, the per-domain aggregate bound, the grouping chain,
//! the required level's domains with their capacities, and the selection inside one of them.
//!
//! Without slices the capacity of a required domain is the sum of its nodes' fits, read off
//! the member lists; the grouping tree is then built only inside the chosen domain (or, for
//! `pack`, inside each domain that holds the group, to count what it would break). With
//! slices the tree is built once over every node, since the rounding to whole slices happens
//! at every tier.

use super::explain;
use super::gang::{GroupSpec, Strategy};
use super::model::{Cluster, NO_DOMAIN};
use super::place::Work;
use super::tiers::{ROOT, Tier, Tree};

/// The most pods one node is counted as holding (a request of nothing fits without end).
const UNBOUNDED: usize = u32::MAX as usize;

/// The required level's domains (the whole cluster, id 0, without one) that hold pods.
pub(super) struct Candidates {
    /// `(domain id, capacity)`, in domain order.
    pub caps: Vec<(usize, usize)>,
    /// With slices, the tree over every node; its top bins are `caps` in order.
    full: Option<Tree>,
}

impl Cluster {
    /// The candidates of `g` under `tiers` (from [`Self::tiers_of`]).
    pub(super) fn candidates(
        &self,
        g: &GroupSpec,
        tiers: &[Tier],
        fits: &[usize],
        whole: &[bool],
    ) -> Candidates {
        if tiers.iter().any(|t| t.unit > 1) {
            let tree = Tree::build(self, tiers.to_vec(), fits, whole, 0..self.nodes.len());
            let caps = tree.bins[0]
                .iter()
                .map(|b| {
                    let rep = tree.leaves[b.start as usize].0;
                    let d = g
                        .required_level
                        .map_or(0, |l| self.domain_of[l][rep] as usize);
                    (d, b.cap)
                })
                .collect();
            return Candidates {
                caps,
                full: Some(tree),
            };
        }
        let caps = match g.required_level {
            None => vec![(0, fits.iter().sum())],
            Some(l) => self.members[l]
                .iter()
                .enumerate()
                .map(|(d, m)| (d, m.iter().map(|&n| fits[n]).sum()))
                .filter(|&(_, cap)| cap > 0)
                .collect(),
        };
        Candidates { caps, full: None }
    }

    /// `count` pods inside candidate `i`: `(node, pods)` in rank order into `out`, and what
    /// entirely free domains (the required one included) and nodes they break.
    #[expect(
        clippy::too_many_arguments,
        reason = "the pieces of one group's decision"
    )]
    pub(super) fn select_in(
        &self,
        g: &GroupSpec,
        tiers: &[Tier],
        cands: &Candidates,
        i: usize,
        count: usize,
        fits: &[usize],
        whole: &[bool],
        strategy: Strategy,
        out: &mut Vec<(usize, usize)>,
    ) -> Vec<usize> {
        let mut broken = vec![0; tiers.len() + 1];
        if let Some(tree) = &cands.full {
            tree.select(0, i, count, strategy, out, &mut broken);
        } else {
            // The chosen domain as the root of its own tree.
            let mut sub = tiers.to_vec();
            sub[0] = Tier {
                level: ROOT,
                unit: 1,
                strict: false,
            };
            let d = cands.caps[i].0;
            let tree = match g.required_level {
                Some(l) => Tree::build(self, sub, fits, whole, self.members[l][d].iter().copied()),
                None => Tree::build(self, sub, fits, whole, 0..self.nodes.len()),
            };
            tree.select(0, 0, count, strategy, out, &mut broken);
            // The root stands for the required domain: whole when all its nodes are.
            if let Some(l) = g.required_level {
                let all_whole = self.members[l][d]
                    .iter()
                    .all(|&n| whole.get(n).copied().unwrap_or(false));
                if all_whole && count > 0 {
                    broken[0] += 1;
                }
            }
        }
        // Outermost first: a whole required domain broken weighs most.
        broken
    }

    /// Why `g` cannot be placed on `w`: every node counted (no pruning), the closest domain.
    pub(super) fn refusal(&self, w: &Work<'_>, g: &GroupSpec) -> Vec<String> {
        let fits = self.fits(w, g, None);
        let tiers = self.tiers_of(g);
        let cands = self.candidates(g, &tiers, &fits, &[]);
        let (caps, domains): (Vec<usize>, Vec<Option<usize>>) = match g.required_level {
            Some(l) => {
                let mut caps = vec![0; self.domain_names[l].len()];
                for &(d, cap) in &cands.caps {
                    caps[d] = cap;
                }
                (caps, (0..self.domain_names[l].len()).map(Some).collect())
            }
            None => (vec![cands.caps.first().map_or(0, |c| c.1)], vec![None]),
        };
        explain::group(self, w, g, &fits, &caps, domains.into_iter())
    }

    /// Per node, how many pods of `g` it holds on `w` (0 where not eligible, or outside the
    /// domains `may_hold` lets through).
    pub(super) fn fits(
        &self,
        w: &Work<'_>,
        g: &GroupSpec,
        may_hold: Option<&[bool]>,
    ) -> Vec<usize> {
        let mut fits: Vec<usize> = (0..self.nodes.len())
            .map(|n| {
                let open = match (may_hold, g.required_level) {
                    (Some(ok), Some(l)) => {
                        let d = self.domain_of[l][n];
                        d != NO_DOMAIN && ok[d as usize]
                    }
                    _ => true,
                };
                // Every pod is in a slice, inside a domain of each slice level: a node
                // without that level's label holds none (levels below the required one are
                // also dropped by the tree; those at or above it only here).
                let sliced = g
                    .slices
                    .iter()
                    .all(|&(_, l)| self.domain_of[l][n] != NO_DOMAIN);
                if open && sliced && self.eligible(n, g) {
                    // Uncapped (but finite for a request of nothing): a domain's capacity is
                    // what it holds, so "tightest" compares true capacities, as Kueue does.
                    self.fit(w, n, g, UNBOUNDED)
                } else {
                    0
                }
            })
            .collect();
        // Nodes whose allocator refused more pods than this.
        for &(n, most) in &w.limits {
            fits[n] = fits[n].min(most);
        }
        fits
    }

    /// Per domain of level `l`: whether its free totals could hold `min_count` pods of `g`.
    pub(super) fn domains_that_may_hold(&self, l: usize, g: &GroupSpec) -> Vec<bool> {
        let nr = self.resources.len();
        (0..self.domain_names[l].len())
            .map(|d| {
                g.request.iter().enumerate().take(nr).all(|(r, &want)| {
                    want <= 0
                        || usize::try_from(self.domain_free(l, d, r) / want)
                            .is_ok_and(|k| k >= g.min_count.max(1))
                })
            })
            .collect()
    }

    /// Per node, whether nothing of it is taken on `w`.
    pub(super) fn whole_nodes(&self, w: &Work<'_>) -> Vec<bool> {
        let nr = self.resources.len();
        self.nodes
            .iter()
            .enumerate()
            .map(|(n, node)| w.free[n * nr..(n + 1) * nr] == node.capacity[..nr])
            .collect()
    }

    /// The grouping chain of `g`: its required level (or the whole cluster), then every
    /// preferred or slice level below it, outermost first, each with its unit.
    pub(super) fn tiers_of(&self, g: &GroupSpec) -> Vec<Tier> {
        let unit_at = |depth: usize| {
            g.slices
                .iter()
                .filter(|&&(_, l)| l >= depth)
                .map(|&(s, _)| s.max(1))
                .max()
                .unwrap_or(1)
        };
        let mut tiers = vec![match g.required_level {
            Some(l) => Tier {
                level: l,
                unit: unit_at(0),
                strict: true,
            },
            None => Tier {
                level: ROOT,
                unit: unit_at(0),
                strict: false,
            },
        }];
        let below = |l: usize| g.required_level.is_none_or(|r| l > r);
        let mut levels: Vec<(usize, bool)> = g
            .slices
            .iter()
            .map(|&(_, l)| (l, true))
            .chain(g.preferred_level.map(|l| (l, false)))
            .filter(|&(l, _)| below(l))
            .collect();
        // Strict first among equal levels, so a level both preferred and sliced is strict.
        levels.sort_unstable_by_key(|&(l, strict)| (l, !strict));
        levels.dedup_by_key(|&mut (l, _)| l);
        tiers.extend(levels.into_iter().map(|(level, strict)| Tier {
            level,
            unit: unit_at(level),
            strict,
        }));
        tiers
    }
}
