//! ResourceSlice: the devices a driver publishes for one pool, and their shared counters.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::json::At;
use super::names;
use super::node::NodeSelector;
use crate::dra::value::{AttrValue, QualifiedName, Quantity};
use crate::error::Result;

/// At most this many devices per slice.
pub const MAX_DEVICES_PER_SLICE: usize = 128;
/// At most this many devices per slice when any of them has taints or consumes counters
/// (Kubernetes 1.35+).
pub const MAX_DEVICES_WITH_TAINTS_OR_COUNTERS: usize = 64;
/// At most this many `consumesCounters` entries per device (Kubernetes 1.35+).
pub const MAX_COUNTER_CONSUMPTIONS: usize = 2;
/// At most this many attributes plus capacities per device.
pub const MAX_ATTRIBUTES_AND_CAPACITIES: usize = 32;
/// At most this many counter sets per slice.
pub const MAX_COUNTER_SETS: usize = 8;
/// At most this many counters per counter set.
pub const MAX_COUNTERS_PER_SET: usize = 32;
/// At most this many binding (failure) conditions per device.
pub const MAX_BINDING_CONDITIONS: usize = 4;
/// String and version attribute values are at most this long.
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 64;

/// A ResourceSlice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSlice {
    /// `metadata.name`.
    pub name: String,
    /// `spec.driver`: the DRA driver (a DNS subdomain).
    pub driver: String,
    /// `spec.pool`.
    pub pool: ResourcePool,
    /// Which nodes can use the devices: exactly one of `nodeName`, `nodeSelector`, `allNodes`,
    /// `perDeviceNodeSelection`.
    pub node_selection: NodeSelection,
    /// `spec.devices` (empty in a 1.35+ counter slice).
    pub devices: Vec<Device>,
    /// `spec.sharedCounters`: counter sets the pool's devices draw on. In the 1.34 layout
    /// they sit beside the devices; from 1.35 on a slice has either devices or counters.
    pub shared_counters: Vec<CounterSet>,
}

/// `spec.pool`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourcePool {
    /// The pool name: DNS subdomains separated by `/`.
    pub name: String,
    /// Only slices with the pool's highest generation count.
    pub generation: i64,
    /// How many slices make up the pool at this generation (at least 1).
    pub resource_slice_count: i64,
}

/// Which nodes can reach a slice's (or a device's) devices.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NodeSelection {
    /// `nodeName`: that one node.
    NodeName(String),
    /// `nodeSelector`: the nodes matching it.
    NodeSelector(NodeSelector),
    /// `allNodes: true`: every node.
    AllNodes,
    /// `perDeviceNodeSelection: true` (slice level only): each device says.
    PerDevice,
}

/// A device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// A DNS label, unique in the pool.
    pub name: String,
    /// Attributes, bare names qualified by the slice's driver.
    pub attributes: BTreeMap<QualifiedName, AttrValue>,
    /// Capacities, bare names qualified by the slice's driver.
    pub capacity: BTreeMap<QualifiedName, DeviceCapacity>,
    /// Counters the device uses up from the pool's counter sets when allocated.
    pub consumes_counters: Vec<CounterConsumption>,
    /// Set exactly when the slice uses `perDeviceNodeSelection` (never
    /// [`NodeSelection::PerDevice`]).
    pub node_selection: Option<NodeSelection>,
    /// `taints`.
    pub taints: Vec<DeviceTaint>,
    /// `bindsToNode`: the allocation is bound to the scheduled node.
    pub binds_to_node: bool,
    /// `bindingConditions`: conditions that must be true before the pod binds.
    pub binding_conditions: Vec<String>,
    /// `bindingFailureConditions`.
    pub binding_failure_conditions: Vec<String>,
    /// `allowMultipleAllocations`: the device can be shared by several claims (consumable
    /// capacity).
    pub allow_multiple_allocations: bool,
}

/// A device capacity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceCapacity {
    /// The total.
    pub value: Quantity,
    /// How much one allocation may consume (multi-allocatable devices).
    pub request_policy: Option<CapacityRequestPolicy>,
}

/// `requestPolicy` of a capacity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CapacityRequestPolicy {
    /// Consumed when the request names no amount.
    pub default: Option<Quantity>,
    /// The only amounts allowed (ascending), if set.
    pub valid_values: Vec<Quantity>,
    /// The allowed range, if set.
    pub valid_range: Option<CapacityRange>,
}

/// `validRange`: `min` to `max` in steps of `step` from `min`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CapacityRange {
    /// The least amount.
    pub min: Quantity,
    /// The greatest amount, if bounded.
    pub max: Option<Quantity>,
    /// The increment, if any.
    pub step: Option<Quantity>,
}

/// A named set of counters (`sharedCounters[]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CounterSet {
    /// A DNS label, unique in the pool.
    pub name: String,
    /// Counter name (a DNS label) to amount.
    pub counters: BTreeMap<String, Quantity>,
}

/// What a device consumes from one counter set (`consumesCounters[]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CounterConsumption {
    /// The counter set's name.
    pub counter_set: String,
    /// Counter name to amount.
    pub counters: BTreeMap<String, Quantity>,
}

/// A device taint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeviceTaint {
    /// A label key.
    pub key: String,
    /// A label value, if any.
    pub value: Option<String>,
    /// The effect.
    pub effect: TaintEffect,
    /// `timeAdded` (RFC 3339), kept as text.
    pub time_added: Option<String>,
}

/// A taint's (or toleration's) effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaintEffect {
    /// Claims that do not tolerate it are not allocated the device.
    NoSchedule,
    /// As `NoSchedule`, and pods already using it are evicted.
    NoExecute,
    /// No effect (Kubernetes 1.35+), for announcing a taint.
    None,
}

impl TaintEffect {
    pub(crate) const CHOICES: [(&'static str, Self); 3] = [
        ("NoSchedule", Self::NoSchedule),
        ("NoExecute", Self::NoExecute),
        ("None", Self::None),
    ];

    /// The API's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::NoExecute => "NoExecute",
            Self::None => "None",
        }
    }
}

/// Reads `nodeName` / `nodeSelector` / `allNodes` (and `perDeviceNodeSelection` when
/// `slice_level`) at `at`: at most one may be set. `false` booleans count as unset.
fn node_selection(at: &At<'_>, slice_level: bool) -> Result<Option<NodeSelection>> {
    let mut found: Vec<(&str, NodeSelection)> = Vec::new();
    if let Some(n) = at.opt("nodeName")? {
        found.push((
            "nodeName",
            NodeSelection::NodeName(n.name(names::dns_subdomain)?.to_owned()),
        ));
    }
    if let Some(s) = at.opt("nodeSelector")? {
        found.push((
            "nodeSelector",
            NodeSelection::NodeSelector(NodeSelector::read(&s, true)?),
        ));
    }
    if at.opt_bool("allNodes")? == Some(true) {
        found.push(("allNodes", NodeSelection::AllNodes));
    }
    if slice_level && at.opt_bool("perDeviceNodeSelection")? == Some(true) {
        found.push(("perDeviceNodeSelection", NodeSelection::PerDevice));
    } else if !slice_level && at.opt("perDeviceNodeSelection")?.is_some() {
        return Err(at.field_err("perDeviceNodeSelection", "only allowed in spec"));
    }
    if found.len() > 1 {
        let names: Vec<&str> = found.iter().map(|(n, _)| *n).collect();
        return Err(at.err(format!(
            "at most one of nodeName, nodeSelector, allNodes{} may be set, got {}",
            if slice_level {
                ", perDeviceNodeSelection"
            } else {
                ""
            },
            names.join(" and ")
        )));
    }
    Ok(found.pop().map(|(_, s)| s))
}

fn counters(at: &At<'_>, key: &str) -> Result<BTreeMap<String, Quantity>> {
    let mut out = BTreeMap::new();
    for (name, c) in at.dict(key)? {
        names::dns_label(name).map_err(|m| c.err(m))?;
        out.insert(name.to_owned(), c.req("value")?.quantity()?);
    }
    Ok(out)
}

fn attribute(at: &At<'_>) -> Result<AttrValue> {
    let mut kinds = Vec::new();
    for key in ["int", "bool", "string", "version"] {
        if let Some(f) = at.opt(key)? {
            kinds.push((key, f));
        }
    }
    if kinds.len() != 1 {
        let names: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
        return Err(at.err(format!(
            "exactly one of int, bool, string, version must be set, got {}",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(" and ")
            }
        )));
    }
    let (kind, f) = &kinds[0];
    let long = |s: &str| {
        if s.len() > MAX_ATTRIBUTE_VALUE_LEN {
            Err(f.err(format!(
                "must be at most {MAX_ATTRIBUTE_VALUE_LEN} characters, got {}",
                s.len()
            )))
        } else {
            Ok(())
        }
    };
    Ok(match *kind {
        "int" => AttrValue::Int(f.int()?),
        "bool" => AttrValue::Bool(f.bool()?),
        "string" => {
            let s = f.str()?;
            long(s)?;
            AttrValue::String(s.to_owned())
        }
        _ => AttrValue::Version(f.name(names::semver)?.to_owned()),
    })
}

fn capacity(at: &At<'_>) -> Result<DeviceCapacity> {
    let value = at.req("value")?.quantity()?;
    let request_policy = match at.opt("requestPolicy")? {
        None => None,
        Some(p) => {
            let default = p.opt("default")?.map(|q| q.quantity()).transpose()?;
            let valid_values = p
                .list("validValues")?
                .iter()
                .map(At::quantity)
                .collect::<Result<Vec<_>>>()?;
            let valid_range = match p.opt("validRange")? {
                None => None,
                Some(r) => Some(CapacityRange {
                    min: r.req("min")?.quantity()?,
                    max: r.opt("max")?.map(|q| q.quantity()).transpose()?,
                    step: r.opt("step")?.map(|q| q.quantity()).transpose()?,
                }),
            };
            if !valid_values.is_empty() && valid_range.is_some() {
                return Err(p.err("at most one of validValues and validRange may be set"));
            }
            Some(CapacityRequestPolicy {
                default,
                valid_values,
                valid_range,
            })
        }
    };
    Ok(DeviceCapacity {
        value,
        request_policy,
    })
}

fn taint(at: &At<'_>) -> Result<DeviceTaint> {
    Ok(DeviceTaint {
        key: at.req("key")?.name(names::label_key)?.to_owned(),
        value: at
            .opt("value")?
            .map(|v| v.name(names::label_value).map(str::to_owned))
            .transpose()?,
        effect: at.req("effect")?.one_of(&TaintEffect::CHOICES)?,
        time_added: at.opt_str("timeAdded")?.map(str::to_owned),
    })
}

fn device(at: &At<'_>, driver: &str, per_device: bool) -> Result<Device> {
    let name = at.req("name")?.name(names::dns_label)?.to_owned();
    let mut attributes = BTreeMap::new();
    for (k, v) in at.dict("attributes")? {
        names::attribute_name(k).map_err(|m| v.err(m))?;
        attributes.insert(QualifiedName::parse(k, driver), attribute(&v)?);
    }
    let mut capacities = BTreeMap::new();
    for (k, v) in at.dict("capacity")? {
        names::capacity_name(k).map_err(|m| v.err(m))?;
        capacities.insert(QualifiedName::parse(k, driver), capacity(&v)?);
    }
    if attributes.len() + capacities.len() > MAX_ATTRIBUTES_AND_CAPACITIES {
        return Err(at.err(format!(
            "at most {MAX_ATTRIBUTES_AND_CAPACITIES} attributes and capacities together, got {}",
            attributes.len() + capacities.len()
        )));
    }
    let mut consumes_counters: Vec<CounterConsumption> = Vec::new();
    for c in at.list_max("consumesCounters", MAX_COUNTER_CONSUMPTIONS)? {
        let counter_set = c.req("counterSet")?.name(names::dns_label)?.to_owned();
        if consumes_counters
            .iter()
            .any(|u| u.counter_set == counter_set)
        {
            return Err(c.field_err(
                "counterSet",
                format!("duplicate counter set {counter_set:?}: one entry per counter set"),
            ));
        }
        consumes_counters.push(CounterConsumption {
            counter_set,
            counters: counters(&c, "counters")?,
        });
    }
    let node_selection = node_selection(at, false)?;
    match (&node_selection, per_device) {
        (None, true) => {
            return Err(at.err(
                "exactly one of nodeName, nodeSelector, allNodes must be set when the slice \
                 uses perDeviceNodeSelection",
            ));
        }
        (Some(_), false) => {
            return Err(at.err(
                "nodeName, nodeSelector and allNodes may be set on a device only when the \
                 slice uses perDeviceNodeSelection",
            ));
        }
        _ => {}
    }
    let taints = at
        .list("taints")?
        .iter()
        .map(taint)
        .collect::<Result<_>>()?;
    Ok(Device {
        name,
        attributes,
        capacity: capacities,
        consumes_counters,
        node_selection,
        taints,
        binds_to_node: at.opt_bool("bindsToNode")?.unwrap_or(false),
        binding_conditions: conditions(at, "bindingConditions")?,
        binding_failure_conditions: conditions(at, "bindingFailureConditions")?,
        allow_multiple_allocations: at.opt_bool("allowMultipleAllocations")?.unwrap_or(false),
    })
}

fn conditions(at: &At<'_>, key: &str) -> Result<Vec<String>> {
    at.list_max(key, MAX_BINDING_CONDITIONS)?;
    at.strings(key)
}

impl ResourceSlice {
    /// Reads a `resource.k8s.io/v1` ResourceSlice.
    ///
    /// # Errors
    /// [`crate::Error::Object`] naming the slice and the field's JSON path.
    pub fn from_json(value: &Value) -> Result<Self> {
        let label = super::label("ResourceSlice", value);
        let root = At::root(value, &label);
        let name = super::meta_name(&root)?;
        let spec = root.req("spec")?;
        let driver = spec.req("driver")?.name(names::driver_name)?.to_owned();
        let p = spec.req("pool")?;
        let pool = ResourcePool {
            name: p.req("name")?.name(names::pool_name)?.to_owned(),
            generation: p.req("generation")?.int()?,
            resource_slice_count: p.req("resourceSliceCount")?.int()?,
        };
        if pool.generation < 0 {
            return Err(p.field_err("generation", "must be at least 0"));
        }
        if pool.resource_slice_count < 1 {
            return Err(p.field_err(
                "resourceSliceCount",
                format!("must be at least 1, got {}", pool.resource_slice_count),
            ));
        }
        let node_selection = node_selection(&spec, true)?.ok_or_else(|| {
            spec.err(
                "exactly one of nodeName, nodeSelector, allNodes, perDeviceNodeSelection must \
                 be set, got none",
            )
        })?;
        let per_device = node_selection == NodeSelection::PerDevice;
        let items = spec.list_max("devices", MAX_DEVICES_PER_SLICE)?;
        let mut devices = Vec::with_capacity(items.len());
        let mut seen = BTreeSet::new();
        for d in &items {
            let dev = device(d, &driver, per_device)?;
            if !seen.insert(dev.name.clone()) {
                return Err(d.field_err("name", format!("duplicate device name {:?}", dev.name)));
            }
            devices.push(dev);
        }
        if devices.len() > MAX_DEVICES_WITH_TAINTS_OR_COUNTERS
            && devices
                .iter()
                .any(|d| !d.taints.is_empty() || !d.consumes_counters.is_empty())
        {
            return Err(spec.field_err(
                "devices",
                format!(
                    "must have at most {MAX_DEVICES_WITH_TAINTS_OR_COUNTERS} items when a device \
                     has taints or consumesCounters, got {}",
                    devices.len()
                ),
            ));
        }
        let mut shared_counters = Vec::new();
        let mut set_names = BTreeSet::new();
        for s in spec.list_max("sharedCounters", MAX_COUNTER_SETS)? {
            let set = CounterSet {
                name: s.req("name")?.name(names::dns_label)?.to_owned(),
                counters: counters(&s, "counters")?,
            };
            if set.counters.len() > MAX_COUNTERS_PER_SET {
                return Err(s.field_err(
                    "counters",
                    format!("must have at most {MAX_COUNTERS_PER_SET} counters"),
                ));
            }
            if !set_names.insert(set.name.clone()) {
                return Err(s.field_err("name", format!("duplicate counter set {:?}", set.name)));
            }
            shared_counters.push(set);
        }
        Ok(Self {
            name,
            driver,
            pool,
            node_selection,
            devices,
            shared_counters,
        })
    }

    /// The devices' node selection: the slice's, or the device's own under
    /// `perDeviceNodeSelection`.
    #[must_use]
    pub fn device_node_selection<'s>(&'s self, device: &'s Device) -> &'s NodeSelection {
        device
            .node_selection
            .as_ref()
            .unwrap_or(&self.node_selection)
    }
}
