//! Synthetic and built-in machines. PLACEHOLDER: being written.

use crate::error::Result;
use crate::topology::{Topology, TopologyParts};

/// The shape of a generated machine.
#[derive(Debug, Clone, Default)]
pub struct SyntheticSpec {
    /// Packages.
    pub sockets: u32,
    /// NUMA nodes per package.
    pub numa_per_socket: u32,
    /// Cores per NUMA node.
    pub cores_per_numa: u32,
    /// Threads per core (0 is read as 1).
    pub threads_per_core: u32,
}

impl SyntheticSpec {
    /// Builds the machine.
    ///
    /// # Errors
    /// When the spec is inconsistent.
    pub fn build(&self) -> Result<Topology> {
        TopologyParts::default().build("synthetic")
    }
}
