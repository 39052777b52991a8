//! Joint requests (GPUs + NICs + CPUs + memory, aligned) in the node allocator, `check` only.
//!
//! - `dgx-h100/half-full`: GPUs 0-3 held; 2 GPUs + one NIC per GPU + 24 CPUs + 128 GiB aligned
//!   to the PCIe root (preferred). The target is under 30 µs from Python.
//! - `dgx2/8-gpus` and `dgx2/3-gpus`: the real DGX-2 (16 V100 on NVSwitch, hwloc fixture),
//!   empty, with 2 CPUs (the fixture has 4).
//! - `nvswitch72/...`: a synthetic 72-GPU NVSwitch node (2 sockets, 9 PCIe roots of 4 GPUs and
//!   one NIC each per socket) with 30 GPUs taken at random: 8 GPUs alone, 8 GPUs with one NIC
//!   each aligned to a NUMA node, and the same unaligned (the hardest: the whole machine).
//!
//! Run: `cargo bench -p topoplace-core --bench joint`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use topoplace_core::node::allocator::{AlignLevel, AllocRequest, DeviceRequest, NodeAllocator};
use topoplace_core::synthetic::{NvlinkPattern, SyntheticSpec, builtin};
use topoplace_core::{CpuSet, Topology};

const GIB: u64 = 1 << 30;

fn request(cpus: u32, mem: u64, gpus: u32, per_gpu: u32, align: AlignLevel) -> AllocRequest {
    AllocRequest::new(cpus, mem).with_devices(DeviceRequest {
        gpus,
        nics_per_gpu: per_gpu,
        align,
        ..DeviceRequest::default()
    })
}

fn allocator(topo: Topology) -> NodeAllocator {
    NodeAllocator::new(Arc::new(topo), CpuSet::new(), Vec::new()).expect("allocator")
}

fn bench_joint(c: &mut Criterion) {
    let mut group = c.benchmark_group("joint");
    let mut dgx = allocator(builtin("builtin:dgx-h100").expect("builtin"));
    let taken = request(28, 512 * GIB, 2, 1, AlignLevel::Numa);
    for owner in ["a", "b"] {
        assert!(dgx.allocate(owner, &taken).expect("fill").is_placed());
    }
    let want = request(24, 128 * GIB, 2, 1, AlignLevel::PcieRoot);
    assert!(dgx.check(&want).expect("check").is_placed());
    group.bench_function("dgx-h100/half-full", |b| {
        b.iter(|| black_box(dgx.check(black_box(&want)).expect("check")));
    });

    let dgx2 = allocator(
        topoplace_core::parse::hwloc::parse(
            include_str!("../../../tests/data/hwloc/nvidiaDGX2.xml"),
            "nvidiaDGX2.xml",
        )
        .expect("fixture parses"),
    );
    for k in [8, 3] {
        let want = request(2, 0, k, 0, AlignLevel::None);
        assert!(dgx2.check(&want).expect("check").is_placed());
        group.bench_function(format!("dgx2/{k}-gpus"), |b| {
            b.iter(|| black_box(dgx2.check(black_box(&want)).expect("check")));
        });
    }

    let mut big = allocator(
        SyntheticSpec {
            name: "nvswitch72".into(),
            sockets: 2,
            cores_per_numa: 36,
            pcie_roots_per_numa: 9,
            gpus_per_root: 4,
            nics_per_root: 1,
            nvlink: NvlinkPattern::NvSwitch,
            nvlinks: 18,
            ..SyntheticSpec::default()
        }
        .build()
        .expect("valid spec"),
    );
    // Take 30 GPUs chosen by a fixed xorshift stream.
    let one = request(0, 0, 1, 0, AlignLevel::None);
    for i in 0..72 {
        assert!(
            big.allocate(&format!("g{i}"), &one)
                .expect("fill")
                .is_placed()
        );
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut held: Vec<u32> = (0..72).collect();
    while held.len() > 30 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let i = usize::try_from(seed % held.len() as u64).expect("small");
        let g = held.swap_remove(i);
        let _ = big.release(&format!("g{g}"));
    }
    let cases = [
        ("nvswitch72/8-gpus", request(8, 0, 8, 0, AlignLevel::None)),
        (
            "nvswitch72/8-gpus-8-nics-numa",
            request(8, 0, 8, 1, AlignLevel::Numa),
        ),
        (
            "nvswitch72/8-gpus-8-nics-any",
            request(8, 0, 8, 1, AlignLevel::None),
        ),
    ];
    for (name, want) in cases {
        assert!(big.check(&want).expect("check").is_placed());
        group.bench_function(name, |b| {
            b.iter(|| black_box(big.check(black_box(&want)).expect("check")));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_joint);
criterion_main!(benches);
