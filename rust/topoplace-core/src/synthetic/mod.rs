//! Synthetic machines of any shape and size, and the built-in machines used by examples,
//! tests and `topoplace demo`.
//!
//! CPU numbering follows the usual Linux x86 enumeration: the first hardware thread of every
//! core is numbered first (0..cores), then the second thread of every core, so CPU `i` and
//! `i + cores` are SMT siblings, as on most Intel and AMD servers.

mod builtin;

pub use builtin::{BUILTIN_NAMES, builtin};

use crate::error::{Error, Location, Result};
use crate::topology::{
    Cache, Core, Cpu, CpuSet, Device, DeviceKind, Distances, Link, LinkClass, MemoryKind, NumaNode,
    Package, PciKind, PciNode, Topology, TopologyParts, to_u32,
};

/// How the GPUs of a synthetic machine are linked to each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NvlinkPattern {
    /// No GPU fabric: GPUs talk over PCIe only.
    #[default]
    None,
    /// GPU `2k` and `2k+1` joined by one bonded NVLink set (NVLink bridges on PCIe cards).
    Pairs,
    /// The DGX-1 hybrid cube-mesh, repeated for every group of 8 GPUs (NV1 and NV2 links, some
    /// pairs unlinked).
    HybridCubeMesh,
    /// Every GPU pair through NVSwitch chips (DGX A100/H100, NVL72 domains).
    NvSwitch,
}

impl NvlinkPattern {
    /// Parses `none`, `pairs`, `cube-mesh`, `nvswitch`.
    ///
    /// # Errors
    /// [`Error::Value`] listing the valid names.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "none" => Ok(Self::None),
            "pairs" => Ok(Self::Pairs),
            "cube-mesh" | "hybrid-cube-mesh" => Ok(Self::HybridCubeMesh),
            "nvswitch" => Ok(Self::NvSwitch),
            other => Err(Error::Value(format!(
                "unknown NVLink pattern {other:?}; expected one of: none, pairs, cube-mesh, nvswitch"
            ))),
        }
    }
}

/// The shape of a generated machine. Sizes multiply: `sockets * numa_per_socket` NUMA nodes,
/// each with `cores_per_numa` cores split evenly over `l3_per_numa` last-level caches, each core
/// with `threads_per_core` CPUs; `pcie_roots_per_numa` host bridges per NUMA node, each with a
/// PCIe switch carrying `gpus_per_root` GPUs and `nics_per_root` NICs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticSpec {
    /// Machine name.
    pub name: String,
    /// Packages.
    pub sockets: u32,
    /// NUMA nodes per package.
    pub numa_per_socket: u32,
    /// Last-level cache groups per NUMA node (0 is read as 1).
    pub l3_per_numa: u32,
    /// Cores per NUMA node.
    pub cores_per_numa: u32,
    /// Threads per core (0 is read as 1).
    pub threads_per_core: u32,
    /// DRAM per NUMA node, bytes.
    pub memory_per_numa: u64,
    /// PCIe host bridges per NUMA node that carry devices.
    pub pcie_roots_per_numa: u32,
    /// GPUs behind each PCIe root.
    pub gpus_per_root: u32,
    /// NICs behind each PCIe root.
    pub nics_per_root: u32,
    /// GPU fabric.
    pub nvlink: NvlinkPattern,
    /// Bonded NVLinks per linked pair (NVSwitch: links per GPU); 0 picks the pattern's default.
    pub nvlinks: u32,
    /// GPU model name.
    pub gpu_model: Option<String>,
    /// GPU memory, bytes.
    pub gpu_memory: Option<u64>,
    /// NIC model name.
    pub nic_model: Option<String>,
    /// NUMA distance to another node of the same package (local is 10).
    pub distance_same_socket: u32,
    /// NUMA distance to a node of another package.
    pub distance_remote: u32,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        Self {
            name: "synthetic".to_owned(),
            sockets: 1,
            numa_per_socket: 1,
            l3_per_numa: 1,
            cores_per_numa: 1,
            threads_per_core: 1,
            memory_per_numa: 64 << 30,
            pcie_roots_per_numa: 0,
            gpus_per_root: 0,
            nics_per_root: 0,
            nvlink: NvlinkPattern::None,
            nvlinks: 0,
            gpu_model: None,
            gpu_memory: None,
            nic_model: None,
            distance_same_socket: 12,
            distance_remote: 32,
        }
    }
}

/// Largest synthetic machine: 65,536 CPUs.
const MAX_SYNTHETIC_CPUS: u64 = 1 << 16;

impl SyntheticSpec {
    /// Builds the machine.
    ///
    /// # Errors
    /// [`Error::Topology`] naming the field when a size is zero where it may not be, cores do
    /// not divide evenly over caches, or the machine would exceed 65,536 CPUs or 4,096 NUMA
    /// nodes.
    pub fn build(&self) -> Result<Topology> {
        let source = format!("synthetic:{}", self.name);
        let bad = |field: &str, message: String| {
            Error::topology(
                Location::source(source.clone()).object(field.to_owned()),
                message,
            )
        };
        let threads = self.threads_per_core.max(1);
        let l3 = self.l3_per_numa.max(1);
        if self.sockets == 0 {
            return Err(bad("sockets", "must be at least 1".into()));
        }
        if self.numa_per_socket == 0 {
            return Err(bad("numa_per_socket", "must be at least 1".into()));
        }
        if self.cores_per_numa == 0 {
            return Err(bad("cores_per_numa", "must be at least 1".into()));
        }
        if self.cores_per_numa % l3 != 0 {
            return Err(bad(
                "l3_per_numa",
                format!(
                    "{} cores do not split evenly over {l3} caches",
                    self.cores_per_numa
                ),
            ));
        }
        let nnuma = u64::from(self.sockets) * u64::from(self.numa_per_socket);
        let ncores = nnuma * u64::from(self.cores_per_numa);
        let ncpus = ncores * u64::from(threads);
        if ncpus > MAX_SYNTHETIC_CPUS {
            return Err(bad(
                "cores_per_numa",
                format!("{ncpus} CPUs is more than {MAX_SYNTHETIC_CPUS}"),
            ));
        }
        if nnuma > crate::topology::MAX_NUMA_NODES as u64 {
            return Err(bad(
                "numa_per_socket",
                format!("{nnuma} NUMA nodes is too many"),
            ));
        }
        let per_root = u64::from(self.gpus_per_root) + u64::from(self.nics_per_root);
        if nnuma * u64::from(self.pcie_roots_per_numa) * (per_root + 2)
            > crate::topology::MAX_PCI_NODES as u64
        {
            return Err(bad("pcie_roots_per_numa", "too many PCI devices".into()));
        }
        // Bounded above, so these fit in u32.
        let (nnuma, ncores) = (nnuma as u32, ncores as u32);
        let mut parts = TopologyParts {
            name: self.name.clone(),
            source: "synthetic".into(),
            ..Default::default()
        };
        self.cpu_side(&mut parts, nnuma, ncores, threads, l3);
        self.distances(&mut parts, nnuma);
        self.devices(&mut parts, nnuma);
        parts.build(&source)
    }

    fn cpu_side(&self, parts: &mut TopologyParts, nnuma: u32, ncores: u32, threads: u32, l3: u32) {
        let cores_per_l3 = self.cores_per_numa / l3;
        let cpus_of_cores = |first: u32, count: u32| {
            let mut set = CpuSet::new();
            for t in 0..threads {
                set.insert_range(first + t * ncores, first + count + t * ncores);
            }
            set
        };
        let cores_per_socket = self.cores_per_numa * self.numa_per_socket;
        for s in 0..self.sockets {
            parts.packages.push(Package {
                os_index: s,
                model: None,
                cpus: cpus_of_cores(s * cores_per_socket, cores_per_socket),
            });
        }
        for n in 0..nnuma {
            let first = n * self.cores_per_numa;
            parts.numa_nodes.push(NumaNode {
                os_index: n,
                kind: MemoryKind::Dram,
                memory_bytes: self.memory_per_numa,
                cpus: cpus_of_cores(first, self.cores_per_numa),
                allowed: true,
            });
            for c in 0..l3 {
                parts.caches.push(Cache {
                    level: 3,
                    size_bytes: 32 << 20,
                    cpus: cpus_of_cores(first + c * cores_per_l3, cores_per_l3),
                });
            }
        }
        parts.cores.reserve(ncores as usize);
        for core in 0..ncores {
            let numa = core / self.cores_per_numa;
            parts.cores.push(Core {
                os_index: Some(core % cores_per_socket),
                package: numa / self.numa_per_socket,
                numa: Some(numa),
                cache: Some(core / cores_per_l3),
                group: None,
                cpus: CpuSet::new(),
            });
        }
        parts.cpus.reserve((ncores * threads) as usize);
        for t in 0..threads {
            for core in 0..ncores {
                parts.cpus.push(Cpu {
                    os_index: t * ncores + core,
                    core: Some(core),
                    online: true,
                    allowed: true,
                });
            }
        }
    }

    fn distances(&self, parts: &mut TopologyParts, nnuma: u32) {
        if nnuma < 2 {
            return;
        }
        let n = nnuma as usize;
        let mut values = Vec::with_capacity(n * n);
        for i in 0..nnuma {
            for j in 0..nnuma {
                values.push(if i == j {
                    10
                } else if i / self.numa_per_socket == j / self.numa_per_socket {
                    self.distance_same_socket
                } else {
                    self.distance_remote
                });
            }
        }
        parts.distances = Some(Distances {
            size: nnuma,
            values,
        });
    }

    fn devices(&self, parts: &mut TopologyParts, nnuma: u32) {
        let (mut gpus, mut nics) = (Vec::new(), 0u32);
        for n in 0..nnuma {
            for r in 0..self.pcie_roots_per_numa {
                let root_index = n * self.pcie_roots_per_numa + r;
                // One PCI domain per 256 roots keeps bus numbers in range on huge machines.
                let (domain, bus) = (root_index / 128, (root_index % 128) * 2);
                let root = to_u32(parts.pci.len());
                parts.pci.push(pci(
                    PciKind::HostBridge,
                    format!("{domain:04x}:{bus:02x}"),
                    None,
                    Some(n),
                ));
                let switch = to_u32(parts.pci.len());
                parts.pci.push(pci(
                    PciKind::Bridge,
                    format!("{domain:04x}:{bus:02x}:00.0"),
                    Some(root),
                    Some(n),
                ));
                let cpus = parts.numa_nodes[n as usize].cpus.clone();
                let mut function = 0u32;
                for kind in [DeviceKind::Gpu, DeviceKind::Nic] {
                    let count = if kind == DeviceKind::Gpu {
                        self.gpus_per_root
                    } else {
                        self.nics_per_root
                    };
                    for _ in 0..count {
                        let address = format!(
                            "{domain:04x}:{:02x}:{:02x}.{}",
                            bus + 1,
                            function / 8,
                            function % 8
                        );
                        function += 1;
                        let pci_index = to_u32(parts.pci.len());
                        let mut node =
                            pci(PciKind::Function, address.clone(), Some(switch), Some(n));
                        let (name, class, vendor, model, memory) = if kind == DeviceKind::Gpu {
                            gpus.push(to_u32(parts.devices.len()));
                            (
                                format!("GPU{}", gpus.len() - 1),
                                0x0302,
                                0x10de,
                                self.gpu_model.clone(),
                                self.gpu_memory,
                            )
                        } else {
                            nics += 1;
                            (
                                format!("mlx5_{}", nics - 1),
                                0x0207,
                                0x15b3,
                                self.nic_model.clone(),
                                None,
                            )
                        };
                        node.class_id = class;
                        node.vendor_id = vendor;
                        parts.pci.push(node);
                        parts.devices.push(Device {
                            kind,
                            name,
                            aliases: Vec::new(),
                            pci: Some(pci_index),
                            bus_id: Some(address),
                            numa: Some(n),
                            cpus: cpus.clone(),
                            vendor: Some(
                                if kind == DeviceKind::Gpu {
                                    "NVIDIA"
                                } else {
                                    "Mellanox"
                                }
                                .to_owned(),
                            ),
                            model,
                            memory_bytes: memory,
                        });
                    }
                }
            }
        }
        self.gpu_links(parts, &gpus);
    }

    fn gpu_links(&self, parts: &mut TopologyParts, gpus: &[u32]) {
        let mut link = |a: usize, b: usize, class, count| {
            if let (Some(&a), Some(&b)) = (gpus.get(a), gpus.get(b)) {
                parts.links.push(Link {
                    a: a.min(b),
                    b: a.max(b),
                    class,
                    count,
                });
            }
        };
        match self.nvlink {
            NvlinkPattern::None => {}
            NvlinkPattern::Pairs => {
                let count = if self.nvlinks == 0 { 4 } else { self.nvlinks };
                for a in (0..gpus.len()).step_by(2) {
                    link(a, a + 1, LinkClass::NvLink, count);
                }
            }
            NvlinkPattern::HybridCubeMesh => {
                // The DGX-1 V100 wiring, as `nvidia-smi topo -m` prints it on that machine.
                const MESH: [(usize, usize, u32); 16] = [
                    (0, 1, 1),
                    (0, 2, 1),
                    (0, 3, 2),
                    (0, 4, 2),
                    (1, 2, 2),
                    (1, 3, 1),
                    (1, 5, 2),
                    (2, 3, 2),
                    (2, 6, 1),
                    (3, 7, 1),
                    (4, 5, 1),
                    (4, 6, 1),
                    (4, 7, 2),
                    (5, 6, 2),
                    (5, 7, 1),
                    (6, 7, 2),
                ];
                for base in (0..gpus.len()).step_by(8) {
                    for (a, b, count) in MESH {
                        link(base + a, base + b, LinkClass::NvLink, count);
                    }
                }
            }
            NvlinkPattern::NvSwitch => {
                let count = if self.nvlinks == 0 { 18 } else { self.nvlinks };
                for a in 0..gpus.len() {
                    for b in a + 1..gpus.len() {
                        link(a, b, LinkClass::NvSwitch, count);
                    }
                }
            }
        }
    }
}

fn pci(kind: PciKind, address: String, parent: Option<u32>, numa: Option<u32>) -> PciNode {
    PciNode {
        kind,
        address,
        parent,
        class_id: 0,
        vendor_id: 0,
        device_id: 0,
        numa,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_multiply() {
        let spec = SyntheticSpec {
            sockets: 2,
            numa_per_socket: 4,
            l3_per_numa: 2,
            cores_per_numa: 8,
            threads_per_core: 2,
            pcie_roots_per_numa: 1,
            gpus_per_root: 1,
            nics_per_root: 1,
            nvlink: NvlinkPattern::NvSwitch,
            ..Default::default()
        };
        let topo = spec.build().unwrap();
        let s = topo.summary();
        assert_eq!(
            (s.packages, s.numa_nodes, s.cores, s.cpus, s.gpus, s.nics),
            (2, 8, 64, 128, 8, 8)
        );
        assert_eq!(topo.caches().len(), 16);
        // SMT siblings are i and i + cores.
        assert_eq!(topo.cores()[5].cpus.to_list_string(), "5,69");
        // GPU and NIC on the same switch are PIX; GPUs on NVSwitch.
        assert_eq!(topo.link_class(0, 1), Some(LinkClass::Pix));
        assert_eq!(topo.link_class(0, 2), Some(LinkClass::NvSwitch));
        assert_eq!(topo.pci_path_class(0, 3), Some(LinkClass::Sys));
        assert_eq!(topo.distances().unwrap().get(0, 1), 12);
        assert_eq!(topo.distances().unwrap().get(0, 4), 32);
    }

    #[test]
    fn huge_machine_builds() {
        let spec = SyntheticSpec {
            sockets: 16,
            numa_per_socket: 64,
            cores_per_numa: 8,
            threads_per_core: 2,
            ..Default::default()
        };
        let topo = spec.build().unwrap();
        assert_eq!(topo.numa_nodes().len(), 1024);
        assert_eq!(topo.cpus().len(), 16384);
    }

    #[test]
    fn bad_specs_are_errors() {
        let bad = SyntheticSpec {
            cores_per_numa: 6,
            l3_per_numa: 4,
            ..Default::default()
        };
        assert!(bad.build().unwrap_err().to_string().contains("l3_per_numa"));
        assert!(
            SyntheticSpec {
                sockets: 0,
                ..Default::default()
            }
            .build()
            .is_err()
        );
        let huge = SyntheticSpec {
            sockets: 1024,
            cores_per_numa: 1024,
            ..Default::default()
        };
        assert!(huge.build().is_err());
        assert!(
            NvlinkPattern::parse("mesh")
                .unwrap_err()
                .to_string()
                .contains("cube-mesh")
        );
    }
}
