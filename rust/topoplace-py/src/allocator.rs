//! `topoplace.Request`, `topoplace.Allocation` and `topoplace.NodeAllocator`.
//!
//! The allocator is a frozen class whose state sits behind a `Mutex`; every call locks it inside
//! the detached closure, so calls from many Python threads serialise on the lock while the
//! interpreter keeps running other threads.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyDict;
use topoplace_core::node::allocator::{
    AllocRequest, Grant, HugepagePools, MemKind, Mode, NodeAllocator, Outcome,
};
use topoplace_core::node::cpu::CpuOptions;
use topoplace_core::node::hints::{Policy, PolicyOptions};
use topoplace_core::{Error, Topology};

use crate::checkpoint_io;
use crate::cpuset::{PyCpuSet, to_cpuset};
use crate::detach::detached;
use crate::errors::{IntoPyResult, to_pyerr};
use crate::topology::PyTopology;

/// Bytes from an int or a Kubernetes quantity string (``"64Gi"``).
fn bytes_arg(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    if let Ok(n) = value.extract::<u64>() {
        return Ok(n);
    }
    if let Ok(text) = value.extract::<String>() {
        return topoplace_core::quantity::parse_bytes(&text).into_py_result(py);
    }
    Err(to_pyerr(
        py,
        Error::Value(format!(
            "{what}: expected a byte count or a quantity such as \"64Gi\", got {value}"
        )),
    ))
}

/// `{"name": value}` option maps as kubelet (name, string value) pairs; bools become `"true"`.
pub(crate) fn option_pairs(options: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, String)>> {
    let Some(options) = options else {
        return Ok(Vec::new());
    };
    let mut pairs = Vec::new();
    for (key, value) in options.iter() {
        let value = if let Ok(b) = value.extract::<bool>() {
            b.to_string()
        } else {
            value.str()?.to_string()
        };
        pairs.push((key.extract::<String>()?, value));
    }
    pairs.sort();
    Ok(pairs)
}

/// What a container or pod asks of one machine: exclusive CPUs, memory and hugepages, the
/// Topology Manager policy, the CPU Manager options, and the decision mode.
///
/// ``mode="kubelet"`` decides exactly as the kubelet's CPU, Memory and Topology managers would;
/// ``mode="default"`` is topoplace's own (fewest NUMA nodes, then closest by distance, then least
/// fragmentation of cores and L3 groups).
#[pyclass(name = "Request", module = "topoplace", frozen, skip_from_py_object)]
pub(crate) struct PyRequest {
    inner: AllocRequest,
}

#[pymethods]
impl PyRequest {
    #[new]
    #[pyo3(signature = (cpus = 0, *, memory = None, hugepages_2m = None, hugepages_1g = None,
        policy = "best-effort", mode = "default", cpu_options = None, topology_options = None))]
    #[allow(clippy::too_many_arguments)]
    fn py_new(
        py: Python<'_>,
        cpus: u32,
        memory: Option<&Bound<'_, PyAny>>,
        hugepages_2m: Option<&Bound<'_, PyAny>>,
        hugepages_1g: Option<&Bound<'_, PyAny>>,
        policy: &str,
        mode: &str,
        cpu_options: Option<&Bound<'_, PyDict>>,
        topology_options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let opt = |v: Option<&Bound<'_, PyAny>>, what| v.map_or(Ok(0), |v| bytes_arg(py, v, what));
        let memory = opt(memory, "memory")?;
        let (h2, h1) = (
            opt(hugepages_2m, "hugepages_2m")?,
            opt(hugepages_1g, "hugepages_1g")?,
        );
        let cpu_pairs = option_pairs(cpu_options)?;
        let tm_pairs = option_pairs(topology_options)?;
        let inner = AllocRequest::new(cpus, memory)
            .with_hugepages(h2, h1)
            .with_policy(Policy::from_kubelet_name(policy).into_py_result(py)?)
            .with_mode(Mode::parse(mode).into_py_result(py)?)
            .with_cpu_options(CpuOptions::from_kubelet_options(&cpu_pairs).into_py_result(py)?)
            .with_tm_options(
                PolicyOptions::from_kubelet(tm_pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .into_py_result(py)?,
            );
        Ok(Self { inner })
    }

    /// Exclusive CPUs asked for.
    #[getter]
    fn cpus(&self) -> u32 {
        self.inner.cpus
    }
    /// Regular memory asked for, bytes.
    #[getter]
    fn memory(&self) -> u64 {
        self.inner.memory_bytes
    }
    /// The decision mode: ``"kubelet"`` or ``"default"``.
    #[getter]
    fn mode(&self) -> &'static str {
        self.inner.mode.as_str()
    }
    fn __repr__(&self) -> String {
        format!(
            "Request(cpus={}, memory={}, policy={:?}, mode={:?})",
            self.inner.cpus,
            self.inner.memory_bytes,
            format!("{:?}", self.inner.policy).to_lowercase(),
            self.inner.mode.as_str()
        )
    }
}

/// The answer to a request: either ``placed`` with the CPUs, NUMA nodes and memory per node,
/// or refused with a ``reason`` in words. ``bool(allocation)`` is ``placed``.
#[pyclass(name = "Allocation", module = "topoplace", frozen, skip_from_py_object)]
pub(crate) struct PyAllocation {
    /// Whether the request was (or would be) placed.
    #[pyo3(get)]
    placed: bool,
    /// Owner id, for allocations held in an allocator.
    #[pyo3(get)]
    owner: Option<String>,
    cpus: topoplace_core::CpuSet,
    /// OS ids of the NUMA nodes the allocation is aligned to.
    #[pyo3(get)]
    numa_nodes: Vec<u32>,
    /// Regular memory per NUMA node (OS id to bytes).
    #[pyo3(get)]
    memory: BTreeMap<u32, u64>,
    /// 2 MiB hugepages per NUMA node (OS id to bytes).
    #[pyo3(get)]
    hugepages_2m: BTreeMap<u32, u64>,
    /// 1 GiB hugepages per NUMA node (OS id to bytes).
    #[pyo3(get)]
    hugepages_1g: BTreeMap<u32, u64>,
    /// Whether the NUMA alignment is the preferred (narrowest possible) one.
    #[pyo3(get)]
    preferred: bool,
    /// Why it was refused, in words; ``None`` when placed.
    #[pyo3(get)]
    reason: Option<String>,
    /// ``"not-enough-cpus"``, ``"not-enough-memory"``, ``"not-aligned"``, ``"smt-alignment"``;
    /// ``None`` when placed.
    #[pyo3(get)]
    refusal_kind: Option<&'static str>,
    /// Position of this decision among the allocator's changes (allocate and release calls
    /// that changed its state), for replaying them in order; ``None`` for ``check``.
    #[pyo3(get)]
    sequence: Option<u64>,
}

impl PyAllocation {
    fn from_outcome(
        topo: &Topology,
        owner: Option<&str>,
        outcome: &Outcome,
        sequence: Option<u64>,
    ) -> Self {
        match outcome {
            Outcome::Placed(grant) => Self::from_grant(topo, owner, grant, sequence),
            Outcome::Refused(refusal) => Self {
                placed: false,
                owner: owner.map(str::to_owned),
                cpus: topoplace_core::CpuSet::new(),
                numa_nodes: Vec::new(),
                memory: BTreeMap::new(),
                hugepages_2m: BTreeMap::new(),
                hugepages_1g: BTreeMap::new(),
                preferred: false,
                reason: Some(refusal.reason.clone()),
                refusal_kind: Some(refusal.kind.as_str()),
                sequence,
            },
        }
    }

    fn from_grant(
        topo: &Topology,
        owner: Option<&str>,
        grant: &Grant,
        sequence: Option<u64>,
    ) -> Self {
        let by_os = |kind| {
            grant
                .memory_of(kind)
                .iter()
                .filter_map(|&(n, b)| {
                    topo.numa_nodes()
                        .get(n as usize)
                        .map(|node| (node.os_index, b))
                })
                .collect()
        };
        Self {
            placed: true,
            owner: owner.map(str::to_owned),
            cpus: grant.cpus.clone(),
            numa_nodes: grant.numa_nodes.clone(),
            memory: by_os(MemKind::Regular),
            hugepages_2m: by_os(MemKind::Huge2M),
            hugepages_1g: by_os(MemKind::Huge1G),
            preferred: grant.preferred,
            reason: None,
            refusal_kind: None,
            sequence,
        }
    }
}

#[pymethods]
impl PyAllocation {
    /// The exclusive CPUs.
    #[getter]
    fn cpus(&self) -> PyCpuSet {
        PyCpuSet::new_from(self.cpus.clone())
    }
    fn __bool__(&self) -> bool {
        self.placed
    }
    fn __repr__(&self) -> String {
        if self.placed {
            format!(
                "Allocation(placed=True, cpus={:?}, numa_nodes={:?}, memory={:?})",
                self.cpus.to_list_string(),
                self.numa_nodes,
                self.memory
            )
        } else {
            format!(
                "Allocation(placed=False, reason={:?})",
                self.reason.as_deref().unwrap_or("")
            )
        }
    }
}

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
        let req = request.inner;
        let (outcome, sequence) = detached(py, || {
            let mut state = self
                .state
                .lock()
                .map_err(|_| Error::Value("poisoned lock".into()))?;
            let outcome = state.alloc.allocate(owner, &req)?;
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
        let req = request.inner;
        let outcome = detached(py, || {
            let state = self
                .state
                .lock()
                .map_err(|_| Error::Value("poisoned lock".into()))?;
            state.alloc.check(&req)
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
                let os = self
                    .topology
                    .numa_nodes()
                    .get(node.numa as usize)
                    .map_or(node.numa, |n| n.os_index);
                d.set_item("numa_node", os)?;
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
