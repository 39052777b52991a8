//! Kubelet mode: the CPU Manager's and Memory Manager's hints, merged by the Topology Manager,
//! then the static policy's CPU pick and the Memory Manager's memory assignment.

use super::default_mode::top_k_width;
use super::ledger::{Grant, Ledger};
use super::machine::Machine;
use super::refusal::{Outcome, RefusalKind};
use super::request::{AllocRequest, MemKind, Mode};
use super::{Shortfall, common_refusal, refuse, take_memory};
use crate::error::{Error, Result};
use crate::node::cpu::{PickError, PolicyState, StaticPolicy};
use crate::node::hints::{self, Hint, NumaMask, Policy};
use crate::topology::CpuSet;

use super::kubelet_view::{Bits, EXHAUSTIVE_NODES, SEARCH_BUDGET, View, for_each_width};

pub(super) fn place(m: &Machine, l: &Ledger, req: &AllocRequest) -> Result<Outcome> {
    let info = m.numa_info.as_ref().ok_or_else(|| {
        Error::Value(
            "kubelet mode needs NUMA node ids below 128 (the kubelet's NUMA bitmask); use the default mode".into(),
        )
    })?;
    if req.policy != Policy::None && m.n > req.tm_options.max_allowable_numa_nodes {
        return Err(Error::Value(format!(
            "the kubelet's Topology Manager refuses a machine with {} NUMA nodes when max-allowable-numa-nodes is {}; raise that option or use the default mode",
            m.n, req.tm_options.max_allowable_numa_nodes
        )));
    }
    if let Some(refusal) = common_refusal(m, l, req) {
        return Ok(Outcome::Refused(refusal));
    }
    let v = View {
        m,
        l,
        req,
        mem: req.memory_array(),
        full: req.cpu_options.full_pcpus_only,
    };
    let merged = if req.policy == Policy::None {
        Hint::new(None, false)
    } else if req.cpus == 0 && !v.has_mem() {
        Hint::new(None, true)
    } else if let Some(pos) = best_preferred(&v, info) {
        Hint::new(Some(v.os_mask(pos)), true)
    } else if req.policy != Policy::BestEffort {
        let shortfall = if req.policy == Policy::SingleNumaNode {
            Shortfall::SingleNode
        } else {
            Shortfall::Width(v.cpu_min().max(if v.has_mem() { v.mem_min() } else { 1 }))
        };
        return Ok(Outcome::Refused(refuse(
            m,
            l,
            req,
            RefusalKind::NotAligned,
            shortfall,
        )));
    } else if m.n <= EXHAUSTIVE_NODES {
        exhaustive_merge(&v, info)?
    } else {
        approximate_merge(&v)
    };
    if !hints::admit(req.policy, &merged) {
        return Ok(Outcome::Refused(refuse(
            m,
            l,
            req,
            RefusalKind::NotAligned,
            Shortfall::Total,
        )));
    }
    let mut grant = Grant {
        cpus: CpuSet::new(),
        memory: Vec::new(),
        hugepages_2m: Vec::new(),
        hugepages_1g: Vec::new(),
        numa_nodes: merged
            .mask
            .map(|mk| mk.iter().collect())
            .unwrap_or_default(),
        preferred: merged.preferred,
        mode: Mode::Kubelet,
        gpus: Vec::new(),
        nics: Vec::new(),
        nic_gpus: Vec::new(),
        score: None,
        alignment: None,
    };
    if req.cpus > 0 {
        let affinity: Option<Vec<u32>> = merged.mask.map(|mk| mk.iter().collect());
        let policy = StaticPolicy::new(&m.details, req.cpu_options, m.reserved_cpus.clone());
        let mut state = PolicyState::new(l.free.clone());
        match policy.allocate_cpus(&mut state, req.cpus as usize, affinity.as_deref()) {
            Ok(cpus) => grant.cpus = cpus,
            Err(e) => {
                let kind = match e {
                    PickError::SmtAlignment { .. } => RefusalKind::SmtAlignment,
                    _ => RefusalKind::NotEnoughCpus,
                };
                return Ok(Outcome::Refused(refuse(m, l, req, kind, Shortfall::Total)));
            }
        }
    }
    if v.has_mem() {
        let pos_of = |mask: NumaMask| -> u128 {
            let mut pos = 0u128;
            for (p, &d) in m.os_order.iter().enumerate().take(128) {
                if mask.contains(m.os_id(d)) {
                    pos |= 1u128 << p;
                }
            }
            pos
        };
        let base = merged.mask.map_or(0, pos_of);
        let chosen = if base != 0 && v.free_fits(base) {
            Some((base, merged.preferred))
        } else {
            // The Memory Manager's default / extended hint: the narrowest memory hint holding
            // `base`, lowest first; preferred when of the minimal width.
            extend(&v, base).map(|p| (p, p.count_ones() == v.mem_min()))
        };
        let Some((pos, preferred)) = chosen else {
            return Ok(Outcome::Refused(refuse(
                m,
                l,
                req,
                RefusalKind::NotEnoughMemory,
                Shortfall::Total,
            )));
        };
        if (merged.preferred && !preferred) || v.violates_groups(pos) {
            return Ok(Outcome::Refused(refuse(
                m,
                l,
                req,
                RefusalKind::NotAligned,
                Shortfall::Total,
            )));
        }
        let order: Vec<u32> = Bits(pos).map(|p| v.dense(p)).collect();
        grant.memory = take_memory(l, MemKind::Regular, &order, v.mem[0]);
        grant.hugepages_2m = take_memory(l, MemKind::Huge2M, &order, v.mem[1]);
        grant.hugepages_1g = take_memory(l, MemKind::Huge1G, &order, v.mem[2]);
        grant.numa_nodes = order.iter().map(|&d| m.os_id(d)).collect();
        grant.numa_nodes.sort_unstable();
    } else if grant.numa_nodes.is_empty() {
        let mut nodes: Vec<u32> = grant.cpus.iter().map(|c| m.os_id(m.numa_of(c))).collect();
        nodes.sort_unstable();
        nodes.dedup();
        grant.numa_nodes = nodes;
    }
    Ok(Outcome::Placed(grant))
}

/// The best preferred merged mask (as positions), if any: every provider's preferred hints
/// have one width (its minimal width), so a preferred merge needs equal widths and a mask that
/// is a hint of every provider.
fn best_preferred(v: &View<'_>, info: &hints::NumaInfo) -> Option<u128> {
    if v.req.cpu_options.align_by_socket && v.req.cpus > 0 && v.m.n <= EXHAUSTIVE_NODES {
        // Socket-aligned preferred hints: leave it to the exhaustive merge.
        return exhaustive_merge(v, info)
            .ok()
            .filter(|h| h.preferred)
            .and_then(|h| h.mask)
            .map(|mask| {
                let mut pos = 0u128;
                for (p, &d) in v.m.os_order.iter().enumerate().take(128) {
                    if mask.contains(v.m.os_id(d)) {
                        pos |= 1u128 << p;
                    }
                }
                pos
            });
    }
    let cpu = v.req.cpus > 0;
    let width = match (cpu, v.has_mem()) {
        (true, true) if v.cpu_min() != v.mem_min() => return None,
        (true, _) => v.cpu_min(),
        (false, true) => v.mem_min(),
        (false, false) => return None,
    };
    if v.req.policy == Policy::SingleNumaNode && width != 1 {
        return None;
    }
    let universe = if cpu {
        v.cpu_universe()
    } else {
        v.all_positions()
    };
    let closest =
        v.req.tm_options.prefer_closest_numa_nodes && v.req.policy != Policy::SingleNumaNode;
    let fits = |pos: u128| (!cpu || v.cpu_hint(pos)) && (!v.has_mem() || v.mem_hint(pos));
    let mut budget = SEARCH_BUDGET;
    let mut best: Option<(u64, u128)> = None;
    for_each_width(universe, width, &mut budget, |pos| {
        if !fits(pos) {
            return false;
        }
        if !closest {
            best = Some((0, pos));
            return true;
        }
        let sum = info.distance_sum(v.os_mask(pos));
        if best.is_none_or(|(s, _)| sum < s) {
            best = Some((sum, pos));
        }
        false
    });
    best.map(|(_, pos)| pos)
}

/// The kubelet's merge, step for step: every mask of the providers' hint lists, merged by
/// [`hints::merge`].
fn exhaustive_merge(v: &View<'_>, info: &hints::NumaInfo) -> Result<Hint> {
    let n = v.m.n.min(EXHAUSTIVE_NODES);
    let mut providers: Vec<Vec<Hint>> = Vec::new();
    if v.req.cpus > 0 {
        let universe = v.cpu_universe();
        let min = v.cpu_min();
        let sockets_per = |pos: u128| -> u32 {
            let mut seen: Vec<u32> = Vec::new();
            for p in Bits(pos) {
                let d = v.dense(p);
                let sock =
                    v.m.topo
                        .numa_nodes()
                        .get(d as usize)
                        .and_then(|node| node.cpus.first())
                        .and_then(|c| v.m.details.info(c))
                        .map_or(u32::MAX, |i| i.socket);
                if !seen.contains(&sock) {
                    seen.push(sock);
                }
            }
            super::to_u32(seen.len())
        };
        let per_socket = {
            let sockets = v.m.details.counts().num_sockets.max(1);
            super::to_u32(v.m.details.counts().num_numa_nodes / sockets)
        };
        let mut list = Vec::new();
        for pos in 1..(1u128 << n) {
            if pos & !universe != 0 || !v.cpu_hint(pos) {
                continue;
            }
            let mut preferred = pos.count_ones() == min;
            if v.req.cpu_options.align_by_socket && per_socket > 0 {
                let min_sockets = min.div_ceil(per_socket);
                preferred |= sockets_per(pos) == min_sockets;
            }
            list.push(Hint::new(Some(v.os_mask(pos)), preferred));
        }
        providers.push(list);
    }
    if v.has_mem() {
        let min = v.mem_min();
        let mut list = Vec::new();
        for pos in 1..(1u128 << n) {
            if v.mem_hint(pos) {
                list.push(Hint::new(Some(v.os_mask(pos)), pos.count_ones() == min));
            }
        }
        for k in 0..3 {
            if v.mem[k] > 0 {
                providers.push(list.clone());
            }
        }
    }
    for list in &mut providers {
        if list.is_empty() {
            list.push(Hint::NO_POSSIBLE_AFFINITY);
        }
    }
    hints::merge(v.req.policy, &v.req.tm_options, info, &providers)
}

/// Above [`EXHAUSTIVE_NODES`]: the kubelet's non-preferred rule assuming every mask is an AND
/// of some CPU hint and some memory hint (true whenever a CPU hint and a memory hint are
/// disjoint): the lowest mask of width `B`, `B` being the largest narrowest-hint width.
/// Nodes holding single-node memory are left out when memory spans several nodes (the Memory
/// Manager's group rule makes such masks unreachable).
fn approximate_merge(v: &View<'_>) -> Hint {
    let mut width = 1;
    if v.req.cpus > 0 {
        let free: Vec<u64> = (0..v.m.n)
            .map(|d| {
                let d = super::to_u32(d);
                if v.full {
                    u64::from(v.l.node_free_physical(v.m, d))
                } else {
                    u64::from(v.l.node_free_cpus.get(d as usize).copied().unwrap_or(0))
                }
            })
            .collect();
        width = width.max(top_k_width(&free, u64::from(v.req.cpus)));
    }
    for k in 0..3 {
        if v.mem[k] > 0 {
            width = width.max(top_k_width(&v.l.mem_free[k], v.mem[k]));
        }
    }
    let mut universe = if v.req.cpus > 0 {
        v.cpu_universe()
    } else {
        v.all_positions()
    };
    if v.has_mem() && width > 1 {
        // Nodes holding single-node memory are in no multi-node memory hint, so no AND with
        // a memory hint can contain them.
        for p in Bits(universe) {
            let d = v.dense(p);
            if v.l.mm_assign.get(d as usize).copied().unwrap_or(0) > 0
                && v.l.cells(d).count_ones() == 1
            {
                universe &= !(1u128 << p);
            }
        }
    }
    let mut pos = 0u128;
    for p in Bits(universe).take(width as usize) {
        pos |= 1u128 << p;
    }
    if pos == 0 {
        return Hint::new(None, false);
    }
    Hint::new(Some(v.os_mask(pos)), false)
}

/// The narrowest memory hint containing `base` (lowest first), within the search budget.
fn extend(v: &View<'_>, base: u128) -> Option<u128> {
    let rest = v.all_positions() & !base;
    let mut budget = SEARCH_BUDGET;
    let start = base.count_ones();
    for extra in 0..=rest.count_ones() {
        if extra == 0 {
            if base != 0 && v.mem_hint(base) {
                return Some(base);
            }
            continue;
        }
        let _ = start;
        let mut found = None;
        for_each_width(rest, extra, &mut budget, |add| {
            if v.mem_hint(base | add) {
                found = Some(base | add);
                return true;
            }
            false
        });
        if found.is_some() || budget == 0 {
            return found;
        }
    }
    None
}
