//! Joint requests: GPUs, NICs, CPUs and memory placed together, aligned, all or nothing.
//!
//! # Alignment
//!
//! A [`DeviceRequest`] names a level, from the tightest:
//!
//! - `pcie-root`: everything on one NUMA node, and each GPU's NICs under the GPU's own PCIe
//!   root (path `PIX`, `PXB` or `PHB`, so GPUDirect RDMA stays below the root complex); with a
//!   NIC count, each NIC under the root of some chosen GPU; without NICs, all GPUs under one
//!   root.
//! - `numa`: the GPUs, NICs, CPUs and memory all on one NUMA node.
//! - `socket`: all on one package.
//! - `none`: anywhere.
//!
//! A *required* level is searched alone and the request is refused when nothing meets it. A
//! *preferred* level is searched first, then each looser level in turn; the first level with a
//! placement wins and [`Grant::preferred`] says whether it was the requested one.
//!
//! # Choice
//!
//! Inside a level, each domain (the machine, a package, a NUMA node) is searched. CPUs and
//! memory go on the fewest NUMA nodes of the domain that hold them (one node when one can, each
//! such node a candidate *home*; else sets grown from every seed node as the default mode grows
//! them). For each home, every GPU set is considered (a branch and bound, exact, see
//! `joint_search`), its NICs chosen optimally, and the placement with the highest score wins;
//! ties keep the first found: domains and homes in OS-id order, GPU sets in ascending index
//! order. The score, reported with its parts in [`JointScore`], is
//!
//! ```text
//! total = gpu_links + nic_paths - numa_distance - fragmentation
//! ```
//!
//! - `gpu_links`: the sum of `go-gpuallocator`'s pair scores among the chosen GPUs (`NVk` =
//!   100 k per NVLink / NVSwitch link count, plus the PCIe class: `PIX` 50, `PXB` 40, `PHB` 30,
//!   `NODE` 20, `SYS` 10);
//! - `nic_paths`: for each NIC, the points of its PCIe path class to its GPU (same scale);
//! - `numa_distance`: for each GPU and NIC, the distance from the farthest NUMA node holding
//!   the request's CPUs or memory to the device's node, minus the local distance (0 without
//!   CPUs and memory);
//! - `fragmentation`: 10 for each NUMA node and each package whose GPUs were all free and would
//!   be split (some taken, some left), so partly used domains are filled first and whole ones
//!   stay whole for large requests.
//!
//! Inside the home, CPUs and memory are taken as the default mode takes them. Requests with
//! devices are placed by [`Mode::Default`] only: the kubelet's device manager hints are not
//! modelled.

use super::common_refusal;
use super::default_mode::{empty_grant, fill_on};
use super::device_table::DeviceTable;
use super::joint_refusal::{not_aligned, short_of_gpus};
use super::joint_search::{Found, Problem, solve};
use super::ledger::{Grant, Ledger};
use super::machine::{Machine, NONE};
use super::refusal::{Outcome, Refusal, RefusalKind};
use super::request::{AlignLevel, AllocRequest, DeviceRequest, MemKind, Mode};
use crate::error::{Error, Result};
use crate::node::hints::Policy;
use crate::topology::to_u32;

pub use super::joint_search::JointScore;

/// One domain of a level: its dense NUMA nodes (all of them for the whole machine).
pub(super) struct Domain {
    pub(super) nodes: Vec<u32>,
    pub(super) whole_machine: bool,
}

/// Places a request with devices.
pub(super) fn place(m: &Machine, l: &Ledger, req: &AllocRequest) -> Result<Outcome> {
    let dev = &req.devices;
    dev.validate()?;
    if req.mode == Mode::Kubelet {
        return Err(Error::Value(
            "requests with GPUs or NICs are placed by the default mode; the kubelet mode covers CPUs and memory only".into(),
        ));
    }
    if let Some(refusal) = common_refusal(m, l, req) {
        return Ok(Outcome::Refused(refusal));
    }
    let t = &m.devices;
    let model = dev.gpu_model.as_deref().map(str::to_lowercase);
    let gpus: Vec<u32> = (0..to_u32(t.gpus()))
        .filter(|&g| l.gpu_free[g as usize] && matches(t, dev, model.as_deref(), g))
        .collect();
    if (gpus.len() as u64) < u64::from(dev.gpus) {
        return Ok(Outcome::Refused(short_of_gpus(t, l, dev, gpus.len())));
    }
    let nics: Vec<u32> = (0..to_u32(t.nics()))
        .filter(|&c| l.nic_free[c as usize])
        .collect();
    if (nics.len() as u64) < u64::from(dev.nic_count()) {
        return Ok(Outcome::Refused(Refusal::new(
            RefusalKind::NotEnoughNics,
            format!(
                "{} NICs requested but {} of the machine's {} NICs are free",
                dev.nic_count(),
                nics.len(),
                t.nics()
            ),
            None,
        )));
    }
    let start = AlignLevel::ALL
        .iter()
        .position(|&a| a == dev.align)
        .unwrap_or(3);
    let levels = if dev.align_required {
        &AlignLevel::ALL[start..=start]
    } else {
        &AlignLevel::ALL[start..]
    };
    for &level in levels {
        if let Some((found, home)) = search(m, l, req, level, &gpus, &nics) {
            return Ok(Outcome::Placed(grant_of(
                m,
                l,
                req,
                found,
                &home,
                level == dev.align,
            )));
        }
    }
    let level = levels.last().copied().unwrap_or(AlignLevel::None);
    Ok(Outcome::Refused(not_aligned(m, l, req, level, &gpus)))
}

/// Whether GPU `g` meets the model (`model`: the request's, lowercased once by the caller)
/// and memory constraints.
fn matches(t: &DeviceTable, dev: &DeviceRequest, model: Option<&str>, g: u32) -> bool {
    model.is_none_or(|want| t.gpu_model[g as usize].contains(want))
        && t.gpu_memory[g as usize] >= dev.gpu_min_memory
}

/// The best placement at `level`, with its home (dense nodes).
fn search(
    m: &Machine,
    l: &Ledger,
    req: &AllocRequest,
    level: AlignLevel,
    gpus: &[u32],
    nics: &[u32],
) -> Option<(Found, Vec<u32>)> {
    let t = &m.devices;
    let dev = &req.devices;
    let (numa_gpus, pkg_gpus) = gpu_counts(m, l);
    let mut best: Option<(Found, Vec<u32>)> = None;
    for domain in domains(m, level) {
        let inside = |numa: u32| domain.whole_machine || domain.nodes.contains(&numa);
        let dom_gpus: Vec<u32> = gpus
            .iter()
            .copied()
            .filter(|&g| inside(t.gpu_numa[g as usize]))
            .collect();
        let dom_nics: Vec<u32> = nics
            .iter()
            .copied()
            .filter(|&c| inside(t.nic_numa[c as usize]))
            .collect();
        if dom_gpus.len() < dev.gpus as usize || dom_nics.len() < dev.nic_count() as usize {
            continue;
        }
        for home in homes(m, l, req, &domain.nodes) {
            let pen = (0..to_u32(m.n))
                .map(|d| {
                    home.iter()
                        .map(|&h| i64::from(m.distance(h, d)) - i64::from(m.distance(d, d)))
                        .max()
                        .unwrap_or(0)
                        .max(0)
                })
                .collect();
            let problem = Problem {
                table: t,
                gpus: &dom_gpus,
                nics: &dom_nics,
                k: dev.gpus as usize,
                per_gpu: dev.nics_per_gpu as usize,
                count: dev.nics as usize,
                root: level == AlignLevel::PcieRoot,
                pen,
                numa_gpus: &numa_gpus,
                pkg_gpus: &pkg_gpus,
            };
            // Later homes and domains must beat the best so far strictly (ties keep the first),
            // so the search prunes against it from the start.
            let floor = best.as_ref().map(|(b, _)| b.score.total);
            if let Some(found) = solve(&problem, floor) {
                best = Some((found, home));
            }
        }
    }
    best
}

/// Per domain: (GPUs in all, GPUs free).
type GpuCounts = Vec<(u32, u32)>;

/// Per dense NUMA node and per package: (GPUs in all, GPUs free).
fn gpu_counts(m: &Machine, l: &Ledger) -> (GpuCounts, GpuCounts) {
    let t = &m.devices;
    let mut numa = vec![(0u32, 0u32); m.n];
    let mut pkg = vec![(0u32, 0u32); t.packages];
    for g in 0..t.gpus() {
        let d = t.gpu_numa[g];
        let free = u32::from(l.gpu_free[g]);
        if let Some(e) = numa.get_mut(d as usize) {
            e.0 += 1;
            e.1 += free;
        }
        if let Some(e) = pkg.get_mut(t.package_of(d) as usize) {
            e.0 += 1;
            e.1 += free;
        }
    }
    (numa, pkg)
}

/// The domains of `level`, in OS-id order.
pub(super) fn domains(m: &Machine, level: AlignLevel) -> Vec<Domain> {
    match level {
        AlignLevel::None => vec![Domain {
            nodes: m.os_order.clone(),
            whole_machine: true,
        }],
        AlignLevel::Socket => (0..to_u32(m.devices.packages))
            .map(|p| Domain {
                nodes: m
                    .os_order
                    .iter()
                    .copied()
                    .filter(|&d| m.devices.package_of(d) == p)
                    .collect(),
                whole_machine: false,
            })
            .filter(|d| !d.nodes.is_empty())
            .collect(),
        AlignLevel::Numa | AlignLevel::PcieRoot => m
            .os_order
            .iter()
            .map(|&d| Domain {
                nodes: vec![d],
                whole_machine: false,
            })
            .collect(),
    }
}

/// Free CPUs of dense node `d` as the request counts them.
pub(super) fn free_cpus(m: &Machine, l: &Ledger, req: &AllocRequest, d: u32) -> u64 {
    if req.cpu_options.full_pcpus_only {
        u64::from(l.node_free_physical(m, d))
    } else {
        u64::from(l.node_free_cpus.get(d as usize).copied().unwrap_or(0))
    }
}

pub(super) fn free_mem(l: &Ledger, kind: MemKind, d: u32) -> u64 {
    l.mem_free[kind.index()]
        .get(d as usize)
        .copied()
        .unwrap_or(0)
}

/// Candidate homes for the CPUs and memory inside `nodes` (dense, OS-id order): every node
/// that holds them alone; when none does (and the policy allows several), the set grown from
/// each seed by adding the nearest node that adds something lacking. No CPUs and no memory:
/// one empty home.
fn homes(m: &Machine, l: &Ledger, req: &AllocRequest, nodes: &[u32]) -> Vec<Vec<u32>> {
    let mem = req.memory_array();
    let need = u64::from(req.cpus);
    if need == 0 && mem.iter().all(|&b| b == 0) {
        return vec![Vec::new()];
    }
    let holds = |cpus: u64, bytes: &[u64; 3]| cpus >= need && (0..3).all(|k| bytes[k] >= mem[k]);
    let node_bytes = |d: u32| MemKind::ALL.map(|k| free_mem(l, k, d));
    let singles: Vec<Vec<u32>> = nodes
        .iter()
        .filter(|&&d| holds(free_cpus(m, l, req, d), &node_bytes(d)))
        .map(|&d| vec![d])
        .collect();
    if !singles.is_empty() || req.policy == Policy::SingleNumaNode {
        return singles;
    }
    let mut out: Vec<Vec<u32>> = Vec::new();
    for &seed in nodes {
        let mut set = vec![seed];
        let (mut cpus, mut bytes) = (free_cpus(m, l, req, seed), node_bytes(seed));
        while !holds(cpus, &bytes) {
            let lacks_cpus = cpus < need;
            let next = nodes
                .iter()
                .copied()
                .filter(|d| !set.contains(d))
                .filter(|&d| {
                    (lacks_cpus && free_cpus(m, l, req, d) > 0)
                        || (0..3).any(|k| bytes[k] < mem[k] && node_bytes(d)[k] > 0)
                })
                .min_by_key(|&d| {
                    let sum: u64 = set.iter().map(|&s| u64::from(m.distance(s, d))).sum();
                    (sum, m.os_id(d))
                });
            let Some(d) = next else { break };
            set.push(d);
            cpus += free_cpus(m, l, req, d);
            let add = node_bytes(d);
            for k in 0..3 {
                bytes[k] += add[k];
            }
        }
        if !holds(cpus, &bytes) {
            continue;
        }
        let mut key = set.clone();
        key.sort_unstable();
        if !out.iter().any(|o| {
            let mut s = o.clone();
            s.sort_unstable();
            s == key
        }) {
            out.push(set);
        }
    }
    // Fewest nodes first, as everywhere else.
    let fewest = out.iter().map(Vec::len).min().unwrap_or(0);
    out.retain(|s| s.len() == fewest);
    out
}

/// The grant of a found placement.
fn grant_of(
    m: &Machine,
    l: &Ledger,
    req: &AllocRequest,
    found: Found,
    home: &[u32],
    preferred: bool,
) -> Grant {
    let t = &m.devices;
    let mut grant = if home.is_empty() {
        empty_grant()
    } else {
        // The home was chosen because its free CPUs hold the request, so this succeeds.
        fill_on(m, l, req, home).unwrap_or_else(empty_grant)
    };
    let mut gpus = found.gpus;
    gpus.sort_unstable();
    let alignment = achieved(m, &req.devices, &gpus, &found.nics, &found.nic_gpus, home);
    if home.is_empty() {
        let mut nodes: Vec<u32> = gpus
            .iter()
            .map(|&g| t.gpu_numa[g as usize])
            .chain(found.nics.iter().map(|&c| t.nic_numa[c as usize]))
            .filter(|&d| d != NONE)
            .map(|d| m.os_id(d))
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        grant.numa_nodes = nodes;
    }
    grant.gpus = gpus;
    grant.nics = found.nics;
    grant.nic_gpus = found.nic_gpus;
    grant.score = Some(found.score);
    grant.alignment = Some(alignment);
    grant.preferred = preferred;
    grant
}

/// The tightest level the placement meets.
fn achieved(
    m: &Machine,
    dev: &DeviceRequest,
    gpus: &[u32],
    nics: &[u32],
    nic_gpus: &[Option<u32>],
    home: &[u32],
) -> AlignLevel {
    let t = &m.devices;
    let mut nodes: Vec<u32> = home.to_vec();
    nodes.extend(gpus.iter().map(|&g| t.gpu_numa[g as usize]));
    nodes.extend(nics.iter().map(|&c| t.nic_numa[c as usize]));
    nodes.sort_unstable();
    nodes.dedup();
    if nodes.is_empty() || nodes.contains(&NONE) {
        return AlignLevel::None;
    }
    if nodes.len() == 1 {
        let rooted = if nics.is_empty() {
            gpus.iter().all(|&a| {
                gpus.iter()
                    .all(|&b| a == b || t.gpu_root_peers[a as usize] & (1u128 << b) != 0)
            })
        } else if dev.nics_per_gpu > 0 {
            nics.iter()
                .zip(nic_gpus)
                .all(|(&c, g)| g.is_some_and(|g| t.root(g, c)))
        } else {
            gpus.is_empty() || nics.iter().all(|&c| gpus.iter().any(|&g| t.root(g, c)))
        };
        return if rooted {
            AlignLevel::PcieRoot
        } else {
            AlignLevel::Numa
        };
    }
    let pkg = t.package_of(nodes[0]);
    if pkg != NONE && nodes.iter().all(|&d| t.package_of(d) == pkg) {
        AlignLevel::Socket
    } else {
        AlignLevel::None
    }
}
