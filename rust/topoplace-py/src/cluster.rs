//! `topoplace._core.ClusterCore` and `GangPlacement`: the cluster snapshot behind a lock, and
//! a gang's placement kept native until read.

use std::sync::{Arc, Mutex, RwLock};

use pyo3::prelude::*;
use topoplace_core::Error;
use topoplace_core::cluster::json::{cluster_from_json_str, gang_from_json_str};
use topoplace_core::cluster::{Cluster, GangSpec, PlaceOutcome};

use crate::detach::detached;
use crate::errors::to_pyerr;

fn poisoned() -> Error {
    Error::Value("the cluster's lock was poisoned by an earlier internal fault".into())
}

/// A cluster snapshot built from the interchange JSON text; safe to share between threads
/// (`place` reads under a shared lock, `commit`/`release` write under an exclusive one).
#[pyclass(
    name = "ClusterCore",
    module = "topoplace._core",
    frozen,
    skip_from_py_object
)]
pub(crate) struct PyCluster {
    state: Arc<RwLock<Cluster>>,
}

/// A gang's placement (or the reasons it has none). `committed` guards against applying it
/// twice or releasing it without a commit.
#[pyclass(
    name = "GangPlacement",
    module = "topoplace._core",
    frozen,
    skip_from_py_object
)]
pub(crate) struct PyPlacement {
    gang: GangSpec,
    outcome: PlaceOutcome,
    names: Arc<Vec<String>>,
    committed: Mutex<bool>,
}

#[pymethods]
impl PyCluster {
    #[new]
    fn new(py: Python<'_>, text: &str) -> PyResult<Self> {
        let cluster = detached(py, || cluster_from_json_str(text))?;
        Ok(Self {
            state: Arc::new(RwLock::new(cluster)),
        })
    }

    /// The node names, in order.
    fn node_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let c = self.state.read().map_err(|_| to_pyerr(py, poisoned()))?;
        Ok(c.nodes.iter().map(|n| n.name.clone()).collect())
    }

    /// The levels, outermost first.
    #[getter]
    fn levels(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let c = self.state.read().map_err(|_| to_pyerr(py, poisoned()))?;
        Ok(c.levels.clone())
    }

    /// `(resource, free amount)` of node `name` (cpu in millicores).
    fn free(&self, py: Python<'_>, name: &str) -> PyResult<Vec<(String, i64)>> {
        let c = self.state.read().map_err(|_| to_pyerr(py, poisoned()))?;
        let n =
            c.nodes.iter().position(|n| n.name == name).ok_or_else(|| {
                to_pyerr(py, Error::Value(format!("cluster: no node named {name}")))
            })?;
        Ok((0..c.resources.len())
            .map(|r| (c.resources.name(r).to_owned(), c.free(n, r)))
            .collect())
    }

    /// Places the gang (JSON text), changing nothing.
    fn place(&self, py: Python<'_>, gang: &str) -> PyResult<PyPlacement> {
        let state = Arc::clone(&self.state);
        detached(py, move || {
            let c = state.read().map_err(|_| poisoned())?;
            let spec = gang_from_json_str(gang, &c)?;
            let outcome = c.place(&spec);
            Ok(PyPlacement {
                gang: spec,
                outcome,
                names: Arc::new(c.nodes.iter().map(|n| n.name.clone()).collect()),
                committed: Mutex::new(false),
            })
        })
    }

    /// Places each gang in turn, committing each that fits on a copy of the cluster: the
    /// what-if of a sequence (the cluster itself is unchanged).
    fn place_sequence(&self, py: Python<'_>, gangs: Vec<String>) -> PyResult<Vec<PyPlacement>> {
        let state = Arc::clone(&self.state);
        detached(py, move || {
            let mut c = state.read().map_err(|_| poisoned())?.clone();
            let names = Arc::new(c.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>());
            let mut out = Vec::with_capacity(gangs.len());
            for text in &gangs {
                let spec = gang_from_json_str(text, &c)?;
                let outcome = c.place(&spec);
                if let PlaceOutcome::Placed(p) = &outcome {
                    c.commit(&spec, p)?;
                }
                out.push(PyPlacement {
                    gang: spec,
                    outcome,
                    names: Arc::clone(&names),
                    committed: Mutex::new(false),
                });
            }
            Ok(out)
        })
    }

    /// Takes what `placement` places (all or nothing).
    fn commit(&self, py: Python<'_>, placement: &PyPlacement) -> PyResult<()> {
        let PlaceOutcome::Placed(p) = &placement.outcome else {
            return Err(to_pyerr(
                py,
                Error::Value("cannot commit an unschedulable gang".into()),
            ));
        };
        let mut done = placement
            .committed
            .lock()
            .map_err(|_| to_pyerr(py, poisoned()))?;
        if *done {
            return Err(to_pyerr(
                py,
                Error::Value(format!("gang {} is already committed", p.gang)),
            ));
        }
        let mut c = self.state.write().map_err(|_| to_pyerr(py, poisoned()))?;
        c.commit(&placement.gang, p).map_err(|e| to_pyerr(py, e))?;
        *done = true;
        Ok(())
    }

    /// Gives a committed placement back.
    fn release(&self, py: Python<'_>, placement: &PyPlacement) -> PyResult<()> {
        let PlaceOutcome::Placed(p) = &placement.outcome else {
            return Err(to_pyerr(
                py,
                Error::Value("an unschedulable gang holds nothing".into()),
            ));
        };
        let mut done = placement
            .committed
            .lock()
            .map_err(|_| to_pyerr(py, poisoned()))?;
        if !*done {
            return Err(to_pyerr(
                py,
                Error::Value(format!("gang {} is not committed", p.gang)),
            ));
        }
        let mut c = self.state.write().map_err(|_| to_pyerr(py, poisoned()))?;
        c.release(&placement.gang, p);
        *done = false;
        Ok(())
    }
}

#[pymethods]
impl PyPlacement {
    /// Whether the whole gang was placed.
    #[getter]
    fn feasible(&self) -> bool {
        matches!(self.outcome, PlaceOutcome::Placed(_))
    }

    /// The gang's name.
    #[getter]
    fn gang(&self) -> String {
        self.gang.name.clone()
    }

    /// Why the gang cannot be placed (empty when it can).
    #[getter]
    fn reasons(&self) -> Vec<String> {
        match &self.outcome {
            PlaceOutcome::Placed(_) => Vec::new(),
            PlaceOutcome::Unschedulable(r) => r.clone(),
        }
    }

    /// `(group, index, node, numa)` per pod, in rank order.
    #[getter]
    fn pods(&self) -> Vec<(String, usize, String, Option<usize>)> {
        let PlaceOutcome::Placed(p) = &self.outcome else {
            return Vec::new();
        };
        p.pods
            .iter()
            .map(|x| {
                let group = self.gang.groups[x.group].name.clone();
                (group, x.index, self.names[x.node].clone(), x.numa)
            })
            .collect()
    }

    /// Whether this placement is committed to its cluster.
    #[getter]
    fn committed(&self) -> bool {
        self.committed.lock().map(|d| *d).unwrap_or(false)
    }

    fn __len__(&self) -> usize {
        match &self.outcome {
            PlaceOutcome::Placed(p) => p.pods.len(),
            PlaceOutcome::Unschedulable(_) => 0,
        }
    }

    fn __bool__(&self) -> bool {
        self.feasible()
    }

    fn __repr__(&self) -> String {
        match &self.outcome {
            PlaceOutcome::Placed(p) => {
                format!(
                    "<GangPlacement {}: {} pods placed>",
                    self.gang.name,
                    p.pods.len()
                )
            }
            PlaceOutcome::Unschedulable(r) => {
                format!(
                    "<GangPlacement {}: unschedulable: {}>",
                    self.gang.name,
                    r.join("; ")
                )
            }
        }
    }
}
