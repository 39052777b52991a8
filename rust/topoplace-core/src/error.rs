//! The one error type of the core crate.
//!
//! Every variant names where the bad input was (the source, and the line, object or field
//! inside it) so that a user can fix it without reading our code.

use std::fmt;

/// Where in an input a problem was found: the source (file name or a label such as
/// `"sysfs"`), and optionally a 1-based line and the object/field path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// File name or source label (`"<string>"` when parsed from an anonymous string).
    pub source: String,
    /// 1-based line number, when the format has lines.
    pub line: Option<usize>,
    /// The object or field, e.g. `"object[type=Core] os_index"` or `"numa_nodes[3].cpus"`.
    pub object: Option<String>,
}

impl Location {
    /// A location naming only the source.
    pub fn source(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            line: None,
            object: None,
        }
    }

    /// This location with a line number.
    #[must_use]
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    /// This location with an object / field path.
    #[must_use]
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(object) = &self.object {
            write!(f, ": {object}")?;
        }
        Ok(())
    }
}

/// Errors raised by the core. Non-exhaustive: new kinds are added as capabilities grow, and
/// the Python binding maps each kind to an exception class.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The topology input is malformed or inconsistent (bad XML, a CPU listed twice, a device on
    /// a NUMA node that does not exist, an asymmetric distance matrix, absurd sizes...).
    #[error("{location}: {message}")]
    Topology {
        /// Where the problem is.
        location: Location,
        /// What is wrong, in words.
        message: String,
    },
    /// A value given by the caller (not read from a topology source) is invalid, e.g. a CPU
    /// list string such as `"3-1"`.
    #[error("invalid value: {0}")]
    Value(String),
    /// A Kubernetes object (a DRA ResourceSlice, DeviceClass, ResourceClaim, a Node...) is
    /// malformed or would be rejected by the API server.
    #[error("{object}: {path}: {message}")]
    Object {
        /// The object's kind and name, e.g. `"ResourceClaim default/claim-0"`.
        object: String,
        /// The JSON path of the field inside the object, e.g.
        /// `"spec.devices.requests[1].exactly.count"`.
        path: String,
        /// What is wrong, in words.
        message: String,
    },
}

impl Error {
    /// A topology error at `location`.
    pub fn topology(location: Location, message: impl Into<String>) -> Self {
        Self::Topology {
            location,
            message: message.into(),
        }
    }
}

/// The core's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
