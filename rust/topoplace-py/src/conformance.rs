//! `topoplace._core.run_conformance`: runs a vector suite given its files' text.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use topoplace_core::conformance::{self, GpuFiles, KubeletFiles};

use crate::detach::detached;
use crate::topology::Text;

/// Runs the conformance vectors of ``suite`` (``"kubelet"``, ``"gpu"`` or ``"dra"``) and returns one dict
/// per case with ``id``, ``name``, ``file``, ``passed`` and ``detail``. With ``strict``, GPU cases
/// with ties must give go-gpuallocator's own ``reference_result``.
///
/// ``files`` maps a vector file name (``"cpu_assignment.json"``...) to its text; files the
/// suite does not know are rejected, files it knows but that are absent are skipped.
#[pyfunction]
#[pyo3(signature = (suite, files, *, strict = false))]
pub(crate) fn run_conformance<'py>(
    py: Python<'py>,
    suite: &str,
    files: Vec<(String, Text)>,
    strict: bool,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let known: &[&str] = match suite {
        "kubelet" => &[
            "topologies.json",
            "cpu_assignment.json",
            "cpu_accumulator.json",
            "topology_manager.json",
        ],
        "gpu" => &["topologies.json", "cases.json", "static_tables.json"],
        "dra" => &["cases.json"],
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown conformance suite {other:?}; known: dra, gpu, kubelet"
            )));
        }
    };
    if let Some((name, _)) = files
        .iter()
        .find(|(name, _)| !known.contains(&name.as_str()))
    {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "suite {suite:?} has no vector file {name:?}; known: {}",
            known.join(", ")
        )));
    }
    let get = |want: &str| {
        files
            .iter()
            .find(|(name, _)| name == want)
            .map(|(_, t)| &**t)
    };
    let gpu = suite == "gpu";
    let dra = suite == "dra";
    let results = detached(py, || {
        if dra {
            get("cases.json").map_or_else(|| Ok(Vec::new()), conformance::run_dra)
        } else if gpu {
            conformance::run_gpu(
                &GpuFiles {
                    topologies: get("topologies.json"),
                    cases: get("cases.json"),
                    static_tables: get("static_tables.json"),
                },
                strict,
            )
        } else {
            conformance::run_kubelet(&KubeletFiles {
                topologies: get("topologies.json"),
                cpu_assignment: get("cpu_assignment.json"),
                cpu_accumulator: get("cpu_accumulator.json"),
                topology_manager: get("topology_manager.json"),
            })
        }
    })?;
    results
        .into_iter()
        .map(|r| {
            let d = PyDict::new(py);
            d.set_item("id", r.id)?;
            d.set_item("name", r.name)?;
            d.set_item("file", r.file)?;
            d.set_item("passed", r.passed)?;
            d.set_item("detail", r.detail)?;
            Ok(d)
        })
        .collect()
}
