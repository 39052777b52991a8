//! The `resource.k8s.io/v1` object model (Kubernetes 1.34 onward): ResourceSlices,
//! DeviceClasses, ResourceClaims, AllocationResults and the Nodes they are matched against.
//!
//! Every object is read from a [`serde_json::Value`] in the API's camelCase shape, as JSON,
//! `yaml.safe_load` or the kubernetes client's `sanitize_for_serialization` give it, and is
//! immutable once read. Reading checks what the API server would reject and what the
//! allocator relies on; each error is an [`crate::Error::Object`] naming the object
//! (`"ResourceClaim default/claim-0"`) and the JSON path of the field
//! (`"spec.devices.requests[1].exactly.count"`).
//!
//! What the allocator itself must refuse, with the upstream scheduler's own error, stays
//! representable: unknown allocation modes ([`AllocationMode::Unknown`]), selectors of no
//! known kind ([`DeviceSelector::Unknown`]), constraints of no known kind
//! ([`ConstraintKind::Unknown`]), counts beyond the 32-device claim limit, requests naming a
//! class that does not exist, and device names repeated across the slices of a pool.
//!
//! Leniencies, each because the upstream allocator's own test table depends on it: request
//! and subrequest names may contain upper-case letters (`subReq-0`), subrequest names may
//! repeat inside a request, and capacity names may contain `-` (`capacity-0`).
//!
//! - [`slice`](mod@slice): ResourceSlice, Device, counters, taints.
//! - [`class`]: DeviceClass, device selectors, opaque configuration.
//! - [`claim`]: ResourceClaim, requests, subrequests, tolerations, constraints.
//! - [`allocation`]: AllocationResult, read from and written to `status.allocation`.
//! - [`in_use`]: what allocated claims hold, for the allocator's devices in use.
//! - [`node`]: Node and NodeSelector.
//! - [`pool`]: checks across the slices of a pool (both counter layouts), its counter sets.

pub(crate) mod json;
mod names;

pub mod allocation;
pub mod claim;
pub mod class;
pub mod in_use;
pub mod node;
pub mod pool;
pub mod slice;

pub use allocation::{
    AllocationConfigSource, AllocationResult, DeviceAllocationConfig, DeviceResult,
};
pub use claim::{
    AllocationMode, ClaimConfig, ConstraintKind, DeviceConstraint, DeviceRequest, DeviceSubRequest,
    ExactRequest, RequestKind, ResourceClaim, Toleration, TolerationOperator,
};
pub use class::{DeviceClass, DeviceSelector, OpaqueConfig};
pub use in_use::InUse;
pub use node::{
    Node, NodeSelector, NodeSelectorOperator, NodeSelectorRequirement, NodeSelectorTerm,
};
pub use pool::{pool_counter_sets, pool_error, validate_pools};
pub use slice::{
    CapacityRange, CapacityRequestPolicy, CounterConsumption, CounterSet, Device, DeviceCapacity,
    DeviceTaint, NodeSelection, ResourcePool, ResourceSlice, TaintEffect,
};

use serde_json::Value;

use crate::error::Result;
use json::At;

/// The label naming an object in errors: `"<kind> <name>"` or `"<kind> <namespace>/<name>"`,
/// `<unnamed>` when the name is missing or not a string.
fn label(kind: &str, value: &Value) -> String {
    let meta = value.get("metadata");
    let field = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
    let name = field("name").unwrap_or("<unnamed>");
    match field("namespace") {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// `metadata.name`, a DNS subdomain.
fn meta_name(root: &At<'_>) -> Result<String> {
    Ok(root
        .req("metadata")?
        .req("name")?
        .name(names::dns_subdomain)?
        .to_owned())
}
