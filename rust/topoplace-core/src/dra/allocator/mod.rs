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

mod alignment;
mod bounds;
mod explain;
mod facts;
mod pools;
mod requests;
mod result;
mod score;
mod search;

use std::collections::BTreeMap;

use crate::dra::cel::SelectorCache;
use crate::dra::model::{AllocationResult, DeviceClass, Node, ResourceClaim, ResourceSlice};
use crate::dra::value::Quantity;
use crate::error::Result;

pub use alignment::Alignment;
pub use score::Score;

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
    /// The gates that change what the allocator decides, one per field.
    pub const ALLOCATOR_GATES: [&'static str; 6] = [
        "DRAAdminAccess",
        "DRAConsumableCapacity",
        "DRADeviceBindingConditions",
        "DRADeviceTaints",
        "DRAPartitionableDevices",
        "DRAPrioritizedList",
    ];

    /// The other DRA gates of Kubernetes 1.34 to 1.36 (`pkg/features/kube_features.go`),
    /// accepted so that a cluster's gate list can be passed as it is. None changes the answer
    /// for the inputs this allocator takes: they concern DeviceTaintRule objects, extended
    /// resources, list-typed attributes (which the object model does not read yet), node
    /// allocatable resources, device status, the filter timeout, PodGroup claims, or the API
    /// itself.
    pub const IGNORED_GATES: [&'static str; 8] = [
        "DRADeviceTaintRules",
        "DRAExtendedResource",
        "DRAListTypeAttributes",
        "DRANodeAllocatableResources",
        "DRAResourceClaimDeviceStatus",
        "DRASchedulerFilterTimeout",
        "DRAWorkloadResourceClaims",
        "DynamicResourceAllocation",
    ];

    /// The gates named (Kubernetes spelling): those of [`Self::ALLOCATOR_GATES`] on, those of
    /// [`Self::IGNORED_GATES`] accepted without effect.
    ///
    /// # Errors
    /// [`crate::Error::Value`] naming the first other name (a misspelt gate, or one of a
    /// later release whose behaviour is not implemented), with the list of known gates.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let mut f = Self::default();
        for n in names {
            match n {
                "DRAAdminAccess" => f.admin_access = true,
                "DRAPrioritizedList" => f.prioritized_list = true,
                "DRAPartitionableDevices" => f.partitionable_devices = true,
                "DRADeviceTaints" => f.device_taints = true,
                "DRADeviceBindingConditions" => f.binding_conditions = true,
                "DRAConsumableCapacity" => f.consumable_capacity = true,
                n if Self::IGNORED_GATES.contains(&n) => {}
                _ => {
                    let mut known = [&Self::ALLOCATOR_GATES[..], &Self::IGNORED_GATES].concat();
                    known.sort_unstable();
                    return Err(crate::Error::Value(format!(
                        "unknown DRA feature gate {n:?} (known: {})",
                        known.join(", ")
                    )));
                }
            }
        }
        Ok(f)
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
    /// How to search.
    pub mode: Mode,
    /// The attributes the scored mode aligns on.
    pub alignment: &'a Alignment,
}

/// How [`allocate`] searches. Every mode but [`Mode::Scored`] returns the scheduler's own
/// first-fit answer; they differ only in how fast they get there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// The scheduler's answer: the plain search while it stays small, then the pruned one.
    #[default]
    Exact,
    /// Upstream's search as it is, exponential on some refusals; the reference.
    Plain,
    /// The pruned search from the start (bounds, symmetry), same answer as [`Mode::Plain`].
    Pruned,
    /// Among the feasible allocations, the best aligned by [`Alignment`].
    Scored,
}

impl Mode {
    /// The mode named `name` (`exact`, `plain`, `pruned`, `scored`).
    ///
    /// # Errors
    /// [`crate::Error::Value`] for any other name.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "exact" => Ok(Self::Exact),
            "plain" => Ok(Self::Plain),
            "pruned" => Ok(Self::Pruned),
            "scored" => Ok(Self::Scored),
            _ => Err(crate::Error::Value(format!(
                "unknown DRA allocation mode {name:?} (known: exact, plain, pruned, scored)"
            ))),
        }
    }
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
    allocate_scored(input).map(|(outcome, _)| outcome)
}

/// Device visits the plain search may make in [`Mode::Exact`] before the pruned search
/// takes over: enough for every ordinary claim, small beside an exponential refusal.
const PLAIN_VISITS: usize = 1024;

/// Device visits the scored search may make once it holds a solution.
const SCORED_VISITS: usize = 200_000;

/// [`allocate`], with the alignment score of the answer in [`Mode::Scored`].
///
/// # Errors
/// As [`allocate`].
pub fn allocate_scored(input: &AllocInput<'_>) -> Result<(Outcome, Option<Score>)> {
    let inv = pools::gather(input);
    let mut prep = requests::prepare(input, &inv)?;
    let mut matcher = std::mem::take(&mut prep.matcher);
    let plain_visits = match input.mode {
        Mode::Plain => Some(usize::MAX),
        Mode::Exact => Some(PLAIN_VISITS),
        Mode::Pruned | Mode::Scored => None,
    };
    if let Some(visits) = plain_visits {
        let mut s = search::Search::new(input, &inv, &prep, matcher, None, visits);
        let found = s.run()?;
        if !s.exhausted {
            return Ok((finish(input, &inv, &prep, s, found), None));
        }
        matcher = s.into_matcher();
    }
    let scored = input.mode == Mode::Scored;
    let Some(facts) = facts::Facts::build(input, &inv, &prep, &mut matcher, scored) else {
        // A selector errs on some device or a pool is invalid: only the plain search says
        // whether upstream would reach it.
        let mut s = search::Search::new(input, &inv, &prep, matcher, None, usize::MAX);
        let found = s.run()?;
        return Ok((finish(input, &inv, &prep, s, found), None));
    };
    let mut s = search::Search::new(input, &inv, &prep, matcher, Some(&facts), usize::MAX);
    if scored {
        let ndev = inv.devices.len();
        s.scoring = Some(score::Scoring::new(&facts, &prep, ndev, SCORED_VISITS));
    }
    let mut found = s.run()?;
    let mut best = None;
    if scored {
        best = s.restore_best();
        found = best.is_some();
    }
    Ok((finish(input, &inv, &prep, s, found), best))
}

fn finish(
    input: &AllocInput<'_>,
    inv: &pools::Inventory<'_>,
    prep: &requests::Prepared<'_>,
    s: search::Search<'_, '_>,
    found: bool,
) -> Outcome {
    if found {
        return Outcome::Allocated(result::build(input, inv, prep, &s));
    }
    let facts = s.facts;
    let mut matcher = s.into_matcher();
    let built;
    let facts = match facts {
        Some(f) => Some(f),
        None => {
            built = facts::Facts::build(input, inv, prep, &mut matcher, false);
            built.as_ref()
        }
    };
    let mut text = format!(
        "cannot allocate all claims ({} claims, {} reachable devices)",
        input.claims.len(),
        inv.devices.len()
    );
    for why in facts
        .map(|f| explain::explain(f, inv, prep))
        .unwrap_or_default()
    {
        text.push('\n');
        text.push_str(&why);
    }
    Outcome::Unsatisfiable(text)
}

/// [`allocate`] for many independent inputs (one per node, as a scheduler's filter loop runs
/// them), spread over the machine's cores in contiguous chunks; one result per input, in order.
pub fn allocate_each(inputs: &[AllocInput<'_>]) -> Vec<Result<Outcome>> {
    allocate_each_then(inputs, |r| r)
}

/// [`allocate_each`], with `then` applied to each result on the worker thread that computed it
/// (so turning results into the caller's form is spread over the cores too).
pub fn allocate_each_then<T: Send>(
    inputs: &[AllocInput<'_>],
    then: impl Fn(Result<Outcome>) -> T + Sync,
) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    // Below ~64 nodes a thread costs more than it saves.
    let chunk = inputs.len().div_ceil(threads).max(64);
    let then = &then;
    std::thread::scope(|scope| {
        let handles: Vec<_> = inputs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(|i| then(allocate(i))).collect::<Vec<_>>())
            })
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
