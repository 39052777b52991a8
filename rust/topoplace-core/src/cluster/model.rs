//! The cluster snapshot: nodes with capacities (per node, and per NUMA node when known), what
//! is used, labels, and the domain tree built from label levels; free capacity kept per node,
//! per NUMA node and aggregated per domain, updated incrementally on every commit and release.
//!
//! Amounts are integers per resource: `cpu` in millicores, `memory` and every other resource
//! in units (bytes for memory). Resources are interned once: `cpu` is 0, `memory` 1, the rest
//! in first-seen order.

use crate::error::{Error, Result};
use crate::node::allocator::NodeAllocator;

/// No domain: the node lacks the level's label.
pub const NO_DOMAIN: u32 = u32::MAX;

/// The resource names of a cluster, interned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    names: Vec<String>,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            names: vec!["cpu".to_owned(), "memory".to_owned()],
        }
    }
}

impl Resources {
    /// The index of `name`, added if new.
    pub fn intern(&mut self, name: &str) -> usize {
        self.index(name).unwrap_or_else(|| {
            self.names.push(name.to_owned());
            self.names.len() - 1
        })
    }

    /// The index of `name`, if known.
    #[must_use]
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The name of resource `r`.
    #[must_use]
    pub fn name(&self, r: usize) -> &str {
        &self.names[r]
    }

    /// How many resources.
    #[must_use]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Never empty (`cpu` and `memory` are always there).
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        false
    }
}

/// A node taint (`NoSchedule` and `NoExecute` keep pods without a toleration away).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

/// One node as given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSpec {
    pub name: String,
    pub labels: Vec<(String, String)>,
    /// Allocatable amount per resource index (missing resources are 0).
    pub capacity: Vec<i64>,
    pub used: Vec<i64>,
    /// Per NUMA node: allocatable and used per resource index; a resource all zero across
    /// the NUMA nodes is not NUMA-local (only the node total bounds it).
    pub numa: Vec<Vec<i64>>,
    pub numa_used: Vec<Vec<i64>>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    /// The node's Topology Manager policy is `single-numa-node`: each pod's NUMA-local
    /// resources must come from one NUMA node (unless the group says otherwise).
    pub single_numa: bool,
}

/// The snapshot.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub resources: Resources,
    /// Label keys, outermost first.
    pub levels: Vec<String>,
    pub nodes: Vec<NodeSpec>,
    /// `free[n * R + r]`.
    pub(super) free: Vec<i64>,
    /// Per node, its first NUMA slot in `numa_free` and how many it has.
    pub(super) numa_slots: Vec<(usize, usize)>,
    /// `numa_free[(slot) * R + r]`.
    pub(super) numa_free: Vec<i64>,
    /// Per node, per resource: whether the resource is NUMA-local on that node.
    pub(super) numa_local: Vec<bool>,
    /// Per level: each node's domain id.
    pub domain_of: Vec<Vec<u32>>,
    /// Per level: domain names (the label value).
    pub domain_names: Vec<Vec<String>>,
    /// Per level: each domain's parent, the domain of the nearest level above that its nodes
    /// have (`NO_DOMAIN` when none).
    pub parent: Vec<Vec<u32>>,
    /// Per level: free capacity summed over each domain's nodes, `agg[l][d * R + r]`.
    agg: Vec<Vec<i64>>,
    /// Per level: each domain's nodes, in node order.
    pub members: Vec<Vec<Vec<usize>>>,
    /// Per node, the allocator of its machine when it carries a Topology
    /// ([`Self::attach_allocator`]).
    pub(super) allocators: Vec<Option<NodeAllocator>>,
}

impl Cluster {
    /// Builds the snapshot. Each node's vectors are padded to every resource.
    ///
    /// # Errors
    /// [`Error::Value`] naming the node when a node name repeats, an amount is negative, or
    /// more is used than allocatable.
    pub fn new(
        resources: Resources,
        levels: Vec<String>,
        mut nodes: Vec<NodeSpec>,
    ) -> Result<Self> {
        let nr = resources.len();
        let mut names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::Value(format!(
                "cluster: node {} appears twice",
                w[0]
            )));
        }
        let mut free = Vec::with_capacity(nodes.len() * nr);
        let mut numa_slots = Vec::with_capacity(nodes.len());
        let mut numa_free = Vec::new();
        let mut numa_local = Vec::with_capacity(nodes.len() * nr);
        for node in &mut nodes {
            node.capacity.resize(nr, 0);
            node.used.resize(nr, 0);
            for v in &mut node.numa {
                v.resize(nr, 0);
            }
            node.numa_used.resize(node.numa.len(), Vec::new());
            for v in &mut node.numa_used {
                v.resize(nr, 0);
            }
            for r in 0..nr {
                let (cap, used) = (node.capacity[r], node.used[r]);
                if cap < 0 || used < 0 || used > cap {
                    return Err(Error::Value(format!(
                        "cluster: node {}: {}: {used} used of {cap} allocatable",
                        node.name,
                        resources.name(r)
                    )));
                }
                free.push(cap - used);
                numa_local.push(node.numa.iter().any(|z| z[r] > 0));
            }
            numa_slots.push((numa_free.len() / nr.max(1), node.numa.len()));
            for (z, used) in node.numa.iter().zip(&node.numa_used) {
                for r in 0..nr {
                    if used[r] < 0 || used[r] > z[r] {
                        return Err(Error::Value(format!(
                            "cluster: node {}: NUMA {}: {} used of {} allocatable",
                            node.name,
                            resources.name(r),
                            used[r],
                            z[r]
                        )));
                    }
                    numa_free.push(z[r] - used[r]);
                }
            }
        }
        let (domain_of, domain_names, parent) = domains(&levels, &nodes);
        let mut c = Self {
            resources,
            levels,
            nodes,
            free,
            numa_slots,
            numa_free,
            numa_local,
            domain_of,
            domain_names,
            parent,
            agg: Vec::new(),
            members: Vec::new(),
            allocators: Vec::new(),
        };
        c.allocators = vec![None; c.nodes.len()];
        c.members = (0..c.levels.len())
            .map(|l| {
                let mut m = vec![Vec::new(); c.domain_names[l].len()];
                for (n, &d) in c.domain_of[l].iter().enumerate() {
                    if d != NO_DOMAIN {
                        m[d as usize].push(n);
                    }
                }
                m
            })
            .collect();
        c.agg = (0..c.levels.len())
            .map(|l| {
                let mut a = vec![0; c.domain_names[l].len() * nr];
                for (n, &d) in c.domain_of[l].iter().enumerate() {
                    if d != NO_DOMAIN {
                        for r in 0..nr {
                            a[d as usize * nr + r] += c.free[n * nr + r];
                        }
                    }
                }
                a
            })
            .collect();
        Ok(c)
    }

    /// Free amount of resource `r` on node `n`.
    #[must_use]
    pub fn free(&self, n: usize, r: usize) -> i64 {
        self.free[n * self.resources.len() + r]
    }

    /// Free amounts on node `n`.
    #[must_use]
    pub fn free_of(&self, n: usize) -> &[i64] {
        let nr = self.resources.len();
        &self.free[n * nr..(n + 1) * nr]
    }

    /// Free amounts per NUMA node of node `n` (empty when not known).
    pub fn numa_free_of(&self, n: usize) -> impl Iterator<Item = &[i64]> {
        let nr = self.resources.len();
        let (first, count) = self.numa_slots[n];
        (first..first + count).map(move |s| &self.numa_free[s * nr..(s + 1) * nr])
    }

    /// Whether resource `r` is NUMA-local on node `n`.
    #[must_use]
    pub fn numa_local(&self, n: usize, r: usize) -> bool {
        self.numa_local[n * self.resources.len() + r]
    }

    /// Free amount of resource `r` summed over domain `d` of level `l`.
    #[must_use]
    pub fn domain_free(&self, l: usize, d: usize, r: usize) -> i64 {
        self.agg[l][d * self.resources.len() + r]
    }

    /// How much is left entirely free: the nodes with nothing taken, and per level the
    /// domains whose every node has nothing taken (what a whole-node or whole-rack job needs).
    #[must_use]
    pub fn whole_free(&self) -> (usize, Vec<usize>) {
        let nr = self.resources.len();
        let whole: Vec<bool> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(n, node)| self.free[n * nr..(n + 1) * nr] == node.capacity[..nr])
            .collect();
        let per_level = self
            .members
            .iter()
            .map(|doms| doms.iter().filter(|m| m.iter().all(|&n| whole[n])).count())
            .collect();
        (whole.iter().filter(|&&w| w).count(), per_level)
    }

    /// Takes (`sign` 1) or gives back (`sign` -1) `amount` on node `n`, NUMA node `zone`
    /// when given, keeping every aggregate in step.
    pub(crate) fn apply(&mut self, n: usize, zone: Option<usize>, amount: &[i64], sign: i64) {
        let nr = self.resources.len();
        for (r, &a) in amount.iter().enumerate().take(nr) {
            let delta = sign * a;
            self.free[n * nr + r] -= delta;
            if let Some(z) = zone {
                let (first, count) = self.numa_slots[n];
                if z < count && self.numa_local[n * nr + r] {
                    self.numa_free[(first + z) * nr + r] -= delta;
                }
            }
            for l in 0..self.levels.len() {
                let d = self.domain_of[l][n];
                if d != NO_DOMAIN {
                    self.agg[l][d as usize * nr + r] -= delta;
                }
            }
        }
    }
}

type DomainTables = (Vec<Vec<u32>>, Vec<Vec<String>>, Vec<Vec<u32>>);

/// Per level, each node's domain: nodes with the same label value *under the same parent*
/// share a domain (so two racks named `r1` in different blocks stay apart).
fn domains(levels: &[String], nodes: &[NodeSpec]) -> DomainTables {
    let mut domain_of: Vec<Vec<u32>> = Vec::with_capacity(levels.len());
    let mut names = Vec::with_capacity(levels.len());
    let mut parents = Vec::with_capacity(levels.len());
    for (l, key) in levels.iter().enumerate() {
        let mut index: std::collections::BTreeMap<(u32, u32, &str), u32> = Default::default();
        let mut level_names = Vec::new();
        let mut level_parent = Vec::new();
        let mut of = Vec::with_capacity(nodes.len());
        for (n, node) in nodes.iter().enumerate() {
            // The nearest level above with a domain for this node (uneven trees skip levels).
            let (above, parent) = (0..l)
                .rev()
                .map(|a| (a, domain_of[a][n]))
                .find(|&(_, d)| d != NO_DOMAIN)
                .map_or((u32::MAX, NO_DOMAIN), |(a, d)| {
                    (u32::try_from(a).unwrap_or(0), d)
                });
            let value = node
                .labels
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str());
            let Some(value) = value else {
                of.push(NO_DOMAIN);
                continue;
            };
            let next = u32::try_from(level_names.len()).unwrap_or(NO_DOMAIN);
            let d = *index.entry((above, parent, value)).or_insert_with(|| {
                level_names.push(value.to_owned());
                level_parent.push(parent);
                next
            });
            of.push(d);
        }
        domain_of.push(of);
        names.push(level_names);
        parents.push(level_parent);
    }
    (domain_of, names, parents)
}
