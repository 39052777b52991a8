//! An exact gang-feasibility search for small clusters, written from the constraints
//! `place.rs` documents and sharing none of its code; a validity check for placements (in
//! [`check`]); and plain enumeration, to check the search on tiny instances. The random
//! instances of `cluster_mixed.rs` are in [`instances`], and its judgement of one instance
//! against the search and the placer ([`check::Case`]) in [`check`].
//!
//! The constraints: each group places `count` pods (`min_count` is not modelled), all inside
//! one domain of its `required_level` (groups may pick different domains); each pod's
//! NUMA-local resources come from one NUMA node when aligned (`numa_aligned`, by default the
//! node's `single-numa-node` policy; pods not aligned take from the node totals only); node
//! totals bound everything; with `(slice_size S, slice_level L)` every run of S consecutive
//! ranks sits inside one domain of L, which for ranks handed out domain by domain is the same
//! as "every domain of L holds a multiple of S of the group's pods"; with several layers
//! (sizes nesting, outer levels with the larger sizes) the rule holds per layer. Taints,
//! selectors and unschedulable nodes are not modelled. Slice layers are read from the gang's
//! JSON ([`slices_of`]), not from `GroupSpec`, so the search depends on nothing but the
//! documented format.
//!
//! The search: nodes are visited in domain-tree order (every domain of every level is then a
//! run of consecutive nodes), and each node takes a load, i.e. how many pods of each group it
//! holds (precomputed per node, with one NUMA split that makes it fit). The state between
//! nodes is (position, pods left per group, pods in the open domain modulo S per slice layer):
//! a group's required domain needs no state, because a group that has started and is not
//! done must not cross a domain boundary. Failed states are remembered.

pub(crate) mod check;
pub(crate) mod instances;

use std::collections::BTreeSet;

use serde_json::Value;
use topoplace_core::cluster::model::NO_DOMAIN;
use topoplace_core::cluster::{Cluster, GangSpec, GroupSpec, PodPlacement};

pub(crate) use check::invalid;

/// The most groups a gang may have here.
pub(crate) const MAX_GROUPS: usize = 3;

/// The most slice layers a gang may have here, over all its groups.
const MAX_LAYERS: usize = 6;

/// Pods per group.
type Counts = [usize; MAX_GROUPS];

/// Pods modulo the slice size, per slice layer.
type Residues = [usize; MAX_LAYERS];

/// Per group, its slice layers `(slice_size, slice_level)`.
pub(crate) type Slices = Vec<Vec<(usize, usize)>>;

/// The slice layers of each group of the gang JSON `gang` (`slice_size`/`slice_level` and
/// `slices: [{size, level}]`), levels by their index in `c`.
pub(crate) fn slices_of(gang: &Value, c: &Cluster) -> Slices {
    let level = |v: &Value| {
        let name = v.as_str().expect("a level name");
        c.levels
            .iter()
            .position(|l| l == name)
            .expect("a level of the cluster")
    };
    let size = |v: &Value| usize::try_from(v.as_u64().expect("a size")).expect("a small size");
    gang["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            let mut out = Vec::new();
            if let (Some(s), Some(l)) = (g.get("slice_size"), g.get("slice_level")) {
                out.push((size(s), level(l)));
            }
            for layer in g
                .get("slices")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                out.push((size(&layer["size"]), level(&layer["level"])));
            }
            out
        })
        .collect()
}

/// One way to load a node: pods per group, and per NUMA node the aligned pods per group.
struct Load {
    k: Counts,
    zones: Vec<Counts>,
}

/// Whether pods of `g` are NUMA-aligned on node `n`.
fn aligned(c: &Cluster, n: usize, g: &GroupSpec) -> bool {
    g.numa_aligned.unwrap_or(c.nodes[n].single_numa) && c.numa_free_of(n).next().is_some()
}

/// Whether `k` pods per group of `req` fit in `free` on the resources `take` selects.
fn fits(free: &[i64], req: &[&[i64]], k: &Counts, take: impl Fn(usize) -> bool) -> bool {
    free.iter().enumerate().all(|(r, &f)| {
        !take(r)
            || req
                .iter()
                .zip(k)
                .map(|(q, &kg)| q.get(r).copied().unwrap_or(0) * i64::try_from(kg).unwrap_or(0))
                .sum::<i64>()
                <= f
    })
}

/// Every `k <= caps` (componentwise) that passes `ok`, which must be monotone (if `k` fails,
/// so does everything above it); `f` sees each.
fn boxes(caps: &Counts, ok: &dyn Fn(&Counts) -> bool, f: &mut dyn FnMut(&Counts)) {
    fn go(
        g: usize,
        k: &mut Counts,
        caps: &Counts,
        ok: &dyn Fn(&Counts) -> bool,
        f: &mut dyn FnMut(&Counts),
    ) {
        if g == MAX_GROUPS {
            f(k);
            return;
        }
        for kg in 0..=caps[g] {
            k[g] = kg;
            if !ok(k) {
                break;
            }
            go(g + 1, k, caps, ok, f);
        }
        k[g] = 0;
    }
    go(0, &mut [0; MAX_GROUPS], caps, ok, f);
}

/// A split of `want` aligned pods per group over NUMA nodes `zones` (NUMA-local resources
/// only), one count vector per NUMA node.
fn split(zones: &[Vec<i64>], local: &[bool], req: &[&[i64]], want: &Counts) -> Option<Vec<Counts>> {
    let (zone, rest) = zones.split_first()?;
    if rest.is_empty() {
        return fits(zone, req, want, |r| local[r]).then(|| vec![*want]);
    }
    let mut found = None;
    boxes(want, &|x| fits(zone, req, x, |r| local[r]), &mut |x| {
        if found.is_none() {
            let left: Counts = std::array::from_fn(|g| want[g] - x[g]);
            if let Some(mut more) = split(rest, local, req, &left) {
                more.insert(0, *x);
                found = Some(more);
            }
        }
    });
    found
}

/// The loads node `n` can take, at most `caps` pods per group.
fn loads(c: &Cluster, gang: &GangSpec, n: usize, caps: &Counts) -> Vec<Load> {
    let free = c.free_of(n);
    let zones: Vec<Vec<i64>> = c.numa_free_of(n).map(<[i64]>::to_vec).collect();
    let local: Vec<bool> = (0..free.len()).map(|r| c.numa_local(n, r)).collect();
    let req: Vec<&[i64]> = (0..MAX_GROUPS)
        .map(|g| gang.groups.get(g).map_or(&[][..], |g| g.request.as_slice()))
        .collect();
    let al: [bool; MAX_GROUPS] =
        std::array::from_fn(|g| gang.groups.get(g).is_some_and(|g| aligned(c, n, g)));
    let mut out = Vec::new();
    boxes(caps, &|k| fits(free, &req, k, |_| true), &mut |k| {
        let want: Counts = std::array::from_fn(|g| if al[g] { k[g] } else { 0 });
        let zones = if want.iter().all(|&w| w == 0) {
            Some(vec![[0; MAX_GROUPS]; zones.len()])
        } else {
            split(&zones, &local, &req, &want)
        };
        if let Some(zones) = zones {
            out.push(Load { k: *k, zones });
        }
    });
    out
}

struct Search<'a> {
    c: &'a Cluster,
    gang: &'a GangSpec,
    /// `(group, slice size, slice level)` per layer.
    layers: Vec<(usize, usize, usize)>,
    order: Vec<usize>,
    loads: Vec<Vec<Load>>,
    /// Per position: the most pods of each group the nodes from there on hold.
    suffix: Vec<Counts>,
    count: Counts,
    failed: BTreeSet<(usize, Counts, Residues)>,
    /// The witness, deepest first: (position, load index).
    path: Vec<(usize, usize)>,
}

impl Search<'_> {
    /// Whether nodes `order[i..]` finish the gang with `rem` pods left and `res` pods (mod
    /// slice size) in each slice layer's open domain.
    fn go(&mut self, i: usize, rem: Counts, mut res: Residues) -> bool {
        let end = i == self.order.len();
        let crossed = |l: usize| {
            end || i > 0
                && self.c.domain_of[l][self.order[i]] != self.c.domain_of[l][self.order[i - 1]]
        };
        for (g, group) in self.gang.groups.iter().enumerate() {
            if let Some(l) = group.required_level {
                if crossed(l) && rem[g] > 0 && rem[g] < self.count[g] {
                    return false;
                }
            }
            if !end && self.suffix[i][g] < rem[g] {
                return false;
            }
        }
        for (j, &(_, _, l)) in self.layers.iter().enumerate() {
            if crossed(l) {
                if res[j] != 0 {
                    return false;
                }
                res[j] = 0;
            }
        }
        if end {
            return rem.iter().all(|&r| r == 0);
        }
        if self.failed.contains(&(i, rem, res)) {
            return false;
        }
        for li in 0..self.loads[i].len() {
            let k = self.loads[i][li].k;
            if (0..MAX_GROUPS).any(|g| k[g] > rem[g]) {
                continue;
            }
            let next_rem: Counts = std::array::from_fn(|g| rem[g] - k[g]);
            let next_res: Residues = std::array::from_fn(|j| {
                self.layers
                    .get(j)
                    .map_or(0, |&(g, s, _)| (res[j] + k[g]) % s.max(1))
            });
            if self.go(i + 1, next_rem, next_res) {
                self.path.push((i, li));
                return true;
            }
        }
        self.failed.insert((i, rem, res));
        false
    }

    /// The witness as pods: ranks handed out in node order, so slices follow domains.
    fn pods(&self) -> Vec<PodPlacement> {
        let mut next = [0usize; MAX_GROUPS];
        let mut out = Vec::new();
        for &(i, li) in self.path.iter().rev() {
            let n = self.order[i];
            let load = &self.loads[i][li];
            for (g, group) in self.gang.groups.iter().enumerate() {
                let mut put = |numa: Option<usize>, k: usize| {
                    for _ in 0..k {
                        out.push(PodPlacement {
                            group: g,
                            index: next[g],
                            node: n,
                            numa,
                        });
                        next[g] += 1;
                    }
                };
                if aligned(self.c, n, group) {
                    for (z, x) in load.zones.iter().enumerate() {
                        put(Some(z), x[g]);
                    }
                } else {
                    put(None, load.k[g]);
                }
            }
        }
        out
    }
}

/// Nodes in domain-tree order: by domain at each level, outermost first, then by index.
/// Panics when some domain is not a run of consecutive nodes in that order (a tree deeper
/// than the search assumes).
fn tree_order(c: &Cluster) -> Vec<usize> {
    let mut order: Vec<usize> = (0..c.nodes.len()).collect();
    order.sort_by_key(|&n| (c.domain_of.iter().map(|of| of[n]).collect::<Vec<u32>>(), n));
    for of in &c.domain_of {
        let mut closed = BTreeSet::new();
        for w in order.windows(2) {
            let (a, b) = (of[w[0]], of[w[1]]);
            if a != b {
                closed.insert(a);
                assert!(
                    b == NO_DOMAIN || !closed.contains(&b),
                    "domain {b} is not contiguous in tree order"
                );
            }
        }
    }
    order
}

/// An all-or-nothing placement of `gang` (slice layers `slices`) on `c` under the
/// constraints above, or `None` when there is none. Gangs of more than [`MAX_GROUPS`] groups
/// or [`MAX_LAYERS`] slice layers are refused (panic).
pub(crate) fn exact(c: &Cluster, gang: &GangSpec, slices: &Slices) -> Option<Vec<PodPlacement>> {
    assert!(
        gang.groups.len() <= MAX_GROUPS,
        "at most {MAX_GROUPS} groups"
    );
    let layers: Vec<(usize, usize, usize)> = slices
        .iter()
        .enumerate()
        .flat_map(|(g, ls)| ls.iter().map(move |&(s, l)| (g, s, l)))
        .collect();
    assert!(
        layers.len() <= MAX_LAYERS,
        "at most {MAX_LAYERS} slice layers"
    );
    if gang.groups.iter().any(|g| g.missing_resource.is_some()) {
        return None;
    }
    let order = tree_order(c);
    let count: Counts = std::array::from_fn(|g| gang.groups.get(g).map_or(0, |g| g.count));
    let loads: Vec<Vec<Load>> = order
        .iter()
        .map(|&n| {
            let caps: Counts = std::array::from_fn(|g| match gang.groups.get(g) {
                None => 0,
                Some(gr) => {
                    let in_domain = |l: usize| c.domain_of[l][n] != NO_DOMAIN;
                    if gr.required_level.is_none_or(in_domain)
                        && slices[g].iter().all(|&(_, l)| in_domain(l))
                    {
                        gr.count
                    } else {
                        0
                    }
                }
            });
            loads(c, gang, n, &caps)
        })
        .collect();
    let mut suffix = vec![[0; MAX_GROUPS]; order.len() + 1];
    for i in (0..order.len()).rev() {
        suffix[i] = std::array::from_fn(|g| {
            suffix[i + 1][g] + loads[i].iter().map(|l| l.k[g]).max().unwrap_or(0)
        });
    }
    let mut s = Search {
        c,
        gang,
        layers,
        order,
        loads,
        suffix,
        count,
        failed: BTreeSet::new(),
        path: Vec::new(),
    };
    s.go(0, count, [0; MAX_LAYERS]).then(|| s.pods())
}

/// Whether some assignment of every pod, rank by rank, to a node and NUMA node (or none)
/// passes [`invalid`]: plain enumeration, pruned only by capacity.
pub(crate) fn enumerate(c: &Cluster, gang: &GangSpec, slices: &Slices) -> bool {
    fn go(
        c: &Cluster,
        gang: &GangSpec,
        slices: &Slices,
        left: &[(usize, usize)],
        pods: &mut Vec<PodPlacement>,
        free: &mut [(Vec<i64>, Vec<Vec<i64>>)],
    ) -> bool {
        let Some((&(group, index), rest)) = left.split_first() else {
            return invalid(c, gang, slices, pods, None).is_none();
        };
        let req = &gang.groups[group].request;
        for node in 0..c.nodes.len() {
            let zones = free[node].1.len();
            for numa in std::iter::once(None).chain((0..zones).map(Some)) {
                let take = |f: &mut (Vec<i64>, Vec<Vec<i64>>), sign: i64| {
                    for (r, &q) in req.iter().enumerate() {
                        f.0[r] -= sign * q;
                        if let Some(z) = numa {
                            if c.numa_local(node, r) {
                                f.1[z][r] -= sign * q;
                            }
                        }
                    }
                };
                take(&mut free[node], 1);
                let fits = free[node].0.iter().all(|&v| v >= 0)
                    && free[node].1.iter().flatten().all(|&v| v >= 0);
                pods.push(PodPlacement {
                    group,
                    index,
                    node,
                    numa,
                });
                let found = fits && go(c, gang, slices, rest, pods, free);
                pods.pop();
                take(&mut free[node], -1);
                if found {
                    return true;
                }
            }
        }
        false
    }
    let left: Vec<(usize, usize)> = gang
        .groups
        .iter()
        .enumerate()
        .flat_map(|(g, gr)| (0..gr.count).map(move |i| (g, i)))
        .collect();
    let mut free: Vec<(Vec<i64>, Vec<Vec<i64>>)> = (0..c.nodes.len())
        .map(|n| {
            (
                c.free_of(n).to_vec(),
                c.numa_free_of(n).map(<[i64]>::to_vec).collect(),
            )
        })
        .collect();
    go(c, gang, slices, &left, &mut Vec::new(), &mut free)
}
