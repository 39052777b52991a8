//! `topoplace.MigGeometry` and `topoplace.MigProfile`: MIG placement tables and the start / GPU
//! choice of `topoplace_core::node::mig`. Conversions only; the rule lives in the core.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use topoplace_core::Error;
use topoplace_core::node::mig::{self, Instance, MigGeometry, MigProfile};

use crate::detach::detached;
use crate::errors::{IntoPyResult, to_pyerr};
use crate::topology::Text;

/// A built-in name and the core constructor of its table.
type Builtin = (&'static str, fn() -> MigGeometry);

/// The names accepted by :meth:`MigGeometry.builtin`, with their tables.
const BUILTINS: [Builtin; 3] = [
    ("a100-40gb", MigGeometry::a100_40gb),
    ("a100-80gb", MigGeometry::a100_80gb),
    ("h100-80gb", MigGeometry::h100_80gb),
];

fn value_error(py: Python<'_>, message: String) -> PyErr {
    to_pyerr(py, Error::Value(message))
}

/// Parses JSON text into the value type `MigGeometry::from_json` takes (inferred from the call,
/// so this crate needs no JSON dependency of its own).
fn parse_json<T>(text: &str) -> topoplace_core::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| Error::Value(format!("MIG geometry: invalid JSON: {e}")))
}

/// One GPU instance profile of a MIG geometry (``nvidia-smi mig -lgipp``): its id, name, size
/// in memory slices, allowed first slices and instance limit.
#[pyclass(
    name = "MigProfile",
    module = "topoplace",
    frozen,
    eq,
    skip_from_py_object
)]
#[derive(PartialEq)]
pub(crate) struct PyMigProfile {
    inner: MigProfile,
}

#[pymethods]
impl PyMigProfile {
    /// A profile from its parts; it is checked when a :class:`MigGeometry` is built from it.
    #[new]
    #[pyo3(signature = (id, name, size, starts, max_instances = None))]
    fn py_new(
        id: u32,
        name: String,
        size: u32,
        starts: Vec<u32>,
        max_instances: Option<u32>,
    ) -> Self {
        Self {
            inner: MigProfile::new(id, name, size, starts, max_instances),
        }
    }

    /// The GPU instance profile id (``nvidia-smi mig -lgip``), e.g. 19 for ``1g.5gb``.
    #[getter]
    fn id(&self) -> u32 {
        self.inner.id
    }

    /// The profile name, e.g. ``"3g.40gb"``.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// Number of memory slices an instance occupies.
    #[getter]
    fn size(&self) -> u32 {
        self.inner.size
    }

    /// The allowed first memory slices, as listed by the geometry.
    #[getter]
    fn starts(&self) -> Vec<u32> {
        self.inner.starts.clone()
    }

    /// At most this many instances on one GPU (``None``: no limit beyond space).
    #[getter]
    fn max_instances(&self) -> Option<u32> {
        self.inner.max_instances
    }

    fn __repr__(&self) -> String {
        let p = &self.inner;
        let max = p
            .max_instances
            .map_or_else(|| "None".to_owned(), |m| m.to_string());
        format!(
            "MigProfile(id={}, name={:?}, size={}, starts={:?}, max_instances={max})",
            p.id, p.name, p.size, p.starts
        )
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let p = &slf.get().inner;
        let args = (
            p.id,
            p.name.clone(),
            p.size,
            p.starts.clone(),
            p.max_instances,
        );
        (py.get_type::<Self>(), args).into_pyobject(py)
    }
}

/// The MIG placement table of one GPU model: memory slices and GPU instance profiles, with the
/// placement choices of topoplace.
///
/// A profile is given by name (``"3g.40gb"``) or id (9); an occupied GPU by a list of
/// ``(profile, start)`` pairs. :meth:`choose_start` picks, among the feasible starts, the one
/// that keeps the single-start profiles (``7g``, ``4g``) placeable and then leaves the most
/// expected further instances (not the lowest start); :meth:`choose_gpu` applies the same
/// losses across GPUs of this model, empty GPUs last, then the fullest GPU, then the lowest
/// index. The rule is documented in ``topoplace_core::node::mig``. Bad names, disallowed starts, overlapping instances and
/// exceeded instance limits raise ``InvalidValueError``; "does not fit" is ``None`` or ``[]``.
#[pyclass(
    name = "MigGeometry",
    module = "topoplace",
    frozen,
    eq,
    skip_from_py_object
)]
#[derive(PartialEq)]
pub(crate) struct PyMigGeometry {
    inner: Arc<MigGeometry>,
}

impl PyMigGeometry {
    fn wrap(inner: MigGeometry) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// A profile id from a name or an id.
    fn profile_id(&self, py: Python<'_>, profile: &Bound<'_, PyAny>) -> PyResult<u32> {
        if let Ok(name) = profile.cast::<PyString>() {
            let name = name.to_str()?;
            let ids: Vec<u32> = self
                .inner
                .profiles
                .iter()
                .filter(|p| p.name == name)
                .map(|p| p.id)
                .collect();
            return match ids.as_slice() {
                [id] => Ok(*id),
                [] => {
                    let known: Vec<&str> = self
                        .inner
                        .profiles
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect();
                    Err(value_error(
                        py,
                        format!(
                            "unknown MIG profile name {name:?}; this geometry has {}",
                            known.join(", ")
                        ),
                    ))
                }
                _ => Err(value_error(
                    py,
                    format!("MIG profile name {name:?} is ambiguous (ids {ids:?}); give the id"),
                )),
            };
        }
        let id: i64 = profile.extract().map_err(|_| {
            value_error(
                py,
                format!("a MIG profile is a name or an id, got {profile:?}"),
            )
        })?;
        u32::try_from(id)
            .map_err(|_| value_error(py, format!("MIG profile id {id} is out of range")))
    }

    /// Instances from ``(profile, start)`` pairs.
    fn instances(
        &self,
        py: Python<'_>,
        occupied: &[(Bound<'_, PyAny>, i64)],
    ) -> PyResult<Vec<Instance>> {
        occupied
            .iter()
            .map(|(profile, start)| {
                let id = self.profile_id(py, profile)?;
                let start = u32::try_from(*start).map_err(|_| {
                    value_error(
                        py,
                        format!("occupied instance of profile {id}: start {start} is out of range"),
                    )
                })?;
                Ok(Instance::new(id, start))
            })
            .collect()
    }
}

#[pymethods]
impl PyMigGeometry {
    /// A geometry from its parts (``memory_slices`` 1 to 64, unique profile ids, every allowed
    /// start inside the memory slices).
    #[new]
    #[pyo3(signature = (memory_slices, compute_slices, profiles))]
    fn py_new(
        py: Python<'_>,
        memory_slices: u32,
        compute_slices: u32,
        profiles: Vec<PyRef<'_, PyMigProfile>>,
    ) -> PyResult<Self> {
        let profiles = profiles.iter().map(|p| p.inner.clone()).collect();
        MigGeometry::new(memory_slices, compute_slices, profiles)
            .into_py_result(py)
            .map(Self::wrap)
    }

    /// A built-in table: ``"a100-40gb"`` (A100-SXM4-40GB), ``"a100-80gb"`` (A100 80GB) or
    /// ``"h100-80gb"`` (H100 80GB, the same table as the A100 80GB).
    #[staticmethod]
    #[pyo3(signature = (name))]
    fn builtin(py: Python<'_>, name: &str) -> PyResult<Self> {
        BUILTINS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, make)| Self::wrap(make()))
            .ok_or_else(|| {
                let known: Vec<&str> = BUILTINS.iter().map(|(n, _)| *n).collect();
                value_error(
                    py,
                    format!(
                        "unknown built-in MIG geometry {name:?}; expected one of {}",
                        known.join(", ")
                    ),
                )
            })
    }

    /// The names :meth:`builtin` accepts.
    #[staticmethod]
    #[pyo3(signature = ())]
    fn builtin_names() -> Vec<&'static str> {
        BUILTINS.iter().map(|(n, _)| *n).collect()
    }

    /// Reads a geometry from JSON text (``str`` or UTF-8 ``bytes``): an object with
    /// ``memory_slices``, ``compute_slices`` and ``profiles: [{id, name, size, starts,
    /// max_instances?}]``.
    #[staticmethod]
    #[pyo3(signature = (text))]
    fn from_json(py: Python<'_>, text: Text) -> PyResult<Self> {
        detached(py, || MigGeometry::from_json(&parse_json(&text)?)).map(Self::wrap)
    }

    /// Number of memory slices (8 on A100 and H100).
    #[getter]
    fn memory_slices(&self) -> u32 {
        self.inner.memory_slices
    }

    /// Number of compute slices (7 on A100 and H100); informational.
    #[getter]
    fn compute_slices(&self) -> u32 {
        self.inner.compute_slices
    }

    /// The GPU instance profiles, in table order.
    #[getter]
    fn profiles(&self) -> Vec<PyMigProfile> {
        self.inner
            .profiles
            .iter()
            .map(|p| PyMigProfile { inner: p.clone() })
            .collect()
    }

    /// The profile with this name or id.
    #[pyo3(signature = (profile))]
    fn profile(&self, py: Python<'_>, profile: &Bound<'_, PyAny>) -> PyResult<PyMigProfile> {
        let id = self.profile_id(py, profile)?;
        self.inner
            .profile(id)
            .map(|p| PyMigProfile { inner: p.clone() })
            .ok_or_else(|| value_error(py, format!("unknown MIG profile {id}")))
    }

    /// The feasible starts (ascending) for a new instance of ``profile`` on a GPU holding
    /// ``occupied`` (``(profile, start)`` pairs): allowed starts whose slices are free, while
    /// the profile's instance limit is not reached. ``[]`` when nothing fits.
    #[pyo3(signature = (occupied, profile))]
    fn feasible_starts(
        &self,
        py: Python<'_>,
        occupied: Vec<(Bound<'_, PyAny>, i64)>,
        profile: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<u32>> {
        let occupied = self.instances(py, &occupied)?;
        let id = self.profile_id(py, profile)?;
        let geom = &self.inner;
        detached(py, || mig::feasible_starts(geom, &occupied, id))
    }

    /// The start for a new instance of ``profile`` on a GPU holding ``occupied``: the feasible
    /// start that keeps the single-start profiles placeable, then leaves the most expected
    /// further instances (ties: the lowest start). ``None`` when no start is feasible. On an
    /// empty A100-40GB a ``1g.5gb`` goes to slice 4, not 0, so the ``4g.20gb`` still fits at 0.
    #[pyo3(signature = (occupied, profile))]
    fn choose_start(
        &self,
        py: Python<'_>,
        occupied: Vec<(Bound<'_, PyAny>, i64)>,
        profile: &Bound<'_, PyAny>,
    ) -> PyResult<Option<u32>> {
        let occupied = self.instances(py, &occupied)?;
        let id = self.profile_id(py, profile)?;
        let geom = &self.inner;
        detached(py, || mig::choose_start(geom, &occupied, id))
    }

    /// A ``(gpu, start)`` for a new instance of ``profile`` among GPUs of this model
    /// (``per_gpu_occupied[gpu]`` lists GPU ``gpu``'s ``(profile, start)`` pairs): empty GPUs
    /// last, then the smallest loss of single-start profiles, then of expected further
    /// instances, then the fullest GPU, the lowest GPU index and the lowest start. ``None`` when
    /// no GPU can take it.
    #[pyo3(signature = (per_gpu_occupied, profile))]
    fn choose_gpu(
        &self,
        py: Python<'_>,
        per_gpu_occupied: Vec<Vec<(Bound<'_, PyAny>, i64)>>,
        profile: &Bound<'_, PyAny>,
    ) -> PyResult<Option<(usize, u32)>> {
        let per_gpu = per_gpu_occupied
            .iter()
            .map(|occupied| self.instances(py, occupied))
            .collect::<PyResult<Vec<_>>>()?;
        let id = self.profile_id(py, profile)?;
        let geom = &self.inner;
        detached(py, || mig::choose_across_gpus(geom, &per_gpu, id))
    }

    fn __repr__(&self) -> String {
        let names: Vec<&str> = self
            .inner
            .profiles
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        format!(
            "MigGeometry(memory_slices={}, compute_slices={}, profiles={names:?})",
            self.inner.memory_slices, self.inner.compute_slices
        )
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let geom = &slf.get().inner;
        let profiles: Vec<PyMigProfile> = geom
            .profiles
            .iter()
            .map(|p| PyMigProfile { inner: p.clone() })
            .collect();
        (
            py.get_type::<Self>(),
            (geom.memory_slices, geom.compute_slices, profiles),
        )
            .into_pyobject(py)
    }
}
