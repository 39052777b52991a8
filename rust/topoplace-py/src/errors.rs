//! Maps core errors to the exception classes of `topoplace.errors`.
//!
//! The classes are defined in Python (`python/topoplace/errors.py`) so that they can inherit
//! from both `TopoplaceError` and the matching builtin (`ValueError`); they are looked up once
//! and cached.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use topoplace_core::Error;

static TOPOLOGY_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static INVALID_VALUE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static OBJECT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static TOPOPLACE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn class<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyType>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyType>> {
    cell.import(py, "topoplace.errors", name)
}

/// Converts a core error into the matching Python exception, with structured attributes
/// (`source`, `line`, `object`) for topology errors and (`object`, `path`, `reason`) for
/// Kubernetes object errors.
pub(crate) fn to_pyerr(py: Python<'_>, error: Error) -> PyErr {
    let built = match &error {
        Error::Topology { location, message } => class(py, &TOPOLOGY_ERROR, "TopologyError")
            .and_then(|cls| {
                cls.call1((
                    error.to_string(),
                    location.source.clone(),
                    location.line,
                    location.object.clone(),
                    message.clone(),
                ))
            }),
        Error::Object {
            object,
            path,
            message,
        } => class(py, &OBJECT_ERROR, "ObjectError").and_then(|cls| {
            cls.call1((
                error.to_string(),
                object.clone(),
                path.clone(),
                message.clone(),
            ))
        }),
        Error::Value(_) => class(py, &INVALID_VALUE_ERROR, "InvalidValueError")
            .and_then(|cls| cls.call1((error.to_string(),))),
        // The core error enum is non-exhaustive; new kinds map to the root class until they get
        // their own.
        _ => class(py, &TOPOPLACE_ERROR, "TopoplaceError")
            .and_then(|cls| cls.call1((error.to_string(),))),
    };
    match built {
        Ok(instance) => PyErr::from_value(instance),
        Err(import_error) => import_error,
    }
}

/// Extension trait: `result.into_py_result(py)?`.
pub(crate) trait IntoPyResult<T> {
    fn into_py_result(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for topoplace_core::Result<T> {
    fn into_py_result(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_pyerr(py, e))
    }
}
