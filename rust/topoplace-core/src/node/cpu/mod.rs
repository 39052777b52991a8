//! Kubelet-compatible CPU picking: the CPU Manager static policy's choice of exclusive CPUs.
//!
//! - [`CpuDetails`], the kubelet's view of a machine (per CPU its core, socket, NUMA node and
//!   uncore cache, plus the declared counts its ratios come from), from a kubelet fixture or a
//!   topoplace [`crate::Topology`].
//! - [`take_by_topology_packed`], the default best-fit picker (whole NUMA nodes / sockets,
//!   optionally uncore caches, whole cores, then single CPUs).
//! - [`take_by_topology_distributed`], for `distribute-cpus-across-numa`.
//! - [`StaticPolicy`], `Allocate` with options, reserved CPUs, NUMA hints and SMT alignment.
//! - [`CpuAccumulator`], the picker's state and orderings, for inspection and tests.
//!
//! Results match the kubelet's exactly, including its tie-breaks; the conformance suite in
//! [`crate::conformance::kubelet_cpu`] checks them against vectors from the kubelet's tests.

mod accumulator;
mod details;
mod distributed;
mod error;
mod options;
mod packed;
mod static_policy;

pub use accumulator::{CpuAccumulator, SortingStrategy};
pub use details::{CpuDetails, CpuInfo, DeclaredCounts, Level};
pub use distributed::take_by_topology_distributed;
pub use error::PickError;
pub use options::{CpuOptions, VALID_OPTIONS};
pub use packed::take_by_topology_packed;
pub use static_policy::{CpuRequest, PolicyState, StaticPolicy, parse_cpu_quantity};
