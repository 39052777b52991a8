//! Placement strategies (tight, pack, balanced), multi-layer slices, and slices under a
//! preferred level, on small clusters whose answers are worked out by hand.

use serde_json::{Value, json};
use topoplace_core::cluster::json::{cluster_from_json, gang_from_json};
use topoplace_core::cluster::{Cluster, PlaceOutcome};

/// A node of `gpus` GPUs (8 CPUs each) with `used` of them taken, in `block`/`rack`.
fn node(name: &str, block: &str, rack: &str, gpus: u32, used: u32) -> Value {
    json!({
        "name": name,
        "labels": {"block": block, "rack": rack},
        "capacity": {"cpu": (gpus * 8).to_string(), "memory": "1Ti", "nvidia.com/gpu": gpus},
        "used": {"cpu": (used * 8).to_string(), "nvidia.com/gpu": used},
    })
}

fn cluster(nodes: Vec<Value>) -> Cluster {
    cluster_from_json(&json!({"levels": ["block", "rack"], "nodes": nodes})).expect("cluster")
}

/// `count` one-GPU pods with the group fields of `extra` and the gang's `strategy`.
fn gang(count: usize, strategy: &str, extra: &Value) -> Value {
    let mut g = json!({"name": "w", "count": count,
                       "request": {"cpu": "8", "nvidia.com/gpu": 1}});
    for (k, v) in extra.as_object().expect("object") {
        g[k] = v.clone();
    }
    json!({"name": "job", "groups": [g], "strategy": strategy})
}

fn placed(c: &Cluster, g: &Value) -> Vec<String> {
    match c.place(&gang_from_json(g, c).expect("gang")) {
        PlaceOutcome::Placed(p) => p
            .pods
            .iter()
            .map(|p| c.nodes[p.node].name.clone())
            .collect(),
        PlaceOutcome::Unschedulable(why) => panic!("unschedulable: {why:?}"),
    }
}

fn refused(c: &Cluster, g: &Value) -> Vec<String> {
    match c.place(&gang_from_json(g, c).expect("gang")) {
        PlaceOutcome::Placed(p) => panic!("placed: {p:?}"),
        PlaceOutcome::Unschedulable(why) => why,
    }
}

fn count_on(nodes: &[String], prefix: &str) -> usize {
    nodes.iter().filter(|n| n.starts_with(prefix)).count()
}

#[test]
fn pack_keeps_whole_racks_and_nodes_where_tight_breaks_them() {
    // Rack r0: one whole free node (8 GPUs). Rack r1: a node with 6 of 8 free, one full.
    let c = cluster(vec![
        node("r0-a", "b0", "r0", 8, 0),
        node("r1-a", "b0", "r1", 8, 2),
        node("r1-b", "b0", "r1", 8, 0),
    ]);
    let req = json!({"required_level": "rack"});
    // Tight: the tightest rack that holds 4 is r0 (8 < 14): a whole rack is broken.
    assert_eq!(placed(&c, &gang(4, "tight", &req)), ["r0-a"; 4]);
    // Pack: r1, on the partly used node: nothing whole is broken.
    assert_eq!(placed(&c, &gang(4, "pack", &req)), ["r1-a"; 4]);
    // Pack with 9 pods in r1: the partly used node first (6), then 3 on the whole one.
    let got = placed(&c, &gang(9, "pack", &req));
    assert_eq!(got, [vec!["r1-a"; 6], vec!["r1-b"; 3]].concat());
    // Tight for 9: the largest node first, then the tightest that holds the rest.
    let got = placed(&c, &gang(9, "tight", &req));
    assert_eq!(got, [vec!["r1-b"; 8], vec!["r1-a"; 1]].concat());
    // What is left whole: tight's 4-pod choice breaks rack r0 and node r0-a.
    let mut after = c.clone();
    let g = gang_from_json(&gang(4, "tight", &req), &c).expect("gang");
    let PlaceOutcome::Placed(p) = after.place(&g) else {
        panic!("tight did not place");
    };
    assert_eq!(c.whole_free(), (2, vec![0, 1]));
    after.commit(&g, &p).expect("commit");
    assert_eq!(after.whole_free(), (1, vec![0, 0]));
    let mut packed = c.clone();
    let g = gang_from_json(&gang(4, "pack", &req), &c).expect("gang");
    let PlaceOutcome::Placed(p) = packed.place(&g) else {
        panic!("pack did not place");
    };
    packed.commit(&g, &p).expect("commit");
    assert_eq!(packed.whole_free(), (2, vec![0, 1]));
}

#[test]
fn balanced_spreads_and_takes_the_roomiest_domain() {
    let c = cluster(vec![
        node("r0-a", "b0", "r0", 8, 0),
        node("r0-b", "b0", "r0", 8, 0),
        node("r1-a", "b0", "r1", 8, 0),
        node("r1-b", "b0", "r1", 8, 0),
        node("r1-c", "b0", "r1", 8, 4),
    ]);
    let req = json!({"required_level": "rack"});
    // Tight: r0 (16 < 20), one node.
    assert_eq!(placed(&c, &gang(6, "tight", &req)), ["r0-a"; 6]);
    // Balanced: r1 (the most room), 6 pods spread 2 + 2 + 2 over its three nodes.
    let got = placed(&c, &gang(6, "balanced", &req));
    assert_eq!(
        (
            count_on(&got, "r1-a"),
            count_on(&got, "r1-b"),
            count_on(&got, "r1-c")
        ),
        (2, 2, 2)
    );
    // 13 pods: levels up to 5 but r1-c holds 4: 5 + 4 + 4 = 13 (the surplus from the last).
    let got = placed(&c, &gang(13, "balanced", &req));
    assert_eq!(
        (
            count_on(&got, "r1-a"),
            count_on(&got, "r1-b"),
            count_on(&got, "r1-c")
        ),
        (5, 4, 4)
    );
    // Ranks stay contiguous per node.
    assert!(got.windows(2).filter(|w| w[0] != w[1]).count() == 2);
}

#[test]
fn multi_layer_slices_count_whole_slices_at_every_layer() {
    // Two blocks of two racks, one node per rack holding 3 pods: a rack holds one slice of
    // 2, a block two, so one slice of 4 per block: 8 pods fit in slices of 4/block, 2/rack.
    let mut nodes = vec![
        node("b0-r0", "b0", "r0", 3, 0),
        node("b0-r1", "b0", "r1", 3, 0),
        node("b1-r0", "b1", "r0", 3, 0),
        node("b1-r1", "b1", "r1", 3, 0),
    ];
    let layers = json!({"slices": [{"size": 4, "level": "block"}, {"size": 2, "level": "rack"}]});
    let one_layer = json!({"slice_size": 4, "slice_level": "block"});
    let c = cluster(nodes.clone());
    for strategy in ["tight", "pack", "balanced"] {
        let got = placed(&c, &gang(8, strategy, &layers));
        assert_eq!(got.len(), 8);
        for (i, pair) in got.chunks(2).enumerate() {
            assert_eq!(
                pair[0], pair[1],
                "{strategy}: slice {i} of 2 split: {got:?}"
            );
        }
        for quad in got.chunks(4) {
            assert!(
                quad.iter().all(|n| n[..2] == quad[0][..2]),
                "{strategy}: {got:?}"
            );
        }
    }
    // Without the rack layer, 3 + 3 per block holds one slice of 4, as well: also 8.
    assert_eq!(placed(&c, &gang(8, "tight", &one_layer)).len(), 8);
    // One rack of b1 holds 1 pod: b1 has one slice of 2, no slice of 4: 8 do not fit.
    nodes[3] = node("b1-r1", "b1", "r1", 1, 0);
    let c = cluster(nodes);
    assert_eq!(
        refused(&c, &gang(8, "tight", &layers)),
        ["group w: the cluster fits 4 of 8 pods in slices of 4 per block in slices of 2 per rack"]
    );
    // The single layer of 4 per block still holds 4 + 4 = 8 (b1: 3 + 1).
    assert_eq!(placed(&c, &gang(8, "tight", &one_layer)).len(), 8);
}

#[test]
fn slices_under_a_preferred_level_use_the_fewest_domains() {
    // Block b0: rack r0 holds 5 (in slices of 2: 4), r1 holds 3 (2); block b1: r2 holds 8.
    let c = cluster(vec![
        node("b0-r0", "b0", "r0", 5, 0),
        node("b0-r1", "b0", "r1", 3, 0),
        node("b1-r2-a", "b1", "r2", 4, 0),
        node("b1-r2-b", "b1", "r2", 4, 0),
    ]);
    // 8 pods in slices of 2 per rack, preferring the fewest blocks: b1 alone (b0 holds 6).
    let extra = json!({"preferred_level": "block", "slice_size": 2, "slice_level": "rack"});
    let got = placed(&c, &gang(8, "tight", &extra));
    assert_eq!(count_on(&got, "b1-"), 8);
    // 12 pods: b1 (8), then b0 gives 4 in whole slices of 2 per rack: r0, the tightest
    // rack that holds 4, gives 4 of its 5.
    let got = placed(&c, &gang(12, "tight", &extra));
    assert_eq!(count_on(&got, "b1-"), 8);
    assert_eq!(count_on(&got, "b0-r0"), 4);
    // 14 pods fit (8 + 4 + 2); 16 do not, though the nodes hold 17 pods in all.
    assert_eq!(placed(&c, &gang(14, "tight", &extra)).len(), 14);
    let why = refused(&c, &gang(16, "tight", &extra));
    assert_eq!(
        why,
        ["group w: the cluster fits 14 of 16 pods in slices of 2 per rack"]
    );
}

#[test]
fn bad_strategies_and_slices_are_named() {
    let c = cluster(vec![node("n", "b0", "r0", 8, 0)]);
    let err = |g: &Value| gang_from_json(g, &c).expect_err("must fail").to_string();
    assert!(err(&gang(4, "greedy", &json!({}))).contains("unknown strategy \"greedy\""));
    let bad = json!({"slices": [{"size": 2, "level": "block"}, {"size": 4, "level": "rack"}]});
    let e = err(&gang(8, "tight", &bad));
    assert!(
        e.contains("slices of 2 per block must be a multiple of the inner slices of 4 per rack"),
        "{e}"
    );
    let e = err(&gang(
        6,
        "tight",
        &json!({"slices": [{"size": 4, "level": "rack"}]}),
    ));
    assert!(e.contains("slice size 4 must divide the count 6"), "{e}");
    let e = err(&gang(4, "tight", &json!({"slices": [{"size": 2}]})));
    assert!(e.contains("level"), "{e}");
}
