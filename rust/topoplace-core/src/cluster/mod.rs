//! Clusters: a snapshot of many nodes with a domain tree from label levels, and all-or-nothing
//! gang placement inside the right domain with every pod NUMA-aligned inside its node.
//!
//! - [`model`]: the snapshot, its resources and domains, free capacity kept incrementally.
//! - [`gang`]: gangs, groups, placements.
//! - [`place`]: the placement (semantics in its docs).
//! - [`json`]: the interchange format (`{levels, nodes}` and `{name, groups}`).
//! - [`dense`]: a cluster from arrays (numpy).

pub mod dense;
mod explain;
pub mod gang;
pub mod json;
pub mod model;
mod place;

pub use gang::{GangSpec, GroupSpec, PlaceOutcome, Placement, PodPlacement, Toleration};
pub use model::{Cluster, NodeSpec, Resources, Taint};
