//! Rules shared by the placement modes: totals that refuse any request, refusal sentences
//! with the closest node, and taking memory node by node.

use std::fmt::Write;

use super::ledger::Ledger;
use super::machine::Machine;
use super::refusal::{self, Refusal, RefusalKind};
use super::request::{AllocRequest, MemKind};
use crate::topology::{human_bytes, to_u32};

/// What a refusal reports as missing.
#[derive(Debug, Clone, Copy)]
pub(super) enum Shortfall {
    /// On the machine as a whole / where the placement needed it.
    Total,
    /// On any single node.
    SingleNode,
    /// On any set of this many nodes.
    Width(u32),
}

/// Describes the request: "20 free CPUs and 64 GiB".
pub(super) fn describe(req: &AllocRequest) -> String {
    let mut parts: Vec<String> = Vec::new();
    if req.cpus > 0 {
        parts.push(format!("{} free CPUs", req.cpus));
    }
    if req.memory_bytes > 0 {
        parts.push(human_bytes(req.memory_bytes));
    }
    if req.hugepages_2m_bytes > 0 {
        parts.push(format!(
            "{} of 2 MiB hugepages",
            human_bytes(req.hugepages_2m_bytes)
        ));
    }
    if req.hugepages_1g_bytes > 0 {
        parts.push(format!(
            "{} of 1 GiB hugepages",
            human_bytes(req.hugepages_1g_bytes)
        ));
    }
    if parts.is_empty() {
        return "nothing".into();
    }
    let last = parts.pop().unwrap_or_default();
    if parts.is_empty() {
        last
    } else {
        format!("{} and {last}", parts.join(", "))
    }
}

/// The node that comes closest to holding `req`: the largest smallest ratio of free to
/// requested over the requested resources, then the lowest OS id.
pub(super) fn closest(m: &Machine, l: &Ledger, req: &AllocRequest) -> Option<refusal::Closest> {
    let full = req.cpu_options.full_pcpus_only;
    let mut best: Option<(f64, u32, refusal::Closest)> = None;
    for &d in &m.os_order {
        let cpus = if full {
            l.node_free_physical(m, d)
        } else {
            l.node_free_cpus.get(d as usize).copied().unwrap_or(0)
        };
        let mut ratio = f64::INFINITY;
        if req.cpus > 0 {
            ratio = ratio.min(f64::from(cpus) / f64::from(req.cpus));
        }
        for kind in MemKind::ALL {
            let want = req.memory_of(kind);
            if want > 0 {
                let free = l.mem_free[kind.index()]
                    .get(d as usize)
                    .copied()
                    .unwrap_or(0);
                ratio = ratio.min(free as f64 / want as f64);
            }
        }
        let c = refusal::Closest {
            numa: m.os_id(d),
            free_cpus: cpus,
            free_bytes: l.mem_free[0].get(d as usize).copied().unwrap_or(0),
        };
        if best.as_ref().is_none_or(|(r, _, _)| ratio > *r) {
            best = Some((ratio, d, c));
        }
    }
    best.map(|(_, _, c)| c)
}

/// A refusal of `kind` with a reason naming the request, the shortfall and the closest node.
pub(super) fn refuse(
    m: &Machine,
    l: &Ledger,
    req: &AllocRequest,
    kind: RefusalKind,
    shortfall: Shortfall,
) -> Refusal {
    let close = closest(m, l, req);
    let what = describe(req);
    let mut reason = match shortfall {
        Shortfall::SingleNode => format!("no single NUMA node has {what} (policy {})", req.policy),
        Shortfall::Width(w) => format!(
            "no set of {w} NUMA node(s), the fewest that could hold it, has {what} free (policy {})",
            req.policy
        ),
        Shortfall::Total => match kind {
            RefusalKind::NotAligned => format!(
                "the {} policy does not admit {what}: the resources are not on the NUMA nodes it would align",
                req.policy
            ),
            _ => format!("the machine cannot give {what} now"),
        },
    };
    if let Some(c) = close {
        let _ = write!(
            reason,
            "; closest is node {} with {} free CPUs and {} free",
            c.numa,
            c.free_cpus,
            human_bytes(c.free_bytes)
        );
    }
    Refusal::new(kind, reason, close)
}

/// Refusals that do not depend on the mode: SMT alignment, no hugepage pool, and totals.
pub(super) fn common_refusal(m: &Machine, l: &Ledger, req: &AllocRequest) -> Option<Refusal> {
    let cpc = m.cpus_per_core;
    if req.cpu_options.full_pcpus_only && req.cpus % cpc != 0 {
        return Some(Refusal::new(
            RefusalKind::SmtAlignment,
            format!(
                "full-pcpus-only: {} CPUs is not a multiple of the {cpc} CPUs per core; ask for {} or {}",
                req.cpus,
                req.cpus / cpc * cpc,
                req.cpus.div_ceil(cpc) * cpc
            ),
            None,
        ));
    }
    for kind in [MemKind::Huge2M, MemKind::Huge1G] {
        if req.memory_of(kind) > 0 && m.capacity[kind.index()].iter().all(|&b| b == 0) {
            return Some(Refusal::new(
                RefusalKind::NotEnoughMemory,
                format!(
                    "{} requested but the allocator has no {} pool; give the pool sizes when creating it",
                    human_bytes(req.memory_of(kind)),
                    kind.as_str()
                ),
                None,
            ));
        }
    }
    let free_cpus: u64 = if req.cpu_options.full_pcpus_only {
        (0..m.n)
            .map(|d| u64::from(l.node_free_physical(m, to_u32(d))))
            .sum()
    } else {
        l.free.len() as u64
    };
    if u64::from(req.cpus) > free_cpus {
        let (kind, what) = if req.cpu_options.full_pcpus_only {
            (RefusalKind::SmtAlignment, "CPUs on wholly free cores")
        } else {
            (RefusalKind::NotEnoughCpus, "free CPUs")
        };
        return Some(Refusal::new(
            kind,
            format!(
                "{} CPUs requested but the machine has {free_cpus} {what}",
                req.cpus
            ),
            closest(m, l, req),
        ));
    }
    for kind in MemKind::ALL {
        let free = l.mem_free[kind.index()]
            .iter()
            .fold(0u64, |a, &b| a.saturating_add(b));
        if req.memory_of(kind) > free {
            return Some(Refusal::new(
                RefusalKind::NotEnoughMemory,
                format!(
                    "{} of {} requested but the machine has {} free",
                    human_bytes(req.memory_of(kind)),
                    kind.as_str(),
                    human_bytes(free)
                ),
                closest(m, l, req),
            ));
        }
    }
    None
}

/// Takes `want` bytes of `kind` from `order` (dense nodes), each node as much as it has free,
/// in order. Entries are returned ascending by node.
pub(super) fn take_memory(l: &Ledger, kind: MemKind, order: &[u32], want: u64) -> Vec<(u32, u64)> {
    let mut left = want;
    let mut out = Vec::new();
    for &d in order {
        if left == 0 {
            break;
        }
        let free = l.mem_free[kind.index()]
            .get(d as usize)
            .copied()
            .unwrap_or(0);
        let take = free.min(left);
        if take > 0 {
            out.push((d, take));
            left -= take;
        }
    }
    out.sort_unstable_by_key(|&(d, _)| d);
    out
}
