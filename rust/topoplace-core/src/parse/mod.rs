//! Parsers: each turns the text of one source into a [`crate::Topology`].
//!
//! [`detect`] recognises a format from the text itself so that callers (the CLI's `show FILE`)
//! need not be told.

pub mod hwloc;
pub mod smi;
pub mod sysfs;

use crate::error::{Error, Location, Result};
use crate::topology::Topology;

/// A format topoplace can read from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// hwloc XML, any version.
    HwlocXml,
    /// topoplace's own JSON.
    Json,
    /// `nvidia-smi topo -m` output.
    NvidiaSmi,
    /// `rocm-smi --showtopo` output.
    RocmSmi,
}

/// Recognises the format of `text`.
///
/// # Errors
/// [`Error::Topology`] naming `source` when the text is none of the known formats.
pub fn detect(text: &str, source: &str) -> Result<Format> {
    let head = text.trim_start_matches('\u{feff}').trim_start();
    if head.starts_with("<?xml")
        || head.starts_with("<!DOCTYPE topology")
        || head.starts_with("<topology")
    {
        return Ok(Format::HwlocXml);
    }
    if head.starts_with('{') {
        return Ok(Format::Json);
    }
    if text.contains("ROCm System Management Interface")
        || text.contains("Link Type between two GPUs")
    {
        return Ok(Format::RocmSmi);
    }
    if text.lines().take(5).any(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|w| w.starts_with("GPU0") || w == "GPU0")
    }) {
        return Ok(Format::NvidiaSmi);
    }
    Err(Error::topology(
        Location::source(source).at_line(1),
        "unrecognised topology format: expected hwloc XML, topoplace JSON, `nvidia-smi topo -m` or `rocm-smi --showtopo` output",
    ))
}

/// Parses `text` in whatever format it is in. `host` is the companion output of
/// `numactl --hardware` / `lscpu` / `nvidia-smi` for the vendor-tool formats; the other formats
/// ignore it.
///
/// # Errors
/// As [`detect`] and the parser of the detected format.
pub fn parse_any(text: &str, host: Option<&str>, source: &str) -> Result<Topology> {
    match detect(text, source)? {
        Format::HwlocXml => hwloc::parse(text, source),
        Format::Json => Topology::from_json(text, source),
        Format::NvidiaSmi => smi::parse_nvidia(text, host, source),
        Format::RocmSmi => smi::parse_rocm(text, host, source),
    }
}
