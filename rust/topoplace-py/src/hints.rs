//! `topoplace.merge_numa_hints`: the Topology Manager's merge of NUMA hints.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use topoplace_core::node::hints::{self, Hint, NumaInfo, NumaMask, Policy, PolicyOptions};

use crate::detach::detached;
use crate::errors::IntoPyResult;
use crate::request::option_pairs;

type PyHint = (Option<Vec<u32>>, bool);

fn to_hint(py: Python<'_>, (mask, preferred): &PyHint) -> PyResult<Hint> {
    let mask = mask
        .as_ref()
        .map(|ids| NumaMask::from_ids(ids.iter().copied()))
        .transpose()
        .into_py_result(py)?;
    Ok(Hint::new(mask, *preferred))
}

/// Merges NUMA hints as the kubelet's Topology Manager does and returns ``(mask, preferred)``,
/// ``mask`` being a sorted list of NUMA ids or ``None`` (no preference / no affinity).
///
/// ``providers`` holds one list of ``(mask, preferred)`` hints per provider and resource;
/// ``numa_nodes`` the machine's NUMA ids; ``distances`` the distance matrix rows in
/// ``numa_nodes`` order (needed by ``prefer-closest-numa-nodes``). ``exhaustive=True`` runs the
/// kubelet's enumeration of every combination (refused past ``max-allowable-numa-nodes``);
/// the default search gives the same answer without enumerating, on up to 128 NUMA nodes.
#[pyfunction]
#[pyo3(signature = (policy, providers, *, numa_nodes, distances = None, options = None, exhaustive = false))]
pub(crate) fn merge_numa_hints(
    py: Python<'_>,
    policy: &str,
    providers: Vec<Vec<PyHint>>,
    numa_nodes: Vec<u32>,
    distances: Option<Vec<Vec<u32>>>,
    options: Option<&Bound<'_, PyDict>>,
    exhaustive: bool,
) -> PyResult<(Option<Vec<u32>>, bool)> {
    let policy = Policy::from_kubelet_name(policy).into_py_result(py)?;
    let pairs = option_pairs(options)?;
    let opts = PolicyOptions::from_kubelet(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .into_py_result(py)?;
    let numa = match &distances {
        Some(rows) => NumaInfo::new(&numa_nodes, rows),
        None => NumaInfo::without_distances(&numa_nodes),
    }
    .into_py_result(py)?;
    let lists = providers
        .iter()
        .map(|list| {
            list.iter()
                .map(|h| to_hint(py, h))
                .collect::<PyResult<Vec<Hint>>>()
        })
        .collect::<PyResult<Vec<_>>>()?;
    let merged = detached(py, || {
        if exhaustive {
            hints::merge_exhaustive(policy, &opts, &numa, &lists)
        } else {
            hints::merge(policy, &opts, &numa, &lists)
        }
    })?;
    Ok((merged.mask.map(|m| m.iter().collect()), merged.preferred))
}
