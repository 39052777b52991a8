//! Conversions to Python values: numpy arrays, dicts, networkx graphs. The only file that
//! touches numpy.

use numpy::IntoPyArray;
use numpy::ndarray::Array2;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use topoplace_core::Topology;
use topoplace_core::topology::Summary;

/// A square `u32` matrix as a 2-D numpy array; the buffer moves without a copy.
pub(crate) fn matrix_u32<'py>(
    py: Python<'py>,
    size: usize,
    values: &[u32],
) -> PyResult<Bound<'py, PyAny>> {
    let array = Array2::from_shape_vec((size, size), values.to_vec())
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok(array.into_pyarray(py).into_any())
}

/// The summary as a dict.
pub(crate) fn summary_dict<'py>(py: Python<'py>, s: &Summary) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("packages", s.packages)?;
    d.set_item("numa_nodes", s.numa_nodes)?;
    d.set_item("cores", s.cores)?;
    d.set_item("cpus", s.cpus)?;
    d.set_item("cpus_online", s.cpus_online)?;
    d.set_item("cpus_offline", s.cpus_offline)?;
    d.set_item("cpus_allowed", s.cpus_allowed)?;
    d.set_item("gpus", s.gpus)?;
    d.set_item("nics", s.nics)?;
    d.set_item("memory_bytes", s.memory_bytes)?;
    d.set_item("has_distances", s.has_distances)?;
    Ok(d)
}

/// Builds a `networkx.Graph` from the core's vertex and edge lists.
pub(crate) fn networkx_graph<'py>(py: Python<'py>, topo: &Topology) -> PyResult<Bound<'py, PyAny>> {
    let nx = py.import("networkx")?;
    let graph = nx.getattr("Graph")?.call0()?;
    graph.getattr("graph")?.set_item("name", topo.name())?;
    let (vertices, edges) = topo.graph();
    let add_node = graph.getattr("add_node")?;
    for v in vertices {
        let attrs = PyDict::new(py);
        attrs.set_item("kind", v.kind)?;
        attrs.set_item("index", v.index)?;
        add_node.call((v.id,), Some(&attrs))?;
    }
    let add_edge = graph.getattr("add_edge")?;
    for e in edges {
        let attrs = PyDict::new(py);
        attrs.set_item("kind", e.kind)?;
        if let Some(class) = e.class {
            attrs.set_item("link_class", class)?;
        }
        attrs.set_item("weight", e.weight)?;
        add_edge.call((e.a, e.b), Some(&attrs))?;
    }
    Ok(graph)
}
