//! topoplace's own placement (see the module documentation of [`super`] for the rules and a
//! worked example).

use super::ledger::{Grant, Ledger};
use super::machine::{Machine, NONE};
use super::refusal::{Outcome, RefusalKind};
use super::request::{AllocRequest, MemKind, Mode};
use super::{Shortfall, common_refusal, refuse, take_memory};
use crate::node::hints::Policy;
use crate::topology::CpuSet;

/// The best candidate so far: (node count, pairwise distance sum, CPUs left free, bytes left
/// free, seed OS id) and its members in growth order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    count: u32,
    distance: u64,
    left_cpus: u64,
    left_bytes: u64,
    seed_os: u32,
}

pub(super) fn place(m: &Machine, l: &Ledger, req: &AllocRequest) -> Outcome {
    if let Some(refusal) = common_refusal(m, l, req) {
        return Outcome::Refused(refusal);
    }
    let full = req.cpu_options.full_pcpus_only;
    let mem = req.memory_array();
    let need_cpus = u64::from(req.cpus);
    if need_cpus == 0 && mem.iter().all(|&b| b == 0) {
        return Outcome::Placed(empty_grant());
    }
    let free_cpus = |d: u32| -> u64 {
        if full {
            u64::from(l.node_free_physical(m, d))
        } else {
            u64::from(l.node_free_cpus.get(d as usize).copied().unwrap_or(0))
        }
    };
    let free_mem = |k: usize, d: u32| l.mem_free[k].get(d as usize).copied().unwrap_or(0);
    let width = capacity_width(m, req);
    let max_count = match req.policy {
        Policy::SingleNumaNode => 1,
        Policy::Restricted => width,
        Policy::BestEffort | Policy::None => u32::MAX,
    };
    let n = m.n;
    let mut in_set = vec![false; n];
    let mut acc = vec![0u64; n];
    let mut members: Vec<u32> = Vec::with_capacity(8);
    let mut best: Option<(Score, Vec<u32>)> = None;
    for &seed in &m.os_order {
        // A seed must contribute to something still needed.
        let useful = (need_cpus > 0 && free_cpus(seed) > 0)
            || (need_cpus == 0 && (0..3).any(|k| mem[k] > 0 && free_mem(k, seed) > 0));
        if !useful {
            continue;
        }
        in_set.iter_mut().for_each(|b| *b = false);
        acc.iter_mut().for_each(|a| *a = 0);
        members.clear();
        let (mut cpus, mut bytes, mut distance) = (0u64, [0u64; 3], 0u64);
        let mut next = Some(seed);
        while let Some(d) = next {
            members.push(d);
            if let Some(b) = in_set.get_mut(d as usize) {
                *b = true;
            }
            distance += acc.get(d as usize).copied().unwrap_or(0);
            for (j, a) in acc.iter_mut().enumerate() {
                *a += u64::from(m.distance(d, super::to_u32(j)));
            }
            cpus += free_cpus(d);
            for (k, b) in bytes.iter_mut().enumerate() {
                *b += free_mem(k, d);
            }
            let fits = cpus >= need_cpus && (0..3).all(|k| bytes[k] >= mem[k]);
            let count = super::to_u32(members.len());
            if fits {
                let score = Score {
                    count,
                    distance,
                    left_cpus: cpus - need_cpus,
                    left_bytes: bytes[0] - mem[0],
                    seed_os: m.os_id(seed),
                };
                if best.as_ref().is_none_or(|(s, _)| score < *s) {
                    best = Some((score, members.clone()));
                }
                break;
            }
            if count >= max_count
                || best.as_ref().is_some_and(|(s, _)| {
                    s.count < count + 1 || s.count == count + 1 && s.distance <= distance
                })
            {
                break;
            }
            // Grow by the nearest node that adds something still lacking.
            let lacks_cpus = cpus < need_cpus;
            let lacks = [0, 1, 2].map(|k| bytes[k] < mem[k]);
            next = None;
            let mut best_key = (u64::MAX, u32::MAX);
            for &j in &m.os_order {
                if in_set.get(j as usize).copied().unwrap_or(true) {
                    continue;
                }
                let adds = (lacks_cpus && free_cpus(j) > 0)
                    || (0..3).any(|k| lacks[k] && free_mem(k, j) > 0);
                if !adds {
                    continue;
                }
                let key = (acc.get(j as usize).copied().unwrap_or(u64::MAX), m.os_id(j));
                if key < best_key {
                    best_key = key;
                    next = Some(j);
                }
            }
        }
    }
    let Some((score, members)) = best else {
        return Outcome::Refused(refuse(
            m,
            l,
            req,
            RefusalKind::NotAligned,
            match req.policy {
                Policy::SingleNumaNode => Shortfall::SingleNode,
                _ => Shortfall::Width(width),
            },
        ));
    };
    let Some(mut grant) = fill_on(m, l, req, &members) else {
        return Outcome::Refused(refuse(
            m,
            l,
            req,
            RefusalKind::NotEnoughCpus,
            Shortfall::Total,
        ));
    };
    grant.preferred = score.count <= width;
    Outcome::Placed(grant)
}

/// The CPUs and memory of `req` taken on `members` (dense nodes, in preference order), with
/// `numa_nodes` set to the members; `None` when they lack free CPUs.
pub(super) fn fill_on(
    m: &Machine,
    l: &Ledger,
    req: &AllocRequest,
    members: &[u32],
) -> Option<Grant> {
    let full = req.cpu_options.full_pcpus_only;
    let free_mem = |k: usize, d: u32| l.mem_free[k].get(d as usize).copied().unwrap_or(0);
    let mut cpus = CpuSet::new();
    let got = pick_cpus(m, l, members, req.cpus, full, &mut cpus);
    if got < req.cpus {
        return None;
    }
    let mut grant = empty_grant();
    grant.cpus = cpus;
    for kind in MemKind::ALL {
        let want = req.memory_of(kind);
        if want == 0 {
            continue;
        }
        // A single member that holds it all, else the members in growth order.
        let single = members
            .iter()
            .copied()
            .find(|&d| free_mem(kind.index(), d) >= want);
        let order: Vec<u32> = single.map_or_else(|| members.to_vec(), |d| vec![d]);
        let taken = take_memory(l, kind, &order, want);
        match kind {
            MemKind::Regular => grant.memory = taken,
            MemKind::Huge2M => grant.hugepages_2m = taken,
            MemKind::Huge1G => grant.hugepages_1g = taken,
        }
    }
    let mut nodes: Vec<u32> = members.iter().map(|&d| m.os_id(d)).collect();
    nodes.sort_unstable();
    grant.numa_nodes = nodes;
    Some(grant)
}

pub(super) fn empty_grant() -> Grant {
    Grant {
        cpus: CpuSet::new(),
        memory: Vec::new(),
        hugepages_2m: Vec::new(),
        hugepages_1g: Vec::new(),
        numa_nodes: Vec::new(),
        preferred: true,
        mode: Mode::Default,
        gpus: Vec::new(),
        nics: Vec::new(),
        nic_gpus: Vec::new(),
        score: None,
        alignment: None,
    }
}

/// The fewest nodes whose *capacity* could hold the request (the largest of the per-resource
/// minimal widths; a lower bound when several resources are requested).
pub(super) fn capacity_width(m: &Machine, req: &AllocRequest) -> u32 {
    let mut width = 1;
    if req.cpus > 0 {
        width = width.max(top_k_width(
            &m.node_alloc_cpus
                .iter()
                .map(|&c| u64::from(c))
                .collect::<Vec<_>>(),
            u64::from(req.cpus),
        ));
    }
    for kind in MemKind::ALL {
        let want = req.memory_of(kind);
        if want > 0 {
            width = width.max(top_k_width(&m.capacity[kind.index()], want));
        }
    }
    width
}

/// The smallest `k` such that the `k` largest values sum to at least `want`.
pub(super) fn top_k_width(values: &[u64], want: u64) -> u32 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let mut sum = 0u64;
    for (i, v) in sorted.iter().enumerate() {
        sum = sum.saturating_add(*v);
        if sum >= want {
            return super::to_u32(i + 1);
        }
    }
    super::to_u32(values.len() + 1)
}

/// Picks up to `want` CPUs on `nodes` (in order): whole free cache groups while the rest is at
/// least a group, then the tightest group that holds the rest (partly used groups first),
/// inside a group the free siblings of partly used cores first, then whole cores. Returns the
/// count taken.
fn pick_cpus(
    m: &Machine,
    l: &Ledger,
    nodes: &[u32],
    want: u32,
    full: bool,
    out: &mut CpuSet,
) -> u32 {
    let mut left = want;
    let mut done: Vec<u32> = Vec::new();
    let group_free = |g: u32| -> u32 {
        let Some(group) = m.groups.get(g as usize) else {
            return 0;
        };
        if full {
            let whole = group
                .cores
                .iter()
                .filter(|&&c| l.core_free.get(c as usize) == m.core_size.get(c as usize))
                .count();
            super::to_u32(whole) * m.cpus_per_core
        } else {
            l.group_free.get(g as usize).copied().unwrap_or(0)
        }
    };
    // Phase A: whole free groups.
    for &d in nodes {
        for &g in m.node_groups.get(d as usize).map_or(&[][..], Vec::as_slice) {
            let size = m.groups.get(g as usize).map_or(0, |x| x.size);
            if left == 0 || size == 0 || left < size {
                continue;
            }
            if l.group_free.get(g as usize).copied() == Some(size) {
                left -= take_from_group(m, l, g, size, full, out);
                done.push(g);
            }
        }
    }
    // Phase B: the tightest group holding the rest, else the fullest-free groups first.
    while left > 0 {
        let mut pick: Option<(u32, (u32, u32), usize)> = None;
        for (rank, &d) in nodes.iter().enumerate() {
            for &g in m.node_groups.get(d as usize).map_or(&[][..], Vec::as_slice) {
                if done.contains(&g) {
                    continue;
                }
                let free = group_free(g);
                if free == 0 {
                    continue;
                }
                let key = if free >= left {
                    (0, free)
                } else {
                    (1, u32::MAX - free)
                };
                if pick.is_none_or(|(_, k, r)| (key, rank) < (k, r)) {
                    pick = Some((g, key, rank));
                }
            }
        }
        let Some((g, _, _)) = pick else { break };
        let take = left.min(group_free(g));
        left -= take_from_group(m, l, g, take, full, out);
        done.push(g);
    }
    want - left
}

/// Takes `want` free CPUs of group `g`: partly used cores first (not under `full`), then whole
/// cores, then (odd rest) one CPU of a whole core.
fn take_from_group(
    m: &Machine,
    l: &Ledger,
    g: u32,
    want: u32,
    full: bool,
    out: &mut CpuSet,
) -> u32 {
    let Some(group) = m.groups.get(g as usize) else {
        return 0;
    };
    let cores = m.topo.cores();
    let mut left = want;
    let mut take_core = |c: u32, limit: u32, left: &mut u32| {
        if let Some(core) = cores.get(c as usize) {
            let mut taken = 0;
            for cpu in core.cpus.iter() {
                if taken == limit || *left == 0 {
                    break;
                }
                if l.free.contains(cpu) && !out.contains(cpu) {
                    out.insert(cpu);
                    taken += 1;
                    *left -= 1;
                }
            }
        }
    };
    let whole = |c: u32| l.core_free.get(c as usize) == m.core_size.get(c as usize);
    let free_of = |c: u32| l.core_free.get(c as usize).copied().unwrap_or(0);
    if !full {
        for &c in &group.cores {
            if left > 0 && free_of(c) > 0 && !whole(c) {
                take_core(c, u32::MAX, &mut left);
            }
        }
    }
    for &c in &group.cores {
        let size = m.core_size.get(c as usize).copied().unwrap_or(NONE);
        if left >= size && size > 0 && whole(c) && free_of(c) == size {
            take_core(c, u32::MAX, &mut left);
        }
    }
    if !full {
        for &c in &group.cores {
            if left > 0 && free_of(c) > 0 {
                take_core(c, left, &mut left);
            }
        }
    }
    want - left
}
