//! Kubelet Topology Manager conformance. PLACEHOLDER: being written.

use super::CaseResult;
use crate::error::Result;

/// Runs `topology_manager.json` cases.
///
/// # Errors
/// When the file is not valid JSON of the documented schema.
pub fn run(_cases: &str, _file: &str) -> Result<Vec<CaseResult>> {
    Ok(Vec::new())
}
