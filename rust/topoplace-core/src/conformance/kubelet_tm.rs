//! Kubelet Topology Manager conformance: runs `topology_manager.json` (hint merges, admit
//! decisions, the single-NUMA pre-filter) against [`crate::node::hints`].
//!
//! Every merge case is run through both merges, [`hints::merge`] (the search) and
//! [`hints::merge_exhaustive`] (the kubelet's enumeration); it passes only if both give the
//! expected hint.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::CaseResult;
use crate::error::{Error, Location, Result};
use crate::node::hints::{self, Hint, NumaInfo, NumaMask, Policy, PolicyOptions};

/// The file: `{"kind": ..., "cases": [...]}`.
#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
}

/// One case; which fields are present depends on `check`.
#[derive(Deserialize)]
struct Case {
    id: String,
    name: String,
    check: String,
    policy: String,
    #[serde(default)]
    options: BTreeMap<String, String>,
    #[serde(default)]
    numa_nodes: Option<Vec<u32>>,
    #[serde(default)]
    numa_distances: Option<BTreeMap<String, Vec<u32>>>,
    #[serde(default)]
    providers: Option<Vec<Vec<JsonHint>>>,
    #[serde(default)]
    expected: Option<JsonHint>,
    #[serde(default)]
    hint: Option<JsonHint>,
    #[serde(default)]
    admit: Option<bool>,
    #[serde(default)]
    input_hint_lists: Option<Vec<Vec<JsonHint>>>,
    #[serde(default)]
    expected_hint_lists: Option<Vec<Vec<JsonHint>>>,
}

/// A hint as written in the vectors: `{"mask": [0, 2] | null, "preferred": bool}`.
#[derive(Deserialize)]
struct JsonHint {
    mask: Option<Vec<u32>>,
    preferred: bool,
}

impl JsonHint {
    fn to_hint(&self) -> Result<Hint> {
        let mask = match &self.mask {
            None => None,
            Some(ids) => Some(NumaMask::from_ids(ids.iter().copied())?),
        };
        Ok(Hint::new(mask, self.preferred))
    }
}

/// Runs `topology_manager.json` cases (`file` names the source in errors and results).
///
/// # Errors
/// [`Error::Topology`] (with the line) when the text is not valid JSON of the documented schema.
pub fn run(cases_json: &str, file: &str) -> Result<Vec<CaseResult>> {
    let parsed: File = serde_json::from_str(cases_json).map_err(|e| {
        Error::topology(
            Location::source(file).at_line(e.line()),
            format!("not a Topology Manager vector file: {e}"),
        )
    })?;
    Ok(parsed
        .cases
        .iter()
        .map(|case| {
            let outcome = run_case(case);
            let (passed, detail) = match outcome {
                Ok(None) => (true, String::new()),
                Ok(Some(why)) => (false, why),
                Err(e) => (false, format!("case could not be run: {e}")),
            };
            CaseResult {
                id: case.id.clone(),
                name: case.name.clone(),
                file: file.to_string(),
                passed,
                detail,
            }
        })
        .collect())
}

/// `Ok(None)` when the case passes, `Ok(Some(why))` when it does not.
fn run_case(case: &Case) -> Result<Option<String>> {
    let policy = Policy::from_kubelet_name(&case.policy)?;
    match case.check.as_str() {
        "merge" => check_merge(case, policy),
        "admit" => {
            let hint = field(case.hint.as_ref(), "hint")?.to_hint()?;
            let want = *field(case.admit.as_ref(), "admit")?;
            let got = hints::admit(policy, &hint);
            Ok((got != want).then(|| format!("expected admit={want}, got admit={got}")))
        }
        "single_numa_filter" => {
            let input = field(case.input_hint_lists.as_ref(), "input_hint_lists")?;
            let want = field(case.expected_hint_lists.as_ref(), "expected_hint_lists")?;
            let want = to_lists(want)?;
            let got: Vec<Vec<Hint>> = to_lists(input)?
                .iter()
                .map(|l| hints::filter_single_numa(l))
                .collect();
            Ok((got != want)
                .then(|| format!("expected {}, got {}", show_lists(&want), show_lists(&got))))
        }
        other => Err(Error::Value(format!("unknown check {other:?}"))),
    }
}

fn check_merge(case: &Case, policy: Policy) -> Result<Option<String>> {
    let opts =
        PolicyOptions::from_kubelet(case.options.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let nodes = field(case.numa_nodes.as_ref(), "numa_nodes")?;
    let numa = match &case.numa_distances {
        None => NumaInfo::without_distances(nodes)?,
        Some(rows) => {
            // Row "i", column j: distance from node i to node j (columns by node id).
            let mut matrix = Vec::with_capacity(nodes.len());
            for a in nodes {
                let row = rows.get(&a.to_string()).ok_or_else(|| {
                    Error::Value(format!("numa_distances has no row for node {a}"))
                })?;
                let mut out = Vec::with_capacity(nodes.len());
                for &b in nodes {
                    let d = row.get(b as usize).copied().ok_or_else(|| {
                        Error::Value(format!("numa_distances row {a} has no column {b}"))
                    })?;
                    out.push(d);
                }
                matrix.push(out);
            }
            NumaInfo::new(nodes, &matrix)?
        }
    };
    let providers = to_lists(field(case.providers.as_ref(), "providers")?)?;
    let want = field(case.expected.as_ref(), "expected")?.to_hint()?;
    let fast = hints::merge(policy, &opts, &numa, &providers);
    let slow = hints::merge_exhaustive(policy, &opts, &numa, &providers);
    let mut problems = Vec::new();
    for (label, got) in [("search merge", fast), ("exhaustive merge", slow)] {
        match got {
            Ok(h) if h == want => {}
            Ok(h) => problems.push(format!(
                "{label}: expected {}, got {}",
                show(&want),
                show(&h)
            )),
            Err(e) => problems.push(format!("{label}: failed: {e}")),
        }
    }
    Ok((!problems.is_empty()).then(|| problems.join("; ")))
}

fn field<'a, T>(value: Option<&'a T>, name: &str) -> Result<&'a T> {
    value.ok_or_else(|| Error::Value(format!("case has no {name:?} field")))
}

fn to_lists(lists: &[Vec<JsonHint>]) -> Result<Vec<Vec<Hint>>> {
    lists
        .iter()
        .map(|l| l.iter().map(JsonHint::to_hint).collect())
        .collect()
}

fn show(hint: &Hint) -> String {
    let mask = hint
        .mask
        .map_or_else(|| "null".to_string(), |m| m.to_string());
    format!("{{mask: {mask}, preferred: {}}}", hint.preferred)
}

fn show_lists(lists: &[Vec<Hint>]) -> String {
    let inner: Vec<String> = lists
        .iter()
        .map(|l| {
            let hs: Vec<String> = l.iter().map(show).collect();
            format!("[{}]", hs.join(", "))
        })
        .collect();
    format!("[{}]", inner.join(", "))
}
