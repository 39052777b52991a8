//! The `topoplace._core` extension module: thin wrappers over `topoplace-core`.
//!
//! This crate converts types, releases the GIL around heavy work and maps errors; every
//! decision lives in the core crate.

mod allocator;
mod checkpoint_io;
mod cluster;
mod conformance;
mod convert;
mod cpuset;
mod detach;
mod dra;
mod entities;
mod errors;
mod gpu;
mod hints;
mod mig;
mod replay;
mod request;
mod sysfs_source;
mod topology;

/// The native module. Audited for free-threaded Python: every class is frozen; the
/// allocator's state is behind a lock.
#[pyo3::pymodule(gil_used = false)]
mod _core {
    #[pymodule_export]
    use crate::allocator::PyNodeAllocator;
    #[pymodule_export]
    use crate::cluster::{PyCluster, PyPlacement};
    #[pymodule_export]
    use crate::conformance::run_conformance;
    #[pymodule_export]
    use crate::cpuset::PyCpuSet;
    #[pymodule_export]
    use crate::dra::{PyDraClaims, PyDraClasses, PyDraSlices, dra_allocate, dra_allocate_many};
    #[pymodule_export]
    use crate::entities::{PyCache, PyCore, PyDevice, PyNumaNode, PyPackage};
    #[pymodule_export]
    use crate::gpu::select_gpus;
    #[pymodule_export]
    use crate::hints::merge_numa_hints;
    #[pymodule_export]
    use crate::mig::{PyMigGeometry, PyMigProfile};
    #[pymodule_export]
    use crate::replay::{PyReplayTrace, arrivals, replay};
    #[pymodule_export]
    use crate::request::{PyAllocation, PyRequest};
    #[pymodule_export]
    use crate::topology::PyTopology;

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        crate::replay::add_constants(m)?;
        Ok(())
    }
}
