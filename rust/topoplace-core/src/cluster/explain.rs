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
        if c.nodes[n].unschedulable {
            off += 1;
        } else if !c.eligible(n, g) {
            refused += 1;
        } else {
            let free = &w.free[n * nr..(n + 1) * nr];
            let lacking: Vec<usize> = (0..nr)
                .filter(|&r| g.request.get(r).is_some_and(|&want| want > free[r]))
                .collect();
            if lacking.is_empty() {
                numa += 1;
            }
            for r in lacking {
                short[r] += 1;
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
