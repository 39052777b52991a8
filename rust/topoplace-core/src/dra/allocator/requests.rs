//! Validating the claims and flattening their requests into alternatives.
//!
//! A request is one alternative (`exactly`) or several in order of preference
//! (`firstAvailable`); the search picks an alternative per request. Everything upstream
//! refuses before searching is refused here, with its words: a missing class, an unsupported
//! constraint, a claim asking for more than 32 devices, `allocationMode: All` over an
//! incomplete or invalid pool, or a feature used while its gate is off.

use std::collections::BTreeMap;
use std::ops::Range;

use super::AllocInput;
use super::pools::Inventory;
use super::search::consume;
use crate::dra::cel::DeviceEnv;
use crate::dra::model::{
    AllocationMode, ConstraintKind, DeviceClass, DeviceSelector, RequestKind, ResourceClaim,
    Toleration,
};
use crate::dra::value::{QualifiedName, Quantity};
use crate::error::{Error, Result};

/// At most this many devices per claim (`AllocationResultsMaxSize`).
pub(super) const MAX_DEVICES_PER_CLAIM: usize = 32;

/// One way to satisfy a request.
pub(super) struct Alt<'a> {
    /// `req` or `req/sub`, as results name it.
    pub result_name: String,
    /// The parent request's name.
    pub req_name: &'a str,
    pub class: &'a DeviceClass,
    pub selectors: &'a [DeviceSelector],
    /// `allocationMode: All`.
    pub all: bool,
    /// Devices wanted (`ExactCount`), or `all_devices.len()`.
    pub count: usize,
    pub admin: bool,
    pub tolerations: &'a [Toleration],
    pub capacity: &'a BTreeMap<String, Quantity>,
    /// For `All`: the matching devices, in search order.
    pub all_devices: Vec<usize>,
}

/// A request: a range of [`Prepared::alts`].
pub(super) struct Req {
    pub alts: Range<usize>,
    pub first_available: bool,
}

/// A `matchAttribute` or `distinctAttribute` constraint.
pub(super) struct Constraint<'a> {
    pub requests: &'a [String],
    pub attr: &'a QualifiedName,
    pub distinct: bool,
}

impl Constraint<'_> {
    /// Whether the constraint covers devices of `alt` (a constraint naming the parent
    /// request covers each of its subrequests).
    pub(super) fn applies(&self, alt: &Alt<'_>) -> bool {
        self.requests.is_empty()
            || self
                .requests
                .iter()
                .any(|r| *r == alt.req_name || *r == alt.result_name)
    }
}

/// A validated claim.
pub(super) struct Claim<'a> {
    pub claim: &'a ResourceClaim,
    pub label: String,
    pub reqs: Vec<Req>,
    pub constraints: Vec<Constraint<'a>>,
    /// Per request, the devices the `exactly` requests after it need.
    pub exact_after: Vec<usize>,
}

/// The validated claims, their alternatives and the selector cache.
pub(super) struct Prepared<'a> {
    pub claims: Vec<Claim<'a>>,
    pub alts: Vec<Alt<'a>>,
    pub matcher: Matcher,
}

/// Per (alternative, device): 0 unknown, 1 no match, 2 match. Upstream evaluates selectors
/// lazily, device by device, so a runtime error only fails the attempt when the search
/// actually reaches that device; caching keeps that and evaluates each pair once.
#[derive(Default)]
pub(super) struct Matcher {
    cache: Vec<u8>,
    ndev: usize,
}

impl Matcher {
    /// Whether device `d` matches the class and request selectors of alternative `ai`.
    pub(super) fn check(
        &mut self,
        input: &AllocInput<'_>,
        inv: &Inventory<'_>,
        claim: &str,
        alt: &Alt<'_>,
        ai: usize,
        d: usize,
    ) -> Result<bool> {
        let slot = ai * self.ndev + d;
        if slot >= self.cache.len() {
            // A whole alternative's row at once.
            self.cache.resize(((ai + 1) * self.ndev).max(slot + 1), 0);
        }
        match self.cache[slot] {
            1 => return Ok(false),
            2 => return Ok(true),
            _ => {}
        }
        let dev = &inv.devices[d];
        let (driver, attributes) = (dev.slice.driver.as_str(), &dev.device.attributes);
        // Labels are only formatted for an error.
        let label = |class: bool| {
            if class {
                format!("class {}", alt.class.name)
            } else {
                format!("claim {claim}")
            }
        };
        let lists = [
            (true, alt.class.selectors.as_slice()),
            (false, alt.selectors),
        ];
        let mut ok = true;
        'all: for (class, sels) in lists {
            for (i, sel) in sels.iter().enumerate() {
                let DeviceSelector::Cel(expr) = sel else {
                    return Err(Error::Value(format!(
                        "{}: selector #{i}: CEL expression empty (unsupported selector type?)",
                        label(class)
                    )));
                };
                let wrap = |e| Error::Value(format!("{}: selector #{i}: {e}", label(class)));
                let compiled = input.selectors.get(expr).map_err(wrap)?;
                let hit = match compiled.try_fast(driver, attributes) {
                    Some(hit) => hit,
                    None => {
                        let env = DeviceEnv {
                            driver,
                            attributes,
                            capacity: dev.capacity(),
                            allow_multiple_allocations: dev.device.allow_multiple_allocations,
                        };
                        compiled.matches(&env).map_err(wrap)?
                    }
                };
                if !hit {
                    ok = false;
                    break 'all;
                }
            }
        }
        self.cache[slot] = if ok { 2 } else { 1 };
        Ok(ok)
    }
}

fn class<'a>(input: &AllocInput<'a>, name: &str, who: &str) -> Result<&'a DeviceClass> {
    input
        .classes
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| Error::Value(format!("{who}: could not retrieve device class {name}")))
}

/// Validates every claim and flattens its requests.
pub(super) fn prepare<'a>(input: &AllocInput<'a>, inv: &Inventory<'a>) -> Result<Prepared<'a>> {
    let f = input.features;
    let mut alts: Vec<Alt<'a>> = Vec::new();
    let mut matcher = Matcher {
        cache: Vec::new(),
        ndev: inv.devices.len().max(1),
    };
    let mut claims = Vec::new();
    for claim in input.claims {
        let label = match &claim.namespace {
            Some(ns) => format!("{ns}/{}", claim.name),
            None => claim.name.clone(),
        };
        let mut reqs = Vec::new();
        let mut exact_counts = Vec::new();
        for request in &claim.requests {
            let who = format!("claim {label}, request {}", request.name);
            let start = alts.len();
            let first_available = match &request.kind {
                RequestKind::Exactly(e) => {
                    if e.admin_access == Some(true) && !f.admin_access {
                        return Err(Error::Value(format!(
                            "{who}: admin access is requested, but the feature is disabled"
                        )));
                    }
                    alts.push(Alt {
                        result_name: request.name.clone(),
                        req_name: &request.name,
                        class: class(input, &e.device_class_name, &who)?,
                        selectors: &e.selectors,
                        all: mode_all(&e.allocation_mode, &who)?,
                        count: usize::try_from(e.count).unwrap_or(0),
                        admin: e.admin_access == Some(true),
                        tolerations: &e.tolerations,
                        capacity: &e.capacity,
                        all_devices: Vec::new(),
                    });
                    false
                }
                RequestKind::FirstAvailable(subs) => {
                    if !f.prioritized_list {
                        return Err(Error::Value(format!(
                            "{who}: has subrequests, but the DRAPrioritizedList feature is disabled"
                        )));
                    }
                    for sub in subs {
                        let who = format!("{who}/{}", sub.name);
                        alts.push(Alt {
                            result_name: format!("{}/{}", request.name, sub.name),
                            req_name: &request.name,
                            class: class(input, &sub.device_class_name, &who)?,
                            selectors: &sub.selectors,
                            all: mode_all(&sub.allocation_mode, &who)?,
                            count: usize::try_from(sub.count).unwrap_or(0),
                            admin: false,
                            tolerations: &sub.tolerations,
                            capacity: &sub.capacity,
                            all_devices: Vec::new(),
                        });
                    }
                    true
                }
            };
            for (ai, alt) in alts.iter_mut().enumerate().skip(start) {
                if alt.all {
                    let devs = all_devices(input, inv, &mut matcher, &label, alt, ai)?;
                    alt.count = devs.len();
                    alt.all_devices = devs;
                }
            }
            exact_counts.push(if first_available {
                0
            } else {
                alts[start].count
            });
            reqs.push(Req {
                alts: start..alts.len(),
                first_available,
            });
        }
        let total: usize = exact_counts.iter().sum();
        if total > MAX_DEVICES_PER_CLAIM {
            return Err(Error::Value(format!(
                "claim {label}: number of requested devices {total} exceeds the claim limit of {MAX_DEVICES_PER_CLAIM}"
            )));
        }
        let exact_after = (0..exact_counts.len())
            .map(|r| exact_counts[r + 1..].iter().sum())
            .collect();
        let mut constraints = Vec::new();
        for (i, c) in claim.constraints.iter().enumerate() {
            let (attr, distinct) = match &c.kind {
                ConstraintKind::MatchAttribute(a) => (a, false),
                ConstraintKind::DistinctAttribute(a) if f.consumable_capacity => (a, true),
                _ => {
                    return Err(Error::Value(format!(
                        "claim {label}, constraint #{i}: empty constraint (unsupported constraint type?)"
                    )));
                }
            };
            constraints.push(Constraint {
                requests: &c.requests,
                attr,
                distinct,
            });
        }
        claims.push(Claim {
            claim,
            label,
            reqs,
            constraints,
            exact_after,
        });
    }
    Ok(Prepared {
        claims,
        alts,
        matcher,
    })
}

fn mode_all(mode: &AllocationMode, who: &str) -> Result<bool> {
    match mode {
        AllocationMode::ExactCount => Ok(false),
        AllocationMode::All => Ok(true),
        AllocationMode::Unknown(m) => {
            Err(Error::Value(format!("{who}: unsupported count mode {m}")))
        }
    }
}

/// The devices an `allocationMode: All` alternative takes: every matching device of every
/// pool, which must then be complete and valid. Shared devices without room for the request
/// are left out rather than failing it, as upstream does.
fn all_devices(
    input: &AllocInput<'_>,
    inv: &Inventory<'_>,
    matcher: &mut Matcher,
    claim: &str,
    alt: &Alt<'_>,
    ai: usize,
) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for pool in &inv.pools {
        let who = format!("claim {claim}, request {}", alt.result_name);
        if pool.incomplete {
            return Err(Error::Value(format!(
                "{who}: asks for all devices, but resource pool {} is currently being updated",
                pool.name
            )));
        }
        if let Some(why) = &pool.invalid {
            return Err(Error::Value(format!(
                "{who}: asks for all devices, but pool {} is invalid: {why}",
                pool.name
            )));
        }
        for d in pool.devices.clone() {
            if !matcher.check(input, inv, claim, alt, ai, d)? {
                continue;
            }
            let dev = &inv.devices[d];
            if input.features.consumable_capacity
                && dev.device.allow_multiple_allocations
                && consume(dev, alt, &dev.cap_used).is_none()
            {
                continue;
            }
            out.push(d);
        }
    }
    Ok(out)
}
