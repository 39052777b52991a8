//! `topoplace.NodeAllocator`.
//!
//! The allocator is a frozen class whose state sits behind a `Mutex`; every call locks it inside
//! the detached closure, so calls from many Python threads serialise on the lock while the
//! interpreter keeps running other threads.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use topoplace_core::node::allocator::{HugepagePools, MemKind, NodeAllocator};
use topoplace_core::{Error, Topology};

use crate::checkpoint_io;
use crate::cpuset::{PyCpuSet, to_cpuset};
use crate::detach::detached;
use crate::errors::{IntoPyResult, to_pyerr};
use crate::request::{PyAllocation, PyRequest, bytes_arg};
use crate::topology::PyTopology;

/// The allocator state and the count of state changes made so far.
struct State {
    alloc: NodeAllocator,
    changes: u64,
}

/// A machine's exclusive CPUs, memory and hugepages, and who holds what (by owner id).
///
/// Safe to share between threads: calls lock the state and release the GIL while they work.
#[pyclass(
    name = "NodeAllocator",
    module = "topoplace",
    frozen,
    skip_from_py_object
)]
pub(crate) struct PyNodeAllocator {
    topology: Arc<Topology>,
    state: Mutex<State>,
}

fn poisoned(py: Python<'_>) -> PyErr {
    to_pyerr(
        py,
        Error::Value("the allocator's lock was poisoned by an earlier internal fault".into()),
    )
}

/// A per-NUMA-node map (OS id to bytes) as a dense vector.
fn per_numa(
    py: Python<'_>,
    topo: &Topology,
    map: Option<&Bound<'_, PyDict>>,
    what: &str,
) -> PyResult<Vec<u64>> {
    let Some(map) = map else {
        return Ok(Vec::new());
    };
    let mut dense = vec![0; topo.numa_nodes().len()];
    for (key, value) in map.iter() {
        let os: u32 = key.extract()?;
        let index = topo.numa_by_os(os).ok_or_else(|| {
            to_pyerr(
                py,
                Error::Value(format!(
                    "{what}: NUMA node {os} does not exist on this machine"
                )),
            )
        })?;
        dense[index as usize] = bytes_arg(py, &value, what)?;
    }
    Ok(dense)
}

impl PyNodeAllocator {
    /// Runs `f` on the locked state with the GIL released (waiting for the lock included).
    fn with_state<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut State) -> T + Send,
    ) -> PyResult<T> {
        py.detach(|| {
            self.state
                .lock()
                .map(|mut state| f(&mut state))
                .map_err(|_| ())
        })
        .map_err(|()| poisoned(py))
    }
}

#[pymethods]
impl PyNodeAllocator {
    /// An allocator over ``topology``. ``reserved_cpus`` are never handed out (the kubelet's
    /// ``--reserved-cpus``); ``reserved_memory``, ``hugepages_2m`` and ``hugepages_1g`` map NUMA
    /// node OS ids to bytes (ints or quantities such as ``"4Gi"``).
    #[new]
    #[pyo3(signature = (topology, *, reserved_cpus = None, reserved_memory = None, hugepages_2m = None, hugepages_1g = None))]
    fn py_new(
        py: Python<'_>,
        topology: &PyTopology,
        reserved_cpus: Option<&Bound<'_, PyAny>>,
        reserved_memory: Option<&Bound<'_, PyDict>>,
        hugepages_2m: Option<&Bound<'_, PyDict>>,
        hugepages_1g: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let topo = topology.inner.clone();
        let reserved = reserved_cpus
            .map(|r| to_cpuset(py, r))
            .transpose()?
            .unwrap_or_default();
        let memory = per_numa(py, &topo, reserved_memory, "reserved_memory")?;
        let pools = HugepagePools {
            per_numa_2m: per_numa(py, &topo, hugepages_2m, "hugepages_2m")?,
            per_numa_1g: per_numa(py, &topo, hugepages_1g, "hugepages_1g")?,
        };
        let alloc = NodeAllocator::with_hugepages(topo.clone(), reserved, memory, pools)
            .into_py_result(py)?;
        Ok(Self {
            topology: topo,
            state: Mutex::new(State { alloc, changes: 0 }),
        })
    }

    /// The machine.
    #[getter]
    fn topology(&self) -> PyTopology {
        PyTopology::new(self.topology.clone())
    }

    /// Places ``request`` for ``owner`` (all or nothing) and returns the allocation, or a
    /// refused one with the reason. An owner that already holds an allocation is an error.
    fn allocate(&self, py: Python<'_>, owner: &str, request: &PyRequest) -> PyResult<PyAllocation> {
        let req = &request.inner;
        let (outcome, sequence) = detached(py, || {
            let mut state = self
                .state
                .lock()
                .map_err(|_| Error::Value("poisoned lock".into()))?;
            let outcome = state.alloc.allocate(owner, req)?;
            let sequence = outcome.is_placed().then(|| {
                state.changes += 1;
                state.changes
            });
            Ok((outcome, sequence))
        })?;
        Ok(PyAllocation::from_outcome(
            &self.topology,
            Some(owner),
            &outcome,
            sequence,
        ))
    }

    /// What ``allocate`` would answer now, changing nothing.
    fn check(&self, py: Python<'_>, request: &PyRequest) -> PyResult<PyAllocation> {
        let req = &request.inner;
        let outcome = detached(py, || {
            let state = self
                .state
                .lock()
                .map_err(|_| Error::Value("poisoned lock".into()))?;
            state.alloc.check(req)
        })?;
        Ok(PyAllocation::from_outcome(
            &self.topology,
            None,
            &outcome,
            None,
        ))
    }

    /// Releases what ``owner`` holds and returns it, or ``None`` if it holds nothing.
    fn release(&self, py: Python<'_>, owner: &str) -> PyResult<Option<PyAllocation>> {
        let (grant, sequence) = self.with_state(py, |state| {
            let grant = state.alloc.release(owner);
            let sequence = grant.as_ref().map(|_| {
                state.changes += 1;
                state.changes
            });
            (grant, sequence)
        })?;
        Ok(grant.map(|g| PyAllocation::from_grant(&self.topology, Some(owner), &g, sequence)))
    }

    /// What ``owner`` holds, or ``None``.
    fn get(&self, py: Python<'_>, owner: &str) -> PyResult<Option<PyAllocation>> {
        let grant = self.with_state(py, |state| state.alloc.grant(owner).cloned())?;
        Ok(grant.map(|g| PyAllocation::from_grant(&self.topology, Some(owner), &g, None)))
    }

    /// Owner ids holding allocations, sorted.
    fn owners(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.with_state(py, |state| {
            state.alloc.grants().map(|(o, _)| o.to_owned()).collect()
        })
    }

    /// Free capacity per NUMA node: a list of dicts with ``numa_node`` (OS id), ``cpus``
    /// (CpuSet), ``memory``, ``hugepages_2m`` and ``hugepages_1g`` (bytes).
    fn free<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyDict>>> {
        let free = self.with_state(py, |state| state.alloc.free())?;
        free.into_iter()
            .map(|node| {
                let d = PyDict::new(py);
                // `NodeFree::numa` is already the OS id.
                d.set_item("numa_node", node.numa)?;
                d.set_item("cpus", PyCpuSet::new_from(node.cpus))?;
                d.set_item("memory", node.bytes[MemKind::Regular.index()])?;
                d.set_item("hugepages_2m", node.bytes[MemKind::Huge2M.index()])?;
                d.set_item("hugepages_1g", node.bytes[MemKind::Huge1G.index()])?;
                Ok(d)
            })
            .collect()
    }

    /// Every free CPU.
    #[getter]
    fn free_cpus(&self, py: Python<'_>) -> PyResult<PyCpuSet> {
        self.with_state(py, |state| {
            PyCpuSet::new_from(state.alloc.free_cpus().clone())
        })
    }

    /// The number of state changes (placed allocations and releases) so far.
    #[getter]
    fn changes(&self, py: Python<'_>) -> PyResult<u64> {
        self.with_state(py, |state| state.changes)
    }

    /// The state as checkpoint text (JSON payload plus checksum, tied to this topology).
    fn to_checkpoint(&self, py: Python<'_>) -> PyResult<String> {
        detached(py, || {
            Ok(self
                .state
                .lock()
                .map_err(|_| Error::Value("poisoned lock".into()))?
                .alloc
                .to_checkpoint())
        })
    }

    /// An allocator from checkpoint text; refuses corrupted, truncated or foreign text.
    #[staticmethod]
    #[pyo3(signature = (text, topology, *, source = "<string>"))]
    fn from_checkpoint(
        py: Python<'_>,
        text: &str,
        topology: &PyTopology,
        source: &str,
    ) -> PyResult<Self> {
        let topo = topology.inner.clone();
        let alloc = detached(py, || {
            NodeAllocator::from_checkpoint(text, topo.clone(), source)
        })?;
        Ok(Self {
            topology: topology.inner.clone(),
            state: Mutex::new(State { alloc, changes: 0 }),
        })
    }

    /// Writes a checkpoint to ``path`` atomically: a temporary file beside it, fsync, rename,
    /// fsync of the folder. A crash at any point leaves either the old or the new file.
    fn snapshot(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let text = self.to_checkpoint(py)?;
        py.detach(|| checkpoint_io::write_atomic(&path, text.as_bytes()))
            .map_err(|e| {
                to_pyerr(
                    py,
                    Error::topology(
                        topoplace_core::Location::source(path.display().to_string()),
                        format!("cannot write checkpoint: {e}"),
                    ),
                )
            })
    }

    /// Restores an allocator from a checkpoint file written by :meth:`snapshot` for the same
    /// topology; a corrupted, truncated or foreign file raises ``TopologyError`` and loads
    /// nothing.
    #[staticmethod]
    fn restore(py: Python<'_>, path: PathBuf, topology: &PyTopology) -> PyResult<Self> {
        let label = path.display().to_string();
        let text = py.detach(|| std::fs::read_to_string(&path)).map_err(|e| {
            to_pyerr(
                py,
                Error::topology(
                    topoplace_core::Location::source(label.clone()),
                    format!("cannot read checkpoint: {e}"),
                ),
            )
        })?;
        Self::from_checkpoint(py, &text, topology, &label)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let (owners, free) = self.with_state(py, |state| {
            (state.alloc.grants().count(), state.alloc.free_cpus().len())
        })?;
        Ok(format!(
            "NodeAllocator(topology={:?}, owners={owners}, free_cpus={free})",
            self.topology.name()
        ))
    }
}
