//! FGD-Reach: FGD with a fragmentation measure that also counts the GPUs a typical pod
//! cannot reach, topoplace's own policy for the FGD paper's experiment.
//!
//! FGD (Weng et al., USENIX ATC '23) scores a placement by how much it grows the node's
//! expected fragment F_n, the free GPU milli that a pod drawn from the workload's typical
//! pods could not use. FGD-Reach keeps everything of FGD that the reproduction showed to
//! matter (the same typical pods, the truncated integer score
//! `int(100 sigmoid(dF / 1000))`, the fixed per-seed node priority on ties, the GPU choice
//! inside the node) and changes only the measure, in two ways:
//!
//! 1. **CPU reach.** FGD counts a GPU as usable by a sharing typical pod as soon as the
//!    GPU has enough free milli and the node has CPU for one such pod. A node with 8 free
//!    GPUs and CPU for 2 pods of the shape can serve 2 of them, not 8. The GPUs beyond
//!    those the CPU can reach (the fitting GPUs past the `cpu_free / cpu` ones with the most
//!    free milli) are *stranded*; F_reach adds half of their free milli
//!    ([`STRANDED_WEIGHT`]). Placements that use up a node's CPU while leaving its GPUs
//!    free now grow F, so CPU-hungry pods go to CPU-rich nodes and the GPUs of CPU-poor
//!    nodes are filled by CPU-light pods.
//! 2. **Model reservation.** Typical pods restricted to some GPU models need free GPUs of
//!    those models. For each model, its *pressure* is the GPU demand of the restricted
//!    typical pods that accept it, each spread over the supply of the models it accepts,
//!    relative to the workload's mean demand per GPU. F_reach subtracts
//!    `RESERVE_WEIGHT x pressure x free milli`: a pod that may go anywhere then prefers
//!    the models nobody else is waiting for. On a workload without model restrictions
//!    every pressure is 0.
//!
//! The weights (0.5 and 0.1) were chosen by measuring 0.3 / 0.5 / 0.7 / 1.0 and
//! 0.05 / 0.1 / 0.2 / 0.3 / 1.0 over every workload; `docs/replay-policy.md` has the table,
//! the variants that did not help, and the commands that reproduce it.

use super::cluster::{Cluster, Demand, MAX_GPUS, MILLI};
use super::fgd;
use super::frag::{TypicalPods, node_frag};
use super::memo::FragMemo;

/// Share of a stranded GPU's free milli that counts as fragment.
const STRANDED_WEIGHT: f64 = 0.5;
/// Fragment credit per free milli per unit of model pressure (see the module docs).
const RESERVE_WEIGHT: f64 = 0.1;
/// GPU models are ids 0..64, as the node model bits are.
const MODELS: usize = 64;

/// The policy's state over a run: its own measure F_reach of every node, and a memo of it.
#[derive(Debug)]
pub(super) struct FgdReach {
    typical: TypicalPods,
    /// Per model id: `RESERVE_WEIGHT x pressure`.
    reserve: [f64; MODELS],
    /// F_reach of each node, in priority order.
    f: Vec<f64>,
    memo: FragMemo,
}

impl FgdReach {
    /// The state for an empty cluster `c` and the workload's `typical` pods.
    pub(super) fn new(c: &Cluster, typical: &TypicalPods) -> Self {
        let mut state = Self {
            typical: typical.clone(),
            reserve: reservation(c, typical),
            f: Vec::with_capacity(c.len()),
            memo: FragMemo::new(),
        };
        for n in 0..c.len() {
            let f = state.node_value(c, n);
            state.f.push(f);
        }
        state
    }

    /// FGD's integer score of node `n` for `d` under F_reach, and the GPU a sharing pod
    /// would get there (see [`fgd::compute_with`]).
    pub(super) fn score(&mut self, c: &Cluster, n: usize, d: &Demand) -> (i32, u8) {
        let Self {
            typical,
            reserve,
            f,
            memo,
        } = self;
        let (score, gpu) = fgd::compute_with(c, n, d, f[n], memo, |cpu, gpus, model| {
            reach_frag(cpu, gpus, model, typical, reserve[model_id(model)])
        });
        (i32::from(score), gpu as u8)
    }

    /// Records that a pod was placed on node `n`.
    pub(super) fn placed(&mut self, c: &Cluster, n: usize) {
        self.f[n] = self.node_value(c, n);
    }

    fn node_value(&mut self, c: &Cluster, n: usize) -> f64 {
        let (cpu, model, gpus) = (c.nodes[n].cpu_free, c.nodes[n].model_bit, &c.gpu_free[n]);
        let (typical, reserve) = (&self.typical, self.reserve[model_id(model)]);
        self.memo.get(cpu, model, gpus, || {
            reach_frag(cpu, gpus, model, typical, reserve)
        })
    }
}

fn model_id(model_bit: u64) -> usize {
    (model_bit.trailing_zeros() as usize).min(MODELS - 1)
}

/// F_reach of a node: FGD's F, plus [`STRANDED_WEIGHT`] x the stranded milli, minus the
/// model's `reserve` x the free milli.
fn reach_frag(
    cpu_free: i64,
    gpu_free: &[i32; MAX_GPUS],
    model_bit: u64,
    typical: &TypicalPods,
    reserve: f64,
) -> f64 {
    let free: i32 = gpu_free.iter().sum();
    node_frag(cpu_free, gpu_free, model_bit, typical)
        + STRANDED_WEIGHT * stranded(cpu_free, gpu_free, model_bit, typical)
        - reserve * f64::from(free)
}

/// Sum over the sharing typical pods of p_m x the free milli of the GPUs that fit m but lie
/// beyond the `cpu_free / cpu_m` GPUs with the most free milli. 0 where the node cannot
/// host m at all: FGD already counts all its free milli then.
fn stranded(cpu_free: i64, gpu_free: &[i32; MAX_GPUS], model_bit: u64, t: &TypicalPods) -> f64 {
    let mut sorted = *gpu_free;
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let mut out = 0.0;
    for m in 0..t.freq.len() {
        let milli = t.milli[m];
        if milli == 0 || milli >= MILLI || model_bit & t.spec[m] == 0 {
            continue;
        }
        let fit = sorted.iter().take_while(|&&g| g >= milli).count();
        let reach = if t.cpu[m] <= 0 {
            fit
        } else {
            usize::try_from(cpu_free / t.cpu[m]).map_or(0, |k| k.min(fit))
        };
        if reach > 0 && reach < fit {
            out += t.freq[m] * f64::from(sorted[reach..fit].iter().sum::<i32>());
        }
    }
    out
}

/// `RESERVE_WEIGHT x pressure` per model id: for each typical pod m restricted to a strict
/// subset A_m of the cluster's models, its GPU demand p_m x num x milli / 1000 divided by
/// the GPUs of A_m, added to every model of A_m; all divided by the mean demand per GPU
/// (sum over all typical pods of p_m x GPUs, over the cluster's GPUs).
fn reservation(c: &Cluster, t: &TypicalPods) -> [f64; MODELS] {
    let mut supply = [0.0_f64; MODELS];
    let mut present = 0_u64;
    for s in &c.nodes {
        supply[model_id(s.model_bit)] += f64::from(s.gpu_count);
        present |= s.model_bit;
    }
    let gpus: f64 = supply.iter().sum();
    let demand = |m: usize| t.freq[m] * f64::from(t.num[m]) * f64::from(t.milli[m]) / 1000.0;
    let mean_load = (0..t.freq.len()).map(demand).sum::<f64>() / gpus;
    let mut reserve = [0.0; MODELS];
    if mean_load.is_nan() || mean_load <= 0.0 {
        return reserve;
    }
    for m in 0..t.freq.len() {
        let allowed = t.spec[m] & present;
        if t.milli[m] == 0 || allowed == present {
            continue;
        }
        let accepted: f64 = (0..MODELS)
            .filter(|&k| allowed >> k & 1 == 1)
            .map(|k| supply[k])
            .sum();
        if accepted <= 0.0 {
            continue;
        }
        let pressure = demand(m) / accepted / mean_load;
        for (k, r) in reserve.iter_mut().enumerate() {
            if allowed >> k & 1 == 1 {
                *r += RESERVE_WEIGHT * pressure;
            }
        }
    }
    reserve
}

#[cfg(test)]
mod tests {
    use super::super::cluster::{ANY_MODEL, Cluster, Demand, NodeCapacity};
    use super::super::frag::TypicalPods;
    use super::super::memo::FragMemo;
    use super::*;

    fn node(cpu: i64, gpus: u8, model_bit: u64) -> NodeCapacity {
        NodeCapacity {
            cpu,
            mem: 1 << 20,
            gpus,
            model_bit,
        }
    }

    /// FGD's choice: the first node with the highest score (nodes are in priority order).
    fn fgd_choice(c: &Cluster, d: &Demand, t: &TypicalPods) -> usize {
        let mut memo = FragMemo::new();
        let scores: Vec<i8> = (0..c.len())
            .map(|n| {
                let f = node_frag(c.nodes[n].cpu_free, &c.gpu_free[n], c.nodes[n].model_bit, t);
                fgd::compute(c, n, d, f, t, &mut memo).0
            })
            .collect();
        let best = scores.iter().copied().max().unwrap_or(0);
        scores.iter().position(|&s| s == best).unwrap_or(0)
    }

    fn reach_choice(c: &Cluster, d: &Demand, t: &TypicalPods) -> (usize, Vec<i32>) {
        let mut r = FgdReach::new(c, t);
        let scores: Vec<i32> = (0..c.len()).map(|n| r.score(c, n, d).0).collect();
        let best = scores.iter().copied().max().unwrap_or(0);
        (scores.iter().position(|&s| s == best).unwrap_or(0), scores)
    }

    #[test]
    fn stranded_gpus_by_hand() {
        // One typical pod: 500 milli and 6 vCPU. GPUs [1000, 1000, 700, 300].
        let t = TypicalPods {
            cpu: vec![6_000],
            milli: vec![500],
            num: vec![1],
            spec: vec![ANY_MODEL],
            freq: vec![1.0],
        };
        let gpus = [1000, 1000, 700, 300, 0, 0, 0, 0];
        // 13 vCPU reach 2 pods: the 700 GPU is stranded (the 300 one does not fit at all,
        // FGD's part). 18 vCPU reach all three; 5 vCPU none (FGD counts everything then).
        assert_eq!(stranded(13_000, &gpus, 1, &t), 700.0);
        assert_eq!(stranded(18_000, &gpus, 1, &t), 0.0);
        assert_eq!(stranded(5_000, &gpus, 1, &t), 0.0);
        // F_reach = FGD's 300 + half of 700.
        assert_eq!(reach_frag(13_000, &gpus, 1, &t, 0.0), 300.0 + 350.0);
        // Whole-GPU typical pods strand nothing.
        let whole = TypicalPods {
            milli: vec![1000],
            ..t
        };
        assert_eq!(stranded(1_000, &gpus, 1, &whole), 0.0);
    }

    #[test]
    fn a_cpu_only_pod_leaves_a_cpu_poor_node_alone() {
        // Typical: 500 milli with 6 vCPU. Node 0 (first in priority): 16 vCPU, 2 GPUs;
        // node 1: 64 vCPU, 2 GPUs. An 8 vCPU CPU-only pod leaves F at 0 on both (the typical
        // pod still fits): FGD scores 50 and 50 and takes node 0. On node 0 it leaves CPU for
        // one pod of the shape and strands a GPU: F_reach grows by 1000 / 2, score
        // int(100 sigmoid(-0.5)) = 37, so FGD-Reach takes node 1 (score 50).
        let t = TypicalPods {
            cpu: vec![6_000],
            milli: vec![500],
            num: vec![1],
            spec: vec![ANY_MODEL],
            freq: vec![1.0],
        };
        let c = Cluster::new(&[node(16_000, 2, 1), node(64_000, 2, 1)]);
        let cpu_pod = Demand::new(8_000, 1, 0, 0, ANY_MODEL, 0);
        assert_eq!(fgd_choice(&c, &cpu_pod, &t), 0);
        assert_eq!(reach_choice(&c, &cpu_pod, &t), (1, vec![37, 50]));
    }

    #[test]
    fn an_unrestricted_pod_leaves_the_scarce_model_alone() {
        // Models X (bit 0, one 8-GPU node) and Y (bit 1, one 1-GPU node, node 1). Typical
        // whole-GPU pods: X only (0.3), Y only (0.2), any model (0.5); mean demand 1 GPU per
        // pod over 9 GPUs. Pressure: X 0.3 / 8 x 9 = 0.3375, Y 0.2 / 1 x 9 = 1.8; reserve
        // 0.03375 and 0.18 per milli.
        let t = TypicalPods {
            cpu: vec![1_000; 3],
            milli: vec![1000; 3],
            num: vec![1; 3],
            spec: vec![0b01, 0b10, ANY_MODEL],
            freq: vec![0.3, 0.2, 0.5],
        };
        let c = Cluster::new(&[node(64_000, 8, 0b01), node(64_000, 1, 0b10)]);
        let r = reservation(&c, &t);
        assert!((r[0] - 0.033_75).abs() < 1e-12 && (r[1] - 0.18).abs() < 1e-12);
        // An unrestricted whole GPU. FGD: on X, F drops by the Y-only pod's 0.2 x 1000 (dF
        // 200, score 54); on Y by the X-only pod's 0.3 x 1000 (dF 300, score 57): FGD takes
        // the only Y GPU. FGD-Reach: dF 200 - 33.75 (54) on X, 300 - 180 (52) on Y: X.
        let any = Demand::new(1_000, 1, 1, 1000, ANY_MODEL, 0);
        assert_eq!(fgd_choice(&c, &any, &t), 1);
        assert_eq!(reach_choice(&c, &any, &t), (0, vec![54, 52]));
        // Unrestricted typical pods, or ones that accept every model, reserve nothing.
        let open = TypicalPods {
            spec: vec![ANY_MODEL, 0b11, ANY_MODEL],
            ..t
        };
        assert_eq!(reservation(&c, &open), [0.0; MODELS]);
    }

    #[test]
    fn placed_keeps_the_node_value() {
        let t = TypicalPods {
            cpu: vec![6_000],
            milli: vec![500],
            num: vec![1],
            spec: vec![ANY_MODEL],
            freq: vec![1.0],
        };
        let mut c = Cluster::new(&[node(16_000, 2, 1)]);
        let mut r = FgdReach::new(&c, &t);
        assert_eq!(r.f, vec![0.0]);
        c.place(0, &Demand::new(8_000, 1, 0, 0, ANY_MODEL, 0), 0);
        r.placed(&c, 0);
        assert_eq!(r.f, vec![500.0]);
    }
}
