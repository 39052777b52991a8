//! Property tests of the model: CpuSet algebra and list syntax, and the invariants every built
//! topology keeps (each CPU in one core, each core inside its package, lossless JSON).

use proptest::prelude::*;
use topoplace_core::synthetic::{NvlinkPattern, SyntheticSpec};
use topoplace_core::{CpuSet, Topology};

proptest! {
    #[test]
    fn cpuset_list_syntax_round_trips(ids in proptest::collection::btree_set(0u32..4096, 0..300)) {
        let set: CpuSet = ids.iter().copied().collect();
        prop_assert_eq!(set.len(), ids.len());
        prop_assert_eq!(set.iter().collect::<Vec<_>>(), ids.iter().copied().collect::<Vec<_>>());
        prop_assert_eq!(CpuSet::parse(&set.to_list_string()).unwrap(), set);
    }

    #[test]
    fn cpuset_algebra_matches_btreeset(
        a in proptest::collection::btree_set(0u32..700, 0..100),
        b in proptest::collection::btree_set(0u32..700, 0..100),
    ) {
        let (sa, sb): (CpuSet, CpuSet) = (a.iter().copied().collect(), b.iter().copied().collect());
        let union: Vec<u32> = a.union(&b).copied().collect();
        let inter: Vec<u32> = a.intersection(&b).copied().collect();
        let diff: Vec<u32> = a.difference(&b).copied().collect();
        prop_assert_eq!(sa.union(&sb).iter().collect::<Vec<_>>(), union);
        prop_assert_eq!(sa.intersection(&sb).iter().collect::<Vec<_>>(), inter.clone());
        prop_assert_eq!(sa.difference(&sb).iter().collect::<Vec<_>>(), diff);
        prop_assert_eq!(sa.is_subset(&sb), a.is_subset(&b));
        prop_assert_eq!(sa.intersects(&sb), !inter.is_empty());
    }

    #[test]
    fn cpuset_parse_never_panics(text in "[0-9,\\-: x]{0,40}") {
        let _ = CpuSet::parse(&text);
        let _ = CpuSet::parse_mask(&text);
    }

    #[test]
    fn synthetic_topologies_keep_invariants(
        sockets in 1u32..4, numa in 1u32..4, l3 in 1u32..3, cores in 1u32..5, threads in 1u32..3,
        roots in 0u32..3, gpus in 0u32..3, nics in 0u32..2, pattern in 0usize..4,
    ) {
        let spec = SyntheticSpec {
            sockets, numa_per_socket: numa, l3_per_numa: l3, cores_per_numa: cores * l3,
            threads_per_core: threads, pcie_roots_per_numa: roots, gpus_per_root: gpus,
            nics_per_root: nics,
            nvlink: [NvlinkPattern::None, NvlinkPattern::Pairs, NvlinkPattern::HybridCubeMesh, NvlinkPattern::NvSwitch][pattern],
            ..SyntheticSpec::default()
        };
        let topo = spec.build().unwrap();
        let mut seen = CpuSet::new();
        for core in topo.cores() {
            prop_assert!(!seen.intersects(&core.cpus), "a CPU in two cores");
            seen.union_with(&core.cpus);
            prop_assert!(core.cpus.is_subset(&topo.packages()[core.package as usize].cpus));
            let numa = core.numa.expect("synthetic cores have a NUMA node");
            prop_assert!(core.cpus.is_subset(&topo.numa_nodes()[numa as usize].cpus));
        }
        prop_assert_eq!(seen, topo.all_cpus());
        let again = Topology::from_json(&topo.to_json(), "roundtrip").unwrap();
        prop_assert_eq!(&again, &topo);
        // Same spec, same machine: generation is deterministic.
        prop_assert_eq!(spec.build().unwrap().to_json(), topo.to_json());
    }
}
