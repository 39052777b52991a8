//! `nvidia-smi topo -m` and `rocm-smi --showtopo`. PLACEHOLDER: being written.

use crate::error::{Error, Location, Result};
use crate::topology::Topology;

/// Parses `nvidia-smi topo -m` output, optionally combined with a `.host.txt` companion.
///
/// # Errors
/// [`Error::Topology`] naming `source` and the line.
pub fn parse_nvidia(_text: &str, _host: Option<&str>, source: &str) -> Result<Topology> {
    Err(Error::topology(
        Location::source(source),
        "nvidia-smi parser not written yet",
    ))
}

/// Parses `rocm-smi --showtopo` output, optionally combined with a `.host.txt` companion.
///
/// # Errors
/// [`Error::Topology`] naming `source` and the line.
pub fn parse_rocm(_text: &str, _host: Option<&str>, source: &str) -> Result<Topology> {
    Err(Error::topology(
        Location::source(source),
        "rocm-smi parser not written yet",
    ))
}
