//! The stateful one-machine allocator: invariants under random allocate/release sequences,
//! kubelet-mode refusals, a case where the default mode beats the kubelet, checkpoints.

use std::sync::Arc;

use proptest::prelude::*;
use topoplace_core::node::allocator::{
    AllocRequest, HugepagePools, Mode, NodeAllocator, Outcome, RefusalKind,
};
use topoplace_core::node::cpu::CpuOptions;
use topoplace_core::node::hints::{Policy, PolicyOptions};
use topoplace_core::synthetic::{SyntheticSpec, builtin};
use topoplace_core::{CpuSet, Error, Topology};

const GIB: u64 = 1 << 30;

fn machine(name: &str) -> Arc<Topology> {
    Arc::new(match name {
        "2x4x16x2" => SyntheticSpec {
            name: "2x4x16x2".into(),
            sockets: 2,
            numa_per_socket: 4,
            l3_per_numa: 2,
            cores_per_numa: 16,
            threads_per_core: 2,
            ..SyntheticSpec::default()
        }
        .build()
        .unwrap(),
        other => builtin(other).unwrap(),
    })
}

fn alloc(name: &str) -> NodeAllocator {
    NodeAllocator::new(machine(name), CpuSet::parse("0").unwrap(), Vec::new()).unwrap()
}

fn placed(outcome: &Outcome) -> &topoplace_core::node::allocator::Grant {
    match outcome {
        Outcome::Placed(g) => g,
        Outcome::Refused(r) => panic!("refused: {}", r.reason),
    }
}

/// Checks every invariant: no CPU or byte held twice, free + held == capacity.
fn check_invariants(a: &NodeAllocator) {
    a.verify().unwrap();
    let (cap_cpus, cap_bytes) = a.capacity();
    let mut held = CpuSet::new();
    for (_, g) in a.grants() {
        assert!(!held.intersects(&g.cpus), "CPU held twice");
        held.union_with(&g.cpus);
    }
    let (used_cpus, used_bytes) = a.used();
    assert_eq!(used_cpus, held);
    assert!(!held.intersects(a.free_cpus()));
    assert_eq!(&held.union(a.free_cpus()), cap_cpus);
    let free = a.free();
    for k in 0..3 {
        for (d, node) in free.iter().enumerate() {
            assert_eq!(node.bytes[k] + used_bytes[k][d], cap_bytes[k][d]);
        }
    }
}

#[test]
fn mode_names() {
    assert_eq!(Mode::parse("kubelet").unwrap(), Mode::Kubelet);
    assert_eq!("default".parse::<Mode>().unwrap(), Mode::Default);
    let Err(Error::Value(msg)) = Mode::parse("best") else {
        panic!()
    };
    assert!(msg.contains("kubelet, default"), "{msg}");
}

#[test]
fn constructor_validates() {
    let topo = machine("dgx-h100");
    assert!(NodeAllocator::new(topo.clone(), CpuSet::parse("9999").unwrap(), vec![]).is_err());
    assert!(NodeAllocator::new(topo.clone(), CpuSet::new(), vec![0]).is_err());
    assert!(NodeAllocator::new(topo.clone(), CpuSet::new(), vec![2048 * GIB, 0]).is_err());
    assert!(NodeAllocator::new(topo, CpuSet::new(), vec![GIB, GIB]).is_ok());
}

#[test]
fn allocate_release_and_duplicate_owner() {
    for mode in Mode::ALL {
        let mut a = alloc("dgx-h100");
        let req = AllocRequest::new(16, 64 * GIB).with_mode(mode);
        let before = a.clone();
        let g = placed(&a.allocate("pod-a", &req).unwrap()).clone();
        assert_eq!(g.cpus.len(), 16);
        assert_eq!(
            g.bytes_of(topoplace_core::node::allocator::MemKind::Regular),
            64 * GIB
        );
        assert_eq!(g.numa_nodes.len(), 1);
        assert!(matches!(a.allocate("pod-a", &req), Err(Error::Value(_))));
        check_invariants(&a);
        // check does not change anything.
        let snapshot = a.clone();
        a.check(&req).unwrap();
        assert_eq!(a, snapshot);
        assert_eq!(a.release("pod-a"), Some(g));
        assert_eq!(a.release("pod-a"), None);
        assert_eq!(a, before);
    }
}

#[test]
fn hugepages_need_a_pool() {
    let mut a = alloc("epyc-nps4");
    let req = AllocRequest::new(2, GIB).with_hugepages(0, 2 * GIB);
    let Outcome::Refused(r) = a.allocate("x", &req).unwrap() else {
        panic!()
    };
    assert_eq!(r.kind, RefusalKind::NotEnoughMemory);
    assert!(r.reason.contains("hugepages-1Gi"), "{}", r.reason);
    let topo = machine("epyc-nps4");
    let pools = HugepagePools {
        per_numa_2m: vec![0; 8],
        per_numa_1g: vec![4 * GIB; 8],
    };
    let mut a = NodeAllocator::with_hugepages(topo, CpuSet::new(), vec![], pools).unwrap();
    for mode in Mode::ALL {
        let g = placed(
            &a.allocate(mode.as_str(), &req.clone().with_mode(mode))
                .unwrap(),
        )
        .clone();
        assert_eq!(g.hugepages_1g.iter().map(|x| x.1).sum::<u64>(), 2 * GIB);
    }
    check_invariants(&a);
}

#[test]
fn kubelet_single_numa_node_refuses_and_explains() {
    let mut a = alloc("epyc-nps4");
    // 32 CPUs per node: 40 CPUs fit no single node.
    let req = AllocRequest::new(40, 8 * GIB)
        .with_mode(Mode::Kubelet)
        .with_policy(Policy::SingleNumaNode);
    let Outcome::Refused(r) = a.allocate("big", &req).unwrap() else {
        panic!("should refuse")
    };
    assert_eq!(r.kind, RefusalKind::NotAligned);
    assert!(
        r.reason
            .contains("no single NUMA node has 40 free CPUs and 8 GiB"),
        "{}",
        r.reason
    );
    assert!(
        r.reason
            .contains("closest is node 1 with 32 free CPUs and 64 GiB free"),
        "{}",
        r.reason
    );
    assert_eq!(r.closest.map(|c| (c.numa, c.free_cpus)), Some((1, 32)));
    assert_eq!(a.grants().count(), 0);
    // best-effort places it over two nodes, not preferred width... preferred (width 2).
    let g = placed(
        &a.allocate("big", &req.with_policy(Policy::BestEffort))
            .unwrap(),
    )
    .clone();
    assert_eq!(g.cpus.len(), 40);
    check_invariants(&a);
}

#[test]
fn kubelet_mode_matches_the_static_policy_pick() {
    // An empty machine: the merged hint is node 0, and the static policy packs whole cores.
    let mut a = alloc("2x4x16x2");
    let req = AllocRequest::new(4, GIB)
        .with_mode(Mode::Kubelet)
        .with_policy(Policy::Restricted);
    let g = placed(&a.allocate("p", &req).unwrap()).clone();
    assert_eq!(g.numa_nodes, vec![0]);
    assert!(g.preferred);
    assert_eq!(g.cpus.to_list_string(), "1-2,129-130");
    assert_eq!(g.memory, vec![(0, GIB)]);
}

#[test]
fn kubelet_full_pcpus_only() {
    let mut a = alloc("2x4x16x2");
    let opts = CpuOptions {
        full_pcpus_only: true,
        ..CpuOptions::default()
    };
    let req = AllocRequest::new(3, 0)
        .with_mode(Mode::Kubelet)
        .with_cpu_options(opts);
    let Outcome::Refused(r) = a.allocate("p", &req).unwrap() else {
        panic!()
    };
    assert_eq!(r.kind, RefusalKind::SmtAlignment);
    let g = placed(&a.allocate("p", &AllocRequest { cpus: 4, ..req }).unwrap()).clone();
    assert_eq!(g.cpus.len(), 4);
}

#[test]
fn kubelet_refuses_more_nodes_than_allowed() {
    let topo = Arc::new(
        topoplace_core::parse::hwloc::parse(
            include_str!("../../../tests/data/hwloc/192em64t-24n8c2t.xml"),
            "192em64t-24n8c2t.xml",
        )
        .unwrap(),
    );
    let mut a = NodeAllocator::new(topo, CpuSet::new(), vec![]).unwrap();
    let req = AllocRequest::new(16, 64 * GIB).with_mode(Mode::Kubelet);
    assert!(matches!(a.check(&req), Err(Error::Value(_))));
    let opts = PolicyOptions {
        max_allowable_numa_nodes: 24,
        ..PolicyOptions::default()
    };
    let g = placed(&a.allocate("p", &req.clone().with_tm_options(opts)).unwrap()).clone();
    assert_eq!(g.cpus.len(), 16);
    // Default mode: 3 nodes of ~31 GiB hold 64 GiB; all on adjacent nodes.
    let g = placed(&a.allocate("q", &req.with_mode(Mode::Default)).unwrap()).clone();
    assert_eq!(g.numa_nodes.len(), 3);
    check_invariants(&a);
}

/// On `epyc-nps4` with nodes 0-2 busy, a 48-CPU request needs 2 nodes. The kubelet takes the
/// lowest preferred mask with room, {3,4}, across the two sockets (distance 32); the default
/// mode takes {4,5} on one socket (distance 12).
#[test]
fn default_mode_prefers_same_socket() {
    let mut a = alloc("epyc-nps4");
    let a = &mut a;
    let fill = AllocRequest::new(32, 0);
    for i in 0..3 {
        // Node 0 loses CPU 0 to the reservation, so fill it with 31.
        let req = if i == 0 {
            AllocRequest::new(31, 0)
        } else {
            fill.clone()
        };
        let g = placed(&a.allocate(&format!("fill{i}"), &req).unwrap()).clone();
        assert_eq!(g.numa_nodes, vec![i]);
    }
    let req = AllocRequest::new(48, 0);
    let kubelet = placed(&a.check(&req.clone().with_mode(Mode::Kubelet)).unwrap()).clone();
    let default = placed(&a.check(&req).unwrap()).clone();
    assert_eq!(kubelet.numa_nodes, vec![3, 4]);
    assert_eq!(default.numa_nodes, vec![4, 5]);
    let dist = |g: &topoplace_core::node::allocator::Grant| {
        let d = a.topology().distances().unwrap();
        d.get(g.numa_nodes[0], g.numa_nodes[1])
    };
    assert_eq!((dist(&kubelet), dist(&default)), (32, 12));
}

#[test]
fn default_mode_keeps_cores_whole() {
    let mut a = alloc("2x4x16x2");
    // An odd request leaves one core half used; the next odd request fills that sibling.
    let g1 = placed(&a.allocate("a", &AllocRequest::new(3, 0)).unwrap()).clone();
    let g2 = placed(&a.allocate("b", &AllocRequest::new(1, 0)).unwrap()).clone();
    let both = g1.cpus.union(&g2.cpus);
    // 4 CPUs on 2 whole cores (plus CPU 0 reserved -> core 0 half used: its sibling is 128).
    let cores: std::collections::BTreeSet<u32> = both.iter().map(|c| c % 128).collect();
    assert!(cores.len() <= 3, "{both}");
    check_invariants(&a);
}

#[test]
fn checkpoint_round_trip_and_corruption() {
    let topo = machine("epyc-nps4");
    let mut a =
        NodeAllocator::new(topo.clone(), CpuSet::parse("0,64").unwrap(), vec![GIB; 8]).unwrap();
    a.allocate("a", &AllocRequest::new(8, 16 * GIB)).unwrap();
    a.allocate(
        "b",
        &AllocRequest::new(40, 100 * GIB).with_mode(Mode::Kubelet),
    )
    .unwrap();
    let text = a.to_checkpoint();
    let back = NodeAllocator::from_checkpoint(&text, topo.clone(), "ckpt").unwrap();
    assert_eq!(back, a);
    // Flip a byte in the payload.
    let mut bytes = text.clone().into_bytes();
    let at = bytes.iter().position(|&b| b == b'4').unwrap();
    bytes[at] = b'5';
    let flipped = String::from_utf8(bytes).unwrap();
    let err = NodeAllocator::from_checkpoint(&flipped, topo.clone(), "ckpt").unwrap_err();
    assert!(err.to_string().contains("corrupted"), "{err}");
    assert!(err.to_string().starts_with("ckpt"), "{err}");
    // Truncated.
    for cut in [10, text.len() / 2, text.len() - 5] {
        let err = NodeAllocator::from_checkpoint(&text[..cut], topo.clone(), "ckpt").unwrap_err();
        assert!(matches!(err, Error::Topology { .. }), "{err}");
    }
    // Another topology.
    let err = NodeAllocator::from_checkpoint(&text, machine("2x4x16x2"), "ckpt").unwrap_err();
    assert!(err.to_string().contains("another topology"), "{err}");
    // Unknown version and an inconsistent ledger, with valid checksums.
    let resum = |json: &str| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in json.as_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{json}\nchecksum fnv1a64 {h:016x}\n")
    };
    let json = text.lines().next().unwrap();
    let v2 = resum(&json.replace("\"version\":1", "\"version\":2"));
    let err = NodeAllocator::from_checkpoint(&v2, topo.clone(), "ckpt").unwrap_err();
    assert!(
        err.to_string().contains("unknown checkpoint version 2"),
        "{err}"
    );
    let cpus_a = a.grant("a").unwrap().cpus.to_list_string();
    let cpus_b = a.grant("b").unwrap().cpus.to_list_string();
    let twice = resum(&json.replace(
        &format!("\"cpus\":\"{cpus_b}\""),
        &format!("\"cpus\":\"{cpus_a}\""),
    ));
    let err = NodeAllocator::from_checkpoint(&twice, topo, "ckpt").unwrap_err();
    assert!(err.to_string().contains("inconsistent"), "{err}");
}

#[derive(Debug, Clone)]
enum Op {
    Alloc {
        owner: u8,
        cpus: u32,
        gib: u64,
        kubelet: bool,
        policy: u8,
    },
    Release {
        owner: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..12, 0u32..48, 0u64..200, any::<bool>(), 0u8..4).prop_map(
            |(owner, cpus, gib, kubelet, policy)| Op::Alloc { owner, cpus, gib, kubelet, policy }
        ),
        1 => (0u8..12).prop_map(|owner| Op::Release { owner }),
    ]
}

fn run(name: &str, ops: &[Op]) -> NodeAllocator {
    let mut a = alloc(name);
    for op in ops {
        match *op {
            Op::Alloc {
                owner,
                cpus,
                gib,
                kubelet,
                policy,
            } => {
                let mode = if kubelet {
                    Mode::Kubelet
                } else {
                    Mode::Default
                };
                let req = AllocRequest::new(cpus, gib * GIB)
                    .with_mode(mode)
                    .with_policy(Policy::ALL[policy as usize]);
                let owner = format!("o{owner}");
                let before = a.clone();
                match a.allocate(&owner, &req) {
                    Ok(Outcome::Placed(g)) => {
                        assert_eq!(g.cpus.len(), cpus as usize);
                        assert_eq!(g.memory.iter().map(|x| x.1).sum::<u64>(), gib * GIB);
                        let mut undo = a.clone();
                        undo.release(&owner);
                        assert_eq!(undo, before, "release restores");
                    }
                    Ok(Outcome::Refused(r)) => {
                        assert!(!r.reason.is_empty());
                        assert_eq!(a, before, "a refusal changes nothing");
                    }
                    Err(_) => assert_eq!(a, before),
                }
            }
            Op::Release { owner } => {
                a.release(&format!("o{owner}"));
            }
        }
        check_invariants(&a);
    }
    a
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_sequences_keep_invariants(ops in prop::collection::vec(op(), 1..40), which in 0usize..3) {
        let name = ["dgx-h100", "epyc-nps4", "2x4x16x2"][which];
        let a = run(name, &ops);
        let again = run(name, &ops);
        prop_assert_eq!(&a, &again, "deterministic");
        let text = a.to_checkpoint();
        let back = NodeAllocator::from_checkpoint(&text, a.topology().clone(), "ckpt").unwrap();
        prop_assert_eq!(&back, &a);
        prop_assert_eq!(back.to_checkpoint(), text);
    }
}
