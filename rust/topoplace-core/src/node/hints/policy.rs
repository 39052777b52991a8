//! Topology Manager policies and policy options, parsed from the kubelet's names.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A Topology Manager policy (`--topology-manager-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    /// `none`: no alignment; the merge returns "no preference" and always admits.
    None,
    /// `best-effort`: merge, and admit whatever the merge gives.
    BestEffort,
    /// `restricted`: merge, and admit only a preferred hint.
    Restricted,
    /// `single-numa-node`: keep only preferred single-node (or any-node) hints, merge, and
    /// admit only a preferred hint; a merge over every node is reported as no affinity.
    SingleNumaNode,
}

impl Policy {
    /// Every policy, in the kubelet's documentation order.
    pub const ALL: [Self; 4] = [
        Self::None,
        Self::BestEffort,
        Self::Restricted,
        Self::SingleNumaNode,
    ];

    /// The kubelet's name for the policy.
    #[must_use]
    pub const fn kubelet_name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::BestEffort => "best-effort",
            Self::Restricted => "restricted",
            Self::SingleNumaNode => "single-numa-node",
        }
    }

    /// The policy with the kubelet name `name`.
    ///
    /// # Errors
    /// [`Error::Value`] naming the valid names when `name` is not one of them.
    pub fn from_kubelet_name(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.kubelet_name() == name)
            .ok_or_else(|| {
                let valid: Vec<&str> = Self::ALL.iter().map(|p| p.kubelet_name()).collect();
                Error::Value(format!(
                    "unknown Topology Manager policy {name:?}; valid policies: {}",
                    valid.join(", ")
                ))
            })
    }
}

impl FromStr for Policy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::from_kubelet_name(s)
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kubelet_name())
    }
}

/// The kubelet's default (and minimum) `max-allowable-numa-nodes`.
pub const DEFAULT_MAX_ALLOWABLE_NUMA_NODES: usize = 8;

/// The option name `prefer-closest-numa-nodes`.
pub const PREFER_CLOSEST_NUMA_NODES: &str = "prefer-closest-numa-nodes";
/// The option name `max-allowable-numa-nodes`.
pub const MAX_ALLOWABLE_NUMA_NODES: &str = "max-allowable-numa-nodes";

/// Topology Manager policy options (`--topology-manager-policy-options`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PolicyOptions {
    /// `prefer-closest-numa-nodes`: between preferred masks of equal width, pick the one with
    /// the lowest average NUMA distance (ignored under `single-numa-node`).
    pub prefer_closest_numa_nodes: bool,
    /// `max-allowable-numa-nodes`: the exhaustive (kubelet) merge refuses machines with more
    /// NUMA nodes than this (except under the `none` policy). The search merge ignores it.
    pub max_allowable_numa_nodes: usize,
}

impl Default for PolicyOptions {
    fn default() -> Self {
        Self {
            prefer_closest_numa_nodes: false,
            max_allowable_numa_nodes: DEFAULT_MAX_ALLOWABLE_NUMA_NODES,
        }
    }
}

impl PolicyOptions {
    /// Options from kubelet option names and string values, as in
    /// `--topology-manager-policy-options=prefer-closest-numa-nodes=true`.
    ///
    /// Booleans accept Go's `strconv.ParseBool` spellings (`1`, `t`, `T`, `TRUE`, `true`,
    /// `True` and the `false` counterparts); `max-allowable-numa-nodes` is an integer of at
    /// least 8.
    ///
    /// # Errors
    /// [`Error::Value`] for an unknown option (naming the valid ones) or a bad value.
    pub fn from_kubelet<'a, I>(options: I) -> Result<Self>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut opts = Self::default();
        for (name, value) in options {
            match name {
                PREFER_CLOSEST_NUMA_NODES => {
                    opts.prefer_closest_numa_nodes = parse_go_bool(value).ok_or_else(|| {
                        Error::Value(format!(
                            "bad value {value:?} for Topology Manager option {name:?}: expected a boolean"
                        ))
                    })?;
                }
                MAX_ALLOWABLE_NUMA_NODES => {
                    let n: usize = value.trim().parse().map_err(|_| {
                        Error::Value(format!(
                            "bad value {value:?} for Topology Manager option {name:?}: expected an integer"
                        ))
                    })?;
                    if n < DEFAULT_MAX_ALLOWABLE_NUMA_NODES {
                        return Err(Error::Value(format!(
                            "Topology Manager option {name:?} must be at least {DEFAULT_MAX_ALLOWABLE_NUMA_NODES}, got {n}"
                        )));
                    }
                    opts.max_allowable_numa_nodes = n;
                }
                _ => {
                    return Err(Error::Value(format!(
                        "unknown Topology Manager policy option {name:?}; valid options: {PREFER_CLOSEST_NUMA_NODES}, {MAX_ALLOWABLE_NUMA_NODES}"
                    )));
                }
            }
        }
        Ok(opts)
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for p in Policy::ALL {
            assert_eq!(p.kubelet_name().parse::<Policy>().unwrap(), p);
        }
        let err = "static".parse::<Policy>().unwrap_err().to_string();
        assert!(err.contains("single-numa-node"), "{err}");
    }

    #[test]
    fn options() {
        let o = PolicyOptions::from_kubelet([
            ("prefer-closest-numa-nodes", "True"),
            ("max-allowable-numa-nodes", "16"),
        ])
        .unwrap();
        assert!(o.prefer_closest_numa_nodes);
        assert_eq!(o.max_allowable_numa_nodes, 16);
        assert!(PolicyOptions::from_kubelet([("max-allowable-numa-nodes", "4")]).is_err());
        assert!(PolicyOptions::from_kubelet([("prefer-closest-numa-nodes", "yes")]).is_err());
        assert!(PolicyOptions::from_kubelet([("nope", "1")]).is_err());
    }
}
