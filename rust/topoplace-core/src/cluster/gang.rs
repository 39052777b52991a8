//! A gang: pod groups placed all or nothing, and what a placement is.

use super::model::Taint;

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
    /// `(slice_size, slice_level)`: each run of `slice_size` consecutive pods inside one
    /// domain of `slice_level`.
    pub slice: Option<(usize, usize)>,
    pub node_selector: Vec<(String, String)>,
    pub tolerations: Vec<Toleration>,
    /// A resource the request names that no node of the cluster has.
    pub missing_resource: Option<String>,
}

/// Pod groups placed all or nothing, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GangSpec {
    pub name: String,
    pub groups: Vec<GroupSpec>,
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
    pub pods: Vec<PodPlacement>,
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
