//! Nodes that carry a Topology: every pod the count places on such a node is also allocated
//! by the one-machine [`NodeAllocator`] (its exclusive CPUs, memory per NUMA node, GPUs), on a
//! copy of the node's ledger private to the placement. When the allocator refuses a pod the
//! count accepted, the placement is computed again with that node holding fewer pods of the
//! group, so a placement never promises what the node's allocator would refuse. `commit` then
//! holds exactly the grants the placement shows; `release` gives them back.
//!
//! The request a pod makes of its node's allocator: `cpu` in whole CPUs becomes exclusive
//! CPUs (the kubelet's static policy gives exclusive CPUs only to whole-CPU requests; a
//! fractional request takes none), `memory` its bytes, `nvidia.com/gpu` whole GPUs; the
//! Topology Manager policy is `single-numa-node` where the pod must be NUMA-aligned, else
//! `best-effort`.

use std::sync::atomic::{AtomicU64, Ordering};

use super::gang::GroupSpec;
use super::model::Cluster;
use crate::error::{Error, Result};
use crate::node::allocator::{AllocRequest, DeviceRequest, Grant, NodeAllocator, Outcome};
use crate::node::hints::Policy;
use crate::topology::DeviceKind;

/// The resource the allocator's GPUs count as.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// The owner of what a node already uses when its allocator is attached.
pub const IN_USE_OWNER: &str = "(in use)";

static NEXT_PLACEMENT: AtomicU64 = AtomicU64::new(1);

/// A process-wide fresh id for a placement (its pods' grants are held under it).
pub(super) fn next_placement_id() -> u64 {
    NEXT_PLACEMENT.fetch_add(1, Ordering::Relaxed)
}

/// The owner of a committed pod's grant on its node's allocator.
#[must_use]
pub fn pod_owner(placement: u64, group: usize, index: usize) -> String {
    format!("placement#{placement}/{group}/{index}")
}

/// Per-placement copies of the allocators of the nodes it touches.
#[derive(Default)]
pub(super) struct Ledgers {
    copies: Vec<(usize, NodeAllocator)>,
}

impl Ledgers {
    /// The copy of node `n`'s allocator, made on first use; `None` for a node without one.
    pub(super) fn get(&mut self, c: &Cluster, n: usize) -> Option<&mut NodeAllocator> {
        let alloc = c.allocators.get(n)?.as_ref()?;
        let i = match self.copies.iter().position(|(m, _)| *m == n) {
            Some(i) => i,
            None => {
                self.copies.push((n, alloc.clone()));
                self.copies.len() - 1
            }
        };
        Some(&mut self.copies[i].1)
    }
}

impl Cluster {
    /// Gives node `n` the allocator of its machine: from now on its pods get CPUs and GPUs
    /// from it. What the node already uses is held first (as [`IN_USE_OWNER`], placed by the
    /// allocator), and the node's per-NUMA free amounts are read from the allocator.
    ///
    /// # Errors
    /// [`Error::Value`] naming the node when its NUMA node count differs from the
    /// allocator's, or what it uses does not fit the machine.
    pub fn attach_allocator(&mut self, n: usize, mut alloc: NodeAllocator) -> Result<()> {
        let name = &self.nodes[n].name;
        let zones = self.numa_slots[n].1;
        let machine_zones = alloc.free().len();
        if zones != machine_zones {
            return Err(Error::Value(format!(
                "cluster: node {name}: its topology has {machine_zones} NUMA nodes, the node \
                 lists {zones}"
            )));
        }
        let used = &self.nodes[n].used;
        if used.iter().any(|&u| u > 0) {
            let gpu = self.resources.index(GPU_RESOURCE);
            let req = AllocRequest::new(
                u32::try_from((used[0] + 999) / 1000).unwrap_or(u32::MAX),
                u64::try_from(used[1]).unwrap_or(0),
            )
            .with_devices(DeviceRequest {
                gpus: gpu.map_or(0, |r| u32::try_from(used[r]).unwrap_or(u32::MAX)),
                ..DeviceRequest::default()
            });
            match alloc.allocate(IN_USE_OWNER, &req)? {
                Outcome::Placed(_) => {}
                Outcome::Refused(why) => {
                    return Err(Error::Value(format!(
                        "cluster: node {name}: what it uses does not fit its topology: {why}"
                    )));
                }
            }
        }
        self.allocators[n] = Some(alloc);
        self.sync_numa_rows(n);
        Ok(())
    }

    /// Node `n`'s allocator, when it has one.
    #[must_use]
    pub fn allocator(&self, n: usize) -> Option<&NodeAllocator> {
        self.allocators.get(n)?.as_ref()
    }

    /// The request a pod of `g` makes of node `n`'s allocator.
    pub(super) fn alloc_request(&self, n: usize, g: &GroupSpec) -> AllocRequest {
        let milli = g.request.first().copied().unwrap_or(0);
        let cpus = if milli % 1000 == 0 { milli / 1000 } else { 0 };
        let memory = g.request.get(1).copied().unwrap_or(0);
        let gpus = self
            .resources
            .index(GPU_RESOURCE)
            .map_or(0, |r| g.request.get(r).copied().unwrap_or(0));
        let policy = if self.aligned(n, g) {
            Policy::SingleNumaNode
        } else {
            Policy::BestEffort
        };
        AllocRequest::new(
            u32::try_from(cpus).unwrap_or(u32::MAX),
            u64::try_from(memory).unwrap_or(0),
        )
        .with_policy(policy)
        .with_devices(DeviceRequest {
            gpus: u32::try_from(gpus).unwrap_or(u32::MAX),
            ..DeviceRequest::default()
        })
    }

    /// Node `n`'s free CPUs (millicores), memory and GPUs per NUMA node, as `alloc` sees
    /// them, written into `rows` (`zones x resources`, the layout of the NUMA free table).
    pub(super) fn numa_rows_from(&self, alloc: &NodeAllocator, rows: &mut [i64]) {
        let nr = self.resources.len();
        let topo = alloc.topology();
        let gpu = self.resources.index(GPU_RESOURCE);
        let free_gpus = alloc.free_gpus();
        let gpu_devices: Vec<u32> = topo.devices_of(DeviceKind::Gpu).collect();
        for (z, free) in alloc.free().iter().enumerate() {
            let row = &mut rows[z * nr..(z + 1) * nr];
            row[0] = i64::try_from(free.cpus.len() * 1000).unwrap_or(i64::MAX);
            row[1] = i64::try_from(free.bytes[0]).unwrap_or(i64::MAX);
            if let Some(r) = gpu {
                let on_zone = free_gpus
                    .iter()
                    .filter(|&&k| {
                        gpu_devices.get(k as usize).is_some_and(|&d| {
                            topo.devices()[d as usize].numa == u32::try_from(z).ok()
                        })
                    })
                    .count();
                row[r] = i64::try_from(on_zone).unwrap_or(i64::MAX);
            }
        }
    }

    /// Takes what `grant` (just placed by `alloc`) holds from the NUMA rows `rows`
    /// (`zones x resources`): its CPUs and memory per NUMA node and its GPUs by their NUMA
    /// node. The same rows as [`Self::numa_rows_from`] would re-read, without walking every
    /// free CPU and GPU of the machine per pod.
    pub(super) fn take_grant(&self, alloc: &NodeAllocator, grant: &Grant, rows: &mut [i64]) {
        let nr = self.resources.len();
        let topo = alloc.topology();
        for cpu in grant.cpus.iter() {
            if let Some(z) = topo.numa_of_cpu(cpu) {
                rows[z as usize * nr] -= 1000;
            }
        }
        for &(z, bytes) in &grant.memory {
            rows[z as usize * nr + 1] -= i64::try_from(bytes).unwrap_or(i64::MAX);
        }
        if let Some(r) = self.resources.index(GPU_RESOURCE) {
            for &k in &grant.gpus {
                let numa = topo
                    .devices_of(DeviceKind::Gpu)
                    .nth(k as usize)
                    .and_then(|d| topo.devices()[d as usize].numa);
                if let Some(z) = numa {
                    rows[z as usize * nr + r] -= 1;
                }
            }
        }
        #[cfg(debug_assertions)]
        {
            let mut fresh = rows.to_vec();
            self.numa_rows_from(alloc, &mut fresh);
            debug_assert_eq!(
                fresh, rows,
                "NUMA rows from the grant differ from the allocator's"
            );
        }
    }

    /// Re-reads node `n`'s per-NUMA free amounts from its allocator.
    pub(super) fn sync_numa_rows(&mut self, n: usize) {
        let nr = self.resources.len();
        let (first, zones) = self.numa_slots[n];
        let Some(alloc) = self.allocators[n].as_ref() else {
            return;
        };
        let mut rows = self.numa_free[first * nr..(first + zones) * nr].to_vec();
        self.numa_rows_from(alloc, &mut rows);
        self.numa_free[first * nr..(first + zones) * nr].copy_from_slice(&rows);
    }
}
