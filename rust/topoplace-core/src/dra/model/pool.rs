//! Pools: what spans the ResourceSlices of one `(driver, pool)`.
//!
//! Both counter layouts are read, and a pool's slices say which one it uses:
//!
//! - 1.34: counter sets beside the devices that consume them, in one slice. The sets belong
//!   to their slice (two slices of a pool may both name a set `counter-set-1`, as in
//!   upstream's own test table), and a device whose set or counter its slice lacks can never
//!   be allocated (the 1.34 allocator's answer; no error).
//! - 1.35+: counter sets in slices of their own, devices in the others; the sets belong to
//!   the pool. A pool uses this layout when one of its slices holds only counters.
//!
//! The API server checks each ResourceSlice alone. What spans the slices of a 1.35+ pool the
//! scheduler checks when it gathers the pool (`buildPool` in
//! `k8s.io/dynamic-resource-allocation/structured`, 1.35+, with `DRAPartitionableDevices`
//! on): a counter set named twice in the pool, or a device consuming a counter set or a
//! counter that no slice of the pool defines, makes the pool invalid, and the allocation
//! fails once the search reaches it. A slice with both devices and counters in such a pool
//! makes it invalid too: that is the 1.34 layout mixed in, and from 1.35 on the API server
//! rejects a slice with both `devices` and `sharedCounters`.

use std::collections::BTreeMap;

use super::json::object_error;
use super::slice::{CounterSet, ResourceSlice};
use crate::error::{Error, Result};

/// The slices of each pool in `slices` at the pool's highest generation, by
/// `(driver, pool)`, in input order.
fn newest_pools(slices: &[ResourceSlice]) -> BTreeMap<(&str, &str), Vec<&ResourceSlice>> {
    let mut out: BTreeMap<(&str, &str), Vec<&ResourceSlice>> = BTreeMap::new();
    for s in slices {
        let pool = out.entry((&s.driver, &s.pool.name)).or_default();
        match pool.first().map(|f| f.pool.generation) {
            Some(g) if g > s.pool.generation => continue,
            Some(g) if g < s.pool.generation => pool.clear(),
            _ => {}
        }
        pool.push(s);
    }
    out
}

fn label(slice: &ResourceSlice) -> String {
    format!("ResourceSlice {}", slice.name)
}

/// The first problem of one pool in the 1.35+ layout, given as its slices of one
/// generation: a slice with both devices and counters, then a counter set named twice, then
/// a consumed counter set or counter that is not defined (upstream's order and words,
/// `counter set <name> not found`). The error names the slice and the field's path. `None`
/// when the pool is consistent or uses the 1.34 layout.
#[must_use]
pub fn pool_error(slices: &[&ResourceSlice]) -> Option<Error> {
    let c = slices
        .iter()
        .find(|s| s.devices.is_empty() && !s.shared_counters.is_empty())?;
    let both = slices
        .iter()
        .find(|s| !s.devices.is_empty() && !s.shared_counters.is_empty());
    if let Some(b) = both {
        return Some(object_error(
            &label(b),
            "spec",
            format!(
                "only one of sharedCounters and devices may be set: slice {} of pool {} holds \
                 only counters (the 1.35+ layout)",
                c.name, b.pool.name
            ),
        ));
    }
    let mut sets: BTreeMap<&str, &CounterSet> = BTreeMap::new();
    for s in slices {
        for (i, set) in s.shared_counters.iter().enumerate() {
            if sets.insert(&set.name, set).is_some() {
                return Some(object_error(
                    &label(s),
                    &format!("spec.sharedCounters[{i}].name"),
                    format!("duplicate counter set name {}", set.name),
                ));
            }
        }
    }
    for s in slices {
        for (i, device) in s.devices.iter().enumerate() {
            for (j, used) in device.consumes_counters.iter().enumerate() {
                let path = format!("spec.devices[{i}].consumesCounters[{j}]");
                let Some(set) = sets.get(used.counter_set.as_str()) else {
                    return Some(object_error(
                        &label(s),
                        &format!("{path}.counterSet"),
                        format!("counter set {} not found", used.counter_set),
                    ));
                };
                if let Some(name) = used
                    .counters
                    .keys()
                    .find(|n| !set.counters.contains_key(*n))
                {
                    return Some(object_error(
                        &label(s),
                        &format!("{path}.counters[{name}]"),
                        format!("counter {name} not found in counter set {}", set.name),
                    ));
                }
            }
        }
    }
    None
}

/// Checks every pool of `slices` (at its highest generation) with [`pool_error`], for a
/// caller that wants to refuse inconsistent 1.35+ pools up front rather than when an
/// allocation reaches them.
///
/// # Errors
/// The first [`pool_error`], pools in `(driver, pool)` order.
pub fn validate_pools(slices: &[ResourceSlice]) -> Result<()> {
    match newest_pools(slices).values().find_map(|p| pool_error(p)) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The counter sets of every pool in `slices`, keyed by `(driver, pool, counter set)`,
/// whichever slice of the pool publishes them (1.34: beside the devices; 1.35+: in a
/// counter slice). Only the pool's highest generation counts.
#[must_use]
pub fn pool_counter_sets(
    slices: &[ResourceSlice],
) -> BTreeMap<(String, String, String), &CounterSet> {
    let mut out = BTreeMap::new();
    for ((driver, pool), pool_slices) in newest_pools(slices) {
        for set in pool_slices.iter().flat_map(|s| &s.shared_counters) {
            out.insert((driver.to_owned(), pool.to_owned(), set.name.clone()), set);
        }
    }
    out
}
