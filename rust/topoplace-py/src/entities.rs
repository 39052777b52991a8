//! Read-only views of a topology's parts: `NumaNode`, `Package`, `Core`, `Cache`, `Device`,
//! `Link`. Each is a frozen snapshot copied out of the immutable topology.

use pyo3::prelude::*;
use topoplace_core::Topology;
use topoplace_core::topology::{Cache, Core, Device, NumaNode, Package};

use crate::cpuset::PyCpuSet;

fn numa_os(topo: &Topology, dense: Option<u32>) -> Option<u32> {
    dense
        .and_then(|n| topo.numa_nodes().get(n as usize))
        .map(|n| n.os_index)
}

/// A NUMA node: a pool of memory and the CPUs local to it.
#[pyclass(
    name = "NumaNode",
    module = "topoplace",
    frozen,
    eq,
    skip_from_py_object
)]
#[derive(PartialEq)]
pub(crate) struct PyNumaNode {
    /// Position in ``Topology.numa_nodes``.
    #[pyo3(get)]
    index: u32,
    inner: NumaNode,
}

impl PyNumaNode {
    pub(crate) fn new(index: u32, inner: &NumaNode) -> Self {
        Self {
            index,
            inner: inner.clone(),
        }
    }
}

#[pymethods]
impl PyNumaNode {
    /// The OS node number (``nodeN``).
    #[getter]
    fn os_index(&self) -> u32 {
        self.inner.os_index
    }
    /// Memory kind: ``"dram"``, ``"hbm"``, ``"nvm"``, ``"cxl"``, ``"gpu-memory"`` or ``"unknown"``.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }
    /// Memory size in bytes (0 when the source does not say).
    #[getter]
    fn memory_bytes(&self) -> u64 {
        self.inner.memory_bytes
    }
    /// CPUs local to this node.
    #[getter]
    fn cpus(&self) -> PyCpuSet {
        PyCpuSet::new_from(self.inner.cpus.clone())
    }
    /// Whether this process may allocate from it.
    #[getter]
    fn allowed(&self) -> bool {
        self.inner.allowed
    }
    fn __repr__(&self) -> String {
        format!(
            "NumaNode(os_index={}, kind={:?}, memory_bytes={}, cpus={:?})",
            self.inner.os_index,
            self.inner.kind.as_str(),
            self.inner.memory_bytes,
            self.inner.cpus.to_list_string()
        )
    }
}

/// A processor package (socket).
#[pyclass(
    name = "Package",
    module = "topoplace",
    frozen,
    eq,
    skip_from_py_object
)]
#[derive(PartialEq)]
pub(crate) struct PyPackage {
    /// Position in ``Topology.packages``.
    #[pyo3(get)]
    index: u32,
    inner: Package,
}

impl PyPackage {
    pub(crate) fn new(index: u32, inner: &Package) -> Self {
        Self {
            index,
            inner: inner.clone(),
        }
    }
}

#[pymethods]
impl PyPackage {
    /// The OS package id.
    #[getter]
    fn os_index(&self) -> u32 {
        self.inner.os_index
    }
    /// CPU model name, if the source gives it.
    #[getter]
    fn model(&self) -> Option<String> {
        self.inner.model.clone()
    }
    /// The package's CPUs.
    #[getter]
    fn cpus(&self) -> PyCpuSet {
        PyCpuSet::new_from(self.inner.cpus.clone())
    }
    fn __repr__(&self) -> String {
        format!(
            "Package(os_index={}, cpus={:?})",
            self.inner.os_index,
            self.inner.cpus.to_list_string()
        )
    }
}

/// A physical core.
#[pyclass(name = "Core", module = "topoplace", frozen, eq, skip_from_py_object)]
#[derive(PartialEq)]
pub(crate) struct PyCore {
    /// Position in ``Topology.cores``.
    #[pyo3(get)]
    index: u32,
    /// Position of its package in ``Topology.packages``.
    #[pyo3(get)]
    package: u32,
    /// OS number of its local NUMA node, if known.
    #[pyo3(get)]
    numa_node: Option<u32>,
    /// Position of its last-level cache in ``Topology.caches``, if known.
    #[pyo3(get)]
    cache: Option<u32>,
    inner: Core,
}

impl PyCore {
    pub(crate) fn new(topo: &Topology, index: u32, inner: &Core) -> Self {
        Self {
            index,
            package: inner.package,
            numa_node: numa_os(topo, inner.numa),
            cache: inner.cache,
            inner: inner.clone(),
        }
    }
}

#[pymethods]
impl PyCore {
    /// The OS core id when the source gives one (not unique across packages).
    #[getter]
    fn os_index(&self) -> Option<u32> {
        self.inner.os_index
    }
    /// The core's CPUs (hardware threads).
    #[getter]
    fn cpus(&self) -> PyCpuSet {
        PyCpuSet::new_from(self.inner.cpus.clone())
    }
    fn __repr__(&self) -> String {
        format!(
            "Core(index={}, package={}, cpus={:?})",
            self.index,
            self.package,
            self.inner.cpus.to_list_string()
        )
    }
}

/// A last-level cache shared by a group of cores.
#[pyclass(name = "Cache", module = "topoplace", frozen, eq, skip_from_py_object)]
#[derive(PartialEq)]
pub(crate) struct PyCache {
    /// Position in ``Topology.caches``.
    #[pyo3(get)]
    index: u32,
    inner: Cache,
}

impl PyCache {
    pub(crate) fn new(index: u32, inner: &Cache) -> Self {
        Self {
            index,
            inner: inner.clone(),
        }
    }
}

#[pymethods]
impl PyCache {
    /// Cache level (3 for an L3).
    #[getter]
    fn level(&self) -> u8 {
        self.inner.level
    }
    /// Size in bytes (0 when unknown).
    #[getter]
    fn size_bytes(&self) -> u64 {
        self.inner.size_bytes
    }
    /// CPUs sharing it.
    #[getter]
    fn cpus(&self) -> PyCpuSet {
        PyCpuSet::new_from(self.inner.cpus.clone())
    }
    fn __repr__(&self) -> String {
        format!(
            "Cache(level={}, size_bytes={}, cpus={:?})",
            self.inner.level,
            self.inner.size_bytes,
            self.inner.cpus.to_list_string()
        )
    }
}

/// A device: GPU, NIC, storage...
#[pyclass(name = "Device", module = "topoplace", frozen, eq, skip_from_py_object)]
#[derive(PartialEq)]
pub(crate) struct PyDevice {
    /// Position in ``Topology.devices``.
    #[pyo3(get)]
    index: u32,
    /// OS number of its local NUMA node, if known.
    #[pyo3(get)]
    numa_node: Option<u32>,
    /// Address of the PCIe root (host bridge) above it, if the PCI tree is known.
    #[pyo3(get)]
    pcie_root: Option<String>,
    inner: Device,
}

impl PyDevice {
    pub(crate) fn new(topo: &Topology, index: u32, inner: &Device) -> Self {
        let mut root = inner.pci;
        while let Some(parent) = root
            .and_then(|r| topo.pci().get(r as usize))
            .and_then(|n| n.parent)
        {
            root = Some(parent);
        }
        let pcie_root = root
            .and_then(|r| topo.pci().get(r as usize))
            .filter(|n| n.kind == topoplace_core::topology::PciKind::HostBridge)
            .map(|n| n.address.clone());
        Self {
            index,
            numa_node: numa_os(topo, inner.numa),
            pcie_root,
            inner: inner.clone(),
        }
    }
}

#[pymethods]
impl PyDevice {
    /// ``"gpu"``, ``"nic"``, ``"storage"``, ``"memory"``, ``"switch"`` or ``"other"``.
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }
    /// The name users know it by (``"GPU0"``, ``"mlx5_0"``, ``"cuda0"``).
    #[getter]
    fn name(&self) -> String {
        self.inner.name.clone()
    }
    /// Other OS names of the same device.
    #[getter]
    fn aliases(&self) -> Vec<String> {
        self.inner.aliases.clone()
    }
    /// PCI bus id, when known.
    #[getter]
    fn bus_id(&self) -> Option<String> {
        self.inner.bus_id.clone()
    }
    /// CPUs local to the device.
    #[getter]
    fn cpus(&self) -> PyCpuSet {
        PyCpuSet::new_from(self.inner.cpus.clone())
    }
    /// Vendor name, when known.
    #[getter]
    fn vendor(&self) -> Option<String> {
        self.inner.vendor.clone()
    }
    /// Model name, when known.
    #[getter]
    fn model(&self) -> Option<String> {
        self.inner.model.clone()
    }
    /// On-device memory in bytes, when known.
    #[getter]
    fn memory_bytes(&self) -> Option<u64> {
        self.inner.memory_bytes
    }
    fn __repr__(&self) -> String {
        let numa = self
            .numa_node
            .map_or_else(|| "None".to_owned(), |n| n.to_string());
        format!(
            "Device(kind={:?}, name={:?}, numa_node={numa})",
            self.inner.kind.as_str(),
            self.inner.name
        )
    }
}
