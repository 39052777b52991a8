//! Clusters: a snapshot of many nodes with a domain tree from label levels, and all-or-nothing
//! gang placement inside the right domain with every pod NUMA-aligned inside its node.
//!
//! - [`model`]: the snapshot, its resources and domains, free capacity kept incrementally.
//! - [`gang`]: gangs, groups, placements.
//! - [`place`]: the placement (semantics in its docs).
//! - [`commit`]: commit and release.
//! - [`candidates`]: per-node fits, the required level's domains, the selection inside one.
//! - [`node_alloc`]: per-pod CPUs and GPUs from the NodeAllocator on nodes with a Topology.
//! - [`tiers`]: the grouping tree below the required level, and the strategies' choices.
//! - [`json`]: the interchange format (`{levels, nodes}` and `{name, groups}`).
//! - [`dense`]: a cluster from arrays (numpy).

mod candidates;
mod commit;
pub mod dense;
mod explain;
pub mod gang;
pub mod json;
pub mod model;
mod node_alloc;
mod place;
mod tiers;

pub use gang::{GangSpec, GroupSpec, PlaceOutcome, Placement, PodPlacement, Strategy, Toleration};
pub use model::{Cluster, NodeSpec, Resources, Taint};
pub use node_alloc::{GPU_RESOURCE, IN_USE_OWNER, pod_owner};
