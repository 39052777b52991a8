//! Kubelet CPU Manager conformance. PLACEHOLDER: being written.

use super::CaseResult;
use crate::error::Result;

/// Runs `cpu_assignment.json` cases.
///
/// # Errors
/// When a file is not valid JSON of the documented schema.
pub fn run_assignment(_topologies: &str, _cases: &str, _file: &str) -> Result<Vec<CaseResult>> {
    Ok(Vec::new())
}

/// Runs `cpu_accumulator.json` cases.
///
/// # Errors
/// When a file is not valid JSON of the documented schema.
pub fn run_accumulator(_topologies: &str, _cases: &str, _file: &str) -> Result<Vec<CaseResult>> {
    Ok(Vec::new())
}
