//! Gathering the node's pools into one dense device table.
//!
//! Upstream keeps, per `(driver, pool)`, only the slices of the newest generation among the
//! slices reachable from the node; a pool with fewer slices than it announces is incomplete
//! (usable, except by `allocationMode: All`, which needs to see every device), and a device
//! name repeated across its slices makes it invalid (an error once the search reaches it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use super::AllocInput;
use crate::dra::model::{Device, Node, NodeSelection, ResourceSlice};
use crate::dra::value::{QualifiedName, Quantity};

/// One gathered pool.
pub(super) struct Pool<'a> {
    pub driver: &'a str,
    pub name: &'a str,
    pub slices: Vec<&'a ResourceSlice>,
    pub incomplete: bool,
    pub invalid: Option<String>,
    /// The pool's devices: a range of [`Inventory::devices`].
    pub devices: std::ops::Range<usize>,
}

/// One device reachable from the node.
pub(super) struct Dev<'a> {
    pub pool: usize,
    pub slice: &'a ResourceSlice,
    pub device: &'a Device,
    /// Capacity values as the selectors see them, built on first use ([`Dev::capacity`]):
    /// most selectors never read them.
    capacity: OnceLock<BTreeMap<QualifiedName, Quantity>>,
    /// `(counter index, amount)` consumed when allocated; `None` when a consumed counter does
    /// not exist in the pool (the device can never be allocated).
    pub counters: Option<Vec<(usize, i128)>>,
    /// Allocated exclusively to another claim.
    pub in_use: bool,
    /// Per capacity (in [`Device::capacity`] order), what other claims consume of it.
    pub cap_used: Vec<i128>,
}

impl Dev<'_> {
    /// The device's capacity values, as `device.capacity` shows them to selectors.
    pub(super) fn capacity(&self) -> &BTreeMap<QualifiedName, Quantity> {
        self.capacity.get_or_init(|| {
            self.device
                .capacity
                .iter()
                .map(|(k, v)| (k.clone(), v.value))
                .collect()
        })
    }
}

/// The gathered pools and devices.
pub(super) struct Inventory<'a> {
    pub pools: Vec<Pool<'a>>,
    pub devices: Vec<Dev<'a>>,
    /// Per counter, what is left after the devices already in use.
    pub counters_left: Vec<i128>,
}

fn reaches(sel: &NodeSelection, node: Option<&Node>) -> bool {
    match (sel, node) {
        (NodeSelection::AllNodes, _) => true,
        (NodeSelection::NodeName(n), Some(node)) => *n == node.name,
        (NodeSelection::NodeSelector(s), Some(node)) => s.matches(node),
        _ => false,
    }
}

/// Whether `device` of `slice` is reachable from the node.
fn device_reachable(slice: &ResourceSlice, device: &Device, node: Option<&Node>) -> bool {
    reaches(slice.device_node_selection(device), node)
}

/// 64-bit FNV-1a: a cheap hash for finding repeated names.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Why a pool is invalid because of a device name repeated across its slices: the first
/// device, in gathering order, named like an earlier one.
fn duplicate_name(slices: &[&ResourceSlice]) -> Option<String> {
    let names = || {
        slices
            .iter()
            .flat_map(|s| &s.devices)
            .map(|d| d.name.as_str())
    };
    // Sorted hashes show whether any name can repeat without comparing strings; the names
    // are compared only then (a repeat, or a hash collision).
    let mut hashes: Vec<u64> = names().map(fnv1a).collect();
    hashes.sort_unstable();
    if !hashes.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    let mut seen = BTreeSet::new();
    names()
        .find(|n| !seen.insert(*n))
        .map(|n| format!("duplicate device name {n}"))
}

/// Up to this many pools, finding a slice's pool scans them: nodes usually reach a few.
const SCAN_POOLS: usize = 8;

/// Gathers the pools reachable from `input.node`.
pub(super) fn gather<'a>(input: &AllocInput<'a>) -> Inventory<'a> {
    let node = input.node;
    // (driver, pool) -> index in `pools`, kept only past `SCAN_POOLS` pools.
    let mut index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut pools: Vec<Pool<'a>> = Vec::new();
    let mut generation: Vec<i64> = Vec::new();
    for slice in input.slices {
        let usable = match &slice.node_selection {
            NodeSelection::PerDevice => {
                input.features.partitionable_devices
                    && slice
                        .devices
                        .iter()
                        .any(|d| device_reachable(slice, d, node))
            }
            sel => reaches(sel, node),
        };
        if !usable {
            continue;
        }
        let key = (slice.driver.as_str(), slice.pool.name.as_str());
        let found = if pools.len() <= SCAN_POOLS {
            pools.iter().position(|p| (p.driver, p.name) == key)
        } else {
            index.get(&key).copied()
        };
        let i = found.unwrap_or_else(|| {
            pools.push(Pool {
                driver: &slice.driver,
                name: &slice.pool.name,
                slices: Vec::new(),
                incomplete: false,
                invalid: None,
                devices: 0..0,
            });
            generation.push(slice.pool.generation);
            if pools.len() > SCAN_POOLS {
                if index.is_empty() {
                    index.extend(
                        pools
                            .iter()
                            .enumerate()
                            .map(|(i, p)| ((p.driver, p.name), i)),
                    );
                } else {
                    index.insert(key, pools.len() - 1);
                }
            }
            pools.len() - 1
        });
        if slice.pool.generation > generation[i] {
            generation[i] = slice.pool.generation;
            pools[i].slices.clear();
        }
        if slice.pool.generation == generation[i] {
            pools[i].slices.push(slice);
        }
    }
    let mut devices = Vec::with_capacity(
        pools
            .iter()
            .flat_map(|p| &p.slices)
            .map(|s| s.devices.len())
            .sum(),
    );
    let mut counters_left = Vec::new();
    for (pi, pool) in pools.iter_mut().enumerate() {
        let announced = pool
            .slices
            .first()
            .map_or(0, |s| s.pool.resource_slice_count);
        pool.incomplete = i64::try_from(pool.slices.len()).unwrap_or(i64::MAX) != announced;
        pool.invalid = duplicate_name(&pool.slices);
        // Counter sets across the pool (1.35+ buildPool): checked only with the gate on.
        if pool.invalid.is_none() && input.features.partitionable_devices {
            pool.invalid = crate::dra::model::pool_error(&pool.slices).map(|e| e.to_string());
        }
        // The pool's counters: (slice, set, counter) -> global index. In the 1.35+ layout
        // (a slice holding only counters) the sets are the pool's and the slice is `POOL`;
        // in the 1.34 layout each slice's devices draw on that slice's own sets, so two
        // slices may both name `counter-set-1` without sharing it.
        const POOL: usize = usize::MAX;
        let pool_wide = pool
            .slices
            .iter()
            .any(|s| s.devices.is_empty() && !s.shared_counters.is_empty());
        let owner = |si: usize| if pool_wide { POOL } else { si };
        let mut counter_index: BTreeMap<(usize, &str, &str), usize> = BTreeMap::new();
        for (si, s) in pool.slices.iter().enumerate() {
            for set in &s.shared_counters {
                for (name, q) in &set.counters {
                    counter_index.insert((owner(si), &set.name, name), counters_left.len());
                    counters_left.push(q.nanos);
                }
            }
        }
        let start = devices.len();
        for (si, slice) in pool.slices.iter().enumerate() {
            for device in &slice.devices {
                if !device_reachable(slice, device, node) {
                    continue;
                }
                let counters = if device.consumes_counters.is_empty() {
                    Some(Vec::new())
                } else {
                    device
                        .consumes_counters
                        .iter()
                        .flat_map(|c| c.counters.iter().map(move |(n, q)| (c, n, q)))
                        .map(|(c, n, q)| {
                            counter_index
                                .get(&(owner(si), c.counter_set.as_str(), n.as_str()))
                                .map(|&i| (i, q.nanos))
                        })
                        .collect()
                };
                devices.push(Dev {
                    pool: pi,
                    slice,
                    device,
                    capacity: OnceLock::new(),
                    counters,
                    in_use: false,
                    cap_used: vec![0; device.capacity.len()],
                });
            }
        }
        pool.devices = start..devices.len();
    }
    let mut inv = Inventory {
        pools,
        devices,
        counters_left,
    };
    for id in input.allocated_devices {
        if let Some(d) = inv.find(&id.driver, &id.pool, &id.device) {
            inv.devices[d].in_use = true;
            if let Some(cs) = &inv.devices[d].counters {
                for &(i, n) in cs {
                    inv.counters_left[i] -= n;
                }
            }
        }
    }
    for used in input.allocated_capacity {
        let id = &used.device;
        if let Some(d) = inv.find(&id.driver, &id.pool, &id.device) {
            let dev = &mut inv.devices[d];
            for (name, q) in &used.capacity {
                let name = QualifiedName::parse(name, &id.driver);
                if let Some(i) = dev.device.capacity.keys().position(|k| *k == name) {
                    dev.cap_used[i] += q.nanos;
                }
            }
        }
    }
    inv
}

impl Inventory<'_> {
    /// The dense index of a device, if gathered.
    pub(super) fn find(&self, driver: &str, pool: &str, device: &str) -> Option<usize> {
        let p = self
            .pools
            .iter()
            .find(|p| p.driver == driver && p.name == pool)?;
        p.devices
            .clone()
            .find(|&i| self.devices[i].device.name == device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dra::allocator::{Alignment, Features, Mode};
    use crate::dra::cel::SelectorCache;
    use crate::dra::text::slices_from_json_str;

    /// An `allNodes` slice of `pool` (driver `d.example.com`) with the devices named.
    fn slice(pool: &str, generation: i64, count: i64, devices: &[&str]) -> String {
        let devices: Vec<String> = devices
            .iter()
            .map(|d| format!(r#"{{"name": "{d}"}}"#))
            .collect();
        format!(
            r#"{{"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
                "metadata": {{"name": "{pool}-{generation}"}},
                "spec": {{"driver": "d.example.com", "allNodes": true,
                          "pool": {{"name": "{pool}", "generation": {generation},
                                    "resourceSliceCount": {count}}},
                          "devices": [{}]}}}}"#,
            devices.join(",")
        )
    }

    fn gathered<R>(slices: &[String], f: impl FnOnce(&Inventory<'_>) -> R) -> R {
        let slices = slices_from_json_str(&format!("[{}]", slices.join(","))).unwrap();
        let cache = SelectorCache::default();
        let input = AllocInput {
            node: None,
            slices: &slices,
            classes: &[],
            claims: &[],
            allocated_devices: &[],
            allocated_capacity: &[],
            features: Features::default(),
            selectors: &cache,
            mode: Mode::default(),
            alignment: Alignment::standard(),
        };
        f(&gather(&input))
    }

    /// More pools than are scanned: first-seen order, newest generation only, whichever way
    /// the pool is found.
    #[test]
    fn many_pools() {
        let mut slices: Vec<String> = (0..12)
            .map(|p| slice(&format!("p{p}"), 1, 1, &[&format!("p{p}-a")]))
            .collect();
        slices.push(slice("p3", 2, 1, &["p3-new"]));
        slices.push(slice("p10", 0, 1, &["p10-old"]));
        slices.push(slice("p1", 1, 1, &["p1-b"]));
        slices.push(slice("p11", 3, 2, &["p11-new"]));
        let (pools, devices) = gathered(&slices, |inv| {
            let pools: Vec<(String, bool)> = inv
                .pools
                .iter()
                .map(|p| (p.name.to_owned(), p.incomplete))
                .collect();
            let devices: Vec<String> = inv.devices.iter().map(|d| d.device.name.clone()).collect();
            (pools, devices)
        });
        let names: Vec<&str> = pools.iter().map(|(n, _)| n.as_str()).collect();
        let want: Vec<String> = (0..12).map(|p| format!("p{p}")).collect();
        assert_eq!(names, want);
        assert_eq!(
            pools
                .iter()
                .filter(|(_, inc)| *inc)
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            ["p1", "p11"]
        );
        let mut want: Vec<String> = (0..12).map(|p| format!("p{p}-a")).collect();
        want[3] = "p3-new".to_owned();
        want[11] = "p11-new".to_owned();
        want.insert(2, "p1-b".to_owned());
        assert_eq!(devices, want);
    }

    #[test]
    fn duplicate_names() {
        let slices = [
            slice("ok", 1, 2, &["a", "b"]),
            slice("ok", 1, 2, &["c"]),
            slice("dup", 1, 2, &["x", "y", "z"]),
            slice("dup", 1, 2, &["z", "y"]),
            slice("dup2", 1, 2, &["m", "n"]),
            slice("dup2", 1, 2, &["n", "m"]),
        ];
        let invalid = gathered(&slices, |inv| {
            inv.pools
                .iter()
                .map(|p| (p.name.to_owned(), p.invalid.clone()))
                .collect::<Vec<_>>()
        });
        assert_eq!(
            invalid,
            [
                ("ok".to_owned(), None),
                ("dup".to_owned(), Some("duplicate device name z".to_owned())),
                (
                    "dup2".to_owned(),
                    Some("duplicate device name n".to_owned())
                ),
            ]
        );
    }

    /// A slice of pool `p` with a counter set `cs` and/or devices consuming it.
    fn counter_slice(name: &str, count: i64, set: bool, devices: &[&str]) -> String {
        let sets = if set {
            r#"[{"name": "cs", "counters": {"c": {"value": "1"}}}]"#
        } else {
            "[]"
        };
        let devices: Vec<String> = devices
            .iter()
            .map(|d| {
                format!(
                    r#"{{"name": "{d}", "consumesCounters": [{{"counterSet": "cs", "counters": {{"c": {{"value": "1"}}}}}}]}}"#
                )
            })
            .collect();
        format!(
            r#"{{"apiVersion": "resource.k8s.io/v1", "kind": "ResourceSlice",
                "metadata": {{"name": "{name}"}},
                "spec": {{"driver": "d.example.com", "allNodes": true,
                          "pool": {{"name": "p", "generation": 1, "resourceSliceCount": {count}}},
                          "sharedCounters": {sets}, "devices": [{}]}}}}"#,
            devices.join(",")
        )
    }

    /// 1.34 layout: each slice's devices draw on that slice's own `cs`; 1.35+ layout (a
    /// counters-only slice): every device of the pool draws on the pool's one `cs`.
    #[test]
    fn counter_sets_per_slice_or_per_pool() {
        let per_slice = [
            counter_slice("a", 2, true, &["x"]),
            counter_slice("b", 2, true, &["y"]),
        ];
        let counters = |slices: &[String]| {
            gathered(slices, |inv| {
                let sets: Vec<_> = inv.devices.iter().map(|d| d.counters.clone()).collect();
                (sets, inv.counters_left.len())
            })
        };
        assert_eq!(
            counters(&per_slice),
            (
                vec![
                    Some(vec![(0, 1_000_000_000)]),
                    Some(vec![(1, 1_000_000_000)])
                ],
                2
            )
        );
        let pool_wide = [
            counter_slice("sets", 3, true, &[]),
            counter_slice("a", 3, false, &["x"]),
            counter_slice("b", 3, false, &["y"]),
        ];
        assert_eq!(
            counters(&pool_wide),
            (
                vec![
                    Some(vec![(0, 1_000_000_000)]),
                    Some(vec![(0, 1_000_000_000)])
                ],
                1
            )
        );
    }
}
