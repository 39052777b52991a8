//! `topoplace.Topology`: a frozen wrapper around `Arc<topoplace_core::Topology>`.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use topoplace_core::node::gpu::PairScores;
use topoplace_core::synthetic::{NvlinkPattern, SyntheticSpec};
use topoplace_core::topology::DeviceKind;
use topoplace_core::{Topology, parse, synthetic};

use crate::convert;
use crate::cpuset::PyCpuSet;
use crate::detach::detached;
use crate::entities::{PyCache, PyCore, PyDevice, PyNumaNode, PyPackage};
use crate::errors::IntoPyResult;
use crate::sysfs_source::DiskSource;

/// Text given as ``str`` (borrowed, no copy) or UTF-8 ``bytes``.
pub(crate) enum Text {
    Str(PyBackedStr),
    Owned(String),
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Self::Str(s) => s,
            Self::Owned(s) => s,
        }
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Text {
    type Error = PyErr;
    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(bytes) = obj.cast::<PyBytes>() {
            return String::from_utf8(bytes.as_bytes().to_vec())
                .map(Self::Owned)
                .map_err(|e| pyo3::exceptions::PyUnicodeDecodeError::new_err(e.to_string()));
        }
        Ok(Self::Str(obj.extract()?))
    }
}

/// Maps `f(dense index, item)` over a list of entities.
fn indexed<T, U>(items: &[T], mut f: impl FnMut(u32, &T) -> U) -> Vec<U> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| f(topoplace_core::topology::to_u32(i), item))
        .collect()
}

/// One machine's topology: packages, NUMA nodes, caches, cores, CPUs, the PCI tree, GPUs, NICs
/// and their links. Immutable and safe to share between threads.
///
/// Build one with a ``from_*`` constructor, :meth:`builtin`, :meth:`synthetic`, or
/// ``topoplace.load(path)``.
#[pyclass(
    name = "Topology",
    module = "topoplace",
    frozen,
    eq,
    skip_from_py_object
)]
pub(crate) struct PyTopology {
    pub(crate) inner: Arc<Topology>,
    /// GPU pair scores, computed on first use by GPU selection.
    gpu_scores: OnceLock<PairScores>,
}

impl PartialEq for PyTopology {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl PyTopology {
    pub(crate) fn new(inner: Arc<Topology>) -> Self {
        Self {
            inner,
            gpu_scores: OnceLock::new(),
        }
    }

    fn wrap(topo: Topology) -> Self {
        Self::new(Arc::new(topo))
    }

    /// The GPU pair scores of this topology (cached: the topology never changes).
    pub(crate) fn gpu_scores(&self) -> &PairScores {
        self.gpu_scores
            .get_or_init(|| PairScores::from_topology(&self.inner))
    }

    fn device_index(&self, key: &Bound<'_, PyAny>) -> PyResult<u32> {
        if let Ok(i) = key.extract::<u32>() {
            if (i as usize) < self.inner.devices().len() {
                return Ok(i);
            }
        } else if let Ok(name) = key.extract::<String>() {
            if let Some(i) = self
                .inner
                .devices()
                .iter()
                .position(|d| d.name == name || d.aliases.contains(&name))
            {
                return Ok(i as u32);
            }
        }
        let known: Vec<&str> = self
            .inner
            .devices()
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        Err(pyo3::exceptions::PyKeyError::new_err(format!(
            "no device {key} in this topology; devices: {}",
            known.join(", ")
        )))
    }
}

#[pymethods]
impl PyTopology {
    /// Parses hwloc XML (formats 1.x, 2.0 and 3.0) given as ``str`` or ``bytes``.
    #[staticmethod]
    #[pyo3(signature = (xml, *, source = "<string>"))]
    fn from_hwloc_xml(py: Python<'_>, xml: Text, source: &str) -> PyResult<Self> {
        detached(py, || parse::hwloc::parse(&xml, source)).map(Self::wrap)
    }

    /// Parses topoplace's own JSON (as written by :meth:`to_json`).
    #[staticmethod]
    #[pyo3(signature = (text, *, source = "<string>"))]
    fn from_json(py: Python<'_>, text: Text, source: &str) -> PyResult<Self> {
        detached(py, || Topology::from_json(&text, source)).map(Self::wrap)
    }

    /// Parses ``nvidia-smi topo -m`` output; ``host`` optionally adds the output of
    /// ``numactl --hardware``, ``lscpu`` and ``nvidia-smi`` from the same machine.
    #[staticmethod]
    #[pyo3(signature = (text, *, host = None, source = "<string>"))]
    fn from_nvidia_smi(
        py: Python<'_>,
        text: Text,
        host: Option<Text>,
        source: &str,
    ) -> PyResult<Self> {
        detached(py, || {
            parse::smi::parse_nvidia(&text, host.as_deref(), source)
        })
        .map(Self::wrap)
    }

    /// Parses ``rocm-smi --showtopo`` output; ``host`` as for :meth:`from_nvidia_smi`.
    #[staticmethod]
    #[pyo3(signature = (text, *, host = None, source = "<string>"))]
    fn from_rocm_smi(
        py: Python<'_>,
        text: Text,
        host: Option<Text>,
        source: &str,
    ) -> PyResult<Self> {
        detached(py, || {
            parse::smi::parse_rocm(&text, host.as_deref(), source)
        })
        .map(Self::wrap)
    }

    /// Parses text in any supported format, recognised from its content; ``host`` is used by
    /// the ``nvidia-smi`` / ``rocm-smi`` formats as in :meth:`from_nvidia_smi`.
    #[staticmethod]
    #[pyo3(signature = (text, *, host = None, source = "<string>"))]
    fn from_text(py: Python<'_>, text: Text, host: Option<Text>, source: &str) -> PyResult<Self> {
        detached(py, || parse::parse_any(&text, host.as_deref(), source)).map(Self::wrap)
    }

    /// Reads this machine from Linux sysfs, or a sysfs tree copied below ``root``.
    #[staticmethod]
    #[pyo3(signature = (root = None))]
    fn from_sysfs(py: Python<'_>, root: Option<PathBuf>) -> PyResult<Self> {
        let root = root.unwrap_or_else(|| PathBuf::from("/"));
        let label = format!("sysfs:{}", root.display());
        detached(py, || parse::sysfs::parse(&DiskSource::new(&root), &label)).map(Self::wrap)
    }

    /// A built-in machine: ``"dgx-h100"``, ``"epyc-nps4"``, ``"dgx-a100"``, ``"xeon-2s"``
    /// (the ``builtin:`` prefix is optional).
    #[staticmethod]
    fn builtin(py: Python<'_>, name: &str) -> PyResult<Self> {
        synthetic::builtin(name).into_py_result(py).map(Self::wrap)
    }

    /// Names accepted by :meth:`builtin`.
    #[staticmethod]
    fn builtin_names() -> Vec<&'static str> {
        synthetic::BUILTIN_NAMES.to_vec()
    }

    /// Generates a machine of the given shape. Sizes multiply: ``sockets * numa_per_socket``
    /// NUMA nodes of ``cores_per_numa`` cores split over ``l3_per_numa`` caches, each core with
    /// ``threads_per_core`` CPUs; ``pcie_roots_per_numa`` PCIe roots per NUMA node, each with
    /// ``gpus_per_root`` GPUs and ``nics_per_root`` NICs on one switch. ``nvlink`` is
    /// ``"none"``, ``"pairs"``, ``"cube-mesh"`` or ``"nvswitch"``.
    #[staticmethod]
    #[pyo3(signature = (*, sockets = 1, numa_per_socket = 1, l3_per_numa = 1, cores_per_numa = 1,
        threads_per_core = 1, memory_per_numa = 68_719_476_736, pcie_roots_per_numa = 0,
        gpus_per_root = 0, nics_per_root = 0, nvlink = "none", nvlinks = 0, gpu_model = None,
        gpu_memory = None, nic_model = None, name = "synthetic"))]
    #[allow(clippy::too_many_arguments)]
    fn synthetic(
        py: Python<'_>,
        sockets: u32,
        numa_per_socket: u32,
        l3_per_numa: u32,
        cores_per_numa: u32,
        threads_per_core: u32,
        memory_per_numa: u64,
        pcie_roots_per_numa: u32,
        gpus_per_root: u32,
        nics_per_root: u32,
        nvlink: &str,
        nvlinks: u32,
        gpu_model: Option<String>,
        gpu_memory: Option<u64>,
        nic_model: Option<String>,
        name: &str,
    ) -> PyResult<Self> {
        let spec = SyntheticSpec {
            name: name.to_owned(),
            sockets,
            numa_per_socket,
            l3_per_numa,
            cores_per_numa,
            threads_per_core,
            memory_per_numa,
            pcie_roots_per_numa,
            gpus_per_root,
            nics_per_root,
            nvlink: NvlinkPattern::parse(nvlink).into_py_result(py)?,
            nvlinks,
            gpu_model,
            gpu_memory,
            nic_model,
            ..SyntheticSpec::default()
        };
        detached(py, || spec.build()).map(Self::wrap)
    }

    /// A short name for the machine.
    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    /// What the topology was read from (``"hwloc-xml-3.0"``, ``"sysfs"``, ``"builtin:dgx-h100"``...).
    #[getter]
    fn source(&self) -> &str {
        self.inner.source()
    }

    /// Packages (sockets).
    #[getter]
    fn packages(&self) -> Vec<PyPackage> {
        indexed(self.inner.packages(), PyPackage::new)
    }

    /// NUMA nodes, in the order the distance matrix uses.
    #[getter]
    fn numa_nodes(&self) -> Vec<PyNumaNode> {
        indexed(self.inner.numa_nodes(), PyNumaNode::new)
    }

    /// Cores.
    #[getter]
    fn cores(&self) -> Vec<PyCore> {
        indexed(self.inner.cores(), |i, c| PyCore::new(&self.inner, i, c))
    }

    /// Last-level (L3) cache groups.
    #[getter]
    fn caches(&self) -> Vec<PyCache> {
        indexed(self.inner.caches(), PyCache::new)
    }

    /// Every device (GPUs, NICs, switches...).
    #[getter]
    fn devices(&self) -> Vec<PyDevice> {
        indexed(self.inner.devices(), |i, d| {
            PyDevice::new(&self.inner, i, d)
        })
    }

    /// GPUs and other accelerators.
    #[getter]
    fn gpus(&self) -> Vec<PyDevice> {
        self.inner
            .devices_of(DeviceKind::Gpu)
            .map(|i| PyDevice::new(&self.inner, i, &self.inner.devices()[i as usize]))
            .collect()
    }

    /// Network interfaces.
    #[getter]
    fn nics(&self) -> Vec<PyDevice> {
        self.inner
            .devices_of(DeviceKind::Nic)
            .map(|i| PyDevice::new(&self.inner, i, &self.inner.devices()[i as usize]))
            .collect()
    }

    /// Every CPU the source lists, online or not.
    #[getter]
    fn cpus(&self) -> PyCpuSet {
        PyCpuSet::new_from(self.inner.all_cpus())
    }

    /// Online CPUs.
    #[getter]
    fn online_cpus(&self) -> PyCpuSet {
        PyCpuSet::new_from(
            self.inner
                .cpus()
                .iter()
                .filter(|c| c.online)
                .map(|c| c.os_index)
                .collect(),
        )
    }

    /// CPUs that are online, allowed and placed in the tree: where work can go.
    #[getter]
    fn usable_cpus(&self) -> PyCpuSet {
        PyCpuSet::new_from(self.inner.usable_cpus())
    }

    /// The NUMA distance matrix as a ``numpy.ndarray`` of ``uint32`` (rows and columns in
    /// ``numa_nodes`` order), or ``None`` when the source has none.
    #[getter]
    fn numa_distances<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.inner
            .distances()
            .map(|d| convert::matrix_u32(py, d.size as usize, &d.values))
            .transpose()
    }

    /// The headline counts: ``packages``, ``numa_nodes``, ``cores``, ``cpus``, ``cpus_online``,
    /// ``cpus_offline``, ``cpus_allowed``, ``gpus``, ``nics``, ``memory_bytes``, ``has_distances``.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        convert::summary_dict(py, &self.inner.summary())
    }

    /// How two devices (by index or name) are connected: ``"NVSWITCH"``, ``"NV"``, ``"XGMI"``,
    /// ``"PIX"``, ``"PXB"``, ``"PHB"``, ``"NODE"``, ``"SYS"``, or ``None`` if unknown.
    fn link_class(
        &self,
        a: &Bound<'_, PyAny>,
        b: &Bound<'_, PyAny>,
    ) -> PyResult<Option<&'static str>> {
        let (a, b) = (self.device_index(a)?, self.device_index(b)?);
        Ok(self.inner.link_class(a, b).map(|c| c.as_str()))
    }

    /// The PCIe path class between two devices, ignoring NVLink/NVSwitch/XGMI: ``"PIX"``,
    /// ``"PXB"``, ``"PHB"``, ``"NODE"``, ``"SYS"``, or ``None`` if unknown. This is the class
    /// joint requests score GPU-NIC paths and PCIe-root alignment by.
    fn pcie_class(
        &self,
        a: &Bound<'_, PyAny>,
        b: &Bound<'_, PyAny>,
    ) -> PyResult<Option<&'static str>> {
        let (a, b) = (self.device_index(a)?, self.device_index(b)?);
        Ok(self.inner.pcie_class(a, b).map(|c| c.as_str()))
    }

    /// The GPU pair scores as ``go-gpuallocator`` counts them (``NVk`` = 100 k, plus the PCIe
    /// class: ``PIX`` 50 ... ``SYS`` 10), a square ``numpy.uint32`` matrix over
    /// ``Topology.gpus`` (diagonal 0).
    fn gpu_pair_scores<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let s = self.gpu_scores();
        let n = s.len();
        let values: Vec<u32> = (0..n)
            .flat_map(|i| (0..n).map(move |j| (i, j)))
            .map(|(i, j)| s.get(i, j))
            .collect();
        convert::matrix_u32(py, n, &values)
    }

    /// Serialises to topoplace's JSON schema; :meth:`from_json` reads it back unchanged.
    #[pyo3(signature = (*, indent = false))]
    fn to_json(&self, indent: bool) -> String {
        if indent {
            self.inner.to_json_pretty()
        } else {
            self.inner.to_json()
        }
    }

    /// A compact text tree for people (what ``topoplace show`` prints).
    fn render_text(&self) -> String {
        self.inner.render_text()
    }

    /// The machine as a ``networkx.Graph``: vertices ``package:N``, ``numa:N``, ``cache:I``,
    /// ``core:I``, ``cpu:N``, ``device:NAME`` with a ``kind`` attribute; edges with ``kind``
    /// (``contains``, ``distance``, ``local``, ``link``), ``link_class`` and ``weight``.
    fn to_networkx<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::networkx_graph(py, &self.inner)
    }

    fn __repr__(&self) -> String {
        let s = self.inner.summary();
        format!(
            "Topology(name={:?}, source={:?}, packages={}, numa_nodes={}, cores={}, cpus={}, gpus={}, nics={})",
            self.inner.name(),
            self.inner.source(),
            s.packages,
            s.numa_nodes,
            s.cores,
            s.cpus,
            s.gpus,
            s.nics
        )
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let from_json = py.get_type::<Self>().getattr("from_json")?;
        (from_json, (slf.get().inner.to_json(),)).into_pyobject(py)
    }
}
