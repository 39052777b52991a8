//! The replay loop: prepare the dense cluster and the arrivals, offer each pod once, record.

use std::collections::BTreeMap;

use super::arrivals::{arrival_order, node_ranks};
use super::cluster::{ANY_MODEL, Cluster, Demand, MAX_GPUS, MILLI, NodeCapacity};
use super::fgd;
use super::fgd_reach::FgdReach;
use super::frag::{TypicalPods, node_frag, typical_pods};
use super::go_rand::GoRand;
use super::measure::{Record, bucketize};
use super::memo::FragMemo;
use super::scores::{best_fit, dot_product, gpu_clustering, gpu_packing};
use super::select::{INFEASIBLE, MAX_NODES, Selector};
use super::{NodeRow, PodRow, Policy, ReplayOptions, ReplayResult};
use crate::error::{Error, Result};

/// What happened to one offered pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodOutcome {
    /// Index of the pod in the input list (re-drawn pods repeat an index).
    pub pod: usize,
    /// Index of the node in the input list, or `None` when no node could take the pod.
    pub node: Option<usize>,
    /// GPUs used on that node, as a bit mask of GPU indexes.
    pub gpus: u8,
}

/// A run with its per-pod decisions and records, for debugging and plotting.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayTrace {
    /// The summary, as [`replay`] returns it.
    pub result: ReplayResult,
    /// One entry per offered pod, in arrival order.
    pub pods: Vec<PodOutcome>,
    /// One record per offered pod, in arrival order.
    pub records: Vec<Record>,
}

/// Replays `pods` on `nodes` with `policy` and the paper's settings.
///
/// # Errors
/// See [`replay_with`].
pub fn replay(
    nodes: &[NodeRow],
    pods: &[PodRow],
    policy: Policy,
    seed: i64,
) -> Result<ReplayResult> {
    replay_with(nodes, pods, policy, seed, &ReplayOptions::default())
}

/// Replays `pods` on `nodes` with `policy`, tune seed `seed` and `options`.
///
/// # Errors
/// [`Error::Value`] when a node has more than 8 GPUs, there are more than 65,536 nodes or 64
/// GPU models, a pod asks for a fraction of several GPUs (the simulator cannot place those),
/// or the workload cannot be tuned (no GPU or CPU requested, no GPU in the cluster, a tune
/// ratio that is not positive).
pub fn replay_with(
    nodes: &[NodeRow],
    pods: &[PodRow],
    policy: Policy,
    seed: i64,
    options: &ReplayOptions,
) -> Result<ReplayResult> {
    run(nodes, pods, policy, seed, options, false).map(|t| t.result)
}

/// As [`replay_with`], keeping every pod's outcome and every record.
///
/// # Errors
/// As [`replay_with`].
pub fn replay_traced(
    nodes: &[NodeRow],
    pods: &[PodRow],
    policy: Policy,
    seed: i64,
    options: &ReplayOptions,
) -> Result<ReplayTrace> {
    run(nodes, pods, policy, seed, options, true)
}

/// Fixed-point scale of the cluster's fragmentation sum: adding and removing per-node F in
/// integers keeps the running total free of drift (error below 1e-6 milli).
const FRAG_SCALE: f64 = 4_294_967_296.0;

/// Inputs in the simulator's own terms: name-sorted pods as demands, nodes in priority order.
pub(super) struct Prepared {
    demands: Vec<Demand>,
    /// Input index of each name-sorted pod.
    pub(super) pod_index: Vec<usize>,
    typical: TypicalPods,
    shapes: usize,
    /// Input index of each node, in priority order (first wins ties).
    pub(super) node_index: Vec<usize>,
    capacities: Vec<NodeCapacity>,
    /// The offered pods in arrival order, as indexes into the name-sorted pods.
    pub(super) arrivals: Vec<u32>,
    rng: GoRand,
}

pub(super) fn prepare(
    nodes: &[NodeRow],
    pods: &[PodRow],
    seed: i64,
    options: &ReplayOptions,
) -> Result<Prepared> {
    if nodes.len() > MAX_NODES {
        return Err(Error::Value(format!(
            "{} nodes, at most {MAX_NODES} are supported",
            nodes.len()
        )));
    }
    let mut models: BTreeMap<&str, u32> = BTreeMap::new();
    for n in nodes {
        if n.gpus as usize > MAX_GPUS {
            return Err(Error::Value(format!(
                "node {}: {} GPUs, at most {MAX_GPUS} are supported",
                n.name, n.gpus
            )));
        }
        models.insert(n.model.as_str(), 0);
    }
    if models.len() > 64 {
        return Err(Error::Value(format!(
            "{} GPU models, at most 64 are supported",
            models.len()
        )));
    }
    for (id, v) in models.values_mut().enumerate() {
        *v = id as u32;
    }
    let mut sorted_nodes: Vec<usize> = (0..nodes.len()).collect();
    sorted_nodes.sort_by(|&a, &b| nodes[a].name.cmp(&nodes[b].name));
    let mut pod_index: Vec<usize> = (0..pods.len()).collect();
    pod_index.sort_by(|&a, &b| pods[a].name.cmp(&pods[b].name));

    let mut shape_ids: BTreeMap<(i64, i64, u32, i32, u64), u32> = BTreeMap::new();
    let mut demands = Vec::with_capacity(pods.len());
    // The simulator keys typical pods by the annotation text (models joined by '|'); rank
    // the distinct texts once, the empty text first.
    let spec_text = |p: &PodRow| {
        if p.num_gpu == 0 || p.gpu_milli <= 0 {
            String::new()
        } else {
            p.gpu_spec.join("|")
        }
    };
    let mut texts: Vec<String> = pods
        .iter()
        .filter(|p| !p.gpu_spec.is_empty())
        .map(spec_text)
        .collect();
    texts.push(String::new());
    texts.sort_unstable();
    texts.dedup();
    let mut spec_rank = Vec::with_capacity(pods.len());
    for &i in &pod_index {
        let p = &pods[i];
        let milli = i32::try_from(p.gpu_milli.clamp(0, i64::from(MILLI))).unwrap_or(0);
        // A GPU pod without milli gets no GPU from the simulator's filter or reservation: it is
        // a CPU-only pod in every respect that affects placement.
        let (num, milli) = if p.num_gpu == 0 || milli == 0 {
            (0, 0)
        } else {
            (p.num_gpu, milli)
        };
        if num > 1 && milli < MILLI {
            return Err(Error::Value(format!(
                "pod {}: {num} GPUs of {milli} milli each; fractions of several GPUs are not \
                 supported",
                p.name
            )));
        }
        let spec = if num == 0 || p.gpu_spec.is_empty() {
            ANY_MODEL
        } else {
            p.gpu_spec
                .iter()
                .filter_map(|m| models.get(m.as_str()))
                .fold(0, |acc, &id| acc | 1 << id)
        };
        spec_rank.push(if p.gpu_spec.is_empty() {
            0
        } else {
            texts.binary_search(&spec_text(p)).unwrap_or(0) as u32
        });
        let next = shape_ids.len() as u32;
        let shape = *shape_ids
            .entry((p.cpu_milli, p.memory_mib, num, milli, spec))
            .or_insert(next);
        demands.push(Demand::new(
            p.cpu_milli,
            p.memory_mib,
            num,
            milli,
            spec,
            shape,
        ));
    }
    let typical = typical_pods(&demands, &spec_rank, options.typical_pods_pct);

    let capacity_milli: i64 = nodes
        .iter()
        .map(|n| i64::from(n.gpus) * i64::from(MILLI))
        .sum();
    let mut rng = GoRand::new(seed);
    let arrivals = arrival_order(&demands, capacity_milli, options.tune_ratio, &mut rng)?;
    let rank = node_ranks(nodes.len(), options.informer_draws, &mut rng);
    let mut node_index = vec![0; nodes.len()];
    for (sorted_pos, &r) in rank.iter().enumerate() {
        node_index[r] = sorted_nodes[sorted_pos];
    }
    let capacities = node_index
        .iter()
        .map(|&i| {
            let n = &nodes[i];
            NodeCapacity {
                cpu: n.cpu_milli,
                mem: n.memory_mib,
                gpus: n.gpus as u8,
                model_bit: 1 << models[n.model.as_str()],
            }
        })
        .collect();
    Ok(Prepared {
        demands,
        pod_index,
        typical,
        shapes: shape_ids.len(),
        node_index,
        capacities,
        arrivals,
        rng,
    })
}

/// Random: a feasible node by `Intn` (no draw when only one fits), then for a sharing pod a
/// reservoir draw over the fitting GPUs.
fn random_choice(
    c: &Cluster,
    d: &Demand,
    keys: &[i32],
    rng: &mut GoRand,
) -> Option<(usize, usize)> {
    // Indexed loops rather than iterator chains: the debug-build tests run these too.
    let mut count = 0;
    let mut i = 0;
    while i < keys.len() {
        count += usize::from(keys[i] != INFEASIBLE);
        i += 1;
    }
    let mut pick = match count {
        0 => return None,
        1 => 0,
        len => rng.intn(len),
    };
    let mut n = 0;
    while keys[n] == INFEASIBLE || pick > 0 {
        pick -= usize::from(keys[n] != INFEASIBLE);
        n += 1;
    }
    let mut gpu = 0;
    if d.milli > 0 && d.is_share() {
        let mut fitting = 0;
        for (i, &free) in c.gpu_free[n][..usize::from(c.nodes[n].gpu_count)]
            .iter()
            .enumerate()
        {
            if free >= d.milli {
                fitting += 1;
                if rng.intn(fitting) == 0 {
                    gpu = i;
                }
            }
        }
    }
    Some((n, gpu))
}

fn frag_fixed(f: f64) -> i64 {
    (f * FRAG_SCALE).round() as i64
}

fn run(
    nodes: &[NodeRow],
    pods: &[PodRow],
    policy: Policy,
    seed: i64,
    options: &ReplayOptions,
    traced: bool,
) -> Result<ReplayTrace> {
    let Prepared {
        demands,
        pod_index,
        typical,
        shapes,
        node_index,
        capacities,
        arrivals,
        mut rng,
    } = prepare(nodes, pods, seed, options)?;
    let mut c = Cluster::new(&capacities);
    let total_gpus: u32 = nodes.iter().map(|n| n.gpus).sum();
    let mut f_node: Vec<f64> = (0..c.len())
        .map(|n| {
            node_frag(
                c.nodes[n].cpu_free,
                &c.gpu_free[n],
                c.nodes[n].model_bit,
                &typical,
            )
        })
        .collect();
    let mut frag_sum: i64 = f_node.iter().map(|&f| frag_fixed(f)).sum();
    let mut sel = Selector::new(c.len(), shapes);
    let mut memo = FragMemo::new();
    let mut reach: Option<FgdReach> = None;

    let mut records = Vec::with_capacity(arrivals.len());
    let mut outcomes = Vec::with_capacity(if traced { arrivals.len() } else { 0 });
    let (mut arrived, mut used, mut failed) = (0_i64, 0_i64, 0_usize);
    for &a in &arrivals {
        let d = &demands[a as usize];
        let choice = match policy {
            Policy::Random => {
                let (keys, _) = sel.row(&c, d, |_| (0, 0));
                random_choice(&c, d, keys, &mut rng)
            }
            Policy::DotProd => sel.best(&c, d, |n| (dot_product(&c.nodes[n], d), 0)),
            Policy::GpuClustering => sel.best(&c, d, |n| (gpu_clustering(&c.nodes[n], d), 0)),
            Policy::GpuPacking => {
                sel.best(&c, d, |n| (gpu_packing(&c.nodes[n], &c.gpu_free[n], d), 0))
            }
            Policy::BestFit => sel.best(&c, d, |n| (best_fit(&c.nodes[n], d), 0)),
            Policy::Fgd => sel.best(&c, d, |n| {
                let (score, gpu) = fgd::compute(&c, n, d, f_node[n], &typical, &mut memo);
                (i32::from(score), gpu as u8)
            }),
            Policy::FgdReach => {
                // Created at the first pod, before any placement.
                let r = reach.get_or_insert_with(|| FgdReach::new(&c, &typical));
                sel.best(&c, d, |n| r.score(&c, n, d))
            }
        };
        arrived += d.gpu_milli();
        let mut outcome = PodOutcome {
            pod: pod_index[a as usize],
            node: None,
            gpus: 0,
        };
        if let Some((n, gpu)) = choice {
            // Policies other than FGD and Random use the "best" GPU: the tightest fit.
            let gpu = match policy {
                Policy::Fgd | Policy::FgdReach | Policy::Random => gpu,
                _ if d.milli > 0 && d.is_share() => c.tightest_gpu(n, d.milli),
                _ => 0,
            };
            outcome.gpus = c.place(n, d, gpu);
            outcome.node = Some(node_index[n]);
            sel.changed(n);
            used += d.gpu_milli();
            let (cpu, model) = (c.nodes[n].cpu_free, c.nodes[n].model_bit);
            let f = memo.get(cpu, model, &c.gpu_free[n], || {
                node_frag(cpu, &c.gpu_free[n], model, &typical)
            });
            frag_sum += frag_fixed(f) - frag_fixed(f_node[n]);
            f_node[n] = f;
            if let Some(r) = reach.as_mut() {
                r.placed(&c, n);
            }
        } else {
            failed += 1;
        }
        records.push(Record {
            arrived_milli: arrived,
            used_milli: used,
            frag_milli: frag_sum as f64 / FRAG_SCALE,
        });
        if traced {
            outcomes.push(outcome);
        }
    }

    let (allocation_ratio, fragmentation) = bucketize(&records, total_gpus);
    let last = allocation_ratio[super::BUCKETS - 1];
    let unallocated_gpus_at_end = if last.is_nan() {
        (f64::from(total_gpus) * f64::from(MILLI) - used as f64) / f64::from(MILLI)
    } else {
        f64::from(total_gpus) * (1.0 - last / 100.0)
    };
    Ok(ReplayTrace {
        result: ReplayResult {
            policy,
            seed,
            total_gpus,
            pods_offered: arrivals.len(),
            pods_failed: failed,
            allocation_ratio,
            fragmentation,
            unallocated_gpus_at_end,
            final_used_milli: used,
        },
        pods: outcomes,
        records: if traced { records } else { Vec::new() },
    })
}
