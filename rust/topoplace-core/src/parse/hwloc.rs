//! hwloc XML (formats 1.x, 2.0 and 3.0). PLACEHOLDER: being written.

use crate::error::{Error, Location, Result};
use crate::topology::Topology;

/// Parses hwloc XML text.
///
/// # Errors
/// [`Error::Topology`] naming `source`, the line and the object.
pub fn parse(_text: &str, source: &str) -> Result<Topology> {
    Err(Error::topology(
        Location::source(source),
        "hwloc XML parser not written yet",
    ))
}
