//! AllocationResult: what the scheduler writes into a claim's `status.allocation`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::claim::Toleration;
use super::class::OpaqueConfig;
use super::json::{At, compact, quantity_map, str_array};
use super::names;
use super::node::NodeSelector;
use crate::dra::value::Quantity;
use crate::error::Result;

/// At most this many device results per allocation (and devices per claim).
pub const MAX_RESULTS: usize = 32;
/// At most this many configuration entries per allocation.
pub const MAX_ALLOCATION_CONFIGS: usize = 64;

/// The allocation of one claim.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllocationResult {
    /// `devices.results`: one entry per allocated device.
    pub results: Vec<DeviceResult>,
    /// `devices.config`: class configuration first, then the claim's.
    pub config: Vec<DeviceAllocationConfig>,
    /// `nodeSelector`: the nodes from which the devices are reachable; `None` for every node.
    pub node_selector: Option<NodeSelector>,
    /// `allocationTimestamp` (RFC 3339), kept as text.
    pub allocation_timestamp: Option<String>,
}

/// One allocated device.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceResult {
    /// The request: `<request>` or `<request>/<subrequest>`.
    pub request: String,
    /// The device's driver.
    pub driver: String,
    /// The device's pool.
    pub pool: String,
    /// The device's name.
    pub device: String,
    /// `adminAccess`, copied from the request.
    pub admin_access: Option<bool>,
    /// The request's tolerations, copied when the device has taints they tolerate.
    pub tolerations: Vec<Toleration>,
    /// Copied from the device.
    pub binding_conditions: Vec<String>,
    /// Copied from the device.
    pub binding_failure_conditions: Vec<String>,
    /// Set for a share of a multi-allocatable device.
    pub share_id: Option<String>,
    /// Capacity consumed on a multi-allocatable device, by capacity name.
    pub consumed_capacity: BTreeMap<String, Quantity>,
}

/// Where a configuration entry of an allocation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllocationConfigSource {
    /// From a DeviceClass.
    FromClass,
    /// From the claim.
    FromClaim,
}

/// One `devices.config` entry of an allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAllocationConfig {
    /// `source`.
    pub source: AllocationConfigSource,
    /// The requests it applies to; empty means all.
    pub requests: Vec<String>,
    /// The configuration.
    pub opaque: OpaqueConfig,
}

fn result_request(s: &str) -> Result<(), String> {
    let mut parts = s.split('/');
    let (first, second, rest) = (parts.next(), parts.next(), parts.next());
    match (first, second, rest) {
        (Some(r), None, None) => names::request_name(r),
        (Some(r), Some(sub), None) => {
            names::request_name(r).and_then(|()| names::request_name(sub))
        }
        _ => Err(format!("{s:?} is not <request> or <request>/<subrequest>")),
    }
}

impl AllocationResult {
    /// Reads an AllocationResult (the value of `status.allocation`). `object` names it in
    /// errors, e.g. `"ResourceClaim default/claim-0"`.
    ///
    /// # Errors
    /// [`crate::Error::Object`] naming `object` and the field's JSON path.
    pub fn from_json(value: &Value, object: &str) -> Result<Self> {
        Self::read(&At::root(value, object))
    }

    pub(crate) fn read(at: &At<'_>) -> Result<Self> {
        let (results, config) = match at.opt("devices")? {
            None => (Vec::new(), Vec::new()),
            Some(d) => {
                let results = d
                    .list_max("results", MAX_RESULTS)?
                    .iter()
                    .map(read_result)
                    .collect::<Result<_>>()?;
                let mut config = Vec::new();
                for c in d.list_max("config", MAX_ALLOCATION_CONFIGS)? {
                    config.push(DeviceAllocationConfig {
                        source: c.req("source")?.one_of(&[
                            ("FromClass", AllocationConfigSource::FromClass),
                            ("FromClaim", AllocationConfigSource::FromClaim),
                        ])?,
                        requests: {
                            let reqs = c.strings("requests")?;
                            for (i, r) in reqs.iter().enumerate() {
                                result_request(r)
                                    .map_err(|m| c.field_err(&format!("requests[{i}]"), m))?;
                            }
                            reqs
                        },
                        opaque: OpaqueConfig::read_in(&c)?,
                    });
                }
                (results, config)
            }
        };
        Ok(Self {
            results,
            config,
            node_selector: at
                .opt("nodeSelector")?
                .map(|s| NodeSelector::read(&s, false))
                .transpose()?,
            allocation_timestamp: at.opt_str("allocationTimestamp")?.map(str::to_owned),
        })
    }

    /// The API's JSON shape (camelCase, empty and unset fields left out), ready to be
    /// patched into `status.allocation`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let results: Vec<Value> = self.results.iter().map(DeviceResult::to_json).collect();
        let config: Vec<Value> = self
            .config
            .iter()
            .map(|c| {
                let source = match c.source {
                    AllocationConfigSource::FromClass => "FromClass",
                    AllocationConfigSource::FromClaim => "FromClaim",
                };
                compact(vec![
                    ("source", Some(Value::String(source.to_owned()))),
                    ("requests", Some(str_array(&c.requests))),
                    ("opaque", Some(c.opaque.to_json())),
                ])
            })
            .collect();
        compact(vec![
            (
                "devices",
                Some(compact(vec![
                    ("results", Some(Value::Array(results))),
                    ("config", Some(Value::Array(config))),
                ])),
            ),
            (
                "nodeSelector",
                self.node_selector.as_ref().map(NodeSelector::to_json),
            ),
            (
                "allocationTimestamp",
                self.allocation_timestamp.clone().map(Value::String),
            ),
        ])
    }
}

fn read_result(at: &At<'_>) -> Result<DeviceResult> {
    Ok(DeviceResult {
        request: at.req("request")?.name(result_request)?.to_owned(),
        driver: at.req("driver")?.name(names::driver_name)?.to_owned(),
        pool: at.req("pool")?.name(names::pool_name)?.to_owned(),
        device: at.req("device")?.name(names::dns_label)?.to_owned(),
        admin_access: at.opt_bool("adminAccess")?,
        tolerations: at
            .list("tolerations")?
            .iter()
            .map(Toleration::read)
            .collect::<Result<_>>()?,
        binding_conditions: at.strings("bindingConditions")?,
        binding_failure_conditions: at.strings("bindingFailureConditions")?,
        share_id: at.opt_str("shareID")?.map(str::to_owned),
        consumed_capacity: {
            for (k, v) in at.dict("consumedCapacity")? {
                names::capacity_name(k).map_err(|m| v.err(m))?;
            }
            at.quantities("consumedCapacity")?
        },
    })
}

impl DeviceResult {
    /// The API's JSON shape.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let s = |t: &str| Some(Value::String(t.to_owned()));
        compact(vec![
            ("request", s(&self.request)),
            ("driver", s(&self.driver)),
            ("pool", s(&self.pool)),
            ("device", s(&self.device)),
            ("adminAccess", self.admin_access.map(Value::Bool)),
            (
                "tolerations",
                Some(Value::Array(
                    self.tolerations.iter().map(Toleration::to_json).collect(),
                )),
            ),
            (
                "bindingConditions",
                Some(str_array(&self.binding_conditions)),
            ),
            (
                "bindingFailureConditions",
                Some(str_array(&self.binding_failure_conditions)),
            ),
            ("shareID", self.share_id.clone().map(Value::String)),
            (
                "consumedCapacity",
                Some(quantity_map(&self.consumed_capacity)),
            ),
        ])
    }
}
