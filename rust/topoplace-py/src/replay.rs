//! `topoplace._core.ReplayTrace` and `replay`: the FGD paper's trace replay
//! (`topoplace_core::replay`), one run per call with the GIL released.
//!
//! A trace (a node list and a pod list, parsed once) is a frozen handle that any number of
//! threads can replay at the same time. A run comes back as a plain dict that
//! `topoplace.replay` turns into its typed result.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use topoplace_core::Error;
use topoplace_core::replay as sim;
use topoplace_core::replay::{NodeRow, PodOutcome, PodRow, Policy, ReplayOptions, ReplayResult};

use crate::detach::detached;
use crate::errors::to_pyerr;

/// A node list and a pod list of the Alibaba GPU trace (`openb_node_list_*.csv`,
/// `openb_pod_list_*.csv`), parsed from text with the GIL released. Immutable: share it
/// between threads freely.
///
/// Parameters
/// ----------
/// nodes_text, pods_text : str
///     The CSV texts (columns found by header name).
/// nodes_file, pods_file : str
///     Labels for error messages (usually the file paths).
///
/// Raises
/// ------
/// TopologyError
///     A missing column, a short row, or a number that does not parse, naming the file, the
///     line and the column.
#[pyclass(
    name = "ReplayTrace",
    module = "topoplace._core",
    frozen,
    skip_from_py_object
)]
pub(crate) struct PyReplayTrace {
    nodes: Vec<NodeRow>,
    pods: Vec<PodRow>,
    nodes_file: String,
    pods_file: String,
}

#[pymethods]
impl PyReplayTrace {
    #[new]
    #[pyo3(signature = (nodes_text, pods_text, *, nodes_file = "<nodes>", pods_file = "<pods>"))]
    fn new(
        py: Python<'_>,
        nodes_text: &str,
        pods_text: &str,
        nodes_file: &str,
        pods_file: &str,
    ) -> PyResult<Self> {
        let (nodes, pods) = detached(py, || {
            Ok((
                sim::read_nodes(nodes_text, nodes_file)?,
                sim::read_pods(pods_text, pods_file)?,
            ))
        })?;
        Ok(Self {
            nodes,
            pods,
            nodes_file: nodes_file.to_owned(),
            pods_file: pods_file.to_owned(),
        })
    }

    /// The node list's label.
    #[getter]
    fn nodes_file(&self) -> &str {
        &self.nodes_file
    }

    /// The pod list's label.
    #[getter]
    fn pods_file(&self) -> &str {
        &self.pods_file
    }

    /// Number of nodes.
    #[getter]
    fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of pods in the list (before the run pads it to the tune ratio).
    #[getter]
    fn pod_count(&self) -> usize {
        self.pods.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<ReplayTrace {}: {} pods on {} nodes>",
            self.pods_file,
            self.pods.len(),
            self.nodes.len()
        )
    }
}

/// The policy called `name`, or an error listing the valid names.
fn policy(name: &str) -> Result<Policy, Error> {
    Policy::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
        Error::Value(format!(
            "unknown replay policy {name:?} (expected one of {})",
            names.join(", ")
        ))
    })
}

/// `(pod name, node name or None, GPU indexes)` for one offered pod.
type Placement = (String, Option<String>, Vec<u32>);

fn placement(trace: &PyReplayTrace, outcome: &PodOutcome) -> Placement {
    let gpus = (0..u8::BITS)
        .filter(|g| outcome.gpus >> g & 1 == 1)
        .collect();
    (
        trace.pods[outcome.pod].name.clone(),
        outcome.node.map(|n| trace.nodes[n].name.clone()),
        gpus,
    )
}

fn result_dict<'py>(
    py: Python<'py>,
    r: &ReplayResult,
    options: &ReplayOptions,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("policy", r.policy.name())?;
    d.set_item("label", r.policy.artifact_label())?;
    d.set_item("seed", r.seed)?;
    d.set_item("tune_ratio", options.tune_ratio)?;
    d.set_item("total_gpus", r.total_gpus)?;
    d.set_item("pods_offered", r.pods_offered)?;
    d.set_item("pods_failed", r.pods_failed)?;
    d.set_item("allocation_ratio", &r.allocation_ratio)?;
    d.set_item("fragmentation", &r.fragmentation)?;
    d.set_item("unallocated_gpus_at_end", r.unallocated_gpus_at_end)?;
    d.set_item("final_used_milli", r.final_used_milli)?;
    Ok(d)
}

/// Replays `trace` under `policy` with tune seed `seed`, as the FGD paper's simulator does
/// (Weng et al., USENIX ATC '23): the pods are shuffled by the seed and padded to
/// `tune_ratio` x the GPU capacity, then offered once each, in that order. Runs with the GIL
/// released, so threads replay in parallel.
///
/// Parameters
/// ----------
/// trace : ReplayTrace
/// policy : str
///     One of ``POLICIES``.
/// seed : int
///     The tune seed (42 to 51 in the paper).
/// tune_ratio : float, optional
///     Arrived GPU request at the end, as a multiple of the capacity (default: the paper's 1.3).
/// placements : bool
///     Also return, per offered pod in arrival order, ``(pod, node or None, GPU indexes)``
///     under the key ``"placements"``.
///
/// Returns
/// -------
/// dict
///     ``policy``, ``label`` (the authors' ``sc_policy``), ``seed``, ``tune_ratio``,
///     ``total_gpus``, ``pods_offered``, ``pods_failed``, ``allocation_ratio`` and
///     ``fragmentation`` (131 floats, percent of the GPU capacity by arrived percent, NaN where
///     the bucket is empty), ``unallocated_gpus_at_end``, ``final_used_milli``.
///
/// Raises
/// ------
/// InvalidValueError
///     An unknown policy, or a trace the simulator cannot run (no GPU requested, a node with
///     more than 8 GPUs...).
#[pyfunction]
#[pyo3(signature = (trace, policy, seed, *, tune_ratio = None, placements = false))]
pub(crate) fn replay<'py>(
    py: Python<'py>,
    trace: &Bound<'py, PyReplayTrace>,
    policy: &str,
    seed: i64,
    tune_ratio: Option<f64>,
    placements: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let policy = self::policy(policy).map_err(|e| to_pyerr(py, e))?;
    let mut options = ReplayOptions::default();
    if let Some(ratio) = tune_ratio {
        options.tune_ratio = ratio;
    }
    let t = trace.get();
    if !placements {
        let r = detached(py, || {
            sim::replay_with(&t.nodes, &t.pods, policy, seed, &options)
        })?;
        return result_dict(py, &r, &options);
    }
    let run = detached(py, || {
        sim::replay_traced(&t.nodes, &t.pods, policy, seed, &options)
    })?;
    let d = result_dict(py, &run.result, &options)?;
    let rows: Vec<Placement> = run.pods.iter().map(|o| placement(t, o)).collect();
    d.set_item("placements", rows)?;
    Ok(d)
}

/// The arrival order and the node priority of a run of `trace` with tune seed `seed`, the
/// same for every policy: the inputs a peer implementation needs to repeat the experiment.
/// Runs with the GIL released.
///
/// Parameters
/// ----------
/// trace : ReplayTrace
/// seed : int
///     The tune seed (42 to 51 in the paper).
/// tune_ratio : float, optional
///     Arrived GPU request at the end, as a multiple of the capacity (default: the paper's 1.3).
///
/// Returns
/// -------
/// tuple[list[int], list[int]]
///     The offered pods in arrival order, as indexes into the trace's pod list (re-drawn pods
///     repeat an index), and every index into the node list in tie-break order (the first node
///     listed wins a tie).
///
/// Raises
/// ------
/// InvalidValueError
///     A trace the simulator cannot run, or a tune ratio that is not positive.
#[pyfunction]
#[pyo3(signature = (trace, seed, *, tune_ratio = 1.3))]
pub(crate) fn arrivals(
    py: Python<'_>,
    trace: &Bound<'_, PyReplayTrace>,
    seed: i64,
    tune_ratio: f64,
) -> PyResult<(Vec<usize>, Vec<usize>)> {
    let options = ReplayOptions {
        tune_ratio,
        ..ReplayOptions::default()
    };
    let t = trace.get();
    let a = detached(py, || sim::arrivals(&t.nodes, &t.pods, seed, &options))?;
    Ok((a.pods, a.node_priority))
}

/// Adds `POLICIES`, the replay policies' names in the paper's order, to the module.
pub(crate) fn add_constants(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let names = PyTuple::new(m.py(), Policy::ALL.iter().map(|p| p.name()))?;
    m.add("POLICIES", names)
}
