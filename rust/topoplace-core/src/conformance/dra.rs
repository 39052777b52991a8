//! The DRA allocator suite (`tests/data/dra/cases.json`): the shared allocator test table of
//! Kubernetes 1.34, run against [`crate::dra::allocator`].
//!
//! Allocations are compared as upstream's tests compare them, up to what is random or
//! order-free upstream: per claim, each request's devices as a multiset (with `adminAccess`,
//! binding conditions, `shared` and `consumedCapacity` where the case lists them; share ids are
//! random upstream and not compared), node selector terms in any order, config in order.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::CaseResult;
use crate::dra::allocator::{self, AllocInput, ConsumedCapacity, DeviceId, Features, Outcome};
use crate::dra::cel::SelectorCache;
use crate::dra::model::{AllocationResult, DeviceClass, Node, ResourceClaim, ResourceSlice};
use crate::dra::value::Quantity;
use crate::error::{Error, Location, Result};

type CaseOutcome = std::result::Result<(), String>;

/// Runs every case of `cases.json` (`text`); `file` names it in results.
///
/// # Errors
/// [`crate::Error::Topology`] when the text is not JSON of the documented layout.
pub fn run(text: &str, file: &str) -> Result<Vec<CaseResult>> {
    run_in(text, file, allocator::Mode::Exact)
}

/// [`run`] with the allocator searching in `mode` (every mode but `Scored` must give the
/// scheduler's answer).
///
/// # Errors
/// As [`run`].
pub fn run_in(text: &str, file: &str, mode: allocator::Mode) -> Result<Vec<CaseResult>> {
    let bad = |m: String| Error::topology(Location::source(file), m);
    let doc: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let cases = doc
        .get("cases")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("expected an object with a `cases` array".to_owned()))?;
    let cache = SelectorCache::default();
    Ok(cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let name = case
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| format!("case-{i}"), str::to_owned);
            let outcome = run_case(case, &cache, mode);
            CaseResult {
                id: format!("dra-{name}"),
                name,
                file: file.to_owned(),
                passed: outcome.is_ok(),
                detail: outcome.err().unwrap_or_default(),
            }
        })
        .collect())
}

fn list<'v>(case: &'v Value, key: &str) -> &'v [Value] {
    case.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn parse_all<T>(case: &Value, key: &str, f: fn(&Value) -> Result<T>) -> Result<Vec<T>, String> {
    list(case, key)
        .iter()
        .map(|v| f(v).map_err(|e| format!("reading {key}: {e}")))
        .collect()
}

fn device_id(v: &Value) -> Result<DeviceId, String> {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("device entry without `{k}`: {v}"))
    };
    Ok(DeviceId {
        driver: s("driver")?,
        pool: s("pool")?,
        device: s("device")?,
    })
}

fn quantities(v: Option<&Value>) -> Result<BTreeMap<String, Quantity>, String> {
    let Some(map) = v.and_then(Value::as_object) else {
        return Ok(BTreeMap::new());
    };
    map.iter()
        .map(|(k, q)| {
            let text = q
                .as_str()
                .ok_or_else(|| format!("quantity {k}: not a string"))?;
            let q = Quantity::parse(text).map_err(|e| e.to_string())?;
            Ok((k.clone(), q))
        })
        .collect()
}

fn run_case(case: &Value, cache: &SelectorCache, mode: allocator::Mode) -> CaseOutcome {
    let node = match case.get("node") {
        Some(v) if !v.is_null() => Some(Node::from_json(v).map_err(|e| format!("node: {e}"))?),
        _ => None,
    };
    let slices = parse_all(case, "slices", ResourceSlice::from_json)?;
    let classes = parse_all(case, "classes", DeviceClass::from_json)?;
    let claims = parse_all(case, "claims", ResourceClaim::from_json)?;
    let allocated_devices = list(case, "allocated_devices")
        .iter()
        .map(device_id)
        .collect::<Result<Vec<_>, _>>()?;
    let allocated_capacity = list(case, "allocated_capacity")
        .iter()
        .map(|v| {
            Ok(ConsumedCapacity {
                device: device_id(v)?,
                capacity: quantities(v.get("consumed_capacity"))?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let features = Features::from_names(list(case, "features").iter().filter_map(Value::as_str))
        .map_err(|e| format!("features: {e}"))?;
    let input = AllocInput {
        node: node.as_ref(),
        slices: &slices,
        classes: &classes,
        claims: &claims,
        allocated_devices: &allocated_devices,
        allocated_capacity: &allocated_capacity,
        features,
        selectors: cache,
        mode,
        alignment: allocator::Alignment::standard(),
    };
    let got = allocator::allocate(&input);
    if let Some(want) = case.get("expected_error").and_then(Value::as_str) {
        return match got {
            Err(e) if e.to_string().contains(want) => Ok(()),
            Err(e) => Err(format!("expected error containing {want:?}, got error {e}")),
            Ok(o) => Err(format!(
                "expected error containing {want:?}, got {}",
                show(&o)
            )),
        };
    }
    let got = got.map_err(|e| format!("unexpected error: {e}"))?;
    if case.get("unsatisfiable").and_then(Value::as_bool) == Some(true) {
        return match got {
            Outcome::Unsatisfiable(_) => Ok(()),
            o @ Outcome::Allocated(_) => Err(format!("expected unsatisfiable, got {}", show(&o))),
        };
    }
    let want = case
        .get("expected_allocation")
        .and_then(Value::as_array)
        .ok_or("case has no expected outcome")?;
    let Outcome::Allocated(results) = &got else {
        return Err(format!("expected an allocation, got {}", show(&got)));
    };
    let want: Vec<Value> = want.iter().map(canon_expected).collect::<Result<_, _>>()?;
    let have: Vec<Value> = claims
        .iter()
        .zip(results)
        .map(|(c, r)| canon_result(&c.name, r))
        .collect();
    if want == have {
        Ok(())
    } else {
        Err(format!(
            "expected {}, got {}",
            Value::Array(want),
            Value::Array(have)
        ))
    }
}

fn show(o: &Outcome) -> String {
    match o {
        Outcome::Unsatisfiable(why) => format!("unsatisfiable ({why})"),
        Outcome::Allocated(rs) => {
            let v: Vec<Value> = rs.iter().map(AllocationResult::to_json).collect();
            format!("allocation {}", Value::Array(v))
        }
    }
}

/// Node selector terms sorted (their order carries no meaning).
fn canon_selector(v: Option<&Value>) -> Value {
    let mut terms: Vec<Value> = v
        .and_then(|s| s.get("nodeSelectorTerms"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    terms.sort_by_key(Value::to_string);
    Value::Array(terms)
}

fn canon_requests(mut requests: BTreeMap<String, Vec<Value>>) -> Value {
    for devices in requests.values_mut() {
        devices.sort_by_key(Value::to_string);
    }
    json!(requests)
}

fn canon_expected(a: &Value) -> Result<Value, String> {
    let mut requests = BTreeMap::new();
    for (name, devices) in a
        .get("requests")
        .and_then(Value::as_object)
        .ok_or("expected_allocation entry without `requests`")?
    {
        let mut out = Vec::new();
        for d in devices.as_array().map_or(&[][..], Vec::as_slice) {
            let mut d = d.clone();
            if let Some(obj) = d.as_object_mut() {
                if let Some(cc) = obj.get("consumedCapacity") {
                    let qs = quantities(Some(cc))?;
                    let qs: BTreeMap<String, String> =
                        qs.into_iter().map(|(k, q)| (k, q.to_string())).collect();
                    obj.insert("consumedCapacity".to_owned(), json!(qs));
                }
            }
            out.push(d);
        }
        requests.insert(name.clone(), out);
    }
    Ok(json!({
        "claim": a.get("claim").cloned().unwrap_or(Value::Null),
        "requests": canon_requests(requests),
        "node_selector": canon_selector(a.get("node_selector")),
        "config": a.get("config").cloned().unwrap_or_else(|| json!([])),
    }))
}

fn canon_result(claim: &str, r: &AllocationResult) -> Value {
    let mut requests: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for d in &r.results {
        let mut v = json!({"driver": d.driver, "pool": d.pool, "device": d.device});
        let obj = v.as_object_mut().expect("built as an object");
        if let Some(a) = d.admin_access {
            obj.insert("adminAccess".to_owned(), json!(a));
        }
        if !d.binding_conditions.is_empty() {
            obj.insert("bindingConditions".to_owned(), json!(d.binding_conditions));
        }
        if !d.binding_failure_conditions.is_empty() {
            let f = &d.binding_failure_conditions;
            obj.insert("bindingFailureConditions".to_owned(), json!(f));
        }
        if !d.consumed_capacity.is_empty() {
            let qs: BTreeMap<&String, String> = d
                .consumed_capacity
                .iter()
                .map(|(k, q)| (k, q.to_string()))
                .collect();
            obj.insert("consumedCapacity".to_owned(), json!(qs));
        }
        if d.share_id.is_some() {
            obj.insert("shared".to_owned(), json!(true));
        }
        requests.entry(d.request.clone()).or_default().push(v);
    }
    let full = r.to_json();
    json!({
        "claim": claim,
        "requests": canon_requests(requests),
        "node_selector": canon_selector(r.node_selector.as_ref().map(|s| s.to_json()).as_ref()),
        "config": full.pointer("/devices/config").cloned().unwrap_or_else(|| json!([])),
    })
}
