//! DRA CEL selectors: compile time and evaluation time against one device.
//!
//! Selectors: the simple driver + attribute test, a DeviceClass selector of
//! `shared/k8s/dra/deviceclasses.yaml`, the capacity + attribute + string selector of
//! `resourceclaims.yaml`, and a capacity comparison of `shared/conformance/dra/cases.json`.
//! The first two take the direct (fast) path; `deviceclass_interpreted` is the DeviceClass
//! selector with `&& true` appended, which keeps it on the interpreter, for comparison, and
//! `fast_miss` is a fast selector on a device of another driver.
//! Target: evaluation well under a few µs.
//!
//! Run: `cargo bench -p topoplace-core --bench cel`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use topoplace_core::dra::cel::{DeviceEnv, Selector, SelectorCache};
use topoplace_core::dra::value::{AttrValue, QualifiedName, Quantity};

const SELECTORS: [(&str, &str); 6] = [
    (
        "simple",
        r#"device.driver == "gpu.example.com" && device.attributes["gpu.example.com"].model == "H100""#,
    ),
    (
        "deviceclass",
        "device.driver == 'gpu.example.com' && device.attributes['gpu.example.com'].type == 'gpu'",
    ),
    (
        "deviceclass_interpreted",
        "device.driver == 'gpu.example.com' && device.attributes['gpu.example.com'].type == 'gpu' \
         && true",
    ),
    (
        "fast_miss",
        r#"device.driver == "dra.net" && device.attributes["dra.net"].rdma == true"#,
    ),
    (
        "resourceclaim",
        "device.capacity['gpu.example.com'].memory.compareTo(quantity('80G')) >= 0 && \
         device.attributes['gpu.example.com'].architecture == 'Hopper' && \
         device.attributes['gpu.example.com'].productName.startsWith('NVIDIA H100')",
    ),
    (
        "conformance",
        r#"device.capacity["gpu.example.com"].memory.compareTo(quantity("4Gi")) >= 0"#,
    ),
];

fn bench_cel(c: &mut Criterion) {
    let driver = "gpu.example.com";
    let mut attributes = BTreeMap::new();
    for (name, value) in [
        ("model", "H100"),
        ("type", "gpu"),
        ("architecture", "Hopper"),
        ("productName", "NVIDIA H100 80GB HBM3"),
        ("uuid", "GPU-0b7f0d2c-8c53-4a8b-9d0a-3b0c1f4e5a6b"),
        ("pcieRoot", "pci0000:00"),
    ] {
        attributes.insert(
            QualifiedName::parse(name, driver),
            AttrValue::String(value.to_owned()),
        );
    }
    attributes.insert(QualifiedName::parse("index", driver), AttrValue::Int(3));
    let mut capacity = BTreeMap::new();
    capacity.insert(
        QualifiedName::parse("memory", driver),
        Quantity::parse("80Gi").expect("quantity"),
    );
    let device = DeviceEnv {
        driver,
        attributes: &attributes,
        capacity: &capacity,
        allow_multiple_allocations: false,
    };

    let mut group = c.benchmark_group("cel");
    for (name, expr) in SELECTORS {
        group.bench_function(format!("compile/{name}"), |b| {
            b.iter(|| Selector::compile(black_box(expr)).expect("compiles"));
        });
        let selector = Selector::compile(expr).expect("compiles");
        let fast = matches!(name, "simple" | "deviceclass" | "fast_miss");
        assert_eq!(selector.has_fast_path(), fast, "{name}");
        let expected = name != "fast_miss";
        assert_eq!(selector.matches(&device), Ok(expected), "{name}");
        group.bench_function(format!("eval/{name}"), |b| {
            b.iter(|| selector.matches(black_box(&device)).expect("evaluates"));
        });
    }
    let cache = SelectorCache::default();
    group.bench_function("cache_hit/simple", |b| {
        b.iter(|| cache.get(black_box(SELECTORS[0].1)).expect("compiles"));
    });
    group.finish();
}

criterion_group!(benches, bench_cel);
criterion_main!(benches);
