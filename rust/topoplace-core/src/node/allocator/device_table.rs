//! The allocator's fixed view of a machine's GPUs and NICs: dense tables built once, so a joint
//! placement reads integers and never walks the PCI tree or compares strings.

use super::machine::NONE;
use crate::node::gpu::{MAX_GPUS, PairScores};
use crate::topology::{DeviceKind, LinkClass, Topology, to_u32};

/// Points of a PCIe path class between a GPU and a NIC (as `go-gpuallocator` scores GPU
/// pairs): `PIX` 50, `PXB` 40, `PHB` 30, `NODE` 20, `SYS` 10; 0 when unknown.
pub(super) const fn path_points(class: Option<LinkClass>) -> u32 {
    match class {
        Some(LinkClass::Pix) => 50,
        Some(LinkClass::Pxb) => 40,
        Some(LinkClass::Phb) => 30,
        Some(LinkClass::Node) => 20,
        Some(LinkClass::Sys) => 10,
        _ => 0,
    }
}

/// Whether a PCIe class keeps both devices under one root complex.
const fn same_root(class: Option<LinkClass>) -> bool {
    matches!(
        class,
        Some(LinkClass::Pix | LinkClass::Pxb | LinkClass::Phb)
    )
}

/// GPUs and NICs of one machine, by ordinal (the `k`-th GPU / NIC of the topology).
#[derive(Debug, Clone)]
pub(super) struct DeviceTable {
    /// GPU ordinal -> dense device index.
    pub(super) gpu_dev: Vec<u32>,
    /// GPU ordinal -> dense NUMA node ([`NONE`] when unknown).
    pub(super) gpu_numa: Vec<u32>,
    /// GPU ordinal -> model (lowercase, empty when unknown).
    pub(super) gpu_model: Vec<String>,
    /// GPU ordinal -> on-device memory in bytes (0 when unknown).
    pub(super) gpu_memory: Vec<u64>,
    /// Pair scores between GPUs (`go-gpuallocator`'s).
    pub(super) pair: PairScores,
    /// GPU ordinal -> GPUs under the same PCIe root (bit mask, itself excluded).
    pub(super) gpu_root_peers: Vec<u128>,
    /// NIC ordinal -> dense device index.
    pub(super) nic_dev: Vec<u32>,
    /// NIC ordinal -> dense NUMA node ([`NONE`] when unknown).
    pub(super) nic_numa: Vec<u32>,
    /// `[gpu * nics + nic]` -> path points (see [`path_points`]).
    pub(super) gn_points: Vec<u32>,
    /// `[gpu * nics + nic]` -> whether they share a PCIe root.
    pub(super) gn_root: Vec<bool>,
    /// Dense NUMA node -> package index ([`NONE`] when it has no CPUs and no CPU node is
    /// nearer than the others).
    pub(super) numa_pkg: Vec<u32>,
    /// Package count.
    pub(super) packages: usize,
}

impl DeviceTable {
    /// The tables of `topo` (`dist`: row-major dense NUMA distances over `n` nodes). Only the
    /// first 128 GPUs take part (selections are 128-bit masks).
    pub(super) fn new(topo: &Topology, dist: &[u32], n: usize) -> Self {
        let gpus: Vec<u32> = topo.devices_of(DeviceKind::Gpu).take(MAX_GPUS).collect();
        let nics: Vec<u32> = topo.devices_of(DeviceKind::Nic).collect();
        let numa_of = |d: u32| {
            topo.devices()
                .get(d as usize)
                .and_then(|x| x.numa)
                .unwrap_or(NONE)
        };
        let mut gn_points = Vec::with_capacity(gpus.len() * nics.len());
        let mut gn_root = Vec::with_capacity(gpus.len() * nics.len());
        for &g in &gpus {
            for &c in &nics {
                let class = topo.pcie_class(g, c);
                gn_points.push(path_points(class));
                gn_root.push(same_root(class));
            }
        }
        let gpu_root_peers = gpus
            .iter()
            .map(|&a| {
                gpus.iter().enumerate().fold(0u128, |acc, (j, &b)| {
                    if a != b && same_root(topo.pcie_class(a, b)) {
                        acc | (1u128 << j)
                    } else {
                        acc
                    }
                })
            })
            .collect();
        let device = |d: u32| topo.devices().get(d as usize);
        Self {
            gpu_numa: gpus.iter().map(|&g| numa_of(g)).collect(),
            gpu_model: gpus
                .iter()
                .map(|&g| {
                    device(g)
                        .and_then(|x| x.model.as_deref())
                        .unwrap_or("")
                        .to_lowercase()
                })
                .collect(),
            gpu_memory: gpus
                .iter()
                .map(|&g| device(g).and_then(|x| x.memory_bytes).unwrap_or(0))
                .collect(),
            pair: PairScores::from_topology(topo),
            gpu_root_peers,
            nic_numa: nics.iter().map(|&c| numa_of(c)).collect(),
            gpu_dev: gpus,
            nic_dev: nics,
            gn_points,
            gn_root,
            numa_pkg: numa_packages(topo, dist, n),
            packages: topo.packages().len(),
        }
    }

    /// Number of GPUs.
    pub(super) fn gpus(&self) -> usize {
        self.gpu_dev.len()
    }

    /// Number of NICs.
    pub(super) fn nics(&self) -> usize {
        self.nic_dev.len()
    }

    /// Path points between GPU `g` and NIC `c`.
    pub(super) fn points(&self, g: u32, c: u32) -> u32 {
        self.gn_points
            .get(g as usize * self.nics() + c as usize)
            .copied()
            .unwrap_or(0)
    }

    /// Whether GPU `g` and NIC `c` share a PCIe root.
    pub(super) fn root(&self, g: u32, c: u32) -> bool {
        self.gn_root
            .get(g as usize * self.nics() + c as usize)
            .copied()
            .unwrap_or(false)
    }

    /// Package of dense NUMA node `d` ([`NONE`] when unknown or `d` is [`NONE`]).
    pub(super) fn package_of(&self, d: u32) -> u32 {
        self.numa_pkg.get(d as usize).copied().unwrap_or(NONE)
    }
}

/// Dense NUMA node -> package: the package holding its CPUs; a CPU-less node (HBM, CXL, GPU
/// memory) takes the package of its nearest node with CPUs, when exactly one is nearest.
fn numa_packages(topo: &Topology, dist: &[u32], n: usize) -> Vec<u32> {
    let direct: Vec<u32> = topo
        .numa_nodes()
        .iter()
        .map(|node| {
            topo.packages()
                .iter()
                .position(|p| p.cpus.intersection_len(&node.cpus) > 0)
                .map_or(NONE, to_u32)
        })
        .collect();
    (0..n)
        .map(|d| {
            let own = direct.get(d).copied().unwrap_or(NONE);
            if own != NONE {
                return own;
            }
            let row = dist.get(d * n..(d + 1) * n).unwrap_or(&[]);
            let mut best: Option<(u32, u32)> = None;
            let mut tied = false;
            for (j, &dd) in row.iter().enumerate() {
                let pkg = direct.get(j).copied().unwrap_or(NONE);
                if j == d || pkg == NONE {
                    continue;
                }
                match best {
                    Some((b, p)) if dd == b && p != pkg => tied = true,
                    Some((b, _)) if dd >= b => {}
                    _ => {
                        best = Some((dd, pkg));
                        tied = false;
                    }
                }
            }
            match best {
                Some((_, p)) if !tied => p,
                _ => NONE,
            }
        })
        .collect()
}
