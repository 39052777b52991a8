//! Why a joint request was refused: too few matching GPUs, or no domain of the required
//! level holding everything, with the domain that came closest.

use std::fmt::Write;

use super::describe;
use super::device_table::DeviceTable;
use super::joint::{domains, free_cpus, free_mem};
use super::ledger::Ledger;
use super::machine::Machine;
use super::refusal::{Closest, Refusal, RefusalKind};
use super::request::{AlignLevel, AllocRequest, DeviceRequest, MemKind};
use crate::topology::{human_bytes, to_u32};

/// "4 GPUs (model "h100", at least 80 GiB)".
fn describe_gpus(dev: &DeviceRequest) -> String {
    let mut text = format!("{} GPUs", dev.gpus);
    let mut cons = Vec::new();
    if let Some(model) = &dev.gpu_model {
        cons.push(format!("model {model:?}"));
    }
    if dev.gpu_min_memory > 0 {
        cons.push(format!("at least {}", human_bytes(dev.gpu_min_memory)));
    }
    if !cons.is_empty() {
        let _ = write!(text, " ({})", cons.join(", "));
    }
    text
}

pub(super) fn short_of_gpus(
    t: &DeviceTable,
    l: &Ledger,
    dev: &DeviceRequest,
    matching: usize,
) -> Refusal {
    let free = l.gpu_free.iter().filter(|&&f| f).count();
    Refusal::new(
        RefusalKind::NotEnoughGpus,
        format!(
            "{} requested but {matching} free GPUs match ({free} of the machine's {} GPUs are free)",
            describe_gpus(dev),
            t.gpus()
        ),
        None,
    )
}

/// A refusal at `level`: the domain that came closest and what it had.
pub(super) fn not_aligned(
    m: &Machine,
    l: &Ledger,
    req: &AllocRequest,
    level: AlignLevel,
    gpus: &[u32],
) -> Refusal {
    let t = &m.devices;
    let dev = &req.devices;
    let mem = req.memory_array();
    let mut best: Option<(f64, String, Closest)> = None;
    for domain in domains(m, level) {
        let inside = |numa: u32| domain.whole_machine || domain.nodes.contains(&numa);
        let have_gpus = gpus
            .iter()
            .filter(|&&g| inside(t.gpu_numa[g as usize]))
            .filter(|&&g| {
                level != AlignLevel::PcieRoot
                    || dev.nics_per_gpu == 0
                    || (0..to_u32(t.nics()))
                        .filter(|&c| l.nic_free[c as usize] && t.root(g, c))
                        .count()
                        >= dev.nics_per_gpu as usize
            })
            .count();
        let have_nics = (0..t.nics())
            .filter(|&c| l.nic_free[c] && inside(t.nic_numa[c]))
            .count();
        let cpus: u64 = domain
            .nodes
            .iter()
            .map(|&d| free_cpus(m, l, req, d))
            .max()
            .unwrap_or(0);
        let bytes: u64 = domain
            .nodes
            .iter()
            .map(|&d| free_mem(l, MemKind::Regular, d))
            .max()
            .unwrap_or(0);
        let mut ratio = f64::INFINITY;
        let mut parts = Vec::new();
        let mut part = |have: u64, want: u64, what: &str| {
            if want > 0 {
                ratio = ratio.min(have as f64 / want as f64);
                parts.push(format!("{what} {have}/{want}"));
            }
        };
        part(have_gpus as u64, u64::from(dev.gpus), "GPUs");
        part(have_nics as u64, u64::from(dev.nic_count()), "NICs");
        part(cpus, u64::from(req.cpus), "CPUs");
        if mem[0] > 0 {
            ratio = ratio.min(bytes as f64 / mem[0] as f64);
            parts.push(format!(
                "memory {}/{}",
                human_bytes(bytes),
                human_bytes(mem[0])
            ));
        }
        let first = domain.nodes.first().copied().unwrap_or(0);
        let name = match level {
            AlignLevel::None => "the machine".to_string(),
            AlignLevel::Socket => format!("package {}", t.package_of(first)),
            AlignLevel::Numa | AlignLevel::PcieRoot => format!("NUMA node {}", m.os_id(first)),
        };
        let text = format!("{name} with {} (free/needed)", parts.join(", "));
        let close = Closest {
            numa: m.os_id(first),
            free_cpus: to_u32(usize::try_from(cpus).unwrap_or(usize::MAX)),
            free_bytes: bytes,
        };
        if best.as_ref().is_none_or(|(r, _, _)| ratio > *r) {
            best = Some((ratio, text, close));
        }
    }
    let what = format!("{}{}", describe_gpus(dev), describe_rest(req));
    let mut reason = match level {
        AlignLevel::PcieRoot => format!(
            "no NUMA node holds {what} with each GPU's NICs under its own PCIe root (alignment pcie-root)"
        ),
        AlignLevel::Numa => format!("no NUMA node holds {what} (alignment numa)"),
        AlignLevel::Socket => format!("no socket holds {what} (alignment socket)"),
        AlignLevel::None => format!(
            "the machine cannot give {what} together (policy {})",
            req.policy
        ),
    };
    let closest = best.map(|(_, text, c)| {
        let _ = write!(reason, "; closest is {text}");
        c
    });
    Refusal::new(RefusalKind::NotAligned, reason, closest)
}

/// ", 2 NICs, 24 free CPUs and 128 GiB" (empty when only GPUs are asked for).
fn describe_rest(req: &AllocRequest) -> String {
    let mut text = String::new();
    let nics = req.devices.nic_count();
    if nics > 0 {
        let _ = write!(text, ", {nics} NICs");
    }
    let rest = describe(req);
    if rest != "nothing" {
        let _ = write!(text, ", {rest}");
    }
    text
}
