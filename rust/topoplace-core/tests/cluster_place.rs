//! Gang placement on small clusters: the answers, the explanations, commit/release
//! bookkeeping, and exactness against a brute-force search on random small instances
//! (single group of identical pods: feasible exactly when some assignment exists).

use proptest::prelude::*;
use serde_json::{Value, json};
use topoplace_core::cluster::json::{cluster_from_json, gang_from_json};
use topoplace_core::cluster::{Cluster, PlaceOutcome};

/// `blocks` x `racks` x `hosts` nodes of 2 NUMA nodes x (48 CPUs, 256Gi, 4 GPUs).
fn cluster(blocks: usize, racks: usize, hosts: usize) -> Value {
    let mut nodes = Vec::new();
    for b in 0..blocks {
        for r in 0..racks {
            for h in 0..hosts {
                let zone = json!({"cpu": "48", "memory": "256Gi", "nvidia.com/gpu": 4});
                nodes.push(json!({
                    "name": format!("b{b}-r{r}-h{h}"),
                    "labels": {"block": format!("b{b}"), "rack": format!("r{r}")},
                    "capacity": {"cpu": "96", "memory": "512Gi", "nvidia.com/gpu": 8},
                    "numa": [zone, zone],
                    "topology_policy": "single-numa-node",
                }));
            }
        }
    }
    json!({"levels": ["block", "rack"], "nodes": nodes})
}

fn gang(count: usize, gpus: u32, extra: &Value) -> Value {
    let mut g = json!({"name": "workers", "count": count,
                       "request": {"cpu": "12", "memory": "96Gi", "nvidia.com/gpu": gpus}});
    for (k, v) in extra.as_object().expect("object") {
        g[k] = v.clone();
    }
    json!({"name": "train", "groups": [g]})
}

fn place(c: &Cluster, g: &Value) -> PlaceOutcome {
    c.place(&gang_from_json(g, c).expect("gang"))
}

fn nodes_of(o: &PlaceOutcome, c: &Cluster) -> Vec<String> {
    let PlaceOutcome::Placed(p) = o else {
        panic!("not placed: {o:?}");
    };
    p.pods
        .iter()
        .map(|p| c.nodes[p.node].name.clone())
        .collect()
}

#[test]
fn required_rack_preferred_fewest_nodes() {
    let c = cluster_from_json(&cluster(2, 2, 4)).expect("cluster");
    // 8 one-GPU pods of 96Gi: a NUMA node (256Gi) holds 2, a node 4: the fewest nodes.
    let o = place(&c, &gang(8, 1, &json!({"required_level": "rack"})));
    let want = [["b0-r0-h0"; 4], ["b0-r0-h1"; 4]].concat();
    assert_eq!(nodes_of(&o, &c), want);
    // 40 four-GPU pods: 2 per node, 8 per rack, 16 per block: no block holds 40.
    let o = place(&c, &gang(40, 4, &json!({"required_level": "block"})));
    let PlaceOutcome::Unschedulable(why) = o else {
        panic!("placed {o:?}");
    };
    assert_eq!(
        why,
        ["group workers: required block: best block b0 fits 16 of 40 pods"]
    );
    // 12 of them in one block: two racks, the first whole, the second partly.
    let o = place(
        &c,
        &gang(
            12,
            4,
            &json!({"required_level": "block", "preferred_level": "rack"}),
        ),
    );
    let got = nodes_of(&o, &c);
    assert_eq!(got.iter().filter(|n| n.starts_with("b0-r0")).count(), 8);
    assert_eq!(got.iter().filter(|n| n.starts_with("b0-r1")).count(), 4);
}

#[test]
fn numa_alignment_is_per_pod() {
    let c = cluster_from_json(&cluster(1, 1, 2)).expect("cluster");
    // 8 GPUs on one NUMA node: no NUMA node has more than 4.
    let o = place(&c, &gang(1, 8, &json!({})));
    let PlaceOutcome::Unschedulable(why) = o else {
        panic!("placed {o:?}");
    };
    assert_eq!(
        why,
        ["group workers: the cluster fits 0 of 1 pods; 2 nodes with room only across NUMA nodes"]
    );
    let o = place(&c, &gang(2, 8, &json!({"numa_aligned": false})));
    assert_eq!(nodes_of(&o, &c), ["b0-r0-h0", "b0-r0-h1"]);
    // Four 4-GPU pods: two per node, one on each NUMA node.
    let PlaceOutcome::Placed(p) = place(&c, &gang(4, 4, &json!({}))) else {
        panic!("not placed");
    };
    let numa: Vec<Option<usize>> = p.pods.iter().map(|p| p.numa).collect();
    assert_eq!(numa, [Some(0), Some(1), Some(0), Some(1)]);
}

#[test]
fn slices_min_count_taints_and_errors() {
    let mut spec = cluster(1, 3, 2);
    // Rack r2 is tainted; r0 has one GPU-less node.
    for n in spec["nodes"].as_array_mut().expect("nodes") {
        let name = n["name"].as_str().unwrap_or("").to_owned();
        if name.starts_with("b0-r2") {
            n["taints"] = json!([{"key": "maintenance", "effect": "NoSchedule"}]);
        }
        if name == "b0-r0-h1" {
            n["used"] = json!({"nvidia.com/gpu": 8});
            n["numa_used"] = json!([{"nvidia.com/gpu": 4}, {"nvidia.com/gpu": 4}]);
        }
    }
    let c = cluster_from_json(&spec).expect("cluster");
    // Slices of 4 two-GPU pods per rack: r0 holds 1 slice, r1 2 slices, r2 (tainted) none.
    let o = place(
        &c,
        &gang(16, 2, &json!({"slice_size": 4, "slice_level": "rack"})),
    );
    let PlaceOutcome::Unschedulable(why) = o else {
        panic!("placed {o:?}");
    };
    assert_eq!(
        why,
        [
            "group workers: the cluster fits 12 of 16 pods in slices of 4 per rack; \
          1 node short of nvidia.com/gpu, 2 nodes tainted or not selected"
        ]
    );
    // Tolerating the taint makes r2 usable.
    let tol = json!({"slice_size": 4, "slice_level": "rack",
                     "tolerations": [{"key": "maintenance", "operator": "Exists"}]});
    let got = nodes_of(&place(&c, &gang(16, 2, &tol)), &c);
    assert_eq!(got.len(), 16);
    for chunk in got.chunks(4) {
        let rack = &chunk[0][..5];
        assert!(chunk.iter().all(|n| n.starts_with(rack)), "{chunk:?}");
    }
    // min_count: 20 four-GPU pods wanted in one rack; r1 holds 4, and 4 are enough.
    let o = place(
        &c,
        &gang(20, 4, &json!({"required_level": "rack", "min_count": 4})),
    );
    assert_eq!(
        nodes_of(&o, &c),
        ["b0-r1-h0", "b0-r1-h0", "b0-r1-h1", "b0-r1-h1"]
    );
    let o = place(
        &c,
        &gang(20, 4, &json!({"required_level": "rack", "min_count": 5})),
    );
    assert!(matches!(o, PlaceOutcome::Unschedulable(_)));
    // Bad input names the field.
    let bad = gang_from_json(&gang(4, 1, &json!({"required_level": "row"})), &c).unwrap_err();
    assert_eq!(
        bad.to_string(),
        "gang train: groups[0].required_level: the cluster has no level \"row\" (levels: block, rack)"
    );
    let bad = cluster_from_json(
        &json!({"levels": [], "nodes": [{"name": "a", "capacity": {"cpu": "x"}}]}),
    )
    .unwrap_err();
    assert!(
        bad.to_string()
            .starts_with("cluster: nodes[0].capacity[cpu]:"),
        "{bad}"
    );
}

#[test]
fn commit_and_release_keep_every_aggregate() {
    let mut c = cluster_from_json(&cluster(2, 2, 2)).expect("cluster");
    let before: Vec<i64> = (0..c.domain_names[1].len())
        .map(|d| c.domain_free(1, d, 2))
        .collect();
    let g = gang_from_json(&gang(6, 2, &json!({"required_level": "block"})), &c).expect("gang");
    let PlaceOutcome::Placed(p) = c.place(&g) else {
        panic!("not placed");
    };
    c.commit(&g, &p).expect("fits");
    let racks: Vec<i64> = (0..c.domain_names[1].len())
        .map(|d| c.domain_free(1, d, 2))
        .collect();
    assert_eq!(racks.iter().sum::<i64>(), before.iter().sum::<i64>() - 12);
    for l in 0..2 {
        for d in 0..c.domain_names[l].len() {
            let sum: i64 = (0..c.nodes.len())
                .filter(|&n| c.domain_of[l][n] as usize == d)
                .map(|n| c.free(n, 2))
                .sum();
            assert_eq!(c.domain_free(l, d, 2), sum);
        }
    }
    // The next gang sees what is left.
    let PlaceOutcome::Placed(q) = c.place(&g) else {
        panic!("not placed");
    };
    assert_ne!(p.pods, q.pods);
    // A placement computed before a commit that took its room is refused, whole.
    let mut d = c.clone();
    d.commit(&g, &q).expect("fits");
    let err = d.commit(&g, &q).unwrap_err().to_string();
    assert!(err.contains("the placement no longer fits"), "{err}");
    c.release(&g, &p);
    let after: Vec<i64> = (0..c.domain_names[1].len())
        .map(|d| c.domain_free(1, d, 2))
        .collect();
    assert_eq!(after, before);
}

/// Whether `count` identical pods (cpu, gpu) fit on `nodes` (per NUMA node (cpu, gpu) free)
/// by trying every distribution over the NUMA nodes.
fn brute(slots: &[(i64, i64)], want: (i64, i64), count: usize) -> bool {
    fn go(slots: &[(i64, i64)], want: (i64, i64), left: usize) -> bool {
        let Some((&(cpu, gpu), rest)) = slots.split_first() else {
            return left == 0;
        };
        let mut k = 0usize;
        loop {
            if go(rest, want, left - k) {
                return true;
            }
            k += 1;
            if k > left || cpu < want.0 * k as i64 || gpu < want.1 * k as i64 {
                return false;
            }
        }
    }
    go(slots, want, count)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Single group, required rack: placed exactly when some rack's NUMA nodes can hold
    /// every pod (brute force over distributions).
    #[test]
    fn feasibility_is_exact(
        nodes in prop::collection::vec((0usize..3, prop::collection::vec((0i64..9, 0i64..5), 1..3)), 1..7),
        count in 1usize..7,
        cpu in 1i64..5,
        gpu in 0i64..3,
        required in prop::bool::ANY,
    ) {
        let spec: Vec<Value> = nodes.iter().enumerate().map(|(i, (rack, zones))| {
            let numa: Vec<Value> = zones.iter().map(|&(c, g)| json!({"cpu": c, "nvidia.com/gpu": g})).collect();
            let (tc, tg) = zones.iter().fold((0, 0), |a, &(c, g)| (a.0 + c, a.1 + g));
            json!({"name": format!("n{i}"), "labels": {"rack": format!("r{rack}")},
                   "capacity": {"cpu": tc, "nvidia.com/gpu": tg}, "numa": numa,
                   "topology_policy": "single-numa-node"})
        }).collect();
        let c = cluster_from_json(&json!({"levels": ["rack"], "nodes": spec})).expect("cluster");
        let mut g = json!({"name": "g", "count": count, "request": {"cpu": cpu, "nvidia.com/gpu": gpu}});
        if required {
            g["required_level"] = json!("rack");
        }
        let got = matches!(c.place(&gang_from_json(&json!({"groups": [g]}), &c).expect("gang")), PlaceOutcome::Placed(_));
        let domains: Vec<Vec<usize>> = if required {
            (0..3).map(|r| (0..nodes.len()).filter(|&i| nodes[i].0 == r).collect()).collect()
        } else {
            vec![(0..nodes.len()).collect()]
        };
        let want = domains.iter().any(|d| {
            let slots: Vec<(i64, i64)> = d.iter().flat_map(|&i| nodes[i].1.clone()).collect();
            brute(&slots, (cpu, gpu), count)
        });
        prop_assert_eq!(got, want);
    }
}
