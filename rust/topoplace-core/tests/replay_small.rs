//! The replay on hand-made clusters whose answers were worked out by hand from the procedure
//! (`shared/traces/alibaba-gpu-2023/FGD-PROCEDURE.md`), and the CSV readers' errors.
//!
//! Every pod of a scenario has the same shape, so the shuffle and the padding cannot change
//! the sequence of decisions, and no two nodes tie, so the seed's node priority does not
//! matter either.

use topoplace_core::Error;
use topoplace_core::replay::{
    NodeRow, PodRow, Policy, ReplayOptions, read_nodes, read_pods, replay, replay_traced,
};

fn node(name: &str, cpu: i64, gpus: u32) -> NodeRow {
    NodeRow {
        name: name.to_owned(),
        cpu_milli: cpu,
        memory_mib: 1 << 20,
        gpus,
        model: "T4".to_owned(),
    }
}

fn pods(count: usize, cpu: i64, num_gpu: u32, gpu_milli: i64) -> Vec<PodRow> {
    (0..count)
        .map(|i| PodRow {
            name: format!("p{i:03}"),
            cpu_milli: cpu,
            memory_mib: 1024,
            num_gpu,
            gpu_milli,
            gpu_spec: Vec::new(),
        })
        .collect()
}

/// `(node index, GPU mask)` per offered pod, `None` for a failed pod.
fn decisions(nodes: &[NodeRow], pods: &[PodRow], policy: Policy) -> Vec<Option<(usize, u8)>> {
    let t = replay_traced(nodes, pods, policy, 42, &ReplayOptions::default()).expect("replay runs");
    t.pods.iter().map(|o| o.node.map(|n| (n, o.gpus))).collect()
}

#[test]
fn best_fit_fills_the_tightest_node_first() {
    // 7 GPUs: 1.3 x 7,000 = 9,100 milli, so the two 1-GPU pods are padded to nine.
    // First pod: node 1 leaves 4 vCPU and no GPU (score 98), node 0 scores 89, node 2 70.
    // Then node 0 twice (89, then 96 against 70), node 2 four times, and two failures.
    let nodes = [
        node("n0", 16_000, 2),
        node("n1", 8_000, 1),
        node("n2", 32_000, 4),
    ];
    let got = decisions(&nodes, &pods(2, 4_000, 1, 1000), Policy::BestFit);
    let want = vec![
        Some((1, 0b1)),
        Some((0, 0b1)),
        Some((0, 0b10)),
        Some((2, 0b1)),
        Some((2, 0b10)),
        Some((2, 0b100)),
        Some((2, 0b1000)),
        None,
        None,
    ];
    assert_eq!(got, want);
    let r = replay(&nodes, &pods(2, 4_000, 1, 1000), Policy::BestFit, 42).expect("replay runs");
    assert_eq!(
        (
            r.total_gpus,
            r.pods_offered,
            r.pods_failed,
            r.final_used_milli
        ),
        (7, 9, 2, 7_000)
    );
}

#[test]
fn gpu_packing_prefers_partly_used_gpus_then_small_idle_nodes() {
    // 3 GPUs: nine 400-milli pods (3,600 of the 3,900 target). The idle 1-GPU node (32)
    // beats the idle 2-GPU node (31); its GPU then scores 100 - 600/100 = 94; once it is too
    // small, the 2-GPU node opens GPU 0, fills it to 200, must open GPU 1 (49), fills it, and
    // the last three pods fail.
    let nodes = [node("a", 8_000, 1), node("b", 16_000, 2)];
    let got = decisions(&nodes, &pods(3, 1_000, 1, 400), Policy::GpuPacking);
    let want = vec![
        Some((0, 0b1)),
        Some((0, 0b1)),
        Some((1, 0b1)),
        Some((1, 0b1)),
        Some((1, 0b10)),
        Some((1, 0b10)),
        None,
        None,
        None,
    ];
    assert_eq!(got, want);
}

#[test]
fn fgd_spreads_pods_that_cannot_share() {
    // The workload is all 600-milli pods (the only typical pod), padded to eight on 4 GPUs.
    // Each pod takes the first GPU that still has 600 free (every candidate leaves the same
    // F, so the first index wins); with 400 left on every GPU the last four fail.
    let nodes = [node("a", 64_000, 4)];
    let got = decisions(&nodes, &pods(4, 1_000, 1, 600), Policy::Fgd);
    assert_eq!(
        got[..4],
        [
            Some((0, 0b1)),
            Some((0, 0b10)),
            Some((0, 0b100)),
            Some((0, 0b1000))
        ]
    );
    assert!(got[4..].iter().all(Option::is_none));
}

#[test]
fn runs_are_deterministic_and_traces_agree_with_summaries() {
    let nodes = [
        node("a", 16_000, 2),
        node("b", 96_000, 8),
        node("c", 32_000, 4),
    ];
    let mut workload = pods(5, 2_000, 1, 300);
    workload.extend(pods(3, 8_000, 2, 1000).into_iter().map(|mut p| {
        p.name.push('x');
        p
    }));
    for policy in Policy::ALL {
        let a = replay(&nodes, &workload, policy, 7).expect("replay runs");
        let b = replay_traced(&nodes, &workload, policy, 7, &ReplayOptions::default())
            .expect("replay runs");
        // Debug text compares the empty buckets (NaN) too, which `==` would not.
        assert_eq!(
            format!("{a:?}"),
            format!("{:?}", b.result),
            "{}",
            policy.name()
        );
        assert_eq!(b.pods.len(), a.pods_offered);
        assert_eq!(
            b.pods.iter().filter(|o| o.node.is_none()).count(),
            a.pods_failed
        );
        let last = b.records.last().expect("records");
        assert_eq!(last.used_milli, a.final_used_milli);
        // Small clusters jump over whole percents: some buckets are empty (NaN), not all.
        assert!(a.allocation_ratio.iter().any(|v| v.is_finite()));
    }
}

#[test]
fn policy_names_round_trip() {
    for p in Policy::ALL {
        assert_eq!(Policy::from_name(p.name()), Some(p));
    }
    assert_eq!(Policy::from_name("FGD"), None);
    assert_eq!(Policy::Fgd.artifact_label(), "06-FGD");
}

#[test]
fn readers_convert_as_the_artifact_does() {
    let nodes = read_nodes(
        "sn,cpu_milli,memory_mib,gpu,model\nn0,96000,393216,8,G2\n",
        "n.csv",
    )
    .expect("parses");
    assert_eq!(
        nodes,
        vec![NodeRow {
            name: "n0".into(),
            cpu_milli: 96_000,
            memory_mib: 393_216,
            gpus: 8,
            model: "G2".into()
        }]
    );
    let text = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos\n\
                a,1000,10,1,1500,T4||P100,LS\n\
                b,1000,10,1,-3,,BE\n\
                c,1000,10,0,500,T4,LS\n";
    let p = read_pods(text, "p.csv").expect("parses");
    assert_eq!(
        (p[0].gpu_milli, p[0].gpu_spec.clone()),
        (1000, vec!["T4".to_owned(), "P100".to_owned()])
    );
    assert_eq!(p[1].gpu_milli, 0);
    assert_eq!(
        (p[2].gpu_milli, p[2].gpu_spec.len()),
        (0, 0),
        "no GPU fields without GPUs"
    );
    // The multigpu files have no gpu_spec column.
    let m = read_pods(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\nx,1,2,8,1000\n",
        "m.csv",
    )
    .expect("parses");
    assert!(m[0].gpu_spec.is_empty());
}

#[test]
fn reader_errors_name_the_file_line_and_column() {
    let err = read_pods(
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\na,1,2,1,100\nb,x,2,1,100\n",
        "pods.csv",
    )
    .unwrap_err();
    let Error::Topology { location, .. } = &err else {
        panic!("unexpected error {err:?}")
    };
    assert_eq!(
        (
            location.source.as_str(),
            location.line,
            location.object.as_deref()
        ),
        ("pods.csv", Some(3), Some("cpu_milli"))
    );
    let short = read_nodes("sn,cpu_milli,memory_mib,gpu,model\nn0,1\n", "nodes.csv").unwrap_err();
    assert!(
        short.to_string().contains("nodes.csv:2: memory_mib"),
        "{short}"
    );
    let missing = read_nodes("sn,cpu,memory_mib,gpu,model\n", "nodes.csv").unwrap_err();
    assert!(missing.to_string().contains("cpu_milli"), "{missing}");
    assert!(read_pods("", "empty.csv").is_err());
}

#[test]
fn unsupported_inputs_are_errors() {
    let big = [node("a", 1_000, 16)];
    assert!(matches!(
        replay(&big, &pods(1, 1, 1, 1000), Policy::Fgd, 1),
        Err(Error::Value(_))
    ));
    let fractional_pair = pods(1, 1_000, 2, 500);
    assert!(matches!(
        replay(&[node("a", 8_000, 2)], &fractional_pair, Policy::BestFit, 1),
        Err(Error::Value(_))
    ));
    let cpu_only = pods(3, 1_000, 0, 0);
    assert!(matches!(
        replay(&[node("a", 8_000, 2)], &cpu_only, Policy::BestFit, 1),
        Err(Error::Value(_))
    ));
}
