//! The scored mode and the refusal explanations on the example node `gpu-node-01` (8 GPUs,
//! 9 NICs, 2 NUMA nodes) and the CPU driver's slices (`tests/data/dra/k8s/`).

use serde_json::{Value, json};
use topoplace_core::dra::allocator::{
    self, Alignment, AllocInput, DeviceId, Features, Mode, Outcome, Score,
};
use topoplace_core::dra::cel::SelectorCache;
use topoplace_core::dra::model::{DeviceClass, Node, ResourceClaim, ResourceSlice};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/dra/k8s");

fn load(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(format!("{DIR}/{name}.json")).expect("fixture");
    serde_json::from_str(&text).expect("JSON")
}

fn slices(names: &[&str]) -> Vec<ResourceSlice> {
    names
        .iter()
        .flat_map(|n| load(n))
        .map(|s| ResourceSlice::from_json(&s).expect("slice"))
        .collect()
}

fn claim(name: &str, requests: &Value, constraints: &Value) -> ResourceClaim {
    ResourceClaim::from_json(&json!({
        "apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"devices": {"requests": requests, "constraints": constraints}}
    }))
    .expect("claim")
}

fn exactly(name: &str, class: &str, count: u32) -> Value {
    json!({"name": name, "exactly": {"deviceClassName": class, "count": count}})
}

fn gpu(i: u32) -> DeviceId {
    DeviceId {
        driver: "gpu.nvidia.com".into(),
        pool: "gpu-node-01".into(),
        device: format!("gpu-{i}"),
    }
}

fn run(
    slices: &[ResourceSlice],
    claims: &[ResourceClaim],
    allocated: &[DeviceId],
    mode: Mode,
) -> (Outcome, Option<Score>) {
    let classes: Vec<DeviceClass> = load("deviceclasses")
        .iter()
        .map(|c| DeviceClass::from_json(c).expect("class"))
        .collect();
    let node = Node::from_json(&json!({"metadata": {"name": "gpu-node-01"}})).expect("node");
    let cache = SelectorCache::default();
    let input = AllocInput {
        node: Some(&node),
        slices,
        classes: &classes,
        claims,
        allocated_devices: allocated,
        allocated_capacity: &[],
        features: Features::default(),
        selectors: &cache,
        mode,
        alignment: Alignment::standard(),
    };
    allocator::allocate_scored(&input).expect("no scheduler error")
}

fn devices(o: &Outcome) -> Vec<Vec<String>> {
    let Outcome::Allocated(r) = o else {
        panic!("not allocated: {o:?}");
    };
    r.iter()
        .map(|a| a.results.iter().map(|d| d.device.clone()).collect())
        .collect()
}

/// The node's CPU devices (individual mode) are on the same node name; retarget them.
fn cpu_slices() -> Vec<ResourceSlice> {
    load("cpu-2socket-individual.resourceslices")
        .into_iter()
        .map(|mut s| {
            s["spec"]["nodeName"] = json!("gpu-node-01");
            ResourceSlice::from_json(&s).expect("slice")
        })
        .collect()
}

#[test]
fn scored_pairs_each_gpu_with_the_nic_on_its_root_on_one_numa_node() {
    let node = slices(&["node-8gpu-2numa-8nic.resourceslices"]);
    let claims = [claim(
        "pairs",
        &json!([
            exactly("gpu", "gpu.nvidia.com", 2),
            exactly("nic", "dranet-rdma", 2)
        ]),
        &json!([]),
    )];
    // gpu-0 and gpu-5 in use: first fit takes gpu-1, gpu-2 and the first two RDMA NICs.
    let busy = [gpu(0), gpu(5)];
    let (exact, _) = run(&node, &claims, &busy, Mode::Exact);
    assert_eq!(
        devices(&exact)[0],
        ["gpu-1", "gpu-2", "gpu0rdma0", "gpu1rdma0"]
    );
    let (scored, score) = run(&node, &claims, &busy, Mode::Scored);
    assert_eq!(
        devices(&scored)[0],
        ["gpu-1", "gpu-2", "gpu1rdma0", "gpu2rdma0"]
    );
    let score = score.expect("scored");
    assert_eq!((score.level, score.unpaired, score.numa), (0, 0, 1));
}

#[test]
fn scored_keeps_gpus_nics_and_cpus_on_one_numa_node() {
    let mut node = slices(&["node-8gpu-2numa-8nic.resourceslices"]);
    node.extend(cpu_slices());
    let claims = [claim(
        "aligned",
        &json!([
            exactly("gpu", "gpu.nvidia.com", 2),
            exactly("nic", "dranet-rdma", 2),
            exactly("cpu", "dra.cpu", 4),
        ]),
        &json!([]),
    )];
    // GPUs 0-2 busy: one free GPU is left on NUMA 0, so the pair goes to NUMA 1, and the
    // CPUs with it.
    let busy = [gpu(0), gpu(1), gpu(2)];
    let (scored, score) = run(&node, &claims, &busy, Mode::Scored);
    let got = &devices(&scored)[0];
    assert_eq!(got[..4], ["gpu-4", "gpu-5", "gpu4rdma0", "gpu5rdma0"]);
    let score = score.expect("scored");
    assert_eq!((score.level, score.numa), (0, 1), "{got:?}");
    let (exact, _) = run(&node, &claims, &busy, Mode::Exact);
    assert_ne!(&devices(&exact)[0], got, "first fit spans both NUMA nodes");
}

#[test]
fn a_refusal_names_the_constraint_and_the_closest_value() {
    let node = slices(&["node-8gpu-2numa-8nic.resourceslices"]);
    let claims = [claim(
        "gpu-and-nic",
        &json!([
            exactly("gpu", "gpu.nvidia.com", 2),
            exactly("nic", "dranet-rdma", 2)
        ]),
        &json!([{"requests": ["gpu", "nic"], "matchAttribute": "resource.kubernetes.io/pcieRoot"}]),
    )];
    for mode in [Mode::Exact, Mode::Plain, Mode::Pruned, Mode::Scored] {
        let (o, _) = run(&node, &claims, &[gpu(3)], mode);
        let Outcome::Unsatisfiable(why) = o else {
            panic!("{mode:?}: allocated {o:?}");
        };
        assert!(
            why.contains(
                "claim default/gpu-and-nic: matchAttribute resource.kubernetes.io/pcieRoot over gpu, nic: 7 values of 9 have a free device for each request, none has enough; the closest, "
            ) && why.contains("has gpu 1 of 2, nic 1 of 2"),
            "{mode:?}: {why}"
        );
    }
    let too_many = [claim(
        "nine",
        &json!([exactly("gpu", "gpu.nvidia.com", 9)]),
        &json!([]),
    )];
    let (o, _) = run(&node, &too_many, &[gpu(3)], Mode::Exact);
    let Outcome::Unsatisfiable(why) = o else {
        panic!("allocated {o:?}");
    };
    assert!(
        why.contains(
            "claim default/nine, request gpu: wants 9, 8 match its class and selectors, 7 free"
        ),
        "{why}"
    );
}
