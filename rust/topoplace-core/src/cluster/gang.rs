//! A gang: pod groups placed all or nothing, and what a placement is.

use super::model::Taint;
use crate::node::allocator::Grant;

/// A toleration (`Exists`, or `Equal` with a value; an empty key with `Exists` tolerates
/// every taint; no effect means every effect).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Toleration {
    pub key: String,
    pub exists: bool,
    pub value: String,
    pub effect: Option<String>,
}

impl Toleration {
    /// Whether this toleration covers `taint`.
    #[must_use]
    pub fn tolerates(&self, taint: &Taint) -> bool {
        (self.key.is_empty() && self.exists || self.key == taint.key)
            && (self.exists || self.value == taint.value)
            && self.effect.as_ref().is_none_or(|e| *e == taint.effect)
    }
}

/// Identical pods placed together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupSpec {
    pub name: String,
    pub count: usize,
    /// The fewest pods that still make the group (Kubernetes' `minCount`); `count` by default.
    pub min_count: usize,
    /// Per resource index, what one pod requests.
    pub request: Vec<i64>,
    /// Each pod's NUMA-local resources must come from one NUMA node: `Some(true)` always,
    /// `Some(false)` never, `None` where the node's Topology Manager policy is
    /// `single-numa-node` (as its kubelet would require).
    pub numa_aligned: Option<bool>,
    /// Every pod inside one domain of this level.
    pub required_level: Option<usize>,
    /// As few domains of this level as possible.
    pub preferred_level: Option<usize>,
    /// `(slice_size, slice_level)` layers, outermost first: each run of `slice_size`
    /// consecutive pods inside one domain of `slice_level`. Sizes nest (an outer size is a
    /// multiple of the inner ones) and divide `count`.
    pub slices: Vec<(usize, usize)>,
    pub node_selector: Vec<(String, String)>,
    pub tolerations: Vec<Toleration>,
    /// A resource the request names that no node of the cluster has.
    pub missing_resource: Option<String>,
}

/// How a group's domains and nodes are chosen among those that hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Kueue TAS's choice: the tightest required domain; at each level below, the fewest
    /// domains, largest first, the last the tightest that holds the rest.
    #[default]
    Tight,
    /// Least fragmentation: the required domain and, at each level below, the domains and
    /// nodes that leave the most entirely free racks and nodes (partly used ones first, each
    /// run by best fit; among required domains, the one that breaks the fewest whole ones).
    Pack,
    /// Spread: the required domain with the most room, and pods spread as evenly as the
    /// capacities allow over the domains and nodes below (each keeps the most headroom).
    Balanced,
}

impl Strategy {
    /// The strategy named `tight`, `pack` or `balanced`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "tight" => Some(Self::Tight),
            "pack" => Some(Self::Pack),
            "balanced" => Some(Self::Balanced),
            _ => None,
        }
    }

    /// The strategy's name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Tight => "tight",
            Self::Pack => "pack",
            Self::Balanced => "balanced",
        }
    }
}

/// Pod groups placed all or nothing, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GangSpec {
    pub name: String,
    pub groups: Vec<GroupSpec>,
    pub strategy: Strategy,
}

/// Where one pod goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodPlacement {
    /// The group's index in the gang.
    pub group: usize,
    /// The pod's index in its group (its rank).
    pub index: usize,
    /// The node's index in the cluster.
    pub node: usize,
    /// The NUMA node its NUMA-local resources come from, when aligned.
    pub numa: Option<usize>,
}

/// A whole gang's placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub gang: String,
    /// A process-wide id: the pods' grants are held under it on commit.
    pub id: u64,
    pub pods: Vec<PodPlacement>,
    /// Per pod (as `pods`), its node allocator's grant (CPUs, memory per NUMA node, GPUs)
    /// when its node carries a Topology; empty when no pod's node does.
    pub grants: Vec<Option<Grant>>,
    /// Per group, the domain of its required level it went to (`(level, domain)`).
    pub domains: Vec<Option<(usize, usize)>>,
}

/// What [`super::Cluster::place`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceOutcome {
    Placed(Placement),
    /// The gang cannot start: one reason per line, with counts.
    Unschedulable(Vec<String>),
}
