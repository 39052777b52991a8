//! The static DGX policies: fixed tables of valid GPU sets per request size.

use std::collections::BTreeMap;

use super::vec_to_mask;
use crate::error::{Error, Location, Result};

/// Valid-set tables of the static policies, by policy name then size, in table order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticTables {
    policies: BTreeMap<String, BTreeMap<usize, Vec<u128>>>,
}

impl StaticTables {
    /// Parses `static_tables.json` (`{"policies": {name: {"size": [[gpu, ...], ...]}}}`).
    /// `source` names the file in errors.
    ///
    /// # Errors
    /// [`Error::Topology`] when the text is not JSON of that shape.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let bad =
            |line: usize, msg: String| Error::topology(Location::source(source).at_line(line), msg);
        let root: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(e.line(), e.to_string()))?;
        let mut policies = BTreeMap::new();
        let Some(obj) = root.get("policies") else {
            return Ok(Self { policies });
        };
        let obj = obj
            .as_object()
            .ok_or_else(|| bad(1, "\"policies\" is not an object".into()))?;
        for (name, sizes) in obj {
            let sizes = sizes
                .as_object()
                .ok_or_else(|| bad(1, format!("policy {name:?} is not an object")))?;
            let mut table = BTreeMap::new();
            for (size, sets) in sizes {
                let size: usize = size.parse().map_err(|_| {
                    bad(1, format!("policy {name:?}: size {size:?} is not a number"))
                })?;
                let sets: Vec<Vec<u32>> = serde_json::from_value(sets.clone())
                    .map_err(|e| bad(1, format!("policy {name:?} size {size}: {e}")))?;
                let masks = sets
                    .iter()
                    .map(|s| vec_to_mask(s))
                    .collect::<Result<Vec<_>>>()
                    .map_err(|e| bad(1, format!("policy {name:?} size {size}: {e}")))?;
                table.insert(size, masks);
            }
            policies.insert(name.clone(), table);
        }
        Ok(Self { policies })
    }

    /// Whether `policy` has a table.
    #[must_use]
    pub fn has(&self, policy: &str) -> bool {
        self.policies.contains_key(policy)
    }

    /// Every valid set of `policy` for `size` that is fully inside `available` and holds all of
    /// `required`, in table order (the first is upstream's answer). Empty when none fits or the
    /// policy or size has no table.
    #[must_use]
    pub fn fitting(&self, policy: &str, available: u128, required: u128, size: usize) -> Vec<u128> {
        if required & !available != 0 {
            return Vec::new();
        }
        self.policies
            .get(policy)
            .and_then(|t| t.get(&size))
            .map(|sets| {
                sets.iter()
                    .copied()
                    .filter(|&s| s & !available == 0 && s & required == required)
                    .collect()
            })
            .unwrap_or_default()
    }
}
