//! Building a cluster from dense arrays (what numpy gives): one row per node, one column per
//! resource, label levels as integer ids into per-level value lists.

use super::model::{Cluster, NodeSpec, Resources};
use crate::error::{Error, Result};

/// A cluster as arrays. Amounts are in the units of [`super::json`] (`cpu` millicores).
#[derive(Debug, Clone, Copy)]
pub struct DenseCluster<'a> {
    /// Node names, one per row.
    pub names: &'a [String],
    /// Resource names, one per column.
    pub resources: &'a [String],
    /// `capacity[n * R + r]`.
    pub capacity: &'a [i64],
    /// Same shape as `capacity`; empty for nothing used.
    pub used: &'a [i64],
    /// NUMA nodes per node (0: no NUMA data).
    pub zones: usize,
    /// `numa[(n * zones + z) * R + r]`; empty without NUMA data.
    pub numa: &'a [i64],
    /// Same shape as `numa`; empty for nothing used.
    pub numa_used: &'a [i64],
    /// Per node, whether its Topology Manager policy is `single-numa-node`; empty for none.
    pub single_numa: &'a [bool],
    /// Level label keys, outermost first.
    pub levels: &'a [String],
    /// Per level: per node, an index into that level's values (negative: no label).
    pub level_ids: &'a [Vec<i64>],
    /// Per level: the label values.
    pub level_values: &'a [Vec<String>],
}

fn shape(what: &str, got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::Value(format!(
            "cluster arrays: {what} has {got} values, expected {want}"
        )))
    }
}

impl Cluster {
    /// A cluster from arrays.
    ///
    /// # Errors
    /// [`Error::Value`] naming the array whose shape does not match, a label id out of range,
    /// and the errors of [`Cluster::new`].
    pub fn from_dense(d: &DenseCluster<'_>) -> Result<Self> {
        let (nn, nr, nz) = (d.names.len(), d.resources.len(), d.zones);
        shape("capacity", d.capacity.len(), nn * nr)?;
        if !d.used.is_empty() {
            shape("used", d.used.len(), nn * nr)?;
        }
        if !d.numa.is_empty() {
            shape("numa", d.numa.len(), nn * nz * nr)?;
        }
        if !d.numa_used.is_empty() {
            shape("numa_used", d.numa_used.len(), nn * nz * nr)?;
        }
        if !d.single_numa.is_empty() {
            shape("single_numa", d.single_numa.len(), nn)?;
        }
        shape("levels (label ids)", d.level_ids.len(), d.levels.len())?;
        shape(
            "levels (label values)",
            d.level_values.len(),
            d.levels.len(),
        )?;
        let mut res = Resources::default();
        let column: Vec<usize> = d.resources.iter().map(|r| res.intern(r)).collect();
        let width = res.len();
        let dense = |src: &[i64], row: usize| -> Vec<i64> {
            let mut v = vec![0; width];
            for (c, &r) in column.iter().enumerate() {
                v[r] = src[row * nr + c];
            }
            v
        };
        let mut nodes = Vec::with_capacity(nn);
        for n in 0..nn {
            let mut labels = Vec::with_capacity(d.levels.len());
            for (l, key) in d.levels.iter().enumerate() {
                shape(&format!("labels of level {key}"), d.level_ids[l].len(), nn)?;
                let id = d.level_ids[l][n];
                if id < 0 {
                    continue;
                }
                let value = usize::try_from(id)
                    .ok()
                    .and_then(|i| d.level_values[l].get(i))
                    .ok_or_else(|| {
                        Error::Value(format!(
                            "cluster arrays: node {}: label id {id} of level {key} is out of range",
                            d.names[n]
                        ))
                    })?;
                labels.push((key.clone(), value.clone()));
            }
            let zones = |src: &[i64]| -> Vec<Vec<i64>> {
                if src.is_empty() {
                    return if d.numa.is_empty() {
                        Vec::new()
                    } else {
                        vec![vec![0; width]; nz]
                    };
                }
                (0..nz).map(|z| dense(src, n * nz + z)).collect()
            };
            nodes.push(NodeSpec {
                name: d.names[n].clone(),
                labels,
                capacity: dense(d.capacity, n),
                used: if d.used.is_empty() {
                    vec![0; width]
                } else {
                    dense(d.used, n)
                },
                numa: if d.numa.is_empty() {
                    Vec::new()
                } else {
                    zones(d.numa)
                },
                numa_used: if d.numa.is_empty() {
                    Vec::new()
                } else {
                    zones(d.numa_used)
                },
                taints: Vec::new(),
                unschedulable: false,
                single_numa: d.single_numa.get(n).copied().unwrap_or(false),
            });
        }
        Self::new(res, d.levels.to_vec(), nodes)
    }
}
