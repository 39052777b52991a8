//! Decisions inside one machine: CPU picking (kubelet-compatible and topoplace's own), NUMA hint
//! merging (the kubelet Topology Manager's policies), and the stateful allocator.

pub mod allocator;
pub mod cpu;
pub mod gpu;
pub mod hints;
pub mod mig;
mod mig_rule;
