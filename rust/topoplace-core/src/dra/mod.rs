//! Kubernetes Dynamic Resource Allocation (`resource.k8s.io/v1`): the object model, selector
//! evaluation and the allocator.
//!
//! - [`value`]: qualified names, attribute values and quantities shared by the rest.
//! - [`cel`]: device selectors in CEL, compiled and evaluated as the scheduler does.
//! - [`model`]: the `resource.k8s.io/v1` objects (slices, classes, claims, allocations, nodes),
//!   read from JSON with validation.
//! - [`allocator`]: the scheduler's structured-parameters allocator: claims to allocation
//!   results, exactly as kube-scheduler 1.34 decides.

pub mod allocator;
pub mod cel;
pub mod model;
pub mod text;
pub mod value;
