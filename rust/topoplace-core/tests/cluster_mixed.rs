//! Gang placement against an exact search (`common_gang_exact`) on random small instances
//! (drawn by `common_gang_exact::instances`): 2-12 nodes under two label levels (block, rack;
//! uneven trees included), 0-2 NUMA nodes each with random capacity and use, and gangs of 1-3
//! groups with 1-16 pods in all, required and preferred levels, NUMA alignment and sometimes
//! slices.
//!
//! - `placement_against_exact_search`, the study: every placement must be valid, a single
//!   group must be placed exactly when the search finds a placement, and for mixed groups the
//!   agreement is measured and kept above a floor. The table and the first disagreements,
//!   shrunk, are printed (`--nocapture`).
//! - `exact_search_on_hand_cases` and `exact_search_matches_enumeration`: the search itself,
//!   on worked cases and against plain enumeration on tiny instances.
//! - `counterexample_census` (ignored, slow): every disagreement of the study shrunk and
//!   classified.

mod common_gang_exact;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common_gang_exact::check::{Case, Verdict};
use common_gang_exact::instances::{Features, Instance, Rng, show, shrink, small_cluster};
use common_gang_exact::{MAX_GROUPS, enumerate, exact, invalid, slices_of};
use serde_json::{Value, json};
use topoplace_core::cluster::json::gang_from_json;
use topoplace_core::cluster::{Cluster, PlaceOutcome};

/// Whether `inst` is a counterexample: feasible, yet the placer says no.
fn missed(inst: &Instance, strategy: Option<&str>) -> bool {
    let case = Case::new(inst);
    case.exact && case.verdict(strategy, inst) == Verdict::Refused
}

/// Whether the placer's placement of `inst` is invalid.
fn unsound(inst: &Instance, strategy: Option<&str>) -> bool {
    matches!(Case::new(inst).verdict(strategy, inst), Verdict::Invalid(_))
}

/// The first other order of the groups that the placer places, if any.
fn reorder(inst: &Instance, strategy: Option<&str>) -> Option<Vec<usize>> {
    let perms: &[&[usize]] = match inst.groups.len() {
        2 => &[&[1, 0]],
        3 => &[&[0, 2, 1], &[1, 0, 2], &[1, 2, 0], &[2, 0, 1], &[2, 1, 0]],
        _ => &[],
    };
    perms.iter().map(|p| p.to_vec()).find(|p| {
        let mut x = inst.clone();
        x.groups = p.iter().map(|&i| inst.groups[i].clone()).collect();
        Case::new(&x).placed(strategy, &x)
    })
}

/// The placer's refusal of `inst` and whether another group order is placed.
fn diagnose(inst: &Instance, strategy: Option<&str>) -> String {
    let case = Case::new(inst);
    let why = match case.c.place(&case.gang(strategy)) {
        PlaceOutcome::Unschedulable(w) => w.join("; "),
        PlaceOutcome::Placed(_) => "placed".to_owned(),
    };
    let order = reorder(inst, strategy).map_or("no other group order is placed".to_owned(), |p| {
        format!("group order {p:?} is placed")
    });
    format!("placer: \"{why}\"; {order}")
}

/// Counts of one strategy.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    single: usize,
    single_agree: usize,
    mixed: usize,
    mixed_agree: usize,
    /// Mixed gangs the search places, and of those, the ones the placer places.
    mixed_feasible: usize,
    mixed_found: usize,
    /// Placements returned, and the invalid ones among them.
    placed: usize,
    invalid: usize,
    /// Mixed gangs refused though feasible, that another group order gets placed.
    reorder_fixes: usize,
}

fn pct(part: usize, of: usize) -> f64 {
    #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let r = 100.0 * part as f64 / of.max(1) as f64;
    r
}

/// Instances in the study, and the generator's seed.
const INSTANCES: usize = 4000;
const SEED: u64 = 0x5eed_0f9a_7600_0001;

/// Regression floors for the default strategy (percent), a little under the measured rates.
/// Measured on this seed: with one greedy pass per group in the given order (commit
/// 621d9b6) mixed agreement was 96.68 % and feasible mixed gangs placed 91.51 %; with other
/// group orders tried when the given one fails, 99.96 % and 99.87 % (one feasible gang of
/// 744 refused: no order works, it needs a joint search). `pack` measured 100 % and 100 %,
/// `balanced` 99.79 % and 99.33 %.
const MIXED_AGREEMENT_FLOOR: f64 = 99.8;
const MIXED_FOUND_FLOOR: f64 = 99.5;

/// Counterexamples kept per kind, and invalid placements kept per strategy.
const KEEP: usize = 3;

#[expect(
    clippy::print_stderr,
    reason = "the study's table and counterexamples are its output"
)]
fn report(text: &str) {
    eprintln!("{text}");
}

/// What the study found, beyond the counts.
#[derive(Default)]
struct Found<'a> {
    /// Feasible mixed gangs refused by the default strategy: another order is placed / not.
    order: Vec<Instance>,
    stuck: Vec<Instance>,
    /// Single groups refused though feasible, and invalid placements, with the strategy.
    single: Vec<(Option<&'a str>, Instance)>,
    invalid: Vec<(Option<&'a str>, Instance)>,
}

/// The table, then each kept instance shrunk.
fn write_report(
    strategies: &[Option<&str>],
    tallies: &[Tally],
    found: &Found<'_>,
    f: Features,
) -> String {
    let mut out = String::new();
    let t0 = tallies[0];
    let _ = writeln!(
        out,
        "cluster_mixed: {INSTANCES} instances (seed {SEED:#x}): {} single-group, {} mixed \
         ({} feasible); layered slices {}, strategies {}",
        t0.single, t0.mixed, t0.mixed_feasible, f.layers, f.strategies
    );
    let _ = writeln!(
        out,
        "  strategy   single agree       mixed agree        feasible mixed placed  \
         placements  invalid  reorder fixes"
    );
    for (s, t) in strategies.iter().zip(tallies) {
        let _ = writeln!(
            out,
            "  {:<9} {:>5}/{:<5} {:>6.2}%  {:>5}/{:<5} {:>6.2}%  {:>5}/{:<5} {:>6.2}%  {:>10}  \
             {:>7}  {:>13}",
            s.unwrap_or("default"),
            t.single_agree,
            t.single,
            pct(t.single_agree, t.single),
            t.mixed_agree,
            t.mixed,
            pct(t.mixed_agree, t.mixed),
            t.mixed_found,
            t.mixed_feasible,
            pct(t.mixed_found, t.mixed_feasible),
            t.placed,
            t.invalid,
            t.reorder_fixes
        );
    }
    let kinds = [
        (
            "feasible, refused; another group order is placed",
            &found.order,
        ),
        ("feasible, refused in every group order", &found.stuck),
    ];
    for (what, list) in kinds {
        for inst in list.iter() {
            let order = reorder(inst, None).is_some();
            let small = shrink(inst.clone(), &|x| {
                missed(x, None) && reorder(x, None).is_some() == order
            });
            let _ = writeln!(
                out,
                "  {what} (shrunk from {} nodes, {} pods): {}\n    {}",
                inst.nodes.len(),
                inst.groups.iter().map(|g| g.count).sum::<usize>(),
                diagnose(&small, None),
                show(&small)
            );
        }
    }
    for (s, inst) in &found.single {
        let small = shrink(inst.clone(), &|x| missed(x, *s));
        let _ = writeln!(
            out,
            "  SINGLE GROUP REFUSED THOUGH FEASIBLE ({}): {}",
            s.unwrap_or("default"),
            show(&small)
        );
    }
    for (s, inst) in &found.invalid {
        let small = shrink(inst.clone(), &|x| unsound(x, *s));
        let why = match Case::new(&small).verdict(*s, &small) {
            Verdict::Invalid(why) => why,
            v => format!("{v:?}"),
        };
        let _ = writeln!(
            out,
            "  INVALID PLACEMENT ({}): {why}\n    {}",
            s.unwrap_or("default"),
            show(&small)
        );
    }
    out
}

/// The study: every placement valid, single groups exact, mixed groups measured.
#[test]
fn placement_against_exact_search() {
    let start = Instant::now();
    let f = Features::probe();
    let strategies: Vec<Option<&str>> = if f.strategies {
        vec![None, Some("pack"), Some("balanced")]
    } else {
        vec![None]
    };
    let mut tallies = vec![Tally::default(); strategies.len()];
    let mut found = Found::default();
    let mut rng = Rng(SEED);
    let mut search = Duration::ZERO;
    for _ in 0..INSTANCES {
        let inst = Instance::random(&mut rng, f, 12, 16);
        assert!(inst.groups.len() <= MAX_GROUPS);
        let case = Case::new(&inst);
        search += case.search_time;
        let single = inst.groups.len() == 1;
        for (si, &s) in strategies.iter().enumerate() {
            let verdict = case.verdict(s, &inst);
            let t = &mut tallies[si];
            let placed = verdict != Verdict::Refused;
            t.placed += usize::from(placed);
            if let Verdict::Invalid(_) = verdict {
                t.invalid += 1;
                if found.invalid.iter().filter(|b| b.0 == s).count() < KEEP {
                    found.invalid.push((s, inst.clone()));
                }
            }
            // An invalid placement agrees with nothing.
            let agree = usize::from(
                verdict == Verdict::Placed && case.exact
                    || verdict == Verdict::Refused && !case.exact,
            );
            let missed = case.exact && verdict == Verdict::Refused;
            if single {
                t.single += 1;
                t.single_agree += agree;
                if missed && found.single.len() < KEEP {
                    found.single.push((s, inst.clone()));
                }
                continue;
            }
            t.mixed += 1;
            t.mixed_agree += agree;
            t.mixed_feasible += usize::from(case.exact);
            t.mixed_found += usize::from(case.exact && placed);
            if missed {
                let fixed = reorder(&inst, s).is_some();
                t.reorder_fixes += usize::from(fixed);
                let list = if fixed {
                    &mut found.order
                } else {
                    &mut found.stuck
                };
                if si == 0 && list.len() < KEEP {
                    list.push(inst.clone());
                }
            }
        }
    }
    let study = start.elapsed();
    let mut out = write_report(&strategies, &tallies, &found, f);
    let _ = writeln!(
        out,
        "  time: {study:.2?} for the study ({search:.2?} of it in the exact search itself), \
         {:.2?} in all",
        start.elapsed()
    );
    report(&out);
    for (s, t) in strategies.iter().zip(&tallies) {
        let s = s.unwrap_or("default");
        assert_eq!(
            t.invalid, 0,
            "every placement must be valid ({s}; see the report)"
        );
        assert_eq!(
            t.single_agree, t.single,
            "single-group feasibility must be exact ({s}; see the report)"
        );
    }
    let t0 = tallies[0];
    let agreement = pct(t0.mixed_agree, t0.mixed);
    assert!(
        agreement >= MIXED_AGREEMENT_FLOOR,
        "mixed-group agreement fell to {agreement:.2}% (floor {MIXED_AGREEMENT_FLOOR}%)"
    );
    let found_rate = pct(t0.mixed_found, t0.mixed_feasible);
    assert!(
        found_rate >= MIXED_FOUND_FLOOR,
        "feasible mixed gangs placed fell to {found_rate:.2}% (floor {MIXED_FOUND_FLOOR}%)"
    );
}

/// The search's answer on `gang`, its witness checked, and the placer's placement (if any)
/// checked; returns (search, placer).
fn both(c: &Cluster, gang: &Value) -> (bool, bool) {
    let g = gang_from_json(gang, c).expect("gang");
    let slices = slices_of(gang, c);
    let witness = exact(c, &g, &slices);
    if let Some(pods) = &witness {
        assert_eq!(invalid(c, &g, &slices, pods, None), None, "witness");
    }
    let placed = match c.place(&g) {
        PlaceOutcome::Placed(p) => {
            assert_eq!(
                invalid(c, &g, &slices, &p.pods, Some(&p.domains)),
                None,
                "placement"
            );
            true
        }
        PlaceOutcome::Unschedulable(_) => false,
    };
    (witness.is_some(), placed)
}

/// The search on cases worked by hand.
#[test]
fn exact_search_on_hand_cases() {
    let rack = |b: &str, r: &str| json!({"block": b, "rack": r});
    // Two nodes of 3 CPUs; memory 6 on each. Two one-CPU pods and four (1 CPU, 3 memory)
    // pods fit only one and two per node; placing the first group on one node (best fit)
    // leaves room for only one of the second group there.
    let c = small_cluster(&[
        ("a", rack("b0", "r0"), &[(3, 6, 0)], false),
        ("b", rack("b0", "r0"), &[(3, 6, 0)], false),
    ]);
    let gang = json!({"groups": [
        {"name": "small", "count": 2, "request": {"cpu": 1}},
        {"name": "wide", "count": 4, "request": {"cpu": 1, "memory": 3}}]});
    assert!(both(&c, &gang).0);
    // Slices of 2 per rack on racks that hold 3 pods each: 2 + 2 < 6.
    let c = small_cluster(&[
        ("a", rack("b0", "r0"), &[(3, 0, 0)], false),
        ("b", rack("b0", "r1"), &[(3, 0, 0)], false),
    ]);
    let sliced = json!({"groups": [{"count": 6, "request": {"cpu": 1},
                                    "slice_size": 2, "slice_level": "rack"}]});
    assert_eq!(both(&c, &sliced), (false, false));
    let plain = json!({"groups": [{"count": 6, "request": {"cpu": 1}}]});
    assert_eq!(both(&c, &plain), (true, true));
    // Two NUMA nodes of 4 CPUs: 3-CPU pods fit one per NUMA node, and 8 / 3 = 2 per node
    // without alignment.
    let c = small_cluster(&[("a", rack("b0", "r0"), &[(4, 0, 0), (4, 0, 0)], true)]);
    let pods = |count: usize, aligned: Option<bool>| {
        let mut g = json!({"count": count, "request": {"cpu": 3}});
        if let Some(a) = aligned {
            g["numa_aligned"] = json!(a);
        }
        json!({"groups": [g]})
    };
    assert_eq!(both(&c, &pods(2, None)), (true, true));
    assert_eq!(both(&c, &pods(3, None)), (false, false));
    assert_eq!(both(&c, &pods(3, Some(false))), (false, false));
    // A 3-CPU pod and a 1-CPU pod share each NUMA node.
    let gang = json!({"groups": [
        {"count": 2, "request": {"cpu": 3}},
        {"count": 2, "request": {"cpu": 1}}]});
    assert!(both(&c, &gang).0);
    // Each group needs a rack of its own; one rack holds either, not both.
    let c = small_cluster(&[
        ("a", rack("b0", "r0"), &[(4, 0, 0)], false),
        ("b", rack("b0", "r1"), &[(4, 0, 0)], false),
    ]);
    let gang = json!({"groups": [
        {"count": 2, "request": {"cpu": 2}, "required_level": "rack"},
        {"count": 4, "request": {"cpu": 1}, "required_level": "rack"}]});
    assert!(both(&c, &gang).0);
    let gang = json!({"groups": [
        {"count": 3, "request": {"cpu": 2}, "required_level": "rack"},
        {"count": 1, "request": {"cpu": 1}, "required_level": "rack"}]});
    assert_eq!(both(&c, &gang), (false, false));
    // Uneven tree: a rack outside every block holds no pod of a block-sliced group.
    let c = small_cluster(&[
        ("a", json!({"rack": "r0"}), &[(8, 0, 0)], false),
        ("b", rack("b0", "r0"), &[(1, 0, 0)], false),
    ]);
    let sliced = json!({"groups": [{"count": 2, "request": {"cpu": 1},
                                    "slice_size": 2, "slice_level": "block"}]});
    assert!(!both(&c, &sliced).0);
}

/// Every feasible mixed gang the default strategy refuses, shrunk and classified by what is
/// left in it (a census for whoever improves `place.rs`; run with `--ignored --nocapture`).
#[test]
#[ignore = "slow: shrinks every counterexample of the study"]
fn counterexample_census() {
    let f = Features::probe();
    let mut rng = Rng(SEED);
    let mut census: std::collections::BTreeMap<String, (usize, String)> = Default::default();
    for _ in 0..INSTANCES {
        let inst = Instance::random(&mut rng, f, 12, 16);
        if inst.groups.len() < 2 || !missed(&inst, None) {
            continue;
        }
        let order = reorder(&inst, None).is_some();
        let small = shrink(inst, &|x| {
            missed(x, None) && reorder(x, None).is_some() == order
        });
        let g = &small.groups;
        let mut kind = vec![if order {
            "reorder fixes"
        } else {
            "no order fixes"
        }];
        kind.push(if g.len() == 3 { "3 groups" } else { "2 groups" });
        if g.iter().any(|g| g.required.is_some()) {
            kind.push("required level");
        }
        if g.iter().any(|g| !g.slices.is_empty()) {
            kind.push("slices");
        }
        if small
            .nodes
            .iter()
            .any(|n| n.single_numa && n.zones.len() > 1)
            || g.iter().any(|g| g.aligned == Some(true))
        {
            kind.push("NUMA alignment");
        }
        if g.iter().any(|g| g.req[2] > 0) {
            kind.push("GPUs");
        }
        if g.iter().any(|g| g.req[1] > 0) {
            kind.push("memory");
        }
        let e = census.entry(kind.join(", ")).or_insert((0, show(&small)));
        e.0 += 1;
    }
    let mut out = String::new();
    for (kind, (n, example)) in &census {
        let _ = writeln!(out, "{n:>4}  {kind}\n      {example}");
    }
    report(&out);
}

/// The search against plain enumeration on tiny instances (up to 4 nodes and 6 pods), where
/// enumeration is affordable: the same answer on every one.
#[test]
fn exact_search_matches_enumeration() {
    let f = Features::probe();
    let mut rng = Rng(SEED ^ 0x7e57);
    let (mut feasible, mut cases) = (0, 0);
    for _ in 0..TINY {
        let inst = Instance::random(&mut rng, f, 4, 6);
        let case = Case::new(&inst);
        let gang = case.gang(None);
        let enumerated = enumerate(&case.c, &gang, &case.slices);
        assert_eq!(case.exact, enumerated, "{}", show(&inst));
        cases += 1;
        feasible += usize::from(enumerated);
    }
    assert!(
        feasible > cases / 5 && feasible < cases * 4 / 5,
        "{feasible} of {cases}"
    );
}

/// Tiny instances checked by enumeration.
const TINY: usize = 600;
