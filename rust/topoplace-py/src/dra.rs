//! `topoplace.dra`'s native half: parsed DRA objects (slices, classes, claims) held as frozen
//! handles, and the structured-parameters allocator for one node or many.
//!
//! Objects cross the boundary as JSON text (the Python side serialises dicts); the core parses
//! and validates them. Results come back as `(allocated, text)`: the allocations as a JSON
//! array when `allocated`, else the reason it cannot allocate.

use std::sync::{Arc, OnceLock};

use pyo3::prelude::*;
use topoplace_core::dra::allocator::{self, AllocInput, DeviceId, Features, Outcome};
use topoplace_core::dra::cel::SelectorCache;
use topoplace_core::dra::model::{DeviceClass, InUse, Node, ResourceClaim, ResourceSlice};
use topoplace_core::dra::text;

use crate::detach::detached;

/// The process-wide cache of compiled selectors, shared by every call and thread.
fn selectors() -> &'static SelectorCache {
    static CACHE: OnceLock<SelectorCache> = OnceLock::new();
    CACHE.get_or_init(SelectorCache::default)
}

/// A frozen handle on a list of parsed objects of one kind: constructed from JSON text (one
/// object, an array, or a `...List`), parsed with the GIL released.
macro_rules! object_list {
    ($(#[$doc:meta])* $py:ident, $name:literal, $ty:ty, $parse:path, $noun:literal) => {
        $(#[$doc])*
        #[pyclass(frozen, name = $name, module = "topoplace._core")]
        pub(crate) struct $py {
            inner: Arc<Vec<$ty>>,
        }

        #[pymethods]
        impl $py {
            #[new]
            fn new(py: Python<'_>, text: &str) -> PyResult<Self> {
                let inner = detached(py, || $parse(text))?;
                Ok(Self {
                    inner: Arc::new(inner),
                })
            }

            fn __len__(&self) -> usize {
                self.inner.len()
            }

            fn __repr__(&self) -> String {
                format!(concat!($name, "(<{} ", $noun, ">)"), self.inner.len())
            }
        }
    };
}

object_list!(
    /// ResourceSlices parsed from JSON text (one object, an array, or a `...List`).
    PyDraSlices, "DraSlices", ResourceSlice, text::slices_from_json_str, "slices"
);
object_list!(
    /// DeviceClasses parsed from JSON text.
    PyDraClasses, "DraClasses", DeviceClass, text::classes_from_json_str, "classes"
);
object_list!(
    /// ResourceClaims parsed from JSON text, allocated together in their order.
    PyDraClaims, "DraClaims", ResourceClaim, text::claims_from_json_str, "claims"
);

/// `(allocated, text)`: the JSON array of allocation results, or the reason.
fn outcome_pair(outcome: Outcome) -> (bool, String) {
    match outcome {
        Outcome::Allocated(results) => (true, text::results_to_json_string(&results)),
        Outcome::Unsatisfiable(reason) => (false, reason),
    }
}

/// What is in use: the devices of `allocated` (`(driver, pool, device)`), and what the
/// allocations of `claims` hold.
fn in_use(
    allocated: Vec<(String, String, String)>,
    claims: Option<&PyDraClaims>,
    features: Features,
) -> InUse {
    let mut in_use = claims.map_or_else(InUse::default, |c| {
        InUse::from_claims(c.inner.iter(), features)
    });
    in_use.devices.extend(
        allocated
            .into_iter()
            .map(|(driver, pool, device)| DeviceId {
                driver,
                pool,
                device,
            }),
    );
    in_use
}

fn parse_features(py: Python<'_>, names: &[String]) -> PyResult<Features> {
    Features::from_names(names.iter().map(String::as_str))
        .map_err(|e| crate::errors::to_pyerr(py, e))
}

fn parse_node(node: Option<&str>) -> topoplace_core::Result<Option<Node>> {
    node.map(text::node_from_json_str).transpose()
}

/// Allocates `claims` together on the node given as Node JSON text (`None`: only `allNodes`
/// devices), with the devices of `allocated` (`(driver, pool, device)`) and what the
/// allocations of `allocated_claims` hold in use, and the feature gates of `features` on
/// (an unknown gate is an error). Returns `(True, results_json)` or `(False, reason)`.
#[pyfunction]
#[pyo3(signature = (
    slices, classes, claims, node = None, allocated = Vec::new(), allocated_claims = None,
    features = Vec::new(), mode = "exact", alignment = None
))]
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors the Python keyword arguments"
)]
pub(crate) fn dra_allocate(
    py: Python<'_>,
    slices: &PyDraSlices,
    classes: &PyDraClasses,
    claims: &PyDraClaims,
    node: Option<&str>,
    allocated: Vec<(String, String, String)>,
    allocated_claims: Option<&PyDraClaims>,
    features: Vec<String>,
    mode: &str,
    alignment: Option<AlignmentNames>,
) -> PyResult<(bool, String)> {
    let features = parse_features(py, &features)?;
    let how = How::new(py, mode, alignment.as_ref())?;
    detached(py, || {
        let in_use = in_use(allocated, allocated_claims, features);
        let node = parse_node(node)?;
        let input = input_for(
            node.as_ref(),
            &slices.inner,
            classes,
            claims,
            &in_use,
            features,
            &how,
        );
        allocator::allocate(&input).map(outcome_pair)
    })
}

/// `(pcie_root, numa, socket)` attribute names for the scored mode.
type AlignmentNames = (Vec<String>, Vec<String>, Vec<String>);

/// How to search: the mode and the alignment attributes.
struct How {
    mode: allocator::Mode,
    alignment: Option<allocator::Alignment>,
}

impl How {
    fn new(py: Python<'_>, mode: &str, names: Option<&AlignmentNames>) -> PyResult<Self> {
        let mode = allocator::Mode::from_name(mode).map_err(|e| crate::errors::to_pyerr(py, e))?;
        let alignment = names.map(|(p, n, s)| allocator::Alignment::from_names(p, n, s));
        Ok(Self { mode, alignment })
    }
}

/// The allocator input for one node.
fn input_for<'a>(
    node: Option<&'a Node>,
    slices: &'a [ResourceSlice],
    classes: &'a PyDraClasses,
    claims: &'a PyDraClaims,
    in_use: &'a InUse,
    features: Features,
    how: &'a How,
) -> AllocInput<'a> {
    AllocInput {
        node,
        slices,
        classes: &classes.inner,
        claims: &claims.inner,
        allocated_devices: &in_use.devices,
        allocated_capacity: &in_use.capacity,
        features,
        selectors: selectors(),
        mode: how.mode,
        alignment: how
            .alignment
            .as_ref()
            .unwrap_or_else(|| allocator::Alignment::standard()),
    }
}

/// [`dra_allocate`] of one claim set against many nodes in one call with the GIL released:
/// `slices[i]` are what node `nodes[i]` (Node JSON text) reaches. One result per node, in order
/// (the core spreads the nodes over the machine's cores).
#[pyfunction]
#[pyo3(signature = (
    slices, classes, claims, nodes, allocated = Vec::new(), allocated_claims = None,
    features = Vec::new(), mode = "exact", alignment = None
))]
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors the Python keyword arguments"
)]
pub(crate) fn dra_allocate_many(
    py: Python<'_>,
    slices: Vec<Bound<'_, PyDraSlices>>,
    classes: &PyDraClasses,
    claims: &PyDraClaims,
    nodes: Vec<Option<String>>,
    allocated: Vec<(String, String, String)>,
    allocated_claims: Option<&PyDraClaims>,
    features: Vec<String>,
    mode: &str,
    alignment: Option<AlignmentNames>,
) -> PyResult<Vec<(bool, String)>> {
    if slices.len() != nodes.len() {
        return Err(crate::errors::to_pyerr(
            py,
            topoplace_core::Error::Value(format!(
                "{} slice sets for {} nodes",
                slices.len(),
                nodes.len()
            )),
        ));
    }
    let features = parse_features(py, &features)?;
    let how = How::new(py, mode, alignment.as_ref())?;
    let slices: Vec<Arc<Vec<ResourceSlice>>> =
        slices.iter().map(|s| Arc::clone(&s.get().inner)).collect();
    detached(py, || {
        let in_use = in_use(allocated, allocated_claims, features);
        let nodes = nodes
            .iter()
            .map(|n| parse_node(n.as_deref()))
            .collect::<topoplace_core::Result<Vec<Option<Node>>>>()?;
        let inputs: Vec<AllocInput<'_>> = slices
            .iter()
            .zip(&nodes)
            .map(|(node_slices, node)| {
                input_for(
                    node.as_ref(),
                    node_slices,
                    classes,
                    claims,
                    &in_use,
                    features,
                    &how,
                )
            })
            .collect();
        allocator::allocate_each_then(&inputs, |r| r.map(outcome_pair))
            .into_iter()
            .collect()
    })
}
