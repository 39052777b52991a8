//! Gang placement: all or nothing, group by group, on a working copy of the free capacity.
//!
//! For one group of identical pods:
//! 1. **Fit per node**: how many pods the node holds. With NUMA alignment (the group asks for
//!    it, or by default the node's Topology Manager policy is `single-numa-node`) each pod's
//!    NUMA-local resources come from one NUMA node, so it is the sum over NUMA nodes of what
//!    each holds, bounded by the node's totals (resources that are not NUMA-local).
//! 2. **Slices**: with `slice_size` S at `slice_level`, a domain of that level holds
//!    `floor(fit / S)` slices; capacity above it is counted in whole slices.
//! 3. **Required level**: the group goes to one domain of that level whose capacity holds
//!    it; of those, the tightest (least capacity, so larger domains stay whole), then the
//!    first. Without one, the whole cluster is the domain. When none holds `count` pods but
//!    one holds `min_count`, the group shrinks to the most that fits.
//! 4. **Preferred level** (default: the node): inside the chosen domain, as few domains of
//!    that level as possible: the largest first, the last one the tightest that holds the
//!    rest (Kueue TAS's best fit). Pods are ranked in that order, so pods i and i+1 share a
//!    domain wherever they can.
//! 5. Each node's pods take NUMA nodes in order, each as many as it holds.
//!
//! The capacity counts are exact for identical pods: a domain holds `count` pods exactly when
//! the sum of its nodes' fits (in whole slices) reaches it, so "no" is never said when a
//! placement exists under the constraints.

use super::explain;
use super::gang::{GangSpec, GroupSpec, PlaceOutcome, Placement, PodPlacement};
use super::model::{Cluster, NO_DOMAIN};
use crate::error::{Error, Result};

/// A group's pods and the `(level, domain)` of its required level.
type GroupPlaced = (Vec<PodPlacement>, Option<(usize, usize)>);

/// The free capacity a placement works on.
pub(super) struct Work {
    pub free: Vec<i64>,
    pub numa: Vec<i64>,
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
    fn aligned(&self, n: usize, g: &GroupSpec) -> bool {
        g.numa_aligned.unwrap_or(self.nodes[n].single_numa)
    }

    /// How many pods of `g` node `n` holds on `w`, at most `cap`.
    pub(super) fn fit(&self, w: &Work, n: usize, g: &GroupSpec, cap: usize) -> usize {
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
        let mut w = Work {
            free: self.free.clone(),
            numa: self.numa_free.clone(),
        };
        let mut pods = Vec::new();
        let mut domains = Vec::new();
        for (gi, g) in gang.groups.iter().enumerate() {
            match self.place_group(&mut w, gi, g) {
                Ok((placed, domain)) => {
                    pods.extend(placed);
                    domains.push(domain);
                }
                Err(reasons) => return PlaceOutcome::Unschedulable(reasons),
            }
        }
        PlaceOutcome::Placed(Placement {
            gang: gang.name.clone(),
            pods,
            domains,
        })
    }

    /// Places one group on `w` (taking what it uses), or says why not.
    fn place_group(
        &self,
        w: &mut Work,
        gi: usize,
        g: &GroupSpec,
    ) -> Result<GroupPlaced, Vec<String>> {
        if let Some(r) = &g.missing_resource {
            return Err(vec![format!(
                "group {}: no node of the cluster has {r}",
                g.name
            )]);
        }
        let nn = self.nodes.len();
        let fits: Vec<usize> = (0..nn)
            .map(|n| {
                if self.eligible(n, g) {
                    self.fit(w, n, g, g.count)
                } else {
                    0
                }
            })
            .collect();
        let unit = g.slice.map_or(1, |(s, _)| s.max(1));
        // Pods each node may take, counted in whole slices per slice-level domain.
        let slice_cap = |nodes: &[usize]| -> usize {
            match g.slice {
                None => nodes.iter().map(|&n| fits[n]).sum(),
                Some((s, ls)) => {
                    let s = s.max(1);
                    let mut per = vec![0usize; self.domain_names[ls].len()];
                    let mut seen = Vec::new();
                    for &n in nodes {
                        let d = self.domain_of[ls][n];
                        if d != NO_DOMAIN {
                            if per[d as usize] == 0 {
                                seen.push(d as usize);
                            }
                            per[d as usize] += fits[n];
                        }
                    }
                    seen.iter().map(|&d| per[d] / s * s).sum()
                }
            }
        };
        // Candidate domains of the required level (or the whole cluster), with capacity.
        let all: Vec<usize>;
        let candidates: Vec<(Option<usize>, &[usize])> = match g.required_level {
            None => {
                all = (0..nn).collect();
                vec![(None, all.as_slice())]
            }
            Some(l) => self.members[l]
                .iter()
                .enumerate()
                .map(|(d, ns)| (Some(d), ns.as_slice()))
                .collect(),
        };
        let caps: Vec<usize> = candidates.iter().map(|(_, ns)| slice_cap(ns)).collect();
        let want = g.count;
        let chosen = caps
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c >= want)
            .min_by_key(|&(i, &c)| (c, i))
            .map(|(i, _)| (i, want))
            .or_else(|| {
                let (i, &c) = caps
                    .iter()
                    .enumerate()
                    .max_by_key(|&(i, &c)| (c, std::cmp::Reverse(i)))?;
                let most = c.min(want) / unit * unit;
                (most >= g.min_count.max(1)).then_some((i, most))
            });
        let Some((ci, count)) = chosen else {
            return Err(explain::group(
                self,
                w,
                g,
                &fits,
                &caps,
                candidates.iter().map(|c| c.0),
            ));
        };
        let (domain, nodes) = &candidates[ci];
        let order = self.rank_nodes(g, &fits, nodes, count);
        let mut placed = Vec::with_capacity(count);
        for (n, k) in order {
            self.take(w, g, gi, n, k, placed.len(), &mut placed);
        }
        let domain = g.required_level.zip(*domain);
        Ok((placed, domain))
    }

    /// Nodes and how many pods each takes, in rank order, for `count` pods of `g` inside
    /// `nodes`: preferred-level domains (or slice domains) largest first with the last the
    /// tightest, nodes inside them likewise.
    fn rank_nodes(
        &self,
        g: &GroupSpec,
        fits: &[usize],
        nodes: &[usize],
        count: usize,
    ) -> Vec<(usize, usize)> {
        let (unit, level) = match g.slice {
            Some((s, ls)) => (s.max(1), Some(ls)),
            None => (1, g.preferred_level),
        };
        // Groups of nodes at the grouping level, with their capacity in whole units. A node
        // without the preferred level's label is a group of its own; without the slice
        // level's, it holds no slice.
        let ndom = level.map_or(0, |l| self.domain_names[l].len());
        let mut slot: Vec<u32> = vec![u32::MAX; ndom + self.nodes.len()];
        let mut groups: Vec<(Vec<usize>, usize)> = Vec::new();
        for &n in nodes {
            if fits[n] == 0 {
                continue;
            }
            let key = match level.map(|l| self.domain_of[l][n]) {
                Some(NO_DOMAIN) if g.slice.is_some() => continue,
                Some(NO_DOMAIN) | None => ndom + n,
                Some(d) => d as usize,
            };
            if slot[key] == u32::MAX {
                slot[key] = u32::try_from(groups.len()).unwrap_or(u32::MAX);
                groups.push((Vec::new(), 0));
            }
            let e = &mut groups[slot[key] as usize];
            e.0.push(n);
            e.1 += fits[n];
        }
        for gr in &mut groups {
            gr.1 = gr.1 / unit * unit;
        }
        let picked = best_fit(groups.iter().map(|gr| gr.1).collect(), count);
        let mut out = Vec::new();
        for (gi, take) in picked {
            let members = &groups[gi].0;
            let caps: Vec<usize> = members.iter().map(|&n| fits[n]).collect();
            for (mi, k) in best_fit(caps, take) {
                out.push((members[mi], k));
            }
        }
        out
    }

    /// Gives `k` pods of group `gi` (ranks from `first`) to node `n` on `w`.
    #[expect(clippy::too_many_arguments, reason = "one call site, all plain values")]
    fn take(
        &self,
        w: &mut Work,
        g: &GroupSpec,
        gi: usize,
        n: usize,
        k: usize,
        first: usize,
        out: &mut Vec<PodPlacement>,
    ) {
        let nr = self.resources.len();
        let (zfirst, zones) = self.numa_slots[n];
        for i in 0..k {
            let mut numa = None;
            if self.aligned(n, g) && zones > 0 {
                numa = (0..zones).find(|&z| {
                    let zone = &w.numa[(zfirst + z) * nr..(zfirst + z + 1) * nr];
                    g.request.iter().enumerate().take(nr).all(|(r, &want)| {
                        want == 0 || !self.numa_local[n * nr + r] || zone[r] >= want
                    })
                });
            }
            for (r, &want) in g.request.iter().enumerate().take(nr) {
                w.free[n * nr + r] -= want;
                if let Some(z) = numa {
                    if self.numa_local[n * nr + r] {
                        w.numa[(zfirst + z) * nr + r] -= want;
                    }
                }
            }
            out.push(PodPlacement {
                group: gi,
                index: first + i,
                node: n,
                numa,
            });
        }
    }

    /// Applies a placement from [`Self::place`]: the pods' requests are taken, all or
    /// nothing.
    ///
    /// # Errors
    /// [`Error::Value`] when the placement no longer fits (the cluster changed since it was
    /// computed) or names a node or group that does not exist; nothing is taken then.
    pub fn commit(&mut self, gang: &GangSpec, placement: &Placement) -> Result<()> {
        let mut w = Work {
            free: self.free.clone(),
            numa: self.numa_free.clone(),
        };
        let nr = self.resources.len();
        for p in &placement.pods {
            let g = gang.groups.get(p.group).ok_or_else(|| {
                Error::Value(format!(
                    "gang {}: placement names group #{}",
                    gang.name, p.group
                ))
            })?;
            if p.node >= self.nodes.len() {
                return Err(Error::Value(format!(
                    "gang {}: placement names node #{}",
                    gang.name, p.node
                )));
            }
            let (first, zones) = self.numa_slots[p.node];
            for (r, &want) in g.request.iter().enumerate().take(nr) {
                w.free[p.node * nr + r] -= want;
                let mut short = w.free[p.node * nr + r] < 0;
                if let Some(z) = p.numa.filter(|&z| z < zones) {
                    if self.numa_local[p.node * nr + r] {
                        w.numa[(first + z) * nr + r] -= want;
                        short |= w.numa[(first + z) * nr + r] < 0;
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
        for p in &placement.pods {
            self.apply(p.node, p.numa, &gang.groups[p.group].request, 1);
        }
        Ok(())
    }

    /// Gives a committed placement back.
    pub fn release(&mut self, gang: &GangSpec, placement: &Placement) {
        for p in &placement.pods {
            if let Some(g) = gang
                .groups
                .get(p.group)
                .filter(|_| p.node < self.nodes.len())
            {
                self.apply(p.node, p.numa, &g.request, -1);
            }
        }
    }
}

/// `count` items taken from bins of capacity `caps`: as few bins as possible, largest first,
/// the last the smallest bin that holds what is left; `(bin, taken)` in order. Ties go to
/// the lower index. Bins are sorted once; each step is a binary search.
fn best_fit(caps: Vec<usize>, count: usize) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..caps.len()).filter(|&i| caps[i] > 0).collect();
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
