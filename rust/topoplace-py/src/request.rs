//! `topoplace.Request` and `topoplace.Allocation`: what a caller asks of one machine and what
//! it gets (or why not).

use std::collections::BTreeMap;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use topoplace_core::node::allocator::{
    AlignLevel, AllocRequest, DeviceRequest, Grant, JointScore, MemKind, Mode, Outcome,
};
use topoplace_core::node::cpu::CpuOptions;
use topoplace_core::node::hints::{Policy, PolicyOptions};
use topoplace_core::{Error, Topology};

use crate::cpuset::PyCpuSet;
use crate::errors::{IntoPyResult, to_pyerr};

/// Bytes from an int or a Kubernetes quantity string (``"64Gi"``).
pub(crate) fn bytes_arg(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
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
///
/// Devices make it a joint request (default mode only): ``gpus`` whole GPUs (only those whose
/// model contains ``gpu_model``, case-insensitive, and with at least ``gpu_memory`` bytes),
/// ``nics`` NICs or ``nics_per_gpu`` NICs for each GPU (its nearest by PCIe path), all placed
/// together with the CPUs and memory at the alignment ``align`` (``"pcie-root"``, ``"numa"``,
/// ``"socket"``, ``"none"``), required when ``align_required`` else preferred.
#[pyclass(name = "Request", module = "topoplace", frozen, skip_from_py_object)]
pub(crate) struct PyRequest {
    pub(crate) inner: AllocRequest,
}

#[pymethods]
impl PyRequest {
    #[new]
    #[pyo3(signature = (cpus = 0, *, memory = None, hugepages_2m = None, hugepages_1g = None,
        policy = "best-effort", mode = "default", cpu_options = None, topology_options = None,
        gpus = 0, gpu_model = None, gpu_memory = None, nics = 0, nics_per_gpu = 0, align = "none",
        align_required = false))]
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
        gpus: u32,
        gpu_model: Option<String>,
        gpu_memory: Option<&Bound<'_, PyAny>>,
        nics: u32,
        nics_per_gpu: u32,
        align: &str,
        align_required: bool,
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
        let devices = DeviceRequest {
            gpus,
            gpu_model,
            gpu_min_memory: opt(gpu_memory, "gpu_memory")?,
            nics,
            nics_per_gpu,
            align: AlignLevel::parse(align).into_py_result(py)?,
            align_required,
        };
        devices.validate().into_py_result(py)?;
        Ok(Self {
            inner: inner.with_devices(devices),
        })
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
    /// Whole GPUs asked for.
    #[getter]
    fn gpus(&self) -> u32 {
        self.inner.devices.gpus
    }
    /// NICs asked for in all (a count, or per GPU times GPUs).
    #[getter]
    fn nics(&self) -> u32 {
        self.inner.devices.nic_count()
    }
    /// The alignment level.
    #[getter]
    fn align(&self) -> &'static str {
        self.inner.devices.align.as_str()
    }
    /// Whether the alignment is required (else preferred).
    #[getter]
    fn align_required(&self) -> bool {
        self.inner.devices.align_required
    }
    fn __repr__(&self) -> String {
        let mut text = format!(
            "Request(cpus={}, memory={}, policy={:?}, mode={:?}",
            self.inner.cpus,
            self.inner.memory_bytes,
            self.inner.policy.to_string(),
            self.inner.mode.as_str()
        );
        let d = &self.inner.devices;
        if d.any() {
            text.push_str(&format!(
                ", gpus={}, nics={}, align={:?}, align_required={}",
                d.gpus,
                d.nic_count(),
                d.align.as_str(),
                if d.align_required { "True" } else { "False" }
            ));
        }
        text + ")"
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
    /// ``"not-enough-cpus"``, ``"not-enough-memory"``, ``"not-aligned"``, ``"smt-alignment"``,
    /// ``"not-enough-gpus"``, ``"not-enough-nics"``; ``None`` when placed.
    #[pyo3(get)]
    refusal_kind: Option<&'static str>,
    /// Position of this decision among the allocator's changes (allocate and release calls
    /// that changed its state), for replaying them in order; ``None`` for ``check``.
    #[pyo3(get)]
    sequence: Option<u64>,
    /// GPUs held, by index in ``Topology.gpus`` (the ``k``-th GPU), ascending.
    #[pyo3(get)]
    gpus: Vec<u32>,
    /// NICs held, by index in ``Topology.nics``, in the order of ``nic_gpus``.
    #[pyo3(get)]
    nics: Vec<u32>,
    /// For each NIC, the GPU (index in ``Topology.gpus``) it was chosen for, or ``None``.
    #[pyo3(get)]
    nic_gpus: Vec<Option<u32>>,
    /// The alignment achieved (requests with devices): ``"pcie-root"``, ``"numa"``,
    /// ``"socket"`` or ``"none"``.
    #[pyo3(get)]
    alignment: Option<&'static str>,
    joint: Option<JointScore>,
}

impl PyAllocation {
    pub(crate) fn from_outcome(
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
                gpus: Vec::new(),
                nics: Vec::new(),
                nic_gpus: Vec::new(),
                alignment: None,
                joint: None,
            },
        }
    }

    pub(crate) fn from_grant(
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
            gpus: grant.gpus.clone(),
            nics: grant.nics.clone(),
            nic_gpus: grant.nic_gpus.clone(),
            alignment: grant.alignment.map(AlignLevel::as_str),
            joint: grant.score,
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
    /// The joint placement's score with its parts (``gpu_links``, ``nic_paths``,
    /// ``numa_distance``, ``fragmentation``, ``total = gpu_links + nic_paths - numa_distance -
    /// fragmentation``); ``None`` for requests without devices.
    #[getter]
    fn score<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(s) = self.joint else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("gpu_links", s.gpu_links)?;
        d.set_item("nic_paths", s.nic_paths)?;
        d.set_item("numa_distance", s.numa_distance)?;
        d.set_item("fragmentation", s.fragmentation)?;
        d.set_item("total", s.total)?;
        Ok(Some(d))
    }
    fn __bool__(&self) -> bool {
        self.placed
    }
    fn __repr__(&self) -> String {
        if self.placed {
            let devices = if self.joint.is_some() {
                format!(", gpus={:?}, nics={:?}", self.gpus, self.nics)
            } else {
                String::new()
            };
            format!(
                "Allocation(placed=True, cpus={:?}, numa_nodes={:?}, memory={:?}{devices})",
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
