//! `topoplace.select_gpus`: the best-connected set of GPUs on one machine.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use topoplace_core::Error;
use topoplace_core::node::gpu::{self, mask_to_vec, vec_to_mask};
use topoplace_core::topology::DeviceKind;

use crate::detach::detached;
use crate::errors::to_pyerr;
use crate::topology::PyTopology;

/// GPU positions (in ``Topology.gpus`` order) from names or positions.
fn positions(py: Python<'_>, topo: &PyTopology, items: &[Bound<'_, PyAny>]) -> PyResult<Vec<u32>> {
    let gpus: Vec<u32> = topo.inner.devices_of(DeviceKind::Gpu).collect();
    items
        .iter()
        .map(|item| {
            if let Ok(i) = item.extract::<u32>() {
                if (i as usize) < gpus.len() {
                    return Ok(i);
                }
            } else if let Ok(name) = item.extract::<String>() {
                let found = gpus.iter().position(|&d| {
                    let dev = &topo.inner.devices()[d as usize];
                    dev.name == name || dev.aliases.contains(&name)
                });
                if let Some(p) = found {
                    return Ok(topoplace_core::topology::to_u32(p));
                }
            }
            Err(to_pyerr(
                py,
                Error::Value(format!(
                    "{item} is not a GPU of this topology ({} GPUs)",
                    gpus.len()
                )),
            ))
        })
        .collect()
}

/// Chooses ``size`` GPUs as NVIDIA's go-gpuallocator ``besteffort`` policy does: the set whose
/// pair scores (NVLink 100 per link, PIX 50, PXB 40, PHB 30, NODE 20, SYS 10) are highest, inside
/// the split of all available GPUs into groups of ``size`` with the best total (so what is left
/// stays well connected). ``available`` and ``required`` take GPU names or positions in
/// ``Topology.gpus`` (default: all GPUs, none required); ``policy="simple"`` takes the lowest
/// indices. Returns ``None`` when no set fits, else a dict with ``gpus`` (names), ``indices``,
/// ``score`` and ``candidates_scored``.
#[pyfunction]
#[pyo3(signature = (topology, size, *, available = None, required = None, policy = "besteffort"))]
pub(crate) fn select_gpus<'py>(
    py: Python<'py>,
    topology: &PyTopology,
    size: usize,
    available: Option<Vec<Bound<'py, PyAny>>>,
    required: Option<Vec<Bound<'py, PyAny>>>,
    policy: &str,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let scores = topology.gpu_scores();
    let all = scores.len();
    let available = match available {
        Some(items) => vec_to_mask(&positions(py, topology, &items)?),
        None => vec_to_mask(&(0..topoplace_core::topology::to_u32(all)).collect::<Vec<_>>()),
    }
    .map_err(|e| to_pyerr(py, e))?;
    let required = match required {
        Some(items) => {
            vec_to_mask(&positions(py, topology, &items)?).map_err(|e| to_pyerr(py, e))?
        }
        None => 0,
    };
    let chosen = match policy {
        "besteffort" => detached(py, || {
            gpu::best_effort(scores, available, required, size, true)
        })?
        .map(|s| {
            (
                vec_to_mask(&s.gpus).unwrap_or(0),
                s.score,
                s.candidates_scored,
            )
        }),
        "simple" => gpu::simple(available, required, size).map(|m| (m, 0, 1)),
        other => {
            return Err(to_pyerr(
                py,
                Error::Value(format!(
                    "unknown GPU policy {other:?}; expected besteffort or simple"
                )),
            ));
        }
    };
    let Some((mask, score, candidates)) = chosen else {
        return Ok(None);
    };
    let gpus: Vec<u32> = topology.inner.devices_of(DeviceKind::Gpu).collect();
    let indices = mask_to_vec(mask);
    let names: Vec<&str> = indices
        .iter()
        .filter_map(|&i| gpus.get(i as usize))
        .map(|&d| topology.inner.devices()[d as usize].name.as_str())
        .collect();
    let out = PyDict::new(py);
    out.set_item("gpus", names)?;
    out.set_item("indices", indices)?;
    out.set_item("score", score)?;
    out.set_item("candidates_scored", candidates)?;
    Ok(Some(out))
}
