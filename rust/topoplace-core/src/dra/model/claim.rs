//! ResourceClaim: what a pod asks for (requests, constraints, configuration) and, once
//! allocated, what it got.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::allocation::AllocationResult;
use super::class::{DeviceSelector, MAX_CONFIGS, OpaqueConfig};
use super::json::{At, compact};
use super::names;
use super::slice::TaintEffect;
use crate::dra::value::{QualifiedName, Quantity};
use crate::error::Result;

/// At most this many requests per claim.
pub const MAX_REQUESTS: usize = 32;
/// At most this many alternatives in `firstAvailable`.
pub const MAX_SUBREQUESTS: usize = 8;
/// At most this many constraints per claim.
pub const MAX_CONSTRAINTS: usize = 32;
/// At most this many tolerations per request.
pub const MAX_TOLERATIONS: usize = 16;

/// A ResourceClaim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceClaim {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, when given.
    pub namespace: Option<String>,
    /// `metadata.uid`, when given.
    pub uid: Option<String>,
    /// `spec.devices.requests`, names unique.
    pub requests: Vec<DeviceRequest>,
    /// `spec.devices.constraints`.
    pub constraints: Vec<DeviceConstraint>,
    /// `spec.devices.config`.
    pub config: Vec<ClaimConfig>,
    /// `status.allocation`, when the claim is allocated.
    pub allocation: Option<AllocationResult>,
}

/// One request of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    /// A DNS label, unique in the claim.
    pub name: String,
    /// `exactly` or `firstAvailable`.
    pub kind: RequestKind,
}

/// Exactly one of `exactly` and `firstAvailable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// `exactly`: one way to satisfy the request.
    Exactly(ExactRequest),
    /// `firstAvailable`: alternatives in order of preference; the first that fits wins.
    FirstAvailable(Vec<DeviceSubRequest>),
}

/// How many devices a request wants.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AllocationMode {
    /// `count` devices (the default).
    ExactCount,
    /// Every matching device, in pools complete from the node's point of view.
    All,
    /// A mode this model does not know: the allocator refuses it.
    Unknown(String),
}

impl AllocationMode {
    /// The API's name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::ExactCount => "ExactCount",
            Self::All => "All",
            Self::Unknown(s) => s,
        }
    }
}

/// The `exactly` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactRequest {
    /// The DeviceClass (which may not exist: that is the allocator's error to give).
    pub device_class_name: String,
    /// Extra selectors, all of which must match.
    pub selectors: Vec<DeviceSelector>,
    /// `allocationMode` (default `ExactCount`).
    pub allocation_mode: AllocationMode,
    /// `count` (default 1, at least 1 for `ExactCount`; as given, unused, for `All`).
    pub count: i64,
    /// `adminAccess`: access to devices in use, for monitoring.
    pub admin_access: Option<bool>,
    /// Taints the request tolerates.
    pub tolerations: Vec<Toleration>,
    /// `capacity.requests`: capacity name (bare or qualified, as written) to amount, for
    /// multi-allocatable devices.
    pub capacity: BTreeMap<String, Quantity>,
}

/// A `firstAvailable` alternative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSubRequest {
    /// A DNS label; results name it `<request>/<subrequest>`. The API server wants names
    /// unique in the request, but the upstream allocator's test table repeats one (the first
    /// alternative of that name that fits wins), so repeats are kept.
    pub name: String,
    /// The DeviceClass.
    pub device_class_name: String,
    /// Extra selectors.
    pub selectors: Vec<DeviceSelector>,
    /// `allocationMode`.
    pub allocation_mode: AllocationMode,
    /// `count`, as for [`ExactRequest::count`].
    pub count: i64,
    /// Taints tolerated.
    pub tolerations: Vec<Toleration>,
    /// `capacity.requests`.
    pub capacity: BTreeMap<String, Quantity>,
}

/// A toleration of device taints.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Toleration {
    /// The taint key; empty with `Exists` tolerates every taint.
    pub key: String,
    /// `Equal` (default) or `Exists`.
    pub operator: TolerationOperator,
    /// The value to equal (empty for `Exists`).
    pub value: String,
    /// The effect tolerated; `None` tolerates every effect.
    pub effect: Option<TaintEffect>,
    /// For `NoExecute`: how long the taint is tolerated.
    pub toleration_seconds: Option<i64>,
}

/// A toleration's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TolerationOperator {
    /// Key (and effect) match, any value.
    Exists,
    /// Key, value (and effect) match.
    Equal,
}

/// A constraint across the devices of some (or all) requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConstraint {
    /// Request names (`req` or `req/sub`) it applies to; empty means every request.
    pub requests: Vec<String>,
    /// What must hold.
    pub kind: ConstraintKind,
}

/// The kind of a constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintKind {
    /// Every device has this attribute, with the same value.
    MatchAttribute(QualifiedName),
    /// Every device has this attribute, with pairwise different values.
    DistinctAttribute(QualifiedName),
    /// No kind this model knows (e.g. `{}`): the allocator refuses it.
    Unknown,
}

/// One `spec.devices.config` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimConfig {
    /// Request names (`req` or `req/sub`) it applies to; empty means every request.
    pub requests: Vec<String>,
    /// The configuration.
    pub opaque: OpaqueConfig,
}

impl Toleration {
    pub(crate) fn read(at: &At<'_>) -> Result<Self> {
        let key = match at.opt("key")? {
            Some(k) => k.name(names::label_key)?.to_owned(),
            None => String::new(),
        };
        let operator = match at.opt("operator")? {
            Some(o) => o.one_of(&[
                ("Exists", TolerationOperator::Exists),
                ("Equal", TolerationOperator::Equal),
            ])?,
            None => TolerationOperator::Equal,
        };
        let value = match at.opt("value")? {
            Some(v) => v.name(names::label_value)?.to_owned(),
            None => String::new(),
        };
        if operator == TolerationOperator::Exists && !value.is_empty() {
            return Err(at.field_err("value", "must be empty when operator is Exists"));
        }
        if key.is_empty() && operator == TolerationOperator::Equal {
            return Err(at.field_err("operator", "must be Exists when key is empty"));
        }
        let effect = at
            .opt("effect")?
            .map(|e| e.one_of(&TaintEffect::CHOICES))
            .transpose()?;
        let toleration_seconds = at.opt_int("tolerationSeconds")?;
        if toleration_seconds.is_some() && effect != Some(TaintEffect::NoExecute) {
            return Err(at.field_err("effect", "must be NoExecute when tolerationSeconds is set"));
        }
        Ok(Self {
            key,
            operator,
            value,
            effect,
            toleration_seconds,
        })
    }

    /// The API's JSON shape.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let s = |t: &str| (!t.is_empty()).then(|| Value::String(t.to_owned()));
        let op = match self.operator {
            TolerationOperator::Exists => "Exists",
            TolerationOperator::Equal => "Equal",
        };
        compact(vec![
            ("key", s(&self.key)),
            ("operator", s(op)),
            ("value", s(&self.value)),
            (
                "effect",
                self.effect.map(|e| Value::String(e.as_str().to_owned())),
            ),
            (
                "tolerationSeconds",
                self.toleration_seconds.map(Value::from),
            ),
        ])
    }
}

/// The fields `exactly` and a subrequest share.
type Common = (
    String,
    Vec<DeviceSelector>,
    AllocationMode,
    i64,
    Vec<Toleration>,
    BTreeMap<String, Quantity>,
);

fn common(at: &At<'_>) -> Result<Common> {
    let class = at
        .req("deviceClassName")?
        .name(names::dns_subdomain)?
        .to_owned();
    let selectors = DeviceSelector::read_list(at, "selectors")?;
    let mode = match at.opt_str("allocationMode")? {
        None | Some("" | "ExactCount") => AllocationMode::ExactCount,
        Some("All") => AllocationMode::All,
        Some(other) => AllocationMode::Unknown(other.to_owned()),
    };
    let count = at.opt_int("count")?;
    if mode == AllocationMode::ExactCount
        && let Some(n) = count
        && n < 1
    {
        return Err(at.field_err("count", format!("must be at least 1, got {n}")));
    }
    let tolerations = at
        .list_max("tolerations", MAX_TOLERATIONS)?
        .iter()
        .map(Toleration::read)
        .collect::<Result<_>>()?;
    let capacity = match at.opt("capacity")? {
        None => BTreeMap::new(),
        Some(c) => {
            for (k, v) in c.dict("requests")? {
                names::capacity_name(k).map_err(|m| v.err(m))?;
            }
            c.quantities("requests")?
        }
    };
    Ok((
        class,
        selectors,
        mode,
        count.unwrap_or(1),
        tolerations,
        capacity,
    ))
}

fn request(at: &At<'_>) -> Result<DeviceRequest> {
    let name = at.req("name")?.name(names::request_name)?.to_owned();
    let kind = match (at.opt("exactly")?, at.opt("firstAvailable")?) {
        (Some(e), None) => {
            let (device_class_name, selectors, allocation_mode, count, tolerations, capacity) =
                common(&e)?;
            RequestKind::Exactly(ExactRequest {
                device_class_name,
                selectors,
                allocation_mode,
                count,
                admin_access: e.opt_bool("adminAccess")?,
                tolerations,
                capacity,
            })
        }
        (None, Some(f)) => {
            let items = f.items()?;
            if items.is_empty() || items.len() > MAX_SUBREQUESTS {
                return Err(f.err(format!(
                    "must have 1 to {MAX_SUBREQUESTS} alternatives, got {}",
                    items.len()
                )));
            }
            let mut subs: Vec<DeviceSubRequest> = Vec::with_capacity(items.len());
            for s in &items {
                let sub_name = s.req("name")?.name(names::request_name)?.to_owned();
                let (device_class_name, selectors, allocation_mode, count, tolerations, capacity) =
                    common(s)?;
                subs.push(DeviceSubRequest {
                    name: sub_name,
                    device_class_name,
                    selectors,
                    allocation_mode,
                    count,
                    tolerations,
                    capacity,
                });
            }
            RequestKind::FirstAvailable(subs)
        }
        (Some(_), Some(_)) => {
            return Err(at.err("exactly one of exactly and firstAvailable must be set, got both"));
        }
        (None, None) => {
            return Err(at.err("exactly one of exactly and firstAvailable must be set, got none"));
        }
    };
    Ok(DeviceRequest { name, kind })
}

/// Checks that each of `key`'s names is a request or `request/subrequest` of the claim.
fn request_refs(at: &At<'_>, key: &str, known: &BTreeSet<String>) -> Result<Vec<String>> {
    let refs = at.strings(key)?;
    for (i, r) in refs.iter().enumerate() {
        if !known.contains(r) {
            return Err(at.field_err(
                &format!("{key}[{i}]"),
                format!("{r:?} is not a request (or request/subrequest) of the claim"),
            ));
        }
    }
    Ok(refs)
}

fn constraint(at: &At<'_>, known: &BTreeSet<String>) -> Result<DeviceConstraint> {
    let requests = request_refs(at, "requests", known)?;
    let attr = |key: &str| -> Result<Option<QualifiedName>> {
        at.opt(key)?
            .map(|f| {
                Ok(QualifiedName::parse(
                    f.name(names::full_attribute_name)?,
                    "",
                ))
            })
            .transpose()
    };
    let kind = match (attr("matchAttribute")?, attr("distinctAttribute")?) {
        (Some(_), Some(_)) => {
            return Err(at.err("at most one of matchAttribute and distinctAttribute may be set"));
        }
        (Some(a), None) => ConstraintKind::MatchAttribute(a),
        (None, Some(a)) => ConstraintKind::DistinctAttribute(a),
        (None, None) => ConstraintKind::Unknown,
    };
    Ok(DeviceConstraint { requests, kind })
}

impl ResourceClaim {
    /// Reads a `resource.k8s.io/v1` ResourceClaim, with its `status.allocation` if present.
    ///
    /// # Errors
    /// [`crate::Error::Object`] naming the claim and the field's JSON path.
    pub fn from_json(value: &Value) -> Result<Self> {
        let label = super::label("ResourceClaim", value);
        let root = At::root(value, &label);
        let name = super::meta_name(&root)?;
        let meta = root.req("metadata")?;
        let namespace = meta
            .opt("namespace")?
            .map(|n| n.name(names::dns_label).map(str::to_owned))
            .transpose()?;
        let uid = meta.opt_str("uid")?.map(str::to_owned);
        let devices = root.req("spec")?.req("devices")?;
        let mut requests: Vec<DeviceRequest> = Vec::new();
        let mut known = BTreeSet::new();
        for r in devices.list_max("requests", MAX_REQUESTS)? {
            let req = request(&r)?;
            if !known.insert(req.name.clone()) {
                return Err(r.field_err("name", format!("duplicate request name {:?}", req.name)));
            }
            if let RequestKind::FirstAvailable(subs) = &req.kind {
                known.extend(subs.iter().map(|s| format!("{}/{}", req.name, s.name)));
            }
            requests.push(req);
        }
        let constraints = devices
            .list_max("constraints", MAX_CONSTRAINTS)?
            .iter()
            .map(|c| constraint(c, &known))
            .collect::<Result<_>>()?;
        let mut config = Vec::new();
        for c in devices.list_max("config", MAX_CONFIGS)? {
            config.push(ClaimConfig {
                requests: request_refs(&c, "requests", &known)?,
                opaque: OpaqueConfig::read_in(&c)?,
            });
        }
        let allocation = match root.opt("status")? {
            Some(status) => match status.opt("allocation")? {
                Some(a) => Some(AllocationResult::read(&a)?),
                None => None,
            },
            None => None,
        };
        Ok(Self {
            name,
            namespace,
            uid,
            requests,
            constraints,
            config,
            allocation,
        })
    }

    /// The request named `name`.
    #[must_use]
    pub fn request(&self, name: &str) -> Option<&DeviceRequest> {
        self.requests.iter().find(|r| r.name == name)
    }
}
