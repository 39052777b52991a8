//! Why claims cannot be allocated: the first thing that rules them out, looking at each
//! claim on its own against the devices free on the node, with counts.
//!
//! 1. A request with fewer free devices that match it than it wants: how many match its
//!    class and selectors and how many of those are free.
//! 2. A `matchAttribute` constraint no value can satisfy: how many values have a free
//!    device for every request it covers, and what the closest value has of each.
//! 3. A `distinctAttribute` constraint with too few distinct values free.
//! 4. Otherwise the claims only fail together (they compete for the same devices, or for
//!    shared counters or capacity): the totals wanted and free.

use std::fmt::Write as _;

use super::facts::{Facts, NONE};
use super::pools::Inventory;
use super::requests::Prepared;
use crate::dra::value::AttrValue;

fn show(v: &AttrValue) -> String {
    match v {
        AttrValue::Int(i) => i.to_string(),
        AttrValue::Bool(b) => b.to_string(),
        AttrValue::String(s) | AttrValue::Version(s) => s.clone(),
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Devices that can serve alternative `a` and are free for it.
fn free(facts: &Facts, inv: &Inventory<'_>, prep: &Prepared<'_>, a: usize) -> Vec<usize> {
    let admin = prep.alts[a].admin;
    (0..inv.devices.len())
        .filter(|&d| facts.usable(a, d) && (admin || facts.shared[d] || !inv.devices[d].in_use))
        .collect()
}

/// The reasons, one per line (empty when nothing simple rules the claims out).
pub(super) fn explain(facts: &Facts, inv: &Inventory<'_>, prep: &Prepared<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for claim in &prep.claims {
        for req in &claim.reqs {
            let short = req.alts.clone().all(|a| {
                let alt = &prep.alts[a];
                !alt.all && free(facts, inv, prep, a).len() < alt.count
            });
            if !short {
                continue;
            }
            let mut line = format!("claim {}", claim.label);
            for a in req.alts.clone() {
                let alt = &prep.alts[a];
                let matching = (0..inv.devices.len())
                    .filter(|&d| facts.usable(a, d))
                    .count();
                let _ = write!(
                    line,
                    ", request {}: wants {}, {} its class and selectors, {} free",
                    alt.result_name,
                    alt.count,
                    if matching == 1 {
                        "1 matches".to_owned()
                    } else {
                        format!("{matching} match")
                    },
                    if alt.admin {
                        "all".to_owned()
                    } else {
                        free(facts, inv, prep, a).len().to_string()
                    }
                );
            }
            out.push(line);
        }
    }
    if !out.is_empty() {
        return out;
    }
    for (c, claim) in prep.claims.iter().enumerate() {
        for (ci, con) in claim.constraints.iter().enumerate() {
            let groups = &facts.groups[facts.constraint_base[c] + ci];
            let ng = facts.ngroups[facts.constraint_base[c] + ci];
            // (alternative, need, free devices) of each single-alternative request covered.
            let reqs: Vec<(usize, usize, Vec<usize>)> = claim
                .reqs
                .iter()
                .filter(|r| r.alts.len() == 1 && con.applies(&prep.alts[r.alts.start]))
                .map(|r| r.alts.start)
                .filter(|&a| !prep.alts[a].all)
                .map(|a| (a, prep.alts[a].count, free(facts, inv, prep, a)))
                .collect();
            if reqs.is_empty() {
                continue;
            }
            let have = |g: u32, j: usize| reqs[j].2.iter().filter(|&&d| groups[d] == g).count();
            let value = |g: u32| {
                (0..inv.devices.len())
                    .find(|&d| groups[d] == g)
                    .and_then(|d| inv.devices[d].device.attributes.get(con.attr))
                    .map_or_else(String::new, show)
            };
            let names: Vec<&str> = reqs
                .iter()
                .map(|r| prep.alts[r.0].result_name.as_str())
                .collect();
            if con.distinct {
                let need: usize = reqs.iter().map(|r| r.1).sum();
                let values = (0..u32::try_from(ng).unwrap_or(0))
                    .filter(|&g| (0..reqs.len()).any(|j| have(g, j) > 0))
                    .count();
                if values < need {
                    out.push(format!(
                        "claim {}: distinctAttribute {} over {}: {} wanted, the free devices have {}",
                        claim.label,
                        con.attr,
                        names.join(", "),
                        plural(need, "distinct value"),
                        plural(values, "value")
                    ));
                }
                continue;
            }
            let gs = 0..u32::try_from(ng).unwrap_or(0);
            let fits = |g: u32| (0..reqs.len()).all(|j| have(g, j) >= reqs[j].1);
            if gs.clone().any(fits) {
                continue;
            }
            let some = gs
                .clone()
                .filter(|&g| (0..reqs.len()).all(|j| have(g, j) > 0))
                .count();
            let closeness =
                |g: u32| -> usize { (0..reqs.len()).map(|j| have(g, j).min(reqs[j].1)).sum() };
            let best = gs
                .clone()
                .filter(|&g| g != NONE)
                .max_by_key(|&g| (closeness(g), std::cmp::Reverse(g)));
            let mut line = format!(
                "claim {}: matchAttribute {} over {}: {} of {ng} have a free device for each request, none has enough",
                claim.label,
                con.attr,
                names.join(", "),
                plural(some, "value"),
            );
            if let Some(g) = best {
                let parts: Vec<String> = (0..reqs.len())
                    .map(|j| format!("{} {} of {}", names[j], have(g, j), reqs[j].1))
                    .collect();
                let _ = write!(
                    line,
                    "; the closest, {}, has {}",
                    value(g),
                    parts.join(", ")
                );
            }
            out.push(line);
        }
    }
    if out.is_empty() {
        let wanted: usize = prep
            .claims
            .iter()
            .flat_map(|c| &c.reqs)
            .map(|r| {
                r.alts
                    .clone()
                    .map(|a| prep.alts[a].count)
                    .min()
                    .unwrap_or(0)
            })
            .sum();
        let free_any = (0..inv.devices.len())
            .filter(|&d| !inv.devices[d].in_use && (0..prep.alts.len()).any(|a| facts.usable(a, d)))
            .count();
        out.push(format!(
            "each request and constraint can be met on its own, not all together: the claims want {} in all and {} that match some request {} free{}",
            plural(wanted, "device"),
            plural(free_any, "device"),
            if free_any == 1 { "is" } else { "are" },
            if inv.counters_left.is_empty() { "" } else { " (some devices also share counters)" }
        ));
    }
    out
}
