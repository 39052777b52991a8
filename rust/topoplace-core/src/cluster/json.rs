//! The interchange format of clusters and gangs (also the files of `topoplace gang`):
//!
//! ```text
//! cluster: {levels: [label keys, outermost first],
//!           nodes: [{name, labels: {..}, capacity: {cpu: "96", memory: "768Gi",
//!                    "nvidia.com/gpu": 8}, used: {..}, numa: [{..}, ..], numa_used: [..],
//!                    taints: [{key, value, effect}], unschedulable: bool,
//!                    topology_policy: "single-numa-node" | ...}]}
//! gang:    {name, groups: [{name, count, min_count, request: {cpu, memory, ..},
//!                           numa_aligned: bool, required_level, preferred_level,
//!                           slice_size, slice_level, slices: [{size, level}],
//!                           node_selector: {..},
//!                           tolerations: [{key, operator, value, effect}]}],
//!          strategy: "tight" | "pack" | "balanced"}
//! ```
//!
//! Quantities use Kubernetes syntax; `cpu` becomes millicores, everything else whole units
//! (rounded up). Errors name the object (`cluster`, `gang NAME`) and the field's path.

use serde_json::Value;

use super::gang::{GangSpec, GroupSpec, Strategy, Toleration};
use super::model::{Cluster, NodeSpec, Resources, Taint};
use crate::dra::model::json::At;
use crate::error::{Error, Result};

/// An amount of resource `name`: millicores for `cpu`, whole units otherwise (rounded up).
fn amount(at: &At<'_>, name: &str) -> Result<i64> {
    let q = at.quantity()?;
    if q.nanos < 0 {
        return Err(at.err("must not be negative"));
    }
    let per = if name == "cpu" {
        1_000_000
    } else {
        1_000_000_000
    };
    i64::try_from((q.nanos + per - 1) / per).map_err(|_| at.err("too large"))
}

/// The amounts of map field `key` (all zero when absent).
fn amounts(at: &At<'_>, key: &str, res: &mut Resources) -> Result<Vec<i64>> {
    match at.opt(key)? {
        Some(map) => zone(&map, res),
        None => Ok(vec![0; res.len()]),
    }
}

fn labels(at: &At<'_>, key: &str) -> Result<Vec<(String, String)>> {
    at.dict(key)?
        .into_iter()
        .map(|(k, v)| Ok((k.to_owned(), v.str()?.to_owned())))
        .collect()
}

/// A cluster from its interchange JSON value.
///
/// # Errors
/// [`Error::Object`] naming the field's path when the value is not of the format, and the
/// errors of [`Cluster::new`].
pub fn cluster_from_json(v: &Value) -> Result<Cluster> {
    let at = At::root(v, "cluster");
    let levels = at.strings("levels")?;
    let mut res = Resources::default();
    let mut nodes = Vec::new();
    for n in at.list("nodes")? {
        let name = n.req("name")?.str()?.to_owned();
        let capacity = amounts(&n, "capacity", &mut res)?;
        let used = amounts(&n, "used", &mut res)?;
        let numa = n
            .list("numa")?
            .iter()
            .map(|z| zone(z, &mut res))
            .collect::<Result<Vec<_>>>()?;
        let numa_used = n
            .list("numa_used")?
            .iter()
            .map(|z| zone(z, &mut res))
            .collect::<Result<Vec<_>>>()?;
        if !numa_used.is_empty() && numa_used.len() != numa.len() {
            return Err(n.field_err("numa_used", "must have one entry per NUMA node"));
        }
        let taints = n
            .list("taints")?
            .iter()
            .map(|t| {
                Ok(Taint {
                    key: t.req("key")?.str()?.to_owned(),
                    value: t.opt_str("value")?.unwrap_or("").to_owned(),
                    effect: t.opt_str("effect")?.unwrap_or("NoSchedule").to_owned(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        nodes.push(NodeSpec {
            labels: labels(&n, "labels")?,
            capacity,
            used,
            numa,
            numa_used,
            taints,
            unschedulable: n.opt_bool("unschedulable")?.unwrap_or(false),
            single_numa: n.opt_str("topology_policy")? == Some("single-numa-node"),
            name,
        });
    }
    Cluster::new(res, levels, nodes)
}

/// A map of resource to quantity, as amounts by resource index.
fn zone(z: &At<'_>, res: &mut Resources) -> Result<Vec<i64>> {
    let mut out = vec![0; res.len()];
    for (name, v) in z.entries()? {
        let r = res.intern(name);
        out.resize(res.len(), 0);
        out[r] = amount(&v, name)?;
    }
    Ok(out)
}

/// A gang from its interchange JSON value, against `cluster`'s resources and levels.
///
/// # Errors
/// [`Error::Object`] naming the field's path: a missing or non-positive count, a level the
/// cluster does not have, a slice size that does not divide the count. A resource no node
/// has is not an error: the group is unschedulable, and says so.
pub fn gang_from_json(v: &Value, cluster: &Cluster) -> Result<GangSpec> {
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("gang")
        .to_owned();
    let object = format!("gang {name}");
    let at = At::root(v, &object);
    let level = |g: &At<'_>, key: &str| -> Result<Option<usize>> {
        match g.opt_str(key)? {
            None => Ok(None),
            Some(l) => cluster
                .levels
                .iter()
                .position(|x| x == l)
                .map(Some)
                .ok_or_else(|| {
                    g.field_err(
                        key,
                        format!(
                            "the cluster has no level {l:?} (levels: {})",
                            cluster.levels.join(", ")
                        ),
                    )
                }),
        }
    };
    let mut groups = Vec::new();
    for g in at.list("groups")? {
        let count = g.req("count")?.int()?;
        if count < 1 {
            return Err(g.field_err("count", format!("must be at least 1, got {count}")));
        }
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        let min_count = match g.opt_int("min_count")? {
            None => count,
            Some(m) if m >= 1 && usize::try_from(m).is_ok_and(|m| m <= count) => {
                usize::try_from(m).unwrap_or(count)
            }
            Some(m) => {
                return Err(g.field_err("min_count", format!("must be 1..={count}, got {m}")));
            }
        };
        let mut request = vec![0; cluster.resources.len()];
        let mut missing_resource = None;
        for (rname, q) in g.dict("request")? {
            let a = amount(&q, rname)?;
            match cluster.resources.index(rname) {
                Some(r) => request[r] = a,
                None if a == 0 => {}
                None => missing_resource = missing_resource.or_else(|| Some(rname.to_owned())),
            }
        }
        let mut slices = Vec::new();
        match (g.opt_int("slice_size")?, level(&g, "slice_level")?) {
            (None, None) => {}
            (Some(s), Some(l)) if s >= 1 => slices.push((usize::try_from(s).unwrap_or(0), l)),
            _ => {
                return Err(
                    g.field_err("slice_size", "slice_size >= 1 and slice_level go together")
                );
            }
        }
        for layer in g.list("slices")? {
            let s = layer.req("size")?.int()?;
            let l = level(&layer, "level")?.ok_or_else(|| layer.err("level is required"))?;
            if s < 1 {
                return Err(layer.field_err("size", format!("must be at least 1, got {s}")));
            }
            slices.push((usize::try_from(s).unwrap_or(0), l));
        }
        check_slices(&g, &mut slices, count, &cluster.levels)?;
        let tolerations = g
            .list("tolerations")?
            .iter()
            .map(|t| {
                Ok(Toleration {
                    key: t.opt_str("key")?.unwrap_or("").to_owned(),
                    exists: t.opt_str("operator")? == Some("Exists"),
                    value: t.opt_str("value")?.unwrap_or("").to_owned(),
                    effect: t.opt_str("effect")?.map(str::to_owned),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        groups.push(GroupSpec {
            name: g.opt_str("name")?.unwrap_or("pods").to_owned(),
            count,
            min_count,
            request,
            numa_aligned: g.opt_bool("numa_aligned")?,
            required_level: level(&g, "required_level")?,
            preferred_level: level(&g, "preferred_level")?,
            slices,
            node_selector: labels(&g, "node_selector")?,
            tolerations,
            missing_resource,
        });
    }
    if groups.is_empty() {
        return Err(Error::Value(format!(
            "{object}: groups: at least one group is needed"
        )));
    }
    let strategy = match at.opt_str("strategy")? {
        None => Strategy::default(),
        Some(s) => Strategy::parse(s).ok_or_else(|| {
            at.field_err(
                "strategy",
                format!("unknown strategy {s:?} (tight, pack, balanced)"),
            )
        })?,
    };
    Ok(GangSpec {
        name,
        groups,
        strategy,
    })
}

/// Slice layers sorted outermost first; each size divides the count, and an outer size is a
/// multiple of every inner one (so inner slices make up the outer ones).
fn check_slices(
    g: &At<'_>,
    slices: &mut [(usize, usize)],
    count: usize,
    levels: &[String],
) -> Result<()> {
    slices.sort_by_key(|&(s, l)| (l, std::cmp::Reverse(s)));
    for (i, &(s, l)) in slices.iter().enumerate() {
        if count % s != 0 {
            return Err(g.field_err(
                "slice_size",
                format!("slice size {s} must divide the count {count}"),
            ));
        }
        if let Some(&(inner, il)) = slices[i + 1..].iter().find(|&&(si, _)| s % si != 0) {
            return Err(g.field_err(
                "slices",
                format!(
                    "slices of {s} per {} must be a multiple of the inner slices of {inner} \
                     per {}",
                    levels[l], levels[il]
                ),
            ));
        }
    }
    Ok(())
}

fn parse(text: &str, what: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::Value(format!("{what}: not JSON: {e}")))
}

/// [`cluster_from_json`] of JSON text.
///
/// # Errors
/// [`Error::Value`] when the text is not JSON, else as [`cluster_from_json`].
pub fn cluster_from_json_str(text: &str) -> Result<Cluster> {
    cluster_from_json(&parse(text, "cluster")?)
}

/// [`gang_from_json`] of JSON text.
///
/// # Errors
/// [`Error::Value`] when the text is not JSON, else as [`gang_from_json`].
pub fn gang_from_json_str(text: &str, cluster: &Cluster) -> Result<GangSpec> {
    gang_from_json(&parse(text, "gang")?, cluster)
}
