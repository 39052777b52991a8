//! Kubernetes Dynamic Resource Allocation (`resource.k8s.io/v1`): the object model, selector
//! evaluation and the allocator.
//!
//! - [`value`]: qualified names, attribute values and quantities shared by the rest.

pub mod value;
