//! The ledger: what each owner holds ([`Grant`]) and what is free, kept incrementally.

use std::collections::BTreeMap;

use super::joint::JointScore;
use super::machine::{Machine, NONE};
use super::request::{AlignLevel, MemKind, Mode};
use crate::topology::{CpuSet, human_bytes};

/// What one owner holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Exclusive CPUs.
    pub cpus: CpuSet,
    /// Regular memory: `(dense NUMA index, bytes)`, ascending by index, no zero entries.
    pub memory: Vec<(u32, u64)>,
    /// 2 MiB hugepages: `(dense NUMA index, bytes)`.
    pub hugepages_2m: Vec<(u32, u64)>,
    /// 1 GiB hugepages: `(dense NUMA index, bytes)`.
    pub hugepages_1g: Vec<(u32, u64)>,
    /// The NUMA affinity (OS ids, ascending): the nodes the memory is assigned to as one group
    /// when memory was requested, else the merged hint's nodes, else the nodes of the CPUs.
    pub numa_nodes: Vec<u32>,
    /// Whether the placement was preferred (kubelet: the merged hint was preferred; default
    /// mode: the node set is as narrow as the capacity allows).
    pub preferred: bool,
    /// The mode that placed it.
    pub mode: Mode,
    /// GPUs held (ordinals: the `k`-th GPU of the topology), ascending.
    pub gpus: Vec<u32>,
    /// NICs held (ordinals: the `k`-th NIC), in the order of [`Self::nic_gpus`].
    pub nics: Vec<u32>,
    /// Per NIC: the GPU it was chosen for (per-GPU NICs) or the held GPU with the best path
    /// to it (a NIC count); `None` when no GPU is held.
    pub nic_gpus: Vec<Option<u32>>,
    /// The joint placement's score and its parts (requests with devices).
    pub score: Option<JointScore>,
    /// The alignment the placement achieved (requests with devices).
    pub alignment: Option<AlignLevel>,
}

impl Grant {
    /// The memory of `kind`.
    #[must_use]
    pub fn memory_of(&self, kind: MemKind) -> &[(u32, u64)] {
        match kind {
            MemKind::Regular => &self.memory,
            MemKind::Huge2M => &self.hugepages_2m,
            MemKind::Huge1G => &self.hugepages_1g,
        }
    }

    /// Total bytes of `kind`.
    #[must_use]
    pub fn bytes_of(&self, kind: MemKind) -> u64 {
        self.memory_of(kind)
            .iter()
            .fold(0u64, |a, &(_, b)| a.saturating_add(b))
    }

    fn holds_memory(&self) -> bool {
        MemKind::ALL.iter().any(|&k| !self.memory_of(k).is_empty())
    }
}

/// Free resources, kept in step with the grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ledger {
    pub(super) free: CpuSet,
    pub(super) node_free_cpus: Vec<u32>,
    /// Per node: cores whose every online CPU is free.
    pub(super) node_free_cores: Vec<u32>,
    pub(super) core_free: Vec<u32>,
    pub(super) group_free: Vec<u32>,
    pub(super) mem_free: [Vec<u64>; 3],
    /// Per node: memory grants touching it (the Memory Manager's `NumberOfAssignments`).
    pub(super) mm_assign: Vec<u32>,
    /// Per node: the groups (dense bit masks) of those grants, with counts.
    pub(super) mm_groups: Vec<Vec<(u128, u32)>>,
    pub(super) grants: BTreeMap<String, Grant>,
    /// Per GPU ordinal: free.
    pub(super) gpu_free: Vec<bool>,
    /// Per NIC ordinal: free.
    pub(super) nic_free: Vec<bool>,
}

/// Dense node bit mask of OS ids (0 when a dense index is 128 or more).
pub(super) fn dense_mask(machine: &Machine, os_nodes: &[u32]) -> u128 {
    let mut bits = 0u128;
    for &os in os_nodes {
        if let Some(d) = machine.os_ids.iter().position(|&o| o == os) {
            if d < 128 {
                bits |= 1u128 << d;
            }
        }
    }
    bits
}

impl Ledger {
    pub(super) fn new(m: &Machine) -> Self {
        let mut core_free = vec![0u32; m.core_size.len()];
        for cpu in m.allocatable.iter() {
            if let Some(c) = core_free.get_mut(m.core_of(cpu) as usize) {
                *c += 1;
            }
        }
        let mut node_free_cores = vec![0u32; m.n];
        for (ci, (&free, &size)) in core_free.iter().zip(&m.core_size).enumerate() {
            if free == size && size > 0 {
                if let Some(c) = node_free_cores.get_mut(m.core_numa[ci] as usize) {
                    *c += 1;
                }
            }
        }
        Self {
            free: m.allocatable.clone(),
            node_free_cpus: m.node_alloc_cpus.clone(),
            node_free_cores,
            core_free,
            group_free: m.groups.iter().map(|g| g.size).collect(),
            mem_free: m.capacity.clone(),
            mm_assign: vec![0; m.n],
            mm_groups: vec![Vec::new(); m.n],
            grants: BTreeMap::new(),
            gpu_free: vec![true; m.devices.gpus()],
            nic_free: vec![true; m.devices.nics()],
        }
    }

    /// Whole free cores of `node` times the CPUs per core (what `full-pcpus-only` counts).
    pub(super) fn node_free_physical(&self, m: &Machine, node: u32) -> u32 {
        self.node_free_cores
            .get(node as usize)
            .copied()
            .unwrap_or(0)
            .saturating_mul(m.cpus_per_core)
    }

    fn take_cpu(&mut self, m: &Machine, cpu: u32) {
        self.free.remove(cpu);
        let core = m.core_of(cpu);
        let node = m.numa_of(cpu);
        let Some(cf) = self.core_free.get_mut(core as usize) else {
            return;
        };
        let size = m.core_size.get(core as usize).copied().unwrap_or(0);
        if *cf == size {
            if let Some(c) = self.node_free_cores.get_mut(node as usize) {
                *c = c.saturating_sub(1);
            }
        }
        *cf = cf.saturating_sub(1);
        if let Some(c) = self.node_free_cpus.get_mut(node as usize) {
            *c = c.saturating_sub(1);
        }
        let group = m.core_group.get(core as usize).copied().unwrap_or(NONE);
        if let Some(g) = self.group_free.get_mut(group as usize) {
            *g = g.saturating_sub(1);
        }
    }

    fn give_cpu(&mut self, m: &Machine, cpu: u32) {
        self.free.insert(cpu);
        let core = m.core_of(cpu);
        let node = m.numa_of(cpu);
        let Some(cf) = self.core_free.get_mut(core as usize) else {
            return;
        };
        *cf += 1;
        let size = m.core_size.get(core as usize).copied().unwrap_or(0);
        if *cf == size {
            if let Some(c) = self.node_free_cores.get_mut(node as usize) {
                *c += 1;
            }
        }
        if let Some(c) = self.node_free_cpus.get_mut(node as usize) {
            *c += 1;
        }
        let group = m.core_group.get(core as usize).copied().unwrap_or(NONE);
        if let Some(g) = self.group_free.get_mut(group as usize) {
            *g += 1;
        }
    }

    /// Checks that `grant` can be held now: its CPUs are free and its memory fits.
    pub(super) fn can_hold(&self, m: &Machine, grant: &Grant) -> Result<(), String> {
        if !grant.cpus.is_subset(&self.free) {
            let bad = grant.cpus.difference(&self.free);
            return Err(format!(
                "CPUs {} are held twice, reserved or not allocatable",
                bad.to_list_string()
            ));
        }
        check_devices(&self.gpu_free, &grant.gpus, "GPU")?;
        check_devices(&self.nic_free, &grant.nics, "NIC")?;
        if grant.nic_gpus.len() != grant.nics.len() {
            return Err(format!(
                "{} NICs but {} NIC-to-GPU entries",
                grant.nics.len(),
                grant.nic_gpus.len()
            ));
        }
        for kind in MemKind::ALL {
            let mut prev: Option<u32> = None;
            for &(node, bytes) in grant.memory_of(kind) {
                let free = self.mem_free[kind.index()].get(node as usize).copied();
                if prev.is_some_and(|p| p >= node) {
                    return Err(format!(
                        "{} entries are not ascending by node",
                        kind.as_str()
                    ));
                }
                prev = Some(node);
                match free {
                    None => return Err(format!("NUMA index {node} does not exist")),
                    Some(f) if f < bytes => {
                        return Err(format!(
                            "{} on NUMA node {} is over capacity: {} asked, {} free",
                            kind.as_str(),
                            m.os_id(node),
                            human_bytes(bytes),
                            human_bytes(f)
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Records `grant` (which must pass [`Self::can_hold`]).
    pub(super) fn apply(&mut self, m: &Machine, owner: String, grant: Grant) {
        self.account(m, &grant, true);
        self.grants.insert(owner, grant);
    }

    /// Removes and returns `owner`'s grant, giving its resources back.
    pub(super) fn remove(&mut self, m: &Machine, owner: &str) -> Option<Grant> {
        let grant = self.grants.remove(owner)?;
        self.account(m, &grant, false);
        Some(grant)
    }

    /// Takes (`take`) or gives back everything `grant` holds: CPUs, devices, memory per kind,
    /// and the Memory Manager's per-node assignment counts and groups.
    fn account(&mut self, m: &Machine, grant: &Grant, take: bool) {
        for cpu in grant.cpus.iter() {
            if take {
                self.take_cpu(m, cpu);
            } else {
                self.give_cpu(m, cpu);
            }
        }
        set_all(&mut self.gpu_free, &grant.gpus, !take);
        set_all(&mut self.nic_free, &grant.nics, !take);
        for kind in MemKind::ALL {
            for &(node, bytes) in grant.memory_of(kind) {
                if let Some(f) = self.mem_free[kind.index()].get_mut(node as usize) {
                    *f = if take {
                        f.saturating_sub(bytes)
                    } else {
                        f.saturating_add(bytes)
                    };
                }
            }
        }
        if !grant.holds_memory() {
            return;
        }
        let group = dense_mask(m, &grant.numa_nodes);
        for os in &grant.numa_nodes {
            let Some(d) = m.os_ids.iter().position(|o| o == os) else {
                continue;
            };
            if let Some(a) = self.mm_assign.get_mut(d) {
                *a = if take { *a + 1 } else { a.saturating_sub(1) };
            }
            let Some(list) = self.mm_groups.get_mut(d) else {
                continue;
            };
            match (list.binary_search_by_key(&group, |&(g, _)| g), take) {
                (Ok(i), true) => list[i].1 += 1,
                (Err(i), true) => list.insert(i, (group, 1)),
                (Ok(i), false) => {
                    list[i].1 = list[i].1.saturating_sub(1);
                    if list[i].1 == 0 {
                        list.remove(i);
                    }
                }
                (Err(_), false) => {}
            }
        }
    }

    /// The Memory Manager's `Cells` of dense node `d`: the union of the groups of the memory
    /// grants touching it, or just `d` when none does.
    pub(super) fn cells(&self, d: u32) -> u128 {
        let own = if d < 128 { 1u128 << d } else { 0 };
        self.mm_groups
            .get(d as usize)
            .map_or(own, |list| list.iter().fold(own, |acc, (g, _)| acc | g))
    }
}

/// Checks that every device of `held` exists, is free, and appears once.
fn check_devices(free: &[bool], held: &[u32], what: &str) -> Result<(), String> {
    for (i, &d) in held.iter().enumerate() {
        match free.get(d as usize) {
            None => return Err(format!("{what} {d} does not exist")),
            Some(false) => return Err(format!("{what} {d} is held twice")),
            Some(true) if held[..i].contains(&d) => {
                return Err(format!("{what} {d} appears twice in one grant"));
            }
            Some(true) => {}
        }
    }
    Ok(())
}

fn set_all(flags: &mut [bool], indexes: &[u32], value: bool) {
    for &i in indexes {
        if let Some(f) = flags.get_mut(i as usize) {
            *f = value;
        }
    }
}
