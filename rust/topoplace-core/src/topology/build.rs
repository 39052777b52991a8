//! `TopologyParts`: the mutable form every parser fills in, and the validation that turns it
//! into an immutable [`Topology`]. All sources go through [`TopologyParts::build`], so every
//! invariant is checked in one place whatever the input format.

use serde::{Deserialize, Serialize};

use super::Topology;
use super::cpuset::{CpuSet, MAX_CPU_ID};
use super::model::{
    Cache, Core, Cpu, Device, Distances, Group, Link, MemoryKind, NumaNode, Package, PciNode,
};
use crate::error::{Error, Location, Result};

/// Largest number of NUMA nodes accepted (Linux `MAX_NUMNODES` is 1,024 with
/// `CONFIG_NODES_SHIFT=10`; we allow 4x that for synthetic what-if machines).
pub const MAX_NUMA_NODES: usize = 4096;
/// Largest number of PCI nodes or devices accepted.
pub const MAX_PCI_NODES: usize = 1 << 16;
/// Largest memory size accepted for one NUMA node (1 EiB).
pub const MAX_NODE_MEMORY: u64 = 1 << 60;

/// The parts of a topology before validation. Parsers fill these fields with dense indexes
/// (see [`super::model`]) and call [`TopologyParts::build`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologyParts {
    /// A short name for the machine (file stem, `builtin:` name, host name).
    #[serde(default)]
    pub name: String,
    /// What the topology was read from (`"hwloc-xml-2.0"`, `"sysfs"`, `"nvidia-smi"`...).
    #[serde(default)]
    pub source: String,
    /// Packages (sockets).
    #[serde(default)]
    pub packages: Vec<Package>,
    /// Dies, clusters and other groups.
    #[serde(default)]
    pub groups: Vec<Group>,
    /// NUMA nodes.
    #[serde(default)]
    pub numa_nodes: Vec<NumaNode>,
    /// Last-level caches.
    #[serde(default)]
    pub caches: Vec<Cache>,
    /// Cores.
    #[serde(default)]
    pub cores: Vec<Core>,
    /// Logical CPUs, in any order; the built topology sorts them by OS index.
    #[serde(default)]
    pub cpus: Vec<Cpu>,
    /// NUMA distances over `numa_nodes`, if the source has them.
    #[serde(default)]
    pub distances: Option<Distances>,
    /// The PCI tree (parents before children is not required).
    #[serde(default)]
    pub pci: Vec<PciNode>,
    /// Devices.
    #[serde(default)]
    pub devices: Vec<Device>,
    /// Links stated by the source.
    #[serde(default)]
    pub links: Vec<Link>,
}

impl TopologyParts {
    /// Dense index of the NUMA node with OS number `os_index`.
    #[must_use]
    pub fn numa_by_os(&self, os_index: u32) -> Option<u32> {
        self.numa_nodes
            .iter()
            .position(|n| n.os_index == os_index)
            .map(to_u32)
    }

    /// Validates the parts and builds the immutable topology. `source` names the input (a file
    /// name or label) for error messages.
    ///
    /// Derived fields are filled here: each core's `cpus`, each package's `cpus` when empty,
    /// each core's `numa` when unset, and the CPU list is sorted by OS index.
    ///
    /// # Errors
    /// [`Error::Topology`] naming `source` and the offending object and field.
    pub fn build(mut self, source: &str) -> Result<Topology> {
        let err = |object: String, message: String| {
            Error::topology(Location::source(source).object(object), message)
        };
        self.check_sizes(source)?;

        // CPUs: unique OS indexes, valid core references.
        self.cpus.sort_by_key(|c| c.os_index);
        for pair in self.cpus.windows(2) {
            if pair[0].os_index == pair[1].os_index {
                return Err(err(
                    format!("cpu {}", pair[0].os_index),
                    "CPU listed twice".to_owned(),
                ));
            }
        }
        for core in &mut self.cores {
            core.cpus = CpuSet::new();
        }
        for cpu in &self.cpus {
            if cpu.os_index >= MAX_CPU_ID {
                return Err(err(
                    format!("cpu {}", cpu.os_index),
                    "CPU id too large".into(),
                ));
            }
            if let Some(core) = cpu.core {
                let Some(c) = self.cores.get_mut(core as usize) else {
                    return Err(err(
                        format!("cpu {}.core", cpu.os_index),
                        format!("core {core} does not exist ({} cores)", self.cores.len()),
                    ));
                };
                c.cpus.insert(cpu.os_index);
            }
        }

        // Packages: given or derived CPU sets; disjoint; every core inside its own package.
        let npackages = self.packages.len();
        for (i, core) in self.cores.iter().enumerate() {
            if core.package as usize >= npackages {
                return Err(err(
                    format!("cores[{i}].package"),
                    format!(
                        "package {} does not exist ({npackages} packages)",
                        core.package
                    ),
                ));
            }
        }
        for p in 0..npackages {
            if self.packages[p].cpus.is_empty() {
                let mut cpus = CpuSet::new();
                for core in self.cores.iter().filter(|c| c.package as usize == p) {
                    cpus.union_with(&core.cpus);
                }
                self.packages[p].cpus = cpus;
            }
        }
        let mut seen = CpuSet::new();
        for (p, package) in self.packages.iter().enumerate() {
            if seen.intersects(&package.cpus) {
                let cpu = seen.intersection(&package.cpus).first().unwrap_or(0);
                return Err(err(
                    format!("packages[{p}] (os {}).cpus", package.os_index),
                    format!("CPU {cpu} is in two packages"),
                ));
            }
            seen.union_with(&package.cpus);
        }
        for (i, core) in self.cores.iter().enumerate() {
            let package = &self.packages[core.package as usize];
            if !core.cpus.is_subset(&package.cpus) {
                let other = core.cpus.difference(&package.cpus).first().unwrap_or(0);
                return Err(err(
                    format!("cores[{i}].cpus"),
                    format!(
                        "core spans two packages: CPU {other} is outside package {}",
                        package.os_index
                    ),
                ));
            }
        }

        self.check_numa(source)?;
        self.check_references(source)?;
        self.check_distances(source)?;
        Ok(Topology::from_parts(self))
    }

    fn check_sizes(&self, source: &str) -> Result<()> {
        let too_many = |what: &str, n: usize, max: usize| {
            Error::topology(
                Location::source(source).object(what.to_owned()),
                format!("{n} {what} is more than the supported {max}"),
            )
        };
        let max_cpus = MAX_CPU_ID as usize;
        if self.cpus.len() > max_cpus {
            return Err(too_many("cpus", self.cpus.len(), max_cpus));
        }
        if self.cores.len() > max_cpus {
            return Err(too_many("cores", self.cores.len(), max_cpus));
        }
        if self.packages.len() > max_cpus {
            return Err(too_many("packages", self.packages.len(), max_cpus));
        }
        if self.numa_nodes.len() > MAX_NUMA_NODES {
            return Err(too_many(
                "numa_nodes",
                self.numa_nodes.len(),
                MAX_NUMA_NODES,
            ));
        }
        if self.pci.len() > MAX_PCI_NODES {
            return Err(too_many("pci", self.pci.len(), MAX_PCI_NODES));
        }
        if self.devices.len() > MAX_PCI_NODES {
            return Err(too_many("devices", self.devices.len(), MAX_PCI_NODES));
        }
        Ok(())
    }

    fn check_numa(&mut self, source: &str) -> Result<()> {
        let err = |object: String, message: String| {
            Error::topology(Location::source(source).object(object), message)
        };
        let mut os_seen: Vec<u32> = self.numa_nodes.iter().map(|n| n.os_index).collect();
        os_seen.sort_unstable();
        if let Some(pair) = os_seen.windows(2).find(|p| p[0] == p[1]) {
            return Err(err(
                format!("numa node {}", pair[0]),
                "NUMA node listed twice".into(),
            ));
        }
        for (i, node) in self.numa_nodes.iter().enumerate() {
            if node.memory_bytes > MAX_NODE_MEMORY {
                return Err(err(
                    format!("numa_nodes[{i}] (os {}).memory_bytes", node.os_index),
                    format!("{} bytes is not a plausible memory size", node.memory_bytes),
                ));
            }
        }
        // A core's local node: the first normal-memory node whose locality holds the core;
        // CPU-less HBM / GPU-memory nodes share the locality of their DRAM neighbour and must
        // not capture the core.
        let nnuma = self.numa_nodes.len();
        for (i, core) in self.cores.iter_mut().enumerate() {
            match core.numa {
                Some(n) if n as usize >= nnuma => {
                    return Err(err(
                        format!("cores[{i}].numa"),
                        format!("NUMA node {n} does not exist ({nnuma} nodes)"),
                    ));
                }
                Some(_) => {}
                None if core.cpus.is_empty() => {}
                None => {
                    let pick = |normal: bool| {
                        self.numa_nodes.iter().position(|n| {
                            (!normal || matches!(n.kind, MemoryKind::Dram | MemoryKind::Unknown))
                                && core.cpus.is_subset(&n.cpus)
                        })
                    };
                    core.numa = pick(true).or_else(|| pick(false)).map(to_u32);
                }
            }
        }
        Ok(())
    }

    fn check_references(&self, source: &str) -> Result<()> {
        let err = |object: String, message: String| {
            Error::topology(Location::source(source).object(object), message)
        };
        let nnuma = self.numa_nodes.len();
        let ncache = self.caches.len();
        let ngroup = self.groups.len();
        for (i, core) in self.cores.iter().enumerate() {
            if let Some(c) = core.cache.filter(|&c| c as usize >= ncache) {
                return Err(err(
                    format!("cores[{i}].cache"),
                    format!("cache {c} does not exist"),
                ));
            }
            if let Some(g) = core.group.filter(|&g| g as usize >= ngroup) {
                return Err(err(
                    format!("cores[{i}].group"),
                    format!("group {g} does not exist"),
                ));
            }
        }
        let npci = self.pci.len();
        for (i, node) in self.pci.iter().enumerate() {
            if let Some(n) = node.numa.filter(|&n| n as usize >= nnuma) {
                return Err(err(
                    format!("pci {} ({}).numa", i, node.address),
                    format!("NUMA node {n} does not exist ({nnuma} nodes)"),
                ));
            }
            if let Some(p) = node.parent {
                if p as usize >= npci || p as usize == i {
                    return Err(err(
                        format!("pci {} ({}).parent", i, node.address),
                        format!("parent {p} does not exist"),
                    ));
                }
            }
        }
        // The parent chain must end: a cycle would hang every path query.
        for start in 0..npci {
            let mut at = start;
            let mut steps = 0;
            while let Some(p) = self.pci[at].parent {
                at = p as usize;
                steps += 1;
                if steps > npci {
                    return Err(err(
                        format!("pci {} ({}).parent", start, self.pci[start].address),
                        "the PCI parent chain has a cycle".into(),
                    ));
                }
            }
        }
        for (i, dev) in self.devices.iter().enumerate() {
            if let Some(n) = dev.numa.filter(|&n| n as usize >= nnuma) {
                return Err(err(
                    format!("devices[{i}] ({}).numa", dev.name),
                    format!("NUMA node {n} does not exist ({nnuma} nodes)"),
                ));
            }
            if let Some(p) = dev.pci.filter(|&p| p as usize >= npci) {
                return Err(err(
                    format!("devices[{i}] ({}).pci", dev.name),
                    format!("PCI node {p} does not exist"),
                ));
            }
        }
        let ndev = self.devices.len();
        for (i, link) in self.links.iter().enumerate() {
            if link.a as usize >= ndev || link.b as usize >= ndev || link.a == link.b {
                return Err(err(
                    format!("links[{i}]"),
                    format!(
                        "link {}-{} does not join two existing devices",
                        link.a, link.b
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_distances(&self, source: &str) -> Result<()> {
        let Some(d) = &self.distances else {
            return Ok(());
        };
        let err = |message: String| {
            Error::topology(
                Location::source(source).object("distances".to_owned()),
                message,
            )
        };
        let n = self.numa_nodes.len();
        if d.size as usize != n {
            return Err(err(format!(
                "matrix is {0}x{0} but there are {n} NUMA nodes",
                d.size
            )));
        }
        if d.values.len() != n * n {
            return Err(err(format!(
                "matrix is not square: {} values for {n} NUMA nodes",
                d.values.len()
            )));
        }
        // Tiled over the upper triangle so that the transposed entry is read from cache (a
        // 1,024-node matrix is 4 MiB); both the row's and the column's local distance apply.
        const TILE: usize = 64;
        let v = &d.values;
        for bi in (0..n).step_by(TILE) {
            for bj in (bi..n).step_by(TILE) {
                for i in bi..(bi + TILE).min(n) {
                    for j in bj.max(i + 1)..(bj + TILE).min(n) {
                        let (a, b) = (v[i * n + j], v[j * n + i]);
                        if a != b {
                            return Err(err(format!(
                                "matrix is asymmetric: [{i}][{j}] = {a} but [{j}][{i}] = {b}"
                            )));
                        }
                        for (row, col) in [(i, j), (j, i)] {
                            let local = v[row * n + row];
                            if a < local {
                                return Err(err(format!(
                                    "[{row}][{col}] = {a} is less than the local distance {local}"
                                )));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Converts a vector position to a dense `u32` index; sizes are bounded by the checks above.
#[must_use]
pub fn to_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}
