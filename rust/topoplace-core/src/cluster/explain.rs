//! Why a group cannot be placed: the domain that came closest and what its nodes lacked.

use super::gang::GroupSpec;
use super::model::Cluster;
use super::place::Work;

fn nodes_word(n: usize) -> String {
    if n == 1 {
        "1 node".to_owned()
    } else {
        format!("{n} nodes")
    }
}

/// Why a node holds no pod of a group.
enum Cause {
    Unschedulable,
    /// A taint not tolerated, or the node selector does not match.
    Refused,
    /// The resources (by index) the node has too little of.
    Short(Vec<usize>),
    /// Enough in all, but not on one NUMA node.
    AcrossNuma,
}

/// Why node `n` holds no pod of `g` on `w`.
fn cause(c: &Cluster, w: &Work<'_>, n: usize, g: &GroupSpec) -> Cause {
    if c.nodes[n].unschedulable {
        return Cause::Unschedulable;
    }
    if !c.eligible(n, g) {
        return Cause::Refused;
    }
    let nr = c.resources.len();
    let free = &w.free[n * nr..(n + 1) * nr];
    let lacking: Vec<usize> = (0..nr)
        .filter(|&r| g.request.get(r).is_some_and(|&want| want > free[r]))
        .collect();
    if lacking.is_empty() {
        Cause::AcrossNuma
    } else {
        Cause::Short(lacking)
    }
}

/// Per node, how many pods of `g` it holds now and, when none, why (for a scheduler's
/// filter: one line per node).
pub(super) fn node_fits(c: &Cluster, w: &Work<'_>, g: &GroupSpec) -> Vec<(usize, Option<String>)> {
    (0..c.nodes.len())
        .map(|n| {
            let k = if c.eligible(n, g) {
                c.fit(w, n, g, u32::MAX as usize)
            } else {
                0
            };
            if k > 0 {
                return (k, None);
            }
            let why = match cause(c, w, n, g) {
                Cause::Unschedulable => "node is unschedulable".to_owned(),
                Cause::Refused => {
                    "a taint is not tolerated or the node selector does not match".to_owned()
                }
                Cause::AcrossNuma => "no single NUMA node has room (the node's policy needs one); \
                                      enough across NUMA nodes"
                    .to_owned(),
                Cause::Short(lacking) => {
                    let names: Vec<&str> = lacking.iter().map(|&r| c.resources.name(r)).collect();
                    format!("not enough {}", names.join(", "))
                }
            };
            (0, Some(why))
        })
        .collect()
}

/// The reasons for group `g`: the best candidate domain's capacity against the count, then
/// per cause how many of that domain's nodes hold no pod.
pub(super) fn group(
    c: &Cluster,
    w: &Work,
    g: &GroupSpec,
    fits: &[usize],
    caps: &[usize],
    domains: impl Iterator<Item = Option<usize>>,
) -> Vec<String> {
    let domains: Vec<Option<usize>> = domains.collect();
    let Some((best, &cap)) = caps
        .iter()
        .enumerate()
        .max_by_key(|&(i, &cap)| (cap, std::cmp::Reverse(i)))
    else {
        return vec![format!("group {}: the cluster has no nodes", g.name)];
    };
    let in_best = |n: usize| match (g.required_level, domains[best]) {
        (Some(l), Some(d)) => c.domain_of[l][n] as usize == d,
        _ => true,
    };
    let what = match (g.required_level, domains[best]) {
        (Some(l), Some(d)) => format!(
            "required {}: best {} {} fits {cap} of {} pods",
            c.levels[l], c.levels[l], c.domain_names[l][d], g.count
        ),
        _ => format!("the cluster fits {cap} of {} pods", g.count),
    };
    let mut line = format!("group {}: {what}", g.name);
    for &(s, l) in &g.slices {
        line.push_str(&format!(" in slices of {s} per {}", c.levels[l]));
    }
    if g.min_count < g.count {
        line.push_str(&format!(" (at least {} needed)", g.min_count));
    }
    let nr = c.resources.len();
    let (mut off, mut refused, mut numa) = (0, 0, 0);
    let mut short = vec![0usize; nr];
    for n in (0..c.nodes.len()).filter(|&n| in_best(n) && fits[n] == 0) {
        match cause(c, w, n, g) {
            Cause::Unschedulable => off += 1,
            Cause::Refused => refused += 1,
            Cause::AcrossNuma => numa += 1,
            Cause::Short(lacking) => {
                for r in lacking {
                    short[r] += 1;
                }
            }
        }
    }
    let mut parts = Vec::new();
    for (r, &k) in short.iter().enumerate() {
        if k > 0 {
            parts.push(format!(
                "{} short of {}",
                nodes_word(k),
                c.resources.name(r)
            ));
        }
    }
    if numa > 0 {
        parts.push(format!(
            "{} with room only across NUMA nodes",
            nodes_word(numa)
        ));
    }
    if refused > 0 {
        parts.push(format!("{} tainted or not selected", nodes_word(refused)));
    }
    if off > 0 {
        parts.push(format!("{} unschedulable", nodes_word(off)));
    }
    if !parts.is_empty() {
        line.push_str("; ");
        line.push_str(&parts.join(", "));
    }
    vec![line]
}
