//! Counts of a topology, as `topoplace show --format json` reports them.

use serde::{Deserialize, Serialize};

use super::Topology;
use super::model::DeviceKind;

/// The headline counts of a machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Packages (sockets).
    pub packages: usize,
    /// NUMA nodes of every memory kind.
    pub numa_nodes: usize,
    /// Cores.
    pub cores: usize,
    /// Logical CPUs whose place in the tree the source gives (hwloc `PU` objects, sysfs CPUs with
    /// a topology directory), online or not.
    pub cpus: usize,
    /// Of all CPUs listed (including those known only from an offline mask), how many are online.
    pub cpus_online: usize,
    /// How many listed CPUs are offline.
    pub cpus_offline: usize,
    /// How many listed CPUs are online and allowed.
    pub cpus_allowed: usize,
    /// GPUs and other accelerators.
    pub gpus: usize,
    /// Network interfaces.
    pub nics: usize,
    /// Total memory of all NUMA nodes, in bytes.
    pub memory_bytes: u64,
    /// Whether a NUMA distance matrix is present.
    pub has_distances: bool,
}

impl Topology {
    /// The headline counts.
    #[must_use]
    pub fn summary(&self) -> Summary {
        let cpus = self.cpus();
        let count = |kind| self.devices().iter().filter(|d| d.kind == kind).count();
        Summary {
            packages: self.packages().len(),
            numa_nodes: self.numa_nodes().len(),
            cores: self.cores().len(),
            cpus: cpus.iter().filter(|c| c.core.is_some()).count(),
            cpus_online: cpus.iter().filter(|c| c.online).count(),
            cpus_offline: cpus.iter().filter(|c| !c.online).count(),
            cpus_allowed: cpus.iter().filter(|c| c.online && c.allowed).count(),
            gpus: count(DeviceKind::Gpu),
            nics: count(DeviceKind::Nic),
            memory_bytes: self.numa_nodes().iter().map(|n| n.memory_bytes).sum(),
            has_distances: self.distances().is_some(),
        }
    }
}
