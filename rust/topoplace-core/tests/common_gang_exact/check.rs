//! Checking placements: whether a placement of a gang is valid under the constraints the
//! parent module documents ([`invalid`]), and one instance of the study judged: parsed, the
//! exact search's answer with its witness checked, and the placer's placement checked
//! ([`Case`], [`Verdict`]).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use topoplace_core::cluster::json::{cluster_from_json, gang_from_json};
use topoplace_core::cluster::model::NO_DOMAIN;
use topoplace_core::cluster::{Cluster, GangSpec, PlaceOutcome, PodPlacement};

use super::instances::{Instance, show};
use super::{Slices, aligned, exact, slices_of};

/// Domains `ds` of level `l` by name (`-` for nodes without the level's label).
fn names(c: &Cluster, l: usize, ds: &BTreeSet<u32>) -> String {
    let name = |&d: &u32| {
        usize::try_from(d)
            .ok()
            .and_then(|d| c.domain_names[l].get(d))
            .map_or("-", String::as_str)
    };
    ds.iter().map(name).collect::<Vec<_>>().join(", ")
}

/// Why `pods` is not a valid placement of `gang` on `c` (`None` when it is): every group has
/// exactly its count of ranks; cumulatively every node's free capacity, and for aligned
/// pods their NUMA node's (NUMA-local resources), covers its pods; each group inside one
/// domain of its required level, given in `domains` when that is known; every run of
/// `slice_size` consecutive ranks inside one domain of the slice level, for every layer of
/// `slices`.
pub(crate) fn invalid(
    c: &Cluster,
    gang: &GangSpec,
    slices: &Slices,
    pods: &[PodPlacement],
    domains: Option<&[Option<(usize, usize)>]>,
) -> Option<String> {
    let nn = c.nodes.len();
    let mut free: Vec<Vec<i64>> = (0..nn).map(|n| c.free_of(n).to_vec()).collect();
    let mut zones: Vec<Vec<Vec<i64>>> = (0..nn)
        .map(|n| c.numa_free_of(n).map(<[i64]>::to_vec).collect())
        .collect();
    for p in pods {
        let Some(g) = gang.groups.get(p.group) else {
            return Some(format!("pod names group #{}", p.group));
        };
        if p.node >= nn {
            return Some(format!("pod {}/{} names node #{}", g.name, p.index, p.node));
        }
        let n = p.node;
        if aligned(c, n, g) && p.numa.is_none_or(|z| z >= zones[n].len()) {
            return Some(format!(
                "pod {}/{} on {} is aligned but has NUMA node {:?}",
                g.name, p.index, c.nodes[n].name, p.numa
            ));
        }
        for (r, &want) in g.request.iter().enumerate() {
            free[n][r] -= want;
            if let Some(z) = p.numa.filter(|&z| z < zones[n].len()) {
                if c.numa_local(n, r) {
                    zones[n][z][r] -= want;
                }
            }
        }
    }
    for n in 0..nn {
        if let Some(r) = free[n].iter().position(|&f| f < 0) {
            return Some(format!(
                "node {} is over by {} of {}",
                c.nodes[n].name,
                -free[n][r],
                c.resources.name(r)
            ));
        }
        for (z, zone) in zones[n].iter().enumerate() {
            if let Some(r) = zone.iter().position(|&f| f < 0) {
                return Some(format!(
                    "node {} NUMA {z} is over by {} of {}",
                    c.nodes[n].name,
                    -zone[r],
                    c.resources.name(r)
                ));
            }
        }
    }
    for (gi, g) in gang.groups.iter().enumerate() {
        let mut mine: Vec<&PodPlacement> = pods.iter().filter(|p| p.group == gi).collect();
        mine.sort_by_key(|p| p.index);
        if !mine.iter().map(|p| p.index).eq(0..g.count) {
            return Some(format!(
                "group {}: ranks {:?}, want 0..{}",
                g.name,
                mine.iter().map(|p| p.index).collect::<Vec<_>>(),
                g.count
            ));
        }
        if let Some(l) = g.required_level {
            let ds: BTreeSet<u32> = mine.iter().map(|p| c.domain_of[l][p.node]).collect();
            let Some(&d) = ds.first().filter(|&&d| ds.len() == 1 && d != NO_DOMAIN) else {
                return Some(format!(
                    "group {}: in {} {}",
                    g.name,
                    c.levels[l],
                    names(c, l, &ds)
                ));
            };
            let said = domains.and_then(|ds| ds.get(gi).copied().flatten());
            if domains.is_some() && said != Some((l, d as usize)) {
                return Some(format!(
                    "group {}: in {} {d}, the placement says {said:?}",
                    g.name, c.levels[l]
                ));
            }
        }
        for &(s, ls) in &slices[gi] {
            for chunk in mine.chunks(s.max(1)) {
                let ds: BTreeSet<u32> = chunk.iter().map(|p| c.domain_of[ls][p.node]).collect();
                if ds.len() != 1 || ds.contains(&NO_DOMAIN) {
                    return Some(format!(
                        "group {}: the slice from rank {} is in {} {}",
                        g.name,
                        chunk[0].index,
                        c.levels[ls],
                        names(c, ls, &ds)
                    ));
                }
            }
        }
    }
    None
}

/// One instance, parsed, with the search's answer.
pub(crate) struct Case {
    pub(crate) c: Cluster,
    gang_json: Value,
    pub(crate) slices: Slices,
    pub(crate) exact: bool,
    pub(crate) search_time: Duration,
}

impl Case {
    pub(crate) fn new(inst: &Instance) -> Self {
        let c = cluster_from_json(&inst.cluster_json()).expect("cluster");
        let gang_json = inst.gang_json(None);
        let gang = gang_from_json(&gang_json, &c).expect("gang");
        let slices = slices_of(&gang_json, &c);
        let t = Instant::now();
        let witness = exact(&c, &gang, &slices);
        let search_time = t.elapsed();
        if let Some(pods) = &witness {
            if let Some(why) = invalid(&c, &gang, &slices, pods, None) {
                panic!(
                    "the exact search's witness is invalid: {why}\n{}",
                    show(inst)
                );
            }
        }
        Self {
            c,
            gang_json,
            slices,
            exact: witness.is_some(),
            search_time,
        }
    }

    /// The gang under `strategy` (`None`: the default).
    pub(crate) fn gang(&self, strategy: Option<&str>) -> GangSpec {
        let mut v = self.gang_json.clone();
        if let Some(s) = strategy {
            v["strategy"] = json!(s);
        }
        gang_from_json(&v, &self.c).expect("gang")
    }

    /// What the placer does with the gang. Panics when it finds a valid placement where the
    /// search found none (a hole in the search).
    pub(crate) fn verdict(&self, strategy: Option<&str>, inst: &Instance) -> Verdict {
        let gang = self.gang(strategy);
        match self.c.place(&gang) {
            PlaceOutcome::Placed(p) => {
                if let Some(why) = invalid(&self.c, &gang, &self.slices, &p.pods, Some(&p.domains))
                {
                    return Verdict::Invalid(why);
                }
                assert!(
                    self.exact,
                    "the placer found a valid placement the exact search missed\n{}",
                    show(inst)
                );
                Verdict::Placed
            }
            PlaceOutcome::Unschedulable(_) => Verdict::Refused,
        }
    }

    pub(crate) fn placed(&self, strategy: Option<&str>, inst: &Instance) -> bool {
        matches!(self.verdict(strategy, inst), Verdict::Placed)
    }
}

/// The placer's answer, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Placed,
    /// Placed, but the placement breaks a constraint (the reason).
    Invalid(String),
    Refused,
}
