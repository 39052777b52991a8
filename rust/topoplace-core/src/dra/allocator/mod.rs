//! The structured-parameters DRA allocator of kube-scheduler (Kubernetes 1.34,
//! `k8s.io/dynamic-resource-allocation/structured`), reimplemented to give the same answer:
//! for one node, the ResourceSlices, DeviceClasses and ResourceClaims, what is already in use
//! and the feature gates on, either one [`AllocationResult`] per claim, "cannot allocate", or
//! the scheduler's error.
//!
//! The search is upstream's: claims in order, requests in order, devices first-fit in the order
//! the pools were gathered (slices as given, devices in slice order), with backtracking over
//! every earlier choice. Matching the order matters because a first-fit answer is only
//! "exact" if it is the same first fit.
//!
//! Data layout: strings are resolved once per call to dense indexes (the gathered devices are
//! one `Vec`, counters one `Vec<i128>` of what is left), each (request alternative, device)
//! selector result is computed at most once and cached in a byte table, and the backtracking
//! state is a few integer vectors undone in LIFO order.
//!
//! - [`pools`]: gathering pools for the node (node selection, newest generation, incomplete
//!   and invalid pools) into the dense device table.
//! - [`requests`]: validating claims and flattening requests into alternatives.
//! - [`search`]: the backtracking search and per-device checks.
//! - [`result`]: turning a solution into AllocationResults.

mod pools;
mod requests;
mod result;
mod search;

use std::collections::BTreeMap;

use crate::dra::cel::SelectorCache;
use crate::dra::model::{AllocationResult, DeviceClass, Node, ResourceClaim, ResourceSlice};
use crate::dra::value::Quantity;
use crate::error::Result;

/// The DRA feature gates the allocator looks at (all off by default, as a bare 1.34 cluster
/// has the beta ones on; callers say which are on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "one flag per feature gate, as Kubernetes names them"
)]
pub struct Features {
    /// `DRAAdminAccess`.
    pub admin_access: bool,
    /// `DRAPrioritizedList`: `firstAvailable` requests.
    pub prioritized_list: bool,
    /// `DRAPartitionableDevices`: counters and per-device node selection.
    pub partitionable_devices: bool,
    /// `DRADeviceTaints`.
    pub device_taints: bool,
    /// `DRADeviceBindingConditions`.
    pub binding_conditions: bool,
    /// `DRAConsumableCapacity`: multi-allocatable devices and `distinctAttribute`.
    pub consumable_capacity: bool,
}

impl Features {
    /// The gates named (Kubernetes spelling); unknown names are ignored.
    #[must_use]
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut f = Self::default();
        for n in names {
            match n {
                "DRAAdminAccess" => f.admin_access = true,
                "DRAPrioritizedList" => f.prioritized_list = true,
                "DRAPartitionableDevices" => f.partitionable_devices = true,
                "DRADeviceTaints" => f.device_taints = true,
                "DRADeviceBindingConditions" => f.binding_conditions = true,
                "DRAConsumableCapacity" => f.consumable_capacity = true,
                _ => {}
            }
        }
        f
    }
}

/// A device by `(driver, pool, device)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeviceId {
    /// The driver.
    pub driver: String,
    /// The pool.
    pub pool: String,
    /// The device name.
    pub device: String,
}

/// Capacity already consumed on a multi-allocatable device by other claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedCapacity {
    /// The device.
    pub device: DeviceId,
    /// Capacity name (bare or qualified) to amount.
    pub capacity: BTreeMap<String, Quantity>,
}

/// Everything one allocation attempt reads.
#[derive(Debug, Clone, Copy)]
pub struct AllocInput<'a> {
    /// The node the pod would run on; `None` means only `allNodes` devices are reachable.
    pub node: Option<&'a Node>,
    /// Every ResourceSlice (any node, any generation).
    pub slices: &'a [ResourceSlice],
    /// Every DeviceClass.
    pub classes: &'a [DeviceClass],
    /// The claims to allocate together, in order.
    pub claims: &'a [ResourceClaim],
    /// Devices allocated to other claims (exclusively).
    pub allocated_devices: &'a [DeviceId],
    /// Capacity consumed by other claims on shared devices.
    pub allocated_capacity: &'a [ConsumedCapacity],
    /// Feature gates on.
    pub features: Features,
    /// Compiled selectors, shared across calls.
    pub selectors: &'a SelectorCache,
}

/// What the allocator decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// One result per claim, in the claims' order.
    Allocated(Vec<AllocationResult>),
    /// No combination of devices satisfies every claim (upstream: no error, no result).
    Unsatisfiable(String),
}

/// Allocates every claim of `input` together, as kube-scheduler's allocator would.
///
/// # Errors
/// [`crate::Error::Value`] with upstream's words where upstream fails the attempt: an unknown
/// device class, a selector or constraint of no known kind, more than 32 devices for one claim,
/// an invalid pool reached by the search, a selector that fails to compile or to evaluate, a
/// feature used while its gate is off.
pub fn allocate(input: &AllocInput<'_>) -> Result<Outcome> {
    let inv = pools::gather(input);
    let mut prep = requests::prepare(input, &inv)?;
    let mut s = search::Search::new(input, &inv, &mut prep);
    if s.run()? {
        let results = result::build(input, &inv, s.prepared(), &s);
        Ok(Outcome::Allocated(results))
    } else {
        Ok(Outcome::Unsatisfiable(format!(
            "cannot allocate all claims ({} claims, {} reachable devices)",
            input.claims.len(),
            inv.devices.len()
        )))
    }
}

/// [`allocate`] for many independent inputs (one per node, as a scheduler's filter loop runs
/// them), spread over the machine's cores in contiguous chunks; one result per input, in order.
pub fn allocate_each(inputs: &[AllocInput<'_>]) -> Vec<Result<Outcome>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    // Below ~64 nodes a thread costs more than it saves.
    let chunk = inputs.len().div_ceil(threads).max(64);
    std::thread::scope(|scope| {
        let handles: Vec<_> = inputs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(allocate).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(inputs.len());
        for handle in handles {
            match handle.join() {
                Ok(part) => out.extend(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
    })
}
