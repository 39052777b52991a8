//! # topoplace-core
//!
//! The pure-Rust core of topoplace: a model of one machine's topology (packages, NUMA nodes,
//! caches, cores, CPUs, the PCI tree, GPUs, NICs and their links), parsers that build it from
//! every source a user has (hwloc XML 1.x/2.0/3.0, Linux sysfs, `nvidia-smi topo -m`,
//! `rocm-smi --showtopo`, topoplace JSON), and a synthetic builder for machines of any size.
//!
//! The crate does no I/O of its own: parsers take text, and the sysfs reader takes a
//! [`parse::sysfs::FileSource`] so that tests run on fixture trees. It has no Python
//! dependency; the `topoplace-py` crate wraps it.
//!
//! ```
//! use topoplace_core::synthetic::SyntheticSpec;
//! let topo = SyntheticSpec { sockets: 2, numa_per_socket: 1, cores_per_numa: 8, threads_per_core: 2, ..Default::default() }
//!     .build()
//!     .unwrap();
//! let summary = topo.summary();
//! assert_eq!((summary.packages, summary.cores, summary.cpus), (2, 16, 32));
//! ```
//!
//! Modules:
//! - [`topology`]: the model, [`topology::CpuSet`], validation, link classes.
//! - [`parse`]: the parsers and format detection.
//! - [`synthetic`]: generated and built-in machines.
//! - [`replay`]: the FGD paper's trace replay (Alibaba GPU trace), reproduced run by run.
//! - [`error`]: the error type.
#![forbid(unsafe_code)]

pub mod cluster;
pub mod conformance;
pub mod dra;
pub mod error;
pub mod node;
pub mod parse;
pub mod quantity;
pub mod replay;
pub mod synthetic;
pub mod topology;

pub use error::{Error, Location, Result};
pub use topology::{CpuSet, Topology};
