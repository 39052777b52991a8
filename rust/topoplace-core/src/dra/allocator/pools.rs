//! Gathering the node's pools into one dense device table.
//!
//! Upstream keeps, per `(driver, pool)`, only the slices of the newest generation among the
//! slices reachable from the node; a pool with fewer slices than it announces is incomplete
//! (usable, except by `allocationMode: All`, which needs to see every device), and a device
//! name repeated across its slices makes it invalid (an error once the search reaches it).

use std::collections::BTreeMap;

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
    /// Capacity values, as the selectors see them.
    pub capacity: BTreeMap<QualifiedName, Quantity>,
    /// `(counter index, amount)` consumed when allocated; `None` when a consumed counter does
    /// not exist in the pool (the device can never be allocated).
    pub counters: Option<Vec<(usize, i128)>>,
    /// Allocated exclusively to another claim.
    pub in_use: bool,
    /// Per capacity (in [`Device::capacity`] order), what other claims consume of it.
    pub cap_used: Vec<i128>,
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

/// Gathers the pools reachable from `input.node`.
pub(super) fn gather<'a>(input: &AllocInput<'a>) -> Inventory<'a> {
    let node = input.node;
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
        let i = *index.entry(key).or_insert_with(|| {
            pools.push(Pool {
                driver: &slice.driver,
                name: &slice.pool.name,
                slices: Vec::new(),
                incomplete: false,
                invalid: None,
                devices: 0..0,
            });
            generation.push(slice.pool.generation);
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
    let mut devices = Vec::new();
    let mut counters_left = Vec::new();
    for (pi, pool) in pools.iter_mut().enumerate() {
        let announced = pool
            .slices
            .first()
            .map_or(0, |s| s.pool.resource_slice_count);
        pool.incomplete = i64::try_from(pool.slices.len()).unwrap_or(i64::MAX) != announced;
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        for d in pool.slices.iter().flat_map(|s| &s.devices) {
            if seen.insert(&d.name, ()).is_some() && pool.invalid.is_none() {
                pool.invalid = Some(format!("duplicate device name {}", d.name));
            }
        }
        // The pool's counters: (set, counter) -> global index.
        let mut counter_index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for s in &pool.slices {
            for set in &s.shared_counters {
                for (name, q) in &set.counters {
                    counter_index.insert((&set.name, name), counters_left.len());
                    counters_left.push(q.nanos);
                }
            }
        }
        let start = devices.len();
        for slice in &pool.slices {
            for device in &slice.devices {
                if !device_reachable(slice, device, node) {
                    continue;
                }
                let counters = device
                    .consumes_counters
                    .iter()
                    .flat_map(|c| c.counters.iter().map(move |(n, q)| (c, n, q)))
                    .map(|(c, n, q)| {
                        counter_index
                            .get(&(c.counter_set.as_str(), n.as_str()))
                            .map(|&i| (i, q.nanos))
                    })
                    .collect();
                devices.push(Dev {
                    pool: pi,
                    slice,
                    device,
                    capacity: device
                        .capacity
                        .iter()
                        .map(|(k, v)| (k.clone(), v.value))
                        .collect(),
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
