//! The allocator's fixed view of one machine: dense lookup tables built once from the
//! [`Topology`], the reserved CPUs and memory, and the hugepage pools.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::device_table::DeviceTable;
use crate::error::{Error, Result};
use crate::node::cpu::CpuDetails;
use crate::node::hints::NumaInfo;
use crate::topology::{CpuSet, Topology, human_bytes, to_u32};

/// "No such index" in the dense tables.
pub(super) const NONE: u32 = u32::MAX;

/// A group of cores the default mode tries to keep whole: one last-level cache inside one NUMA
/// node (cores without a known cache form one group per node).
#[derive(Debug, Clone)]
pub(super) struct PickGroup {
    /// Dense NUMA index.
    pub(super) node: u32,
    /// Dense core indexes, ascending.
    pub(super) cores: Vec<u32>,
    /// Allocatable CPUs in the group.
    pub(super) size: u32,
}

/// Hugepage pools per NUMA node (dense order), in bytes. Empty vectors mean no pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HugepagePools {
    /// Bytes of 2 MiB pages per NUMA node.
    pub per_numa_2m: Vec<u64>,
    /// Bytes of 1 GiB pages per NUMA node.
    pub per_numa_1g: Vec<u64>,
}

#[derive(Debug, Clone)]
pub(super) struct Machine {
    pub(super) topo: Arc<Topology>,
    pub(super) details: CpuDetails,
    /// The kubelet's NUMA info (OS ids and distances); `None` when an id is 128 or more.
    pub(super) numa_info: Option<NumaInfo>,
    pub(super) n: usize,
    /// Dense NUMA index -> OS id.
    pub(super) os_ids: Vec<u32>,
    /// Dense NUMA indexes sorted by OS id.
    pub(super) os_order: Vec<u32>,
    /// CPU OS id -> dense core (or [`NONE`] when not allocatable).
    pub(super) cpu_core: Vec<u32>,
    /// Core -> dense NUMA index (or [`NONE`]).
    pub(super) core_numa: Vec<u32>,
    /// Core -> pick group (or [`NONE`]).
    pub(super) core_group: Vec<u32>,
    /// Core -> number of online CPUs (what a whole core is).
    pub(super) core_size: Vec<u32>,
    /// Per node: online CPUs (the kubelet's `CPUsInNUMANodes` count).
    pub(super) node_total_cpus: Vec<u32>,
    /// Per node: allocatable CPUs.
    pub(super) node_alloc_cpus: Vec<u32>,
    pub(super) groups: Vec<PickGroup>,
    /// Per node: its pick groups.
    pub(super) node_groups: Vec<Vec<u32>>,
    /// Row-major distances between dense nodes (10 local, 20 remote when the source has none).
    pub(super) dist: Vec<u32>,
    /// Capacity per kind (regular, 2M, 1G) per node.
    pub(super) capacity: [Vec<u64>; 3],
    pub(super) reserved_cpus: CpuSet,
    pub(super) reserved_memory: Vec<u64>,
    pub(super) hugepages: HugepagePools,
    /// Usable CPUs minus reserved ones, on a NUMA node.
    pub(super) allocatable: CpuSet,
    pub(super) cpus_per_core: u32,
    pub(super) fingerprint: u64,
    /// GPUs and NICs.
    pub(super) devices: DeviceTable,
}

/// 64-bit FNV-1a.
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn per_node(name: &str, values: Vec<u64>, n: usize) -> Result<Vec<u64>> {
    if values.is_empty() {
        return Ok(vec![0; n]);
    }
    if values.len() != n {
        return Err(Error::Value(format!(
            "{name} has {} entries but the machine has {n} NUMA nodes",
            values.len()
        )));
    }
    Ok(values)
}

impl Machine {
    pub(super) fn new(
        topo: Arc<Topology>,
        reserved_cpus: CpuSet,
        reserved_memory: Vec<u64>,
        hugepages: HugepagePools,
    ) -> Result<Self> {
        let n = topo.numa_nodes().len();
        let all = topo.all_cpus();
        if !reserved_cpus.is_subset(&all) {
            return Err(Error::Value(format!(
                "reserved CPUs {} are not CPUs of the machine (it has {})",
                reserved_cpus.difference(&all).to_list_string(),
                all.to_list_string()
            )));
        }
        let reserved_memory = per_node("reserved memory", reserved_memory, n)?;
        let huge2 = per_node("2 MiB hugepage pools", hugepages.per_numa_2m.clone(), n)?;
        let huge1 = per_node("1 GiB hugepage pools", hugepages.per_numa_1g.clone(), n)?;
        let mut regular = Vec::with_capacity(n);
        for (i, node) in topo.numa_nodes().iter().enumerate() {
            let taken = [reserved_memory[i], huge2[i], huge1[i]]
                .iter()
                .try_fold(0u64, |a, &b| a.checked_add(b));
            let size = if node.allowed { node.memory_bytes } else { 0 };
            match taken.and_then(|t| size.checked_sub(t)) {
                Some(left) => regular.push(left),
                None => {
                    return Err(Error::Value(format!(
                        "NUMA node {} has {} of memory but {} is reserved and {} + {} is in hugepage pools",
                        node.os_index,
                        human_bytes(size),
                        human_bytes(reserved_memory[i]),
                        human_bytes(huge2[i]),
                        human_bytes(huge1[i])
                    )));
                }
            }
        }
        let os_ids: Vec<u32> = topo.numa_nodes().iter().map(|m| m.os_index).collect();
        let mut os_order: Vec<u32> = (0..to_u32(n)).collect();
        os_order.sort_by_key(|&d| os_ids.get(d as usize).copied().unwrap_or(NONE));
        let details = CpuDetails::from_topology(&topo);
        let cores = topo.cores();
        let core_numa: Vec<u32> = cores.iter().map(|c| c.numa.unwrap_or(NONE)).collect();
        let mut core_size = vec![0u32; cores.len()];
        let mut node_total_cpus = vec![0u32; n];
        let mut node_alloc_cpus = vec![0u32; n];
        let mut allocatable = CpuSet::new();
        let mut cpu_core = vec![NONE; topo.cpus().last().map_or(0, |c| c.os_index as usize + 1)];
        for cpu in topo.cpus() {
            let Some(core) = cpu.core else { continue };
            let numa = core_numa.get(core as usize).copied().unwrap_or(NONE);
            if !cpu.online || numa == NONE {
                continue;
            }
            if let Some(s) = core_size.get_mut(core as usize) {
                *s += 1;
            }
            if let Some(t) = node_total_cpus.get_mut(numa as usize) {
                *t += 1;
            }
            if cpu.allowed && !reserved_cpus.contains(cpu.os_index) {
                allocatable.insert(cpu.os_index);
                if let Some(slot) = cpu_core.get_mut(cpu.os_index as usize) {
                    *slot = core;
                }
                if let Some(t) = node_alloc_cpus.get_mut(numa as usize) {
                    *t += 1;
                }
            }
        }
        // Pick groups: (node, cache) pairs in order of first core.
        let mut keys: BTreeMap<(u32, u32), u32> = BTreeMap::new();
        let mut groups: Vec<PickGroup> = Vec::new();
        let mut core_group = vec![NONE; cores.len()];
        for (ci, core) in cores.iter().enumerate() {
            let numa = core_numa.get(ci).copied().unwrap_or(NONE);
            if numa == NONE {
                continue;
            }
            let alloc = core
                .cpus
                .iter()
                .filter(|&c| allocatable.contains(c))
                .count();
            let key = (numa, core.cache.unwrap_or(NONE));
            let next = to_u32(groups.len());
            let gi = *keys.entry(key).or_insert(next);
            if gi == next {
                groups.push(PickGroup {
                    node: numa,
                    cores: Vec::new(),
                    size: 0,
                });
            }
            if let Some(g) = groups.get_mut(gi as usize) {
                g.cores.push(to_u32(ci));
                g.size += to_u32(alloc);
            }
            if let Some(slot) = core_group.get_mut(ci) {
                *slot = gi;
            }
        }
        let mut node_groups = vec![Vec::new(); n];
        for (gi, g) in groups.iter().enumerate() {
            if let Some(list) = node_groups.get_mut(g.node as usize) {
                list.push(to_u32(gi));
            }
        }
        let mut dist = vec![20u32; n * n];
        for i in 0..n {
            for j in 0..n {
                let d = match topo.distances() {
                    Some(m) if m.size as usize == n => {
                        m.values.get(i * n + j).copied().unwrap_or(20)
                    }
                    _ if i == j => 10,
                    _ => 20,
                };
                dist[i * n + j] = d;
            }
        }
        let numa_info = if topo.distances().is_some() {
            let rows: Vec<Vec<u32>> = dist.chunks(n.max(1)).map(<[u32]>::to_vec).collect();
            NumaInfo::new(&os_ids, &rows[..n.min(rows.len())]).ok()
        } else {
            NumaInfo::without_distances(&os_ids).ok()
        };
        let cpus_per_core = to_u32(details.cpus_per_core()).max(1);
        let fingerprint = fnv1a(topo.to_json().as_bytes());
        let devices = DeviceTable::new(&topo, &dist, n);
        Ok(Self {
            topo,
            details,
            numa_info,
            n,
            os_ids,
            os_order,
            cpu_core,
            core_numa,
            core_group,
            core_size,
            node_total_cpus,
            node_alloc_cpus,
            groups,
            node_groups,
            dist,
            capacity: [regular, huge2, huge1],
            reserved_cpus,
            reserved_memory,
            hugepages,
            allocatable,
            cpus_per_core,
            fingerprint,
            devices,
        })
    }

    /// Distance between dense nodes `a` and `b`.
    pub(super) fn distance(&self, a: u32, b: u32) -> u32 {
        self.dist
            .get(a as usize * self.n + b as usize)
            .copied()
            .unwrap_or(u32::MAX / 4)
    }

    /// OS id of dense node `d`.
    pub(super) fn os_id(&self, d: u32) -> u32 {
        self.os_ids.get(d as usize).copied().unwrap_or(NONE)
    }

    /// The dense core of allocatable CPU `cpu`.
    pub(super) fn core_of(&self, cpu: u32) -> u32 {
        self.cpu_core.get(cpu as usize).copied().unwrap_or(NONE)
    }

    /// The dense NUMA node of allocatable CPU `cpu`.
    pub(super) fn numa_of(&self, cpu: u32) -> u32 {
        let core = self.core_of(cpu);
        self.core_numa.get(core as usize).copied().unwrap_or(NONE)
    }
}
