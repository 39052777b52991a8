//! The one helper that runs core work with the GIL released and maps its errors.

use pyo3::prelude::*;

use crate::errors::to_pyerr;

/// Runs `work` detached from the interpreter (other Python threads run meanwhile) and maps a
/// core error to its Python exception. `work` must own or borrow only `Send + Sync` data; never
/// hand it a view into a Python buffer another thread could write to.
pub(crate) fn detached<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> topoplace_core::Result<T> + Send,
{
    py.detach(work).map_err(|e| to_pyerr(py, e))
}
