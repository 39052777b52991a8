//! What the pruned and scored searches know before searching: for every (alternative,
//! device) whether the device could ever serve the alternative, which devices are
//! interchangeable, and each device's value of every constraint's attribute as a small
//! integer.
//!
//! Building this evaluates every selector on every device, which the plain search does
//! lazily. Upstream fails an attempt only when its search reaches a device whose selector
//! errs, or an invalid pool; so when any evaluation errs or any pool is invalid, there are
//! no facts and the caller runs the plain search, which gives upstream's error exactly.

use std::collections::BTreeMap;

use super::AllocInput;
use super::alignment::Places;
use super::pools::{Dev, Inventory};
use super::requests::{Alt, Matcher, Prepared};
use super::search::tolerates;
use crate::dra::model::TaintEffect;
use crate::dra::value::{AttrValue, QualifiedName};

/// No value: the device lacks the attribute.
pub(super) const NONE: u32 = u32::MAX;

/// The static facts of one allocation attempt.
pub(super) struct Facts {
    ndev: usize,
    /// `usable[ai * ndev + d]`: device `d` matches alternative `ai` and passes every check
    /// that does not depend on the search state (taints, binding conditions, counters that
    /// exist, capacity of an exclusive device).
    usable: Vec<bool>,
    /// Per device, its symmetry class: devices of one class are interchangeable everywhere.
    pub class: Vec<u32>,
    /// Per claim, the index of its first constraint in [`Self::groups`].
    pub constraint_base: Vec<usize>,
    /// Per constraint (all claims, in order), each device's value id ([`NONE`] if absent).
    pub groups: Vec<Vec<u32>>,
    /// Per constraint, how many distinct values exist.
    pub ngroups: Vec<usize>,
    /// Per device, whether it is shared (multi-allocatable with consumable capacity on).
    pub shared: Vec<bool>,
    /// Where each device sits, for the scored mode.
    pub places: Places,
}

impl Facts {
    pub(super) fn usable(&self, ai: usize, d: usize) -> bool {
        self.usable[ai * self.ndev + d]
    }

    /// Builds the facts, or `None` when the plain search must decide (an evaluation error or
    /// an invalid pool), or when a selector cannot be checked.
    pub(super) fn build(
        input: &AllocInput<'_>,
        inv: &Inventory<'_>,
        prep: &Prepared<'_>,
        matcher: &mut Matcher,
        scored: bool,
    ) -> Option<Self> {
        if inv.pools.iter().any(|p| p.invalid.is_some()) {
            return None;
        }
        let ndev = inv.devices.len();
        let mut usable = vec![false; prep.alts.len() * ndev];
        for claim in &prep.claims {
            for req in &claim.reqs {
                for ai in req.alts.clone() {
                    let alt = &prep.alts[ai];
                    for d in 0..ndev {
                        let ok = matcher.check(input, inv, &claim.label, alt, ai, d).ok()?;
                        usable[ai * ndev + d] = ok && statically_ok(input, &inv.devices[d], alt);
                    }
                }
            }
        }
        let shared: Vec<bool> = inv
            .devices
            .iter()
            .map(|d| input.features.consumable_capacity && d.device.allow_multiple_allocations)
            .collect();
        let mut constraint_base = Vec::with_capacity(prep.claims.len());
        let mut groups = Vec::new();
        let mut ngroups = Vec::new();
        for claim in &prep.claims {
            constraint_base.push(groups.len());
            for con in &claim.constraints {
                let (ids, n) = intern(inv, std::slice::from_ref(con.attr));
                groups.push(ids);
                ngroups.push(n);
            }
        }
        let places = Places::new(input.alignment, inv);
        let class = classes(
            inv,
            prep,
            &usable,
            &groups,
            &shared,
            scored.then_some(&places),
        );
        Some(Self {
            ndev,
            usable,
            class,
            constraint_base,
            groups,
            ngroups,
            shared,
            places,
        })
    }
}

/// Each device's value of the first of `attrs` it carries, as an id in first-seen order
/// ([`NONE`] when it carries none), and how many ids.
pub(super) fn intern(inv: &Inventory<'_>, attrs: &[QualifiedName]) -> (Vec<u32>, usize) {
    let mut seen: Vec<&AttrValue> = Vec::new();
    let ids = inv
        .devices
        .iter()
        .map(
            |d| match attrs.iter().find_map(|a| d.device.attributes.get(a)) {
                None => NONE,
                Some(v) => {
                    let i = seen.iter().position(|s| *s == v).unwrap_or_else(|| {
                        seen.push(v);
                        seen.len() - 1
                    });
                    u32::try_from(i).unwrap_or(NONE)
                }
            },
        )
        .collect();
    (ids, seen.len())
}

/// The checks of `Search::take` that depend only on the device and the alternative.
fn statically_ok(input: &AllocInput<'_>, dev: &Dev<'_>, alt: &Alt<'_>) -> bool {
    let f = input.features;
    let device = dev.device;
    if !device.consumes_counters.is_empty() && (!f.partitionable_devices || dev.counters.is_none())
    {
        return false;
    }
    if f.device_taints
        && device.taints.iter().any(|t| {
            t.effect != TaintEffect::None && !alt.tolerations.iter().any(|tl| tolerates(tl, t))
        })
    {
        return false;
    }
    if !f.binding_conditions && (!device.binding_conditions.is_empty() || device.binds_to_node) {
        return false;
    }
    let shared = f.consumable_capacity && device.allow_multiple_allocations;
    if shared && dev.in_use {
        return false;
    }
    if !shared && f.consumable_capacity {
        for (k, q) in alt.capacity {
            let name = QualifiedName::parse(k, &dev.slice.driver);
            if device.capacity.get(&name).is_none_or(|cap| cap.value < *q) {
                return false;
            }
        }
    }
    true
}

/// Symmetry classes: exclusive devices with the same usability for every alternative, the
/// same value of every constraint attribute, the same counters, the same in-use state (and,
/// when scoring, the same place) are interchangeable. Shared devices are each their own
/// class, since what is left of their capacity changes during the search.
fn classes(
    inv: &Inventory<'_>,
    prep: &Prepared<'_>,
    usable: &[bool],
    groups: &[Vec<u32>],
    shared: &[bool],
    places: Option<&Places>,
) -> Vec<u32> {
    let ndev = inv.devices.len();
    let nalts = prep.alts.len();
    let mut by_key: BTreeMap<Vec<i128>, u32> = BTreeMap::new();
    let mut out = Vec::with_capacity(ndev);
    for d in 0..ndev {
        let dev = &inv.devices[d];
        let mut key: Vec<i128> = Vec::with_capacity(nalts + groups.len() + 8);
        if shared[d] {
            key.push(-1);
            key.push(i128::try_from(d).unwrap_or(0));
        } else {
            key.push(i128::from(dev.in_use));
            key.extend((0..nalts).map(|ai| i128::from(usable[ai * ndev + d])));
            key.extend(groups.iter().map(|g| i128::from(g[d])));
            if let Some(p) = places {
                key.extend([p.pcie[d], p.numa[d], p.socket[d]].map(i128::from));
            }
            match &dev.counters {
                None => key.push(-2),
                Some(cs) => {
                    for &(i, n) in cs {
                        key.push(i128::try_from(i).unwrap_or(0));
                        key.push(n);
                    }
                }
            }
        }
        let next = u32::try_from(by_key.len()).unwrap_or(u32::MAX);
        out.push(*by_key.entry(key).or_insert(next));
    }
    out
}
