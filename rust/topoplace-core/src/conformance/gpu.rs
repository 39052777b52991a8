//! GPU set-selection conformance (`go-gpuallocator`): runs `cases.json` of
//! `tests/data/conformance/gpu/` against [`crate::node::gpu`].
//!
//! Allocation cases (`besteffort`, `simple`, `static-dgx1-volta`, `static-dgx1-pascal`) are run
//! here; `nearest-nic` and `mig-placement` cases are handed to [`super::gpu_mig_nic`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::CaseResult;
use super::gpu_mig_nic::{run_mig, run_nearest_nic};
use crate::error::{Error, Location, Result};
use crate::node::gpu::{PairScores, StaticTables, best_effort, mask_to_vec, simple, vec_to_mask};

const CASES: &str = "cases.json";

fn parse_json(text: &str, source: &str) -> Result<Value> {
    serde_json::from_str(text)
        .map_err(|e| Error::topology(Location::source(source).at_line(e.line()), e.to_string()))
}

/// Runs `cases.json` against `topologies.json` and `static_tables.json`. With `strict`, an
/// allocation case passes only when the answer is upstream's `reference_result`; otherwise any
/// answer in `expected` passes.
///
/// # Errors
/// When a file is not valid JSON of the documented schema.
pub fn run(
    topologies: &str,
    cases: &str,
    static_tables: &str,
    strict: bool,
) -> Result<Vec<CaseResult>> {
    let topos = parse_json(topologies, "topologies.json")?;
    let cases = parse_json(cases, CASES)?;
    let tables = StaticTables::parse(static_tables, "static_tables.json")?;
    let mut by_name = BTreeMap::new();
    for t in topos
        .get("topologies")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Error::topology(
                Location::source("topologies.json"),
                "no \"topologies\" array",
            )
        })?
    {
        if let Some(name) = t.get("name").and_then(Value::as_str) {
            by_name.insert(name.to_owned(), t);
        }
    }
    let list = cases
        .get("cases")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::topology(Location::source(CASES), "no \"cases\" array"))?;
    let mut out = Vec::with_capacity(list.len());
    for case in list {
        let name = case
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>")
            .to_owned();
        let outcome = case
            .get("topology")
            .and_then(Value::as_str)
            .and_then(|t| by_name.get(t).copied())
            .ok_or_else(|| "unknown or missing topology".to_owned())
            .and_then(|topo| run_case(case, topo, &tables, strict));
        let (passed, detail) = match outcome {
            Ok(()) => (true, String::new()),
            Err(d) => (false, d),
        };
        out.push(CaseResult {
            id: name.clone(),
            name,
            file: CASES.to_owned(),
            passed,
            detail,
        });
    }
    Ok(out)
}

fn indices(case: &Value, field: &str) -> std::result::Result<Vec<u32>, String> {
    let arr = case
        .get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("missing array {field:?}"))?;
    arr.iter()
        .map(|v| {
            v.as_u64()
                .and_then(|x| u32::try_from(x).ok())
                .ok_or_else(|| format!("{field:?}: {v} is not a GPU index"))
        })
        .collect()
}

fn mask_of(case: &Value, field: &str) -> std::result::Result<u128, String> {
    vec_to_mask(&indices(case, field)?).map_err(|e| format!("{field:?}: {e}"))
}

fn scores_of(topo: &Value) -> std::result::Result<PairScores, String> {
    let n = topo
        .get("gpus")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let mut links = Vec::new();
    for l in topo
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let triple = (
            l.get(0).and_then(Value::as_u64),
            l.get(1).and_then(Value::as_u64),
            l.get(2).and_then(Value::as_str),
        );
        let (Some(i), Some(j), Some(label)) = triple else {
            return Err(format!("bad link {l}"));
        };
        let (i, j) = (
            usize::try_from(i).unwrap_or(usize::MAX),
            usize::try_from(j).unwrap_or(usize::MAX),
        );
        links.push((i, j, label));
    }
    PairScores::from_labels(n, links).map_err(|e| e.to_string())
}

fn fmt_set(mask: Option<u128>) -> String {
    mask.map_or_else(
        || "no allocation".to_owned(),
        |m| format!("{:?}", mask_to_vec(m)),
    )
}

fn run_case(
    case: &Value,
    topo: &Value,
    tables: &StaticTables,
    strict: bool,
) -> std::result::Result<(), String> {
    let policy = case.get("policy").and_then(Value::as_str).unwrap_or("");
    match policy {
        "nearest-nic" => return run_nearest_nic(case, topo),
        "mig-placement" => return run_mig(case, topo),
        "besteffort" | "simple" => {}
        p if tables.has(p) => {}
        p => return Err(format!("unknown policy {p:?}")),
    }
    let available = mask_of(case, "available")?;
    let required = mask_of(case, "required")?;
    let size = case
        .get("size")
        .and_then(Value::as_i64)
        .ok_or("missing \"size\"")?;
    let size = usize::try_from(size).unwrap_or(0);
    let feasible = case
        .get("feasible")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let got: Option<u128> = match policy {
        "besteffort" => {
            let scores = scores_of(topo)?;
            best_effort(&scores, available, required, size, strict)
                .map_err(|e| e.to_string())?
                .map(|s| vec_to_mask(&s.gpus))
                .transpose()
                .map_err(|e| e.to_string())?
        }
        "simple" => simple(available, required, size),
        p => tables
            .fitting(p, available, required, size)
            .first()
            .copied(),
    };
    if !feasible {
        return match got {
            None => Ok(()),
            g => Err(format!("expected no allocation, got {}", fmt_set(g))),
        };
    }
    let Some(g) = got else {
        return Err("expected an allocation, got none".to_owned());
    };
    if strict {
        let want = mask_of(case, "reference_result")?;
        if g != want {
            return Err(format!(
                "expected reference {}, got {}",
                fmt_set(Some(want)),
                fmt_set(Some(g))
            ));
        }
        return Ok(());
    }
    let expected = case
        .get("expected")
        .and_then(Value::as_array)
        .ok_or("missing \"expected\"")?;
    let mut wants = Vec::with_capacity(expected.len());
    for e in expected {
        let set: Vec<u32> = serde_json::from_value(e.clone()).map_err(|e| e.to_string())?;
        wants.push(vec_to_mask(&set).map_err(|e| e.to_string())?);
    }
    if wants.contains(&g) {
        Ok(())
    } else {
        let list: Vec<String> = wants.iter().map(|&w| fmt_set(Some(w))).collect();
        Err(format!(
            "expected one of {}, got {}",
            list.join(" "),
            fmt_set(Some(g))
        ))
    }
}
