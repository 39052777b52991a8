//! The topology of one machine: an immutable, validated model built from any source.
//!
//! Build one with a parser ([`crate::parse`]), the synthetic builder ([`crate::synthetic`]) or
//! by filling [`TopologyParts`] and calling [`TopologyParts::build`].

mod build;
mod cpuset;
mod graph;
mod model;
mod paths;
mod render;
mod summary;

pub use build::{MAX_NODE_MEMORY, MAX_NUMA_NODES, MAX_PCI_NODES, TopologyParts, to_u32};
pub use cpuset::{CpuSet, MAX_CPU_ID};
pub use graph::{Edge, Vertex};
pub use model::{
    Cache, Core, Cpu, Device, DeviceKind, Distances, Group, GroupKind, Link, LinkClass, MemoryKind,
    NumaNode, Package, PciKind, PciNode,
};
pub use render::human_bytes;
pub use summary::Summary;

use crate::error::{Error, Location, Result};

/// One machine. Immutable once built; cheap to share behind an `Arc`.
///
/// ```
/// use topoplace_core::synthetic::SyntheticSpec;
/// let topo = SyntheticSpec { sockets: 2, numa_per_socket: 2, cores_per_numa: 8, ..Default::default() }
///     .build()
///     .unwrap();
/// assert_eq!(topo.numa_nodes().len(), 4);
/// assert_eq!(topo.summary().cpus, 32);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    parts: TopologyParts,
    /// `numa_by_cpu[os_index]` = dense NUMA index of the CPU's core, or `u32::MAX`.
    numa_by_cpu: Vec<u32>,
}

impl Topology {
    fn from_parts(parts: TopologyParts) -> Self {
        let len = parts.cpus.last().map_or(0, |c| c.os_index as usize + 1);
        let mut numa_by_cpu = vec![u32::MAX; len];
        for cpu in &parts.cpus {
            if let Some(numa) = cpu.core.and_then(|c| parts.cores[c as usize].numa) {
                numa_by_cpu[cpu.os_index as usize] = numa;
            }
        }
        Self { parts, numa_by_cpu }
    }

    /// The parts this topology was built from (for serialisation and re-building).
    #[must_use]
    pub fn parts(&self) -> &TopologyParts {
        &self.parts
    }

    /// A short name for the machine.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.parts.name
    }

    /// What the topology was read from.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.parts.source
    }

    /// Replaces the source label (used by built-in machines).
    pub fn set_source(&mut self, source: &str) {
        source.clone_into(&mut self.parts.source);
    }

    /// Packages (sockets), in dense order.
    #[must_use]
    pub fn packages(&self) -> &[Package] {
        &self.parts.packages
    }

    /// Dies, clusters and groups.
    #[must_use]
    pub fn groups(&self) -> &[Group] {
        &self.parts.groups
    }

    /// NUMA nodes, in dense order.
    #[must_use]
    pub fn numa_nodes(&self) -> &[NumaNode] {
        &self.parts.numa_nodes
    }

    /// Last-level caches.
    #[must_use]
    pub fn caches(&self) -> &[Cache] {
        &self.parts.caches
    }

    /// Cores.
    #[must_use]
    pub fn cores(&self) -> &[Core] {
        &self.parts.cores
    }

    /// Logical CPUs sorted by OS index.
    #[must_use]
    pub fn cpus(&self) -> &[Cpu] {
        &self.parts.cpus
    }

    /// The NUMA distance matrix, if the source had one.
    #[must_use]
    pub fn distances(&self) -> Option<&Distances> {
        self.parts.distances.as_ref()
    }

    /// The PCI tree.
    #[must_use]
    pub fn pci(&self) -> &[PciNode] {
        &self.parts.pci
    }

    /// Devices (GPUs, NICs, ...).
    #[must_use]
    pub fn devices(&self) -> &[Device] {
        &self.parts.devices
    }

    /// Links stated by the source.
    #[must_use]
    pub fn links(&self) -> &[Link] {
        &self.parts.links
    }

    /// Dense indexes of devices of `kind`, in order.
    pub fn devices_of(&self, kind: DeviceKind) -> impl Iterator<Item = u32> + '_ {
        self.parts
            .devices
            .iter()
            .enumerate()
            .filter(move |(_, d)| d.kind == kind)
            .map(|(i, _)| to_u32(i))
    }

    /// The CPU with OS index `os_index`.
    #[must_use]
    pub fn cpu(&self, os_index: u32) -> Option<&Cpu> {
        self.parts
            .cpus
            .binary_search_by_key(&os_index, |c| c.os_index)
            .ok()
            .map(|i| &self.parts.cpus[i])
    }

    /// Dense index of the NUMA node local to CPU `os_index`.
    #[must_use]
    pub fn numa_of_cpu(&self, os_index: u32) -> Option<u32> {
        self.numa_by_cpu
            .get(os_index as usize)
            .copied()
            .filter(|&n| n != u32::MAX)
    }

    /// Dense index of the NUMA node with OS number `os_index`.
    #[must_use]
    pub fn numa_by_os(&self, os_index: u32) -> Option<u32> {
        self.parts.numa_by_os(os_index)
    }

    /// Every CPU the source lists, online or not.
    #[must_use]
    pub fn all_cpus(&self) -> CpuSet {
        self.parts.cpus.iter().map(|c| c.os_index).collect()
    }

    /// CPUs that are online and allowed: the ones work can be placed on.
    #[must_use]
    pub fn usable_cpus(&self) -> CpuSet {
        self.parts
            .cpus
            .iter()
            .filter(|c| c.online && c.allowed && c.core.is_some())
            .map(|c| c.os_index)
            .collect()
    }

    /// Serialises to topoplace's JSON schema (see `docs/topology-json.md`).
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.parts).unwrap_or_default()
    }

    /// Serialises to indented JSON.
    #[must_use]
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.parts).unwrap_or_default()
    }

    /// Parses topoplace's JSON schema and validates it like any other source.
    ///
    /// # Errors
    /// [`Error::Topology`] naming `source`, the line and the field for malformed JSON, and the
    /// object for an inconsistent model.
    pub fn from_json(text: &str, source: &str) -> Result<Self> {
        let parts: TopologyParts = serde_json::from_str(text).map_err(|e| {
            Error::topology(
                Location::source(source).at_line(e.line()),
                format!("invalid topology JSON: {e}"),
            )
        })?;
        parts.build(source)
    }
}
