//! `topoplace.CpuSet`: an immutable set of CPU ids.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyIterator, PyList, PyString, PyTuple};
use topoplace_core::CpuSet;

use crate::errors::IntoPyResult;

/// An immutable set of logical CPU ids (OS indexes).
///
/// Built from the kernel / kubelet list syntax (``"0-3,8-11"``) or from any iterable of ints;
/// ``str()`` gives the list syntax back. Supports ``len``, iteration in increasing order, ``in``,
/// ``|``, ``&``, ``-``, comparison, hashing and pickling.
#[pyclass(
    name = "CpuSet",
    module = "topoplace",
    frozen,
    eq,
    hash,
    skip_from_py_object
)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct PyCpuSet {
    pub(crate) inner: CpuSet,
}

impl PyCpuSet {
    pub(crate) fn new_from(inner: CpuSet) -> Self {
        Self { inner }
    }
}

/// A CPU set from a list string, a `CpuSet`, or an iterable of ints.
pub(crate) fn to_cpuset(py: Python<'_>, cpus: &Bound<'_, PyAny>) -> PyResult<CpuSet> {
    if let Ok(text) = cpus.cast::<PyString>() {
        return CpuSet::parse(text.to_str()?).into_py_result(py);
    }
    if let Ok(other) = cpus.cast::<PyCpuSet>() {
        return Ok(other.get().inner.clone());
    }
    let mut set = CpuSet::new();
    for item in PyIterator::from_object(cpus)? {
        let id: i64 = item?.extract()?;
        let id = u32::try_from(id)
            .ok()
            .filter(|&id| id < topoplace_core::topology::MAX_CPU_ID)
            .ok_or_else(|| {
                crate::errors::to_pyerr(
                    py,
                    topoplace_core::Error::Value(format!("{id} is not a valid CPU id")),
                )
            })?;
        set.insert(id);
    }
    Ok(set)
}

#[pymethods]
impl PyCpuSet {
    /// Creates a set from a list string (``"0-3,8"``) or an iterable of non-negative ints.
    #[new]
    #[pyo3(signature = (cpus = None))]
    fn py_new(py: Python<'_>, cpus: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        cpus.map_or_else(|| Ok(CpuSet::new()), |c| to_cpuset(py, c))
            .map(Self::new_from)
    }

    /// Parses the kernel's hexadecimal mask syntax (``"0x0000000f"``, ``"ff,ffffffff"``).
    #[staticmethod]
    fn from_mask(py: Python<'_>, mask: &str) -> PyResult<Self> {
        CpuSet::parse_mask(mask)
            .into_py_result(py)
            .map(Self::new_from)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __bool__(&self) -> bool {
        !self.inner.is_empty()
    }

    fn __contains__(&self, cpu: i64) -> bool {
        u32::try_from(cpu).is_ok_and(|c| self.inner.contains(c))
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        PyList::new(py, self.inner.iter())?.try_iter()
    }

    fn __str__(&self) -> String {
        self.inner.to_list_string()
    }

    fn __repr__(&self) -> String {
        format!("CpuSet({:?})", self.inner.to_list_string())
    }

    fn __or__(&self, other: &Self) -> Self {
        Self::new_from(self.inner.union(&other.inner))
    }

    fn __and__(&self, other: &Self) -> Self {
        Self::new_from(self.inner.intersection(&other.inner))
    }

    fn __sub__(&self, other: &Self) -> Self {
        Self::new_from(self.inner.difference(&other.inner))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let cls = py.get_type::<Self>();
        (cls, (slf.get().inner.to_list_string(),)).into_pyobject(py)
    }

    /// Whether every CPU of this set is in ``other``.
    fn issubset(&self, other: &Self) -> bool {
        self.inner.is_subset(&other.inner)
    }

    /// Whether the two sets share a CPU.
    fn intersects(&self, other: &Self) -> bool {
        self.inner.intersects(&other.inner)
    }

    /// The CPU ids in increasing order.
    fn to_list(&self) -> Vec<u32> {
        self.inner.iter().collect()
    }

    /// The CPU ids as a ``numpy.ndarray`` of ``uint32``.
    fn to_numpy<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<u32>> {
        self.inner.iter().collect::<Vec<u32>>().into_pyarray(py)
    }

    /// The smallest id, or ``None`` for the empty set.
    #[getter]
    fn first(&self) -> Option<u32> {
        self.inner.first()
    }

    /// The largest id, or ``None`` for the empty set.
    #[getter]
    fn last(&self) -> Option<u32> {
        self.inner.last()
    }
}
