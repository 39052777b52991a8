//! Joint requests (GPUs, NICs, CPUs, memory, alignment) in the node allocator: a worked
//! sequence on `dgx-h100`, refusals, release and checkpoints with devices, and a brute-force
//! oracle of the documented score on random synthetic machines and random prior occupancy.

use std::sync::Arc;

use proptest::prelude::*;
use topoplace_core::node::allocator::{
    AlignLevel, AllocRequest, DeviceRequest, Grant, Mode, NodeAllocator, Outcome, RefusalKind,
};
use topoplace_core::node::gpu::PairScores;
use topoplace_core::synthetic::{NvlinkPattern, SyntheticSpec, builtin};
use topoplace_core::topology::{DeviceKind, LinkClass};
use topoplace_core::{CpuSet, Error, Topology};

const GIB: u64 = 1 << 30;

fn joint(
    cpus: u32,
    mem: u64,
    gpus: u32,
    per_gpu: u32,
    align: AlignLevel,
    req: bool,
) -> AllocRequest {
    AllocRequest::new(cpus, mem).with_devices(DeviceRequest {
        gpus,
        nics_per_gpu: per_gpu,
        align,
        align_required: req,
        ..DeviceRequest::default()
    })
}

fn placed(outcome: &Outcome) -> &Grant {
    match outcome {
        Outcome::Placed(g) => g,
        Outcome::Refused(r) => panic!("refused: {}", r.reason),
    }
}

fn dgx() -> NodeAllocator {
    NodeAllocator::new(
        Arc::new(builtin("builtin:dgx-h100").unwrap()),
        CpuSet::new(),
        Vec::new(),
    )
    .unwrap()
}

#[test]
fn dgx_h100_pairs_fill_the_machine_with_pix_nics() {
    let mut a = dgx();
    let req = joint(24, 128 * GIB, 2, 1, AlignLevel::PcieRoot, true);
    let mut seen = Vec::new();
    for i in 0..4 {
        let g = placed(&a.allocate(&format!("job{i}"), &req).unwrap()).clone();
        assert_eq!(g.gpus.len(), 2);
        assert_eq!(g.alignment, Some(AlignLevel::PcieRoot));
        // Each GPU has its own PIX NIC (synthetic: NIC k sits beside GPU k).
        assert_eq!(g.nics, g.gpus);
        let s = g.score.unwrap();
        // NVSwitch (18 links) + NODE between two GPUs of one node; two PIX NICs.
        assert_eq!((s.gpu_links, s.nic_paths, s.numa_distance), (1820, 100, 0));
        // The first pair on a node splits it and its socket; the second fills it.
        assert_eq!(s.fragmentation, if i % 2 == 0 { 20 } else { 0 });
        assert_eq!(
            s.total,
            s.gpu_links + s.nic_paths - s.numa_distance - s.fragmentation
        );
        seen.extend(g.gpus.iter().copied());
        a.verify().unwrap();
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..8).collect::<Vec<u32>>());
    let refused = a.allocate("job4", &req).unwrap();
    let r = refused.refusal().unwrap();
    assert_eq!(r.kind, RefusalKind::NotEnoughGpus);
    assert!(r.reason.contains("0 free GPUs match"), "{}", r.reason);
    // Release gives the devices back.
    let g = a.release("job1").unwrap();
    assert_eq!(a.free_gpus(), g.gpus);
    assert_eq!(a.free_nics(), g.nics);
    a.verify().unwrap();
}

#[test]
fn numa_required_refusal_names_the_closest_node() {
    let mut a = dgx();
    let three = joint(24, 128 * GIB, 3, 1, AlignLevel::PcieRoot, true);
    placed(&a.allocate("a", &three).unwrap());
    placed(&a.allocate("b", &three).unwrap());
    let two = joint(16, 64 * GIB, 2, 1, AlignLevel::Numa, true);
    let out = a.check(&two).unwrap();
    let r = out
        .refusal()
        .expect("one free GPU per node cannot hold two");
    assert_eq!(r.kind, RefusalKind::NotAligned);
    assert!(
        r.reason.contains("no NUMA node holds 2 GPUs"),
        "{}",
        r.reason
    );
    assert!(r.reason.contains("GPUs 1/2"), "{}", r.reason);
    // Preferred instead: placed across the sockets, reported as such and not preferred.
    let loose = joint(16, 64 * GIB, 2, 1, AlignLevel::Numa, false);
    let g = placed(&a.check(&loose).unwrap()).clone();
    assert_eq!(g.alignment, Some(AlignLevel::None));
    assert!(!g.preferred);
    let s = g.score.unwrap();
    // CPUs on node 0 (lowest id): the GPU and NIC on node 1 are at distance 21.
    assert_eq!(s.numa_distance, 22);
    assert_eq!(g.numa_nodes, vec![0]);
}

#[test]
fn bad_device_requests_are_errors() {
    let a = dgx();
    let kubelet = joint(4, 0, 1, 0, AlignLevel::None, false).with_mode(Mode::Kubelet);
    assert!(matches!(a.check(&kubelet), Err(Error::Value(_))));
    let both = AllocRequest::new(0, 0).with_devices(DeviceRequest {
        gpus: 1,
        nics: 1,
        nics_per_gpu: 1,
        ..DeviceRequest::default()
    });
    assert!(matches!(a.check(&both), Err(Error::Value(_))));
    let orphan = AllocRequest::new(0, 0).with_devices(DeviceRequest {
        nics_per_gpu: 1,
        ..DeviceRequest::default()
    });
    assert!(matches!(a.check(&orphan), Err(Error::Value(_))));
    let model = AllocRequest::new(0, 0).with_devices(DeviceRequest {
        gpus: 1,
        gpu_model: Some("A100".into()),
        ..DeviceRequest::default()
    });
    let r = a.check(&model).unwrap();
    assert_eq!(r.refusal().unwrap().kind, RefusalKind::NotEnoughGpus);
    let h100 = AllocRequest::new(0, 0).with_devices(DeviceRequest {
        gpus: 1,
        gpu_model: Some("h100".into()),
        gpu_min_memory: 80 * GIB,
        ..DeviceRequest::default()
    });
    assert!(a.check(&h100).unwrap().is_placed());
}

#[test]
fn checkpoints_carry_devices() {
    let mut a = dgx();
    placed(
        &a.allocate("a", &joint(8, GIB, 2, 1, AlignLevel::Numa, true))
            .unwrap(),
    );
    let count = AllocRequest::new(0, 0).with_devices(DeviceRequest {
        gpus: 1,
        nics: 2,
        ..DeviceRequest::default()
    });
    placed(&a.allocate("b", &count).unwrap());
    let text = a.to_checkpoint();
    let b = NodeAllocator::from_checkpoint(&text, Arc::clone(a.topology()), "ckpt").unwrap();
    assert_eq!(a, b);
    assert_eq!(a.free_gpus(), b.free_gpus());
    assert_eq!(a.free_nics(), b.free_nics());
    // A GPU held twice is an inconsistent ledger, whatever the checksum says.
    let json = text.lines().next().unwrap();
    let dup = json.replacen("\"gpus\":[2]", "\"gpus\":[0]", 1);
    assert_ne!(dup, json, "the count grant holds GPU 2");
    let sum = fnv1a(dup.as_bytes());
    let forged = format!("{dup}\nchecksum fnv1a64 {sum:016x}\n");
    let err = NodeAllocator::from_checkpoint(&forged, Arc::clone(a.topology()), "forged")
        .unwrap_err()
        .to_string();
    assert!(err.contains("GPU 0 is held twice"), "{err}");
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

// ---- The oracle: every GPU set, every NIC injection, every single-node home. ----

fn points(c: Option<LinkClass>) -> i64 {
    match c {
        Some(LinkClass::Pix) => 50,
        Some(LinkClass::Pxb) => 40,
        Some(LinkClass::Phb) => 30,
        Some(LinkClass::Node) => 20,
        Some(LinkClass::Sys) => 10,
        _ => 0,
    }
}

struct View {
    topo: Arc<Topology>,
    gpus: Vec<u32>,
    nics: Vec<u32>,
    pair: PairScores,
}

impl View {
    fn numa(&self, dev: u32) -> Option<usize> {
        self.topo.devices()[dev as usize].numa.map(|d| d as usize)
    }
    fn dist(&self, a: usize, b: usize) -> i64 {
        match self.topo.distances() {
            Some(d) => i64::from(d.values[a * d.size as usize + b]),
            None if a == b => 10,
            None => 20,
        }
    }
    fn pen(&self, home: Option<usize>, dev: u32) -> i64 {
        match (home, self.numa(dev)) {
            (Some(h), Some(x)) => self.dist(h, x) - self.dist(x, x),
            _ => 0,
        }
    }
}

/// The best total over GPU sets of `k` among `free_g` on `node` (all nodes when `None`), one
/// NIC each (injective) among `free_n`, with CPUs on `home`.
fn oracle_best(
    v: &View,
    free_g: &[u32],
    free_n: &[u32],
    k: usize,
    home: Option<usize>,
    node: Option<usize>,
    root: bool,
) -> Option<i64> {
    let on = |dev: u32| node.is_none_or(|n| v.numa(dev) == Some(n));
    let gs: Vec<u32> = free_g
        .iter()
        .copied()
        .filter(|&g| on(v.gpus[g as usize]))
        .collect();
    let ns: Vec<u32> = free_n
        .iter()
        .copied()
        .filter(|&c| on(v.nics[c as usize]))
        .collect();
    let mut best: Option<i64> = None;
    let held: Vec<u32> = (0..v.gpus.len() as u32)
        .filter(|g| !free_g.contains(g))
        .collect();
    for mask in 0u32..(1 << gs.len()) {
        if mask.count_ones() as usize != k {
            continue;
        }
        let set: Vec<u32> = (0..gs.len())
            .filter(|i| mask >> i & 1 == 1)
            .map(|i| gs[i])
            .collect();
        let mut links = 0i64;
        for (i, &x) in set.iter().enumerate() {
            for &y in &set[i + 1..] {
                links += i64::from(v.pair.get(x as usize, y as usize));
            }
        }
        let gpen: i64 = set.iter().map(|&g| v.pen(home, v.gpus[g as usize])).sum();
        // Fragmentation: NUMA nodes and packages whose GPUs were all free and are now split.
        let mut frag = 0;
        let dom_numa = |g: u32| v.numa(v.gpus[g as usize]);
        let pkg_of = |d: usize| {
            let cpus = &v.topo.numa_nodes()[d].cpus;
            v.topo
                .packages()
                .iter()
                .position(|p| p.cpus.intersects(cpus))
        };
        for by_pkg in [false, true] {
            let dom = |g: u32| dom_numa(g).and_then(|d| if by_pkg { pkg_of(d) } else { Some(d) });
            let mut doms: Vec<usize> = set.iter().filter_map(|&g| dom(g)).collect();
            doms.sort_unstable();
            doms.dedup();
            for d in doms {
                let all = (0..v.gpus.len() as u32)
                    .filter(|&g| dom(g) == Some(d))
                    .count();
                let was_free = !held.iter().any(|&g| dom(g) == Some(d));
                let taken = set.iter().filter(|&&g| dom(g) == Some(d)).count();
                if was_free && taken < all {
                    frag += 10;
                }
            }
        }
        // NICs: best injection, by recursion.
        fn inject(
            v: &View,
            set: &[u32],
            ns: &[u32],
            used: &mut Vec<u32>,
            home: Option<usize>,
            root: bool,
        ) -> Option<i64> {
            let Some((&g, rest)) = set.split_first() else {
                return Some(0);
            };
            let mut best: Option<i64> = None;
            for &c in ns {
                if used.contains(&c) {
                    continue;
                }
                let class = v.topo.pcie_class(v.gpus[g as usize], v.nics[c as usize]);
                if root
                    && !matches!(
                        class,
                        Some(LinkClass::Pix | LinkClass::Pxb | LinkClass::Phb)
                    )
                {
                    continue;
                }
                used.push(c);
                if let Some(r) = inject(v, rest, ns, used, home, root) {
                    let val = points(class) - v.pen(home, v.nics[c as usize]) + r;
                    best = Some(best.map_or(val, |b: i64| b.max(val)));
                }
                used.pop();
            }
            best
        }
        let Some(nic) = inject(v, &set, &ns, &mut Vec::new(), home, root) else {
            continue;
        };
        let total = links + nic - gpen - frag;
        best = Some(best.map_or(total, |b| b.max(total)));
    }
    best
}

fn spec(shape: (u32, u32, u32, u32, u32, u8)) -> SyntheticSpec {
    let (sockets, numa, roots, gpus, nics, link) = shape;
    SyntheticSpec {
        name: "oracle".into(),
        sockets,
        numa_per_socket: numa,
        cores_per_numa: 4,
        threads_per_core: 2,
        memory_per_numa: 64 * GIB,
        pcie_roots_per_numa: roots,
        gpus_per_root: gpus,
        nics_per_root: nics,
        nvlink: [
            NvlinkPattern::None,
            NvlinkPattern::Pairs,
            NvlinkPattern::NvSwitch,
        ][link as usize],
        nvlinks: 4,
        ..SyntheticSpec::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// With a numa-required alignment and CPUs on one node, the allocator's score equals the
    /// exhaustive maximum; the placement's devices are free, on one node, and the NICs
    /// distinct.
    #[test]
    fn joint_matches_the_oracle(
        shape in (1u32..=2, 1u32..=2, 1u32..=2, 1u32..=2, 1u32..=2, 0u8..3),
        prior in proptest::collection::vec((1u32..=2, 0u32..=1), 0..3),
        k in 1u32..=3,
        root in any::<bool>(),
    ) {
        let topo = Arc::new(spec(shape).build().unwrap());
        let mut a = NodeAllocator::new(Arc::clone(&topo), CpuSet::new(), Vec::new()).unwrap();
        for (i, &(g, q)) in prior.iter().enumerate() {
            let _ = a.allocate(&format!("p{i}"), &joint(2, GIB, g, q, AlignLevel::None, false)).unwrap();
        }
        let level = if root { AlignLevel::PcieRoot } else { AlignLevel::Numa };
        let req = joint(2, GIB, k, 1, level, true);
        let got = a.check(&req).unwrap();
        let v = View {
            gpus: topo.devices_of(DeviceKind::Gpu).collect(),
            nics: topo.devices_of(DeviceKind::Nic).collect(),
            pair: PairScores::from_topology(&topo),
            topo: Arc::clone(&topo),
        };
        let (free_g, free_n) = (a.free_gpus(), a.free_nics());
        let free = a.free();
        let mut best: Option<i64> = None;
        for (d, node) in free.iter().enumerate() {
            if node.cpus.len() < 2 || node.bytes[0] < GIB {
                continue;
            }
            if let Some(t) = oracle_best(&v, &free_g, &free_n, k as usize, Some(d), Some(d), root) {
                best = Some(best.map_or(t, |b| b.max(t)));
            }
        }
        match (&got, best) {
            (Outcome::Placed(g), Some(b)) => {
                let s = g.score.unwrap();
                prop_assert_eq!(s.total, b, "allocator {:?} vs oracle {}", g, b);
                prop_assert!(g.gpus.iter().all(|x| free_g.contains(x)));
                prop_assert!(g.nics.iter().all(|x| free_n.contains(x)));
                let mut n = g.nics.clone();
                n.sort_unstable();
                n.dedup();
                prop_assert_eq!(n.len(), g.nics.len());
                prop_assert!(g.alignment.unwrap() <= level);
            }
            (Outcome::Refused(r), None) => prop_assert_eq!(r.kind, RefusalKind::NotAligned.max(r.kind)),
            (o, b) => prop_assert!(false, "allocator {:?} but oracle {:?}", o, b),
        }
    }
}
