//! Gang placement: all or nothing, group by group, on a working copy of the free capacity.
//!
//! For one group of identical pods:
//! 1. **Fit per node**: how many pods the node holds. With NUMA alignment (the group asks for
//!    it, or by default the node's Topology Manager policy is `single-numa-node`) each pod's
//!    NUMA-local resources come from one NUMA node, so it is the sum over NUMA nodes of what
//!    each holds, bounded by the node's totals (resources that are not NUMA-local).
//! 2. **The grouping tree** ([`super::tiers`]): the required level's domains (or the whole
//!    cluster), then every preferred and slice level below it, then the nodes. A domain's
//!    capacity is its children's summed, in whole slices where a slice level lies at or below
//!    it. The per-domain aggregates skip, before any per-node work, the required domains whose
//!    free totals cannot hold `min_count` pods.
//! 3. **Required level**: one domain that holds the group, chosen by the gang's
//!    [`Strategy`]: the tightest (`tight`, Kueue TAS), the one that breaks the fewest entirely
//!    free domains and nodes below it (`pack`), or the roomiest (`balanced`). When none holds
//!    `count` pods but one holds `min_count`, the group shrinks to the most that fits.
//! 4. **Below it**, tier by tier: `tight` takes the fewest domains, largest first, the last
//!    the tightest that holds the rest (Kueue TAS's best fit); `pack` takes partly used
//!    domains and nodes first; `balanced` spreads the pods evenly. Pods are ranked in that
//!    order, so pods i and i+1 share a domain wherever they can, and every slice is a run of
//!    consecutive ranks inside one domain of its level.
//! 5. Each node's pods take NUMA nodes in order, each as many as it holds.
//!
//! The capacity counts are exact for identical pods: a domain holds `count` pods exactly when
//! its capacity, in whole slices, reaches it, so "no" is never said when a placement exists
//! under the constraints.

use super::gang::{GangSpec, GroupSpec, PlaceOutcome, Placement, PodPlacement, Strategy};
use super::model::Cluster;
use super::node_alloc::{Ledgers, next_placement_id};
use crate::error::Result;
use crate::node::allocator::{Grant, NodeAllocator, Outcome};
use std::borrow::Cow;

/// A group's pods, their grants (per pod, on nodes with an allocator) and the
/// `(level, domain)` of its required level.
struct GroupPlaced {
    pods: Vec<PodPlacement>,
    grants: Vec<Option<Grant>>,
    domain: Option<(usize, usize)>,
}

/// Why a group was not placed.
enum GroupFail {
    /// It does not fit: the reasons.
    Reasons(Vec<String>),
    /// Node `node`'s allocator refused the group's pod after `held` of them.
    Refused { node: usize, held: usize },
}

/// The free capacity a placement works on: the snapshot's, copied only when a group that
/// is not the last takes pods (the last group's pods change nothing later groups read).
pub(super) struct Work<'a> {
    pub free: Cow<'a, [i64]>,
    pub numa: Cow<'a, [i64]>,
    /// `(node, most)`: the current group may put at most `most` pods on `node`.
    pub limits: Vec<(usize, usize)>,
}

impl Cluster {
    /// Whether node `n` accepts pods of `g` at all (schedulable, taints tolerated, selector).
    pub(super) fn eligible(&self, n: usize, g: &GroupSpec) -> bool {
        let node = &self.nodes[n];
        !node.unschedulable
            && node
                .taints
                .iter()
                .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
                .all(|t| g.tolerations.iter().any(|tl| tl.tolerates(t)))
            && g.node_selector
                .iter()
                .all(|(k, v)| node.labels.iter().any(|(lk, lv)| lk == k && lv == v))
    }

    /// Whether pods of `g` must be NUMA-aligned on node `n`.
    pub(super) fn aligned(&self, n: usize, g: &GroupSpec) -> bool {
        g.numa_aligned.unwrap_or(self.nodes[n].single_numa)
    }

    /// How many pods of `g` node `n` holds on `w`, at most `cap`.
    pub(super) fn fit(&self, w: &Work<'_>, n: usize, g: &GroupSpec, cap: usize) -> usize {
        let nr = self.resources.len();
        let free = &w.free[n * nr..(n + 1) * nr];
        let mut total = cap;
        for (r, &want) in g.request.iter().enumerate().take(nr) {
            if want > 0 {
                total = total.min(usize::try_from(free[r] / want).unwrap_or(0));
            }
        }
        let (first, zones) = self.numa_slots[n];
        if !self.aligned(n, g) || zones == 0 || total == 0 {
            return total;
        }
        let mut sum = 0usize;
        for z in first..first + zones {
            let zone = &w.numa[z * nr..(z + 1) * nr];
            let mut k = total;
            for (r, &want) in g.request.iter().enumerate().take(nr) {
                if want > 0 && self.numa_local[n * nr + r] {
                    k = k.min(usize::try_from(zone[r] / want).unwrap_or(0));
                }
            }
            sum += k;
        }
        sum.min(total)
    }

    /// Per node, how many pods of the gang's first group it holds now, and why none when it
    /// holds none (a scheduler's filter verb). Required levels and slices are not applied:
    /// this is one node at a time.
    #[must_use]
    pub fn node_fits(&self, gang: &GangSpec) -> Vec<(usize, Option<String>)> {
        let Some(g) = gang.groups.first() else {
            return vec![(0, Some("the gang has no group".to_owned())); self.nodes.len()];
        };
        let w = Work {
            free: Cow::Borrowed(&self.free),
            numa: Cow::Borrowed(&self.numa_free),
            limits: Vec::new(),
        };
        super::explain::node_fits(self, &w, g)
    }

    /// What the gang would get, changing nothing.
    #[must_use]
    pub fn place(&self, gang: &GangSpec) -> PlaceOutcome {
        let n = gang.groups.len();
        let given: Vec<usize> = (0..n).collect();
        let first = self.place_in_order(gang, &given);
        if matches!(first, PlaceOutcome::Placed(_)) || n < 2 {
            return first;
        }
        // Groups are placed one after another, each on what the previous left, so an early
        // group can take what a later one needed; other orders often fit (most of the
        // refusals of feasible mixed gangs in `tests/cluster_mixed.rs` are of that kind).
        // The refusal reported is the given order's.
        for order in other_orders(n) {
            let outcome = self.place_in_order(gang, &order);
            if matches!(outcome, PlaceOutcome::Placed(_)) {
                return outcome;
            }
        }
        first
    }

    /// [`Self::place`] with the groups placed in `order`.
    fn place_in_order(&self, gang: &GangSpec, order: &[usize]) -> PlaceOutcome {
        // `(group, node, most)`: a node's allocator refused more than `most` pods of the
        // group; each retry lowers one such bound, so this ends.
        let mut limits: Vec<(usize, usize, usize)> = Vec::new();
        loop {
            match self.place_once(gang, order, &limits) {
                Ok(outcome) => return outcome,
                Err(limit) => limits.push(limit),
            }
        }
    }

    /// One attempt of [`Self::place_in_order`] under `limits`; `Err` with a new limit when a
    /// node's allocator refused a pod the count accepted.
    fn place_once(
        &self,
        gang: &GangSpec,
        order: &[usize],
        limits: &[(usize, usize, usize)],
    ) -> Result<PlaceOutcome, (usize, usize, usize)> {
        let mut w = Work {
            free: Cow::Borrowed(&self.free),
            numa: Cow::Borrowed(&self.numa_free),
            limits: Vec::new(),
        };
        let mut ledgers = Ledgers::default();
        let mut pods = Vec::new();
        let mut grants = Vec::new();
        let mut domains = vec![None; gang.groups.len()];
        for (step, &gi) in order.iter().enumerate() {
            let g = &gang.groups[gi];
            w.limits = limits
                .iter()
                .filter(|l| l.0 == gi)
                .map(|l| (l.1, l.2))
                .collect();
            let keep = step + 1 < order.len();
            match self.place_group(&mut w, &mut ledgers, gi, g, gang.strategy, keep) {
                Ok(placed) => {
                    let count = placed.pods.len();
                    pods.extend(placed.pods);
                    if placed.grants.is_empty() {
                        grants.resize(grants.len() + count, None);
                    } else {
                        grants.extend(placed.grants);
                    }
                    domains[gi] = placed.domain;
                }
                Err(GroupFail::Reasons(reasons)) => {
                    return Ok(PlaceOutcome::Unschedulable(reasons));
                }
                Err(GroupFail::Refused { node, held }) => return Err((gi, node, held)),
            }
        }
        // Pods in group order, whatever the order the groups were placed in.
        let mut rows: Vec<(PodPlacement, Option<Grant>)> = pods.into_iter().zip(grants).collect();
        rows.sort_by_key(|(p, _)| (p.group, p.index));
        let (pods, mut grants): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
        if grants.iter().all(Option::is_none) {
            grants.clear();
        }
        Ok(PlaceOutcome::Placed(Placement {
            gang: gang.name.clone(),
            id: next_placement_id(),
            pods,
            grants,
            domains,
        }))
    }

    /// Places one group on `w` (taking what it uses when `keep`), or says why not.
    fn place_group(
        &self,
        w: &mut Work<'_>,
        ledgers: &mut Ledgers,
        gi: usize,
        g: &GroupSpec,
        strategy: Strategy,
        keep: bool,
    ) -> Result<GroupPlaced, GroupFail> {
        if let Some(r) = &g.missing_resource {
            return Err(GroupFail::Reasons(vec![format!(
                "group {}: no node of the cluster has {r}",
                g.name
            )]));
        }
        // The per-domain aggregates bound what a required domain can hold (the working copy
        // never has more than the snapshot): domains below `min_count` skip per-node work.
        let prune = g.required_level.map(|l| self.domains_that_may_hold(l, g));
        let fits = self.fits(w, g, prune.as_deref());
        let whole = if strategy == Strategy::Pack {
            self.whole_nodes(w)
        } else {
            Vec::new()
        };
        let tiers = self.tiers_of(g);
        let cands = self.candidates(g, &tiers, &fits, &whole);
        let want = g.count;
        let unit = tiers[0].unit.max(1);
        let caps = &cands.caps;
        // Ties go to the lowest domain id (`caps` is in domain order).
        let holding = (0..caps.len()).filter(|&i| caps[i].1 >= want);
        let chosen = match strategy {
            Strategy::Tight => holding.min_by_key(|&i| (caps[i].1, i)),
            Strategy::Balanced => holding.min_by_key(|&i| (std::cmp::Reverse(caps[i].1), i)),
            Strategy::Pack => holding.min_by_key(|&i| {
                let broken = self.select_in(
                    g,
                    &tiers,
                    &cands,
                    i,
                    want,
                    &fits,
                    &whole,
                    strategy,
                    &mut Vec::new(),
                );
                (broken, caps[i].1, i)
            }),
        }
        .map(|i| (i, want))
        .or_else(|| {
            let i = (0..caps.len()).max_by_key(|&i| (caps[i].1, std::cmp::Reverse(i)))?;
            let most = caps[i].1.min(want) / unit * unit;
            (most >= g.min_count.max(1)).then_some((i, most))
        });
        let Some((i, count)) = chosen else {
            return Err(GroupFail::Reasons(self.refusal(w, g)));
        };
        let mut order = Vec::new();
        self.select_in(
            g, &tiers, &cands, i, count, &fits, &whole, strategy, &mut order,
        );
        let mut out = GroupPlaced {
            pods: Vec::with_capacity(count),
            grants: Vec::new(),
            domain: g.required_level.map(|l| (l, caps[i].0)),
        };
        let mut scratch = Vec::new();
        for (n, k) in order {
            let alloc = ledgers.get(self, n);
            self.take(w, keep, alloc, g, gi, n, k, &mut out, &mut scratch)?;
        }
        Ok(out)
    }

    /// Gives `k` pods of group `gi` to node `n` (ranks following those in `out`), each
    /// also allocated by `alloc` (the node's allocator, when it has one), working on the
    /// node's rows in `scratch` and writing them back to `w` only when `keep`.
    #[expect(clippy::too_many_arguments, reason = "one call site, all plain values")]
    fn take(
        &self,
        w: &mut Work<'_>,
        keep: bool,
        mut alloc: Option<&mut NodeAllocator>,
        g: &GroupSpec,
        gi: usize,
        n: usize,
        k: usize,
        out: &mut GroupPlaced,
        scratch: &mut Vec<i64>,
    ) -> Result<(), GroupFail> {
        let nr = self.resources.len();
        let (zfirst, zones) = self.numa_slots[n];
        // scratch = the node's free row, then its NUMA nodes' rows.
        scratch.clear();
        scratch.extend_from_slice(&w.free[n * nr..(n + 1) * nr]);
        scratch.extend_from_slice(&w.numa[zfirst * nr..(zfirst + zones) * nr]);
        let aligned = self.aligned(n, g) && zones > 0;
        let req = alloc.as_ref().map(|_| self.alloc_request(n, g));
        for i in 0..k {
            let index = out.pods.len();
            let mut grant = None;
            let numa = if let (Some(a), Some(req)) = (alloc.as_deref_mut(), &req) {
                let owner = format!("{gi}/{index}");
                let Ok(Outcome::Placed(got)) = a.allocate(&owner, req) else {
                    return Err(GroupFail::Refused { node: n, held: i });
                };
                let topo = a.topology();
                let zone = match got.numa_nodes.as_slice() {
                    [one] => topo.numa_by_os(*one).map(|d| d as usize),
                    _ => None,
                };
                grant = Some(got);
                zone
            } else if aligned {
                (0..zones).find(|&z| {
                    let zone = &scratch[(1 + z) * nr..(2 + z) * nr];
                    g.request.iter().enumerate().take(nr).all(|(r, &want)| {
                        want == 0 || !self.numa_local[n * nr + r] || zone[r] >= want
                    })
                })
            } else {
                None
            };
            for (r, &want) in g.request.iter().enumerate().take(nr) {
                scratch[r] -= want;
            }
            if let (Some(a), Some(got)) = (alloc.as_deref(), &grant) {
                // What the grant holds on each NUMA node (a pod spread over several takes
                // from each), not the request on one.
                self.take_grant(a, got, &mut scratch[nr..]);
            } else if let Some(z) = numa {
                for (r, &want) in g.request.iter().enumerate().take(nr) {
                    if self.numa_local[n * nr + r] {
                        scratch[(1 + z) * nr + r] -= want;
                    }
                }
            }
            out.pods.push(PodPlacement {
                group: gi,
                index,
                node: n,
                numa,
            });
            if grant.is_some() || !out.grants.is_empty() {
                out.grants.resize(index, None);
                out.grants.push(grant);
            }
        }
        if !out.grants.is_empty() {
            out.grants.resize(out.pods.len(), None);
        }
        if keep {
            w.free.to_mut()[n * nr..(n + 1) * nr].copy_from_slice(&scratch[..nr]);
            w.numa.to_mut()[zfirst * nr..(zfirst + zones) * nr].copy_from_slice(&scratch[nr..]);
        }
        Ok(())
    }
}

/// The orders of `n` groups to try after the given one: every permutation for up to 4 groups
/// (lexicographic, the identity left out), else the reverse.
fn other_orders(n: usize) -> Vec<Vec<usize>> {
    if n > 4 {
        return vec![(0..n).rev().collect()];
    }
    let mut out = Vec::new();
    let mut p: Vec<usize> = (0..n).collect();
    // Next permutation in lexicographic order until the last.
    while let Some(i) = (0..n.saturating_sub(1)).rev().find(|&i| p[i] < p[i + 1]) {
        let j = (i + 1..n).rev().find(|&j| p[j] > p[i]).unwrap_or(i);
        p.swap(i, j);
        p[i + 1..].reverse();
        out.push(p.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::other_orders;

    #[test]
    fn orders_are_every_other_permutation() {
        assert_eq!(other_orders(1), Vec::<Vec<usize>>::new());
        assert_eq!(other_orders(2), [[1, 0]]);
        let three = other_orders(3);
        assert_eq!(three.len(), 5);
        assert_eq!(three[0], [0, 2, 1]);
        assert_eq!(three[4], [2, 1, 0]);
        assert_eq!(other_orders(4).len(), 23);
        assert_eq!(other_orders(6), [[5, 4, 3, 2, 1, 0]]);
    }
}
