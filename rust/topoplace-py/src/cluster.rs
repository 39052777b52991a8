//! `topoplace._core.ClusterCore` and `GangPlacement`: the cluster snapshot behind a lock, and
//! a gang's placement kept native until read.

use std::sync::{Arc, Mutex, RwLock};

use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use topoplace_core::CpuSet;
use topoplace_core::Error;
use topoplace_core::cluster::dense::DenseCluster;
use topoplace_core::cluster::json::{cluster_from_json_str, gang_from_json_str};
use topoplace_core::cluster::{Cluster, GangSpec, PlaceOutcome};
use topoplace_core::node::allocator::NodeAllocator;

use crate::detach::detached;
use crate::errors::to_pyerr;
use crate::topology::PyTopology;

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
    /// The node names (fixed for the snapshot's life), shared with every placement.
    names: Arc<Vec<String>>,
}

impl PyCluster {
    fn wrap(cluster: Cluster) -> Self {
        let names = Arc::new(cluster.nodes.iter().map(|n| n.name.clone()).collect());
        Self {
            state: Arc::new(RwLock::new(cluster)),
            names,
        }
    }
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
        Ok(Self::wrap(cluster))
    }

    /// A cluster from arrays: `capacity` (nodes x resources, `cpu` in millicores), `used`
    /// likewise, `numa`/`numa_used` (nodes x NUMA nodes x resources), `single_numa` per node,
    /// and per level `(label ids per node, label values)` (a negative id: no label).
    #[staticmethod]
    #[pyo3(signature = (
        names, resources, capacity, levels, labels, used = None, numa = None,
        numa_used = None, single_numa = None
    ))]
    #[expect(
        clippy::too_many_arguments,
        reason = "mirrors the Python keyword arguments"
    )]
    fn from_arrays(
        py: Python<'_>,
        names: Vec<String>,
        resources: Vec<String>,
        capacity: PyReadonlyArray2<'_, i64>,
        levels: Vec<String>,
        labels: Vec<(PyReadonlyArray1<'_, i64>, Vec<String>)>,
        used: Option<PyReadonlyArray2<'_, i64>>,
        numa: Option<PyReadonlyArray3<'_, i64>>,
        numa_used: Option<PyReadonlyArray3<'_, i64>>,
        single_numa: Option<PyReadonlyArray1<'_, bool>>,
    ) -> PyResult<Self> {
        // Copies, so the work below runs detached from arrays Python could change.
        let flat2 =
            |a: &PyReadonlyArray2<'_, i64>| a.as_array().iter().copied().collect::<Vec<_>>();
        let flat3 =
            |a: &PyReadonlyArray3<'_, i64>| a.as_array().iter().copied().collect::<Vec<_>>();
        let zones = numa.as_ref().map_or(0, |a| a.shape()[1]);
        let capacity = flat2(&capacity);
        let used = used.as_ref().map(flat2).unwrap_or_default();
        let numa = numa.as_ref().map(flat3).unwrap_or_default();
        let numa_used = numa_used.as_ref().map(flat3).unwrap_or_default();
        let single_numa: Vec<bool> = single_numa
            .as_ref()
            .map(|a| a.as_array().iter().copied().collect())
            .unwrap_or_default();
        let (level_ids, level_values): (Vec<Vec<i64>>, Vec<Vec<String>>) = labels
            .into_iter()
            .map(|(ids, values)| (ids.as_array().iter().copied().collect(), values))
            .unzip();
        let cluster = detached(py, || {
            Cluster::from_dense(&DenseCluster {
                names: &names,
                resources: &resources,
                capacity: &capacity,
                used: &used,
                zones,
                numa: &numa,
                numa_used: &numa_used,
                single_numa: &single_numa,
                levels: &levels,
                level_ids: &level_ids,
                level_values: &level_values,
            })
        })?;
        Ok(Self::wrap(cluster))
    }

    /// Gives the nodes at `nodes` (indices) the allocator of `topology`: their pods get
    /// CPUs and GPUs from it.
    fn attach_topology(
        &self,
        py: Python<'_>,
        nodes: Vec<usize>,
        topology: PyRef<'_, PyTopology>,
    ) -> PyResult<()> {
        let alloc = NodeAllocator::new(topology.inner.clone(), CpuSet::new(), Vec::new())
            .map_err(|e| to_pyerr(py, e))?;
        let mut c = self.state.write().map_err(|_| to_pyerr(py, poisoned()))?;
        for n in nodes {
            if n >= c.nodes.len() {
                return Err(to_pyerr(py, Error::Value(format!("cluster: no node #{n}"))));
            }
            c.attach_allocator(n, alloc.clone())
                .map_err(|e| to_pyerr(py, e))?;
        }
        Ok(())
    }

    /// The node names, in order.
    fn node_names(&self) -> Vec<String> {
        self.names.to_vec()
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

    /// `(entirely free nodes, per level the entirely free domains)`.
    fn whole_free(&self, py: Python<'_>) -> PyResult<(usize, Vec<usize>)> {
        let c = self.state.read().map_err(|_| to_pyerr(py, poisoned()))?;
        Ok(py.detach(|| c.whole_free()))
    }

    /// Places the gang (JSON text), changing nothing.
    fn place(&self, py: Python<'_>, gang: &str) -> PyResult<PyPlacement> {
        let state = Arc::clone(&self.state);
        let names = Arc::clone(&self.names);
        detached(py, move || {
            let c = state.read().map_err(|_| poisoned())?;
            let spec = gang_from_json_str(gang, &c)?;
            let outcome = c.place(&spec);
            Ok(PyPlacement {
                gang: spec,
                outcome,
                names,
                committed: Mutex::new(false),
            })
        })
    }

    /// Per node (in order), how many pods of the gang's first group it holds now, and why
    /// none when it holds none.
    fn node_fits(&self, py: Python<'_>, gang: &str) -> PyResult<Vec<(usize, Option<String>)>> {
        let state = Arc::clone(&self.state);
        detached(py, move || {
            let c = state.read().map_err(|_| poisoned())?;
            let spec = gang_from_json_str(gang, &c)?;
            Ok(c.node_fits(&spec))
        })
    }

    /// Places each gang in turn, committing each that fits on a copy of the cluster: the
    /// what-if of a sequence (the cluster itself is unchanged).
    fn place_sequence(&self, py: Python<'_>, gangs: Vec<String>) -> PyResult<Vec<PyPlacement>> {
        let state = Arc::clone(&self.state);
        let names = Arc::clone(&self.names);
        detached(py, move || {
            let mut c = state.read().map_err(|_| poisoned())?.clone();
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

    /// Per pod (as `pods`), on a node with a topology, what its node's allocator gives it:
    /// `{"cpus", "gpus", "numa_nodes"}` (CPU and NUMA OS ids, GPU ordinals); `None` on a
    /// node without one.
    #[getter]
    fn allocations<'py>(&self, py: Python<'py>) -> PyResult<Vec<Option<Bound<'py, PyDict>>>> {
        let PlaceOutcome::Placed(p) = &self.outcome else {
            return Ok(Vec::new());
        };
        if p.grants.is_empty() {
            return Ok(vec![None; p.pods.len()]);
        }
        p.grants
            .iter()
            .map(|g| {
                g.as_ref()
                    .map(|g| {
                        let d = PyDict::new(py);
                        d.set_item("cpus", g.cpus.iter().collect::<Vec<u32>>())?;
                        d.set_item("gpus", &g.gpus)?;
                        d.set_item("numa_nodes", &g.numa_nodes)?;
                        Ok(d)
                    })
                    .transpose()
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
