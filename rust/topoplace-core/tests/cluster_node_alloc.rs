//! Nodes that carry a Topology: each pod's CPUs and GPUs come from the node's allocator, the
//! placement never promises what that allocator refuses, and commit/release hold and give
//! back exactly the grants shown.

use std::sync::Arc;

use serde_json::json;
use topoplace_core::CpuSet;
use topoplace_core::cluster::json::{cluster_from_json, gang_from_json};
use topoplace_core::cluster::{Cluster, IN_USE_OWNER, PlaceOutcome, Placement};
use topoplace_core::node::allocator::NodeAllocator;
use topoplace_core::synthetic::builtin;

/// `n` DGX H100 nodes (224 CPUs, 2 NUMA nodes of 112 CPUs, 1 TiB and 4 GPUs each) in one
/// rack, with the allocator of the machine attached (`reserved` CPUs never given).
fn dgx_cluster(n: usize, policy: &str, reserved: &CpuSet, used_gpus: u32) -> Cluster {
    let topo = Arc::new(builtin("dgx-h100").expect("builtin"));
    let zone = json!({"cpu": "112", "memory": "1Ti", "nvidia.com/gpu": 4});
    let nodes: Vec<_> = (0..n)
        .map(|i| {
            json!({
                "name": format!("n{i}"),
                "labels": {"rack": "r0"},
                "capacity": {"cpu": "224", "memory": "2Ti", "nvidia.com/gpu": 8},
                "used": {"nvidia.com/gpu": if i == 0 { used_gpus } else { 0 }},
                "numa": [zone, zone],
                "topology_policy": policy,
            })
        })
        .collect();
    let mut c = cluster_from_json(&json!({"levels": ["rack"], "nodes": nodes})).expect("cluster");
    let alloc = NodeAllocator::new(topo, reserved.clone(), Vec::new()).expect("allocator");
    for i in 0..n {
        c.attach_allocator(i, alloc.clone()).expect("attach");
    }
    c
}

fn place(c: &Cluster, count: usize, cpu: &str, gpus: u32) -> (Placement, Vec<usize>) {
    let g = json!({"name": "job", "groups": [{"name": "w", "count": count,
        "request": {"cpu": cpu, "memory": "16Gi", "nvidia.com/gpu": gpus}}]});
    let gang = gang_from_json(&g, c).expect("gang");
    match c.place(&gang) {
        PlaceOutcome::Placed(p) => {
            let nodes = p.pods.iter().map(|x| x.node).collect();
            (p, nodes)
        }
        PlaceOutcome::Unschedulable(why) => panic!("unschedulable: {why:?}"),
    }
}

#[test]
fn every_pod_gets_cpus_and_gpus_on_its_numa_node() {
    let c = dgx_cluster(2, "single-numa-node", &CpuSet::new(), 0);
    let (p, nodes) = place(&c, 8, "24", 2);
    assert_eq!(nodes, [0, 0, 0, 0, 1, 1, 1, 1]);
    assert_eq!(p.grants.len(), 8);
    let topo = c.allocator(0).expect("allocator").topology().clone();
    let mut seen = CpuSet::new();
    for (pod, grant) in p.pods.iter().zip(&p.grants).take(4) {
        let grant = grant.as_ref().expect("grant");
        assert_eq!(grant.cpus.len(), 24);
        assert_eq!(grant.gpus.len(), 2);
        // The CPUs, the GPUs and the pod's NUMA node agree.
        let numa = pod.numa.expect("aligned");
        for cpu in grant.cpus.iter() {
            assert_eq!(
                topo.numa_of_cpu(cpu),
                Some(u32::try_from(numa).expect("small"))
            );
        }
        assert!(
            grant.cpus.intersection(&seen).is_empty(),
            "a CPU given twice"
        );
        seen.union_with(&grant.cpus);
    }
}

#[test]
fn a_refusal_by_the_allocator_moves_pods_elsewhere() {
    // 8 reserved CPUs on node 0's allocator: the count (224 CPUs) says 14 pods of 16 CPUs,
    // the allocator (216) holds 13. Without alignment the count is by node totals.
    let reserved: CpuSet = (0..8).collect();
    let c = dgx_cluster(2, "none", &reserved, 0);
    let (p, nodes) = place(&c, 20, "16", 0);
    assert_eq!(nodes.iter().filter(|&&n| n == 0).count(), 13);
    assert_eq!(nodes.iter().filter(|&&n| n == 1).count(), 7);
    assert!(
        p.grants
            .iter()
            .flatten()
            .all(|g| g.cpus.intersection(&reserved).is_empty())
    );
}

#[test]
fn commit_holds_the_grants_and_release_gives_them_back() {
    let mut c = dgx_cluster(1, "single-numa-node", &CpuSet::new(), 2);
    // What the node uses is held first: 2 GPUs under the in-use owner.
    let alloc = c.allocator(0).expect("allocator");
    assert_eq!(alloc.grant(IN_USE_OWNER).map(|g| g.gpus.len()), Some(2));
    let g = json!({"name": "job", "groups": [{"name": "w", "count": 3,
        "request": {"cpu": "24", "memory": "16Gi", "nvidia.com/gpu": 2}}]});
    let gang = gang_from_json(&g, &c).expect("gang");
    let PlaceOutcome::Placed(p) = c.place(&gang) else {
        panic!("not placed");
    };
    c.commit(&gang, &p).expect("commit");
    let alloc = c.allocator(0).expect("allocator");
    assert_eq!(alloc.grants().count(), 4);
    assert_eq!(alloc.free_gpus().len(), 0);
    alloc.verify().expect("ledger consistent");
    // No room for another 2-GPU pod now.
    let PlaceOutcome::Unschedulable(why) = c.place(&gang) else {
        panic!("placed twice");
    };
    assert!(why[0].contains("fits 0 of 3 pods"), "{why:?}");
    // A stale copy of the placement cannot be committed over it.
    assert!(c.commit(&gang, &p).is_err());
    c.release(&gang, &p);
    let alloc = c.allocator(0).expect("allocator");
    assert_eq!(alloc.grants().count(), 1);
    assert_eq!(alloc.free_gpus().len(), 6);
    assert!(matches!(c.place(&gang), PlaceOutcome::Placed(_)));
}

#[test]
fn a_topology_with_other_numa_nodes_is_refused() {
    let topo = Arc::new(builtin("dgx-h100").expect("builtin"));
    let mut c = cluster_from_json(&json!({"levels": [], "nodes": [{"name": "n0",
        "capacity": {"cpu": "224"}, "numa": [{"cpu": "224"}]}]}))
    .expect("cluster");
    let alloc = NodeAllocator::new(topo, CpuSet::new(), Vec::new()).expect("allocator");
    let err = c.attach_allocator(0, alloc).expect_err("zones differ");
    assert!(
        err.to_string()
            .contains("node n0: its topology has 2 NUMA nodes, the node lists 1"),
        "{err}"
    );
}
