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
use super::node_alloc::{Ledgers, next_placement_id, pod_owner};
use crate::error::{Error, Result};
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

    /// What the gang would get, changing nothing.
    #[must_use]
    pub fn place(&self, gang: &GangSpec) -> PlaceOutcome {
        // `(group, node, most)`: a node's allocator refused more than `most` pods of the
        // group; each retry lowers one such bound, so this ends.
        let mut limits: Vec<(usize, usize, usize)> = Vec::new();
        loop {
            match self.place_once(gang, &limits) {
                Ok(outcome) => return outcome,
                Err(limit) => limits.push(limit),
            }
        }
    }

    /// One attempt of [`Self::place`] under `limits`; `Err` with a new limit when a node's
    /// allocator refused a pod the count accepted.
    fn place_once(
        &self,
        gang: &GangSpec,
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
        let mut domains = Vec::new();
        let last = gang.groups.len().saturating_sub(1);
        for (gi, g) in gang.groups.iter().enumerate() {
            w.limits = limits
                .iter()
                .filter(|l| l.0 == gi)
                .map(|l| (l.1, l.2))
                .collect();
            let keep = gi < last;
            match self.place_group(&mut w, &mut ledgers, gi, g, gang.strategy, keep) {
                Ok(placed) => {
                    pods.extend(placed.pods);
                    grants.extend(placed.grants);
                    domains.push(placed.domain);
                }
                Err(GroupFail::Reasons(reasons)) => {
                    return Ok(PlaceOutcome::Unschedulable(reasons));
                }
                Err(GroupFail::Refused { node, held }) => return Err((gi, node, held)),
            }
        }
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
                if let Some(z) = numa {
                    if self.numa_local[n * nr + r] {
                        scratch[(1 + z) * nr + r] -= want;
                    }
                }
            }
            if let Some(a) = alloc.as_deref() {
                // The allocator's own view of the NUMA nodes (a pod spread over several
                // takes from each).
                self.numa_rows_from(a, &mut scratch[nr..]);
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

    /// Applies a placement from [`Self::place`]: the pods' requests are taken, all or
    /// nothing.
    ///
    /// # Errors
    /// [`Error::Value`] when the placement no longer fits (the cluster changed since it was
    /// computed) or names a node or group that does not exist; nothing is taken then.
    pub fn commit(&mut self, gang: &GangSpec, placement: &Placement) -> Result<()> {
        let nr = self.resources.len();
        for p in &placement.pods {
            if p.group >= gang.groups.len() {
                return Err(Error::Value(format!(
                    "gang {}: placement names group #{}",
                    gang.name, p.group
                )));
            }
            if p.node >= self.nodes.len() {
                return Err(Error::Value(format!(
                    "gang {}: placement names node #{}",
                    gang.name, p.node
                )));
            }
        }
        // Node by node, the pods' requests against the node's rows (no copy of the rest).
        let pods = &placement.pods;
        let mut order: Vec<usize> = (0..pods.len()).collect();
        order.sort_unstable_by_key(|&i| (pods[i].node, i));
        let mut rows = Vec::new();
        let mut current = usize::MAX;
        for i in order {
            let p = &pods[i];
            let g = &gang.groups[p.group];
            let (first, zones) = self.numa_slots[p.node];
            if p.node != current {
                current = p.node;
                rows.clear();
                rows.extend_from_slice(&self.free[p.node * nr..(p.node + 1) * nr]);
                rows.extend_from_slice(&self.numa_free[first * nr..(first + zones) * nr]);
            }
            for (r, &want) in g.request.iter().enumerate().take(nr) {
                rows[r] -= want;
                let mut short = rows[r] < 0;
                if let Some(z) = p.numa.filter(|&z| z < zones) {
                    if self.numa_local[p.node * nr + r] {
                        rows[(1 + z) * nr + r] -= want;
                        short |= rows[(1 + z) * nr + r] < 0;
                    }
                }
                if short {
                    return Err(Error::Value(format!(
                        "gang {}: the placement no longer fits: node {} lacks {} for pod {}/{} \
                         (the cluster changed since it was placed)",
                        gang.name,
                        self.nodes[p.node].name,
                        self.resources.name(r),
                        g.name,
                        p.index
                    )));
                }
            }
        }
        let held = self.hold_grants(gang, placement)?;
        for p in &placement.pods {
            self.apply(p.node, p.numa, &gang.groups[p.group].request, 1);
        }
        for (n, alloc) in held {
            self.allocators[n] = Some(alloc);
            self.sync_numa_rows(n);
        }
        Ok(())
    }

    /// The allocators of the placement's nodes with its grants held, on copies (all or
    /// nothing: the cluster is unchanged until the caller installs them).
    fn hold_grants(
        &self,
        gang: &GangSpec,
        placement: &Placement,
    ) -> Result<Vec<(usize, NodeAllocator)>> {
        if !placement.grants.is_empty() && placement.grants.len() != placement.pods.len() {
            return Err(Error::Value(format!(
                "gang {}: placement has {} grants for {} pods",
                gang.name,
                placement.grants.len(),
                placement.pods.len()
            )));
        }
        let mut held: Vec<(usize, NodeAllocator)> = Vec::new();
        for (p, grant) in placement.pods.iter().zip(&placement.grants) {
            let Some(grant) = grant else { continue };
            let node = &self.nodes[p.node].name;
            let Some(base) = self.allocators[p.node].as_ref() else {
                return Err(Error::Value(format!(
                    "gang {}: placement holds CPUs and devices on node {node}, which has no \
                     topology",
                    gang.name
                )));
            };
            let i = match held.iter().position(|(n, _)| *n == p.node) {
                Some(i) => i,
                None => {
                    held.push((p.node, base.clone()));
                    held.len() - 1
                }
            };
            let owner = pod_owner(placement.id, p.group, p.index);
            held[i].1.hold(&owner, grant.clone()).map_err(|e| {
                Error::Value(format!(
                    "gang {}: the placement no longer fits: node {node}: {e} (the cluster \
                     changed since it was placed)",
                    gang.name
                ))
            })?;
        }
        Ok(held)
    }

    /// Gives a committed placement back.
    pub fn release(&mut self, gang: &GangSpec, placement: &Placement) {
        let mut touched = Vec::new();
        for (i, p) in placement.pods.iter().enumerate() {
            if let Some(g) = gang
                .groups
                .get(p.group)
                .filter(|_| p.node < self.nodes.len())
            {
                self.apply(p.node, p.numa, &g.request, -1);
                if let (Some(Some(_)), Some(alloc)) =
                    (placement.grants.get(i), self.allocators[p.node].as_mut())
                {
                    alloc.release(&pod_owner(placement.id, p.group, p.index));
                    touched.push(p.node);
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for n in touched {
            self.sync_numa_rows(n);
        }
    }
}
