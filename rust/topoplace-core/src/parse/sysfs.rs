//! Linux sysfs. PLACEHOLDER: being written.

use crate::error::{Error, Location, Result};
use crate::topology::Topology;

/// Read access to a sysfs-like tree. Paths are absolute (`/sys/devices/system/cpu/online`);
/// implementations map them onto the real `/` or onto a fixture directory.
pub trait FileSource {
    /// The content of a file, or `None` when it does not exist or cannot be read.
    fn read(&self, path: &str) -> Option<String>;
    /// The entry names of a directory (not full paths), sorted; empty when it does not exist.
    fn list(&self, dir: &str) -> Vec<String>;
    /// The target of a symbolic link, if `path` is one.
    fn link(&self, path: &str) -> Option<String>;
}

/// Reads a topology from a sysfs tree.
///
/// # Errors
/// [`Error::Topology`] naming `source` and the file.
pub fn parse(_files: &dyn FileSource, source: &str) -> Result<Topology> {
    Err(Error::topology(
        Location::source(source),
        "sysfs reader not written yet",
    ))
}
