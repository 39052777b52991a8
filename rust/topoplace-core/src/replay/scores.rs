//! Node scores of the four packing baselines, as the FGD artifact computes them.
//!
//! Each returns the integer score the simulator's score plugin returns (0..=100, higher is
//! better). The float expressions keep the simulator's operation order, because the score is
//! truncated to an integer and ties are then broken by node priority: a score one ulp below
//! an integer changes the winner.

use super::cluster::{Demand, MAX_GPUS, MILLI, NodeState};

/// CPU and GPU normalisers of DotProd and BestFit (the simulator's `MaxSpecCpu`/`MaxSpecGpu`).
const MAX_SPEC_CPU: f64 = 128_000.0;
const MAX_SPEC_GPU: f64 = 8_000.0;
const MAX_SCORE: i32 = 100;

/// DotProd (Tetris): `100 (1 - (node . pod) / 2)` with both vectors `(cpu, gpu milli)` divided
/// by `(128 vCPU, 8 GPUs)`; the node with the smallest dot product wins.
#[inline]
pub(super) fn dot_product(s: &NodeState, d: &Demand) -> i32 {
    let node_cpu = s.cpu_free as f64 / MAX_SPEC_CPU;
    let node_gpu = f64::from(s.total_free) / MAX_SPEC_GPU;
    let pod_cpu = d.cpu as f64 / MAX_SPEC_CPU;
    let pod_gpu = d.gpu_milli() as f64 / MAX_SPEC_GPU;
    let dot = node_cpu * pod_cpu + node_gpu * pod_gpu;
    let score = 1.0 - dot / 2.0;
    (f64::from(MAX_SCORE) * score) as i32
}

/// BestFit: `100 (1 - s)`, `s` the mean of the CPU and GPU left over after placement, each
/// divided by its normaliser.
#[inline]
pub(super) fn best_fit(s: &NodeState, d: &Demand) -> i32 {
    let cpu_left = (s.cpu_free - d.cpu) as f64;
    let gpu_left = (i64::from(s.total_free) - d.gpu_milli()) as f64;
    let s = cpu_left / MAX_SPEC_CPU * 0.5 + gpu_left / MAX_SPEC_GPU * 0.5;
    ((1.0 - s) * f64::from(MAX_SCORE)) as i32
}

/// GpuClustering: a band by the GPU-pod classes already on the node (only the pod's class:
/// 75, its class among others: 50, none yet: 25, only other classes: 0) plus up to 25 for
/// fuller nodes, `25 (8000 - free milli) / 8000` in integer arithmetic. CPU-only pods: 0.
#[inline]
pub(super) fn gpu_clustering(s: &NodeState, d: &Demand) -> i32 {
    let class = d.class_bit();
    if class == 0 {
        return 0;
    }
    let classes = s.classes;
    let band = if classes & class != 0 {
        if classes == class { 75 } else { 50 }
    } else if classes == 0 {
        25
    } else {
        0
    };
    MAX_SCORE / 4 * (8_000 - s.total_free) / 8_000 + band
}

/// GpuPacking: idle nodes last, smaller idle nodes first (`max(33 - g, g)` for `g` free
/// GPUs); nodes that must open fully free GPUs next (`max(50 - k, 33)`); nodes whose partly
/// used GPU takes the pod first (`max(100 - free/100, 50)`, fuller GPUs better). CPU-only
/// pods: 0.
pub(super) fn gpu_packing(s: &NodeState, gpu_free: &[i32; MAX_GPUS], d: &Demand) -> i32 {
    if d.milli <= 0 {
        return 0;
    }
    let gpus = usize::from(s.gpu_count);
    let full = i32::from(s.full_free);
    if s.full_free == s.gpu_count {
        return (MAX_SCORE / 3 - full).max(full);
    }
    // The GPUs taken, in ascending free milli (stable), are the ones that fit.
    let free = &gpu_free[..gpus];
    let mut order = [0_usize; MAX_GPUS];
    for (slot, o) in order.iter_mut().enumerate().take(gpus) {
        *o = slot;
    }
    order[..gpus].sort_by_key(|&i| free[i]);
    let mut need = d.num;
    let mut fully_free_used = 0_i32;
    let mut ratio_sum = 0_i32;
    for &i in &order[..gpus] {
        if need == 0 {
            break;
        }
        if free[i] >= d.milli {
            need -= 1;
            ratio_sum += free[i] * 100 / MILLI;
            if free[i] == MILLI {
                fully_free_used += 1;
            }
        }
    }
    if fully_free_used > 0 {
        return (MAX_SCORE / 2 - fully_free_used).max(MAX_SCORE / 3);
    }
    (MAX_SCORE - ratio_sum / 10).max(MAX_SCORE / 2)
}

#[cfg(test)]
mod tests {
    use super::super::cluster::{ANY_MODEL, Cluster, Demand, NodeCapacity};
    use super::*;

    fn node(cpu: i64, gpus: u8) -> Cluster {
        Cluster::new(&[NodeCapacity {
            cpu,
            mem: 1 << 20,
            gpus,
            model_bit: 1,
        }])
    }

    fn pod(cpu: i64, num: u32, milli: i32) -> Demand {
        Demand::new(cpu, 1024, num, milli, ANY_MODEL, 0)
    }

    #[test]
    fn dot_product_by_hand() {
        // Node (64 vCPU, 2 GPUs) = (0.5, 0.25); pod (8 vCPU, 1 GPU) = (0.0625, 0.125):
        // dot 0.0625, score int(100 (1 - 0.03125)) = 96.
        let c = node(64_000, 2);
        assert_eq!(dot_product(&c.nodes[0], &pod(8_000, 1, 1000)), 96);
    }

    #[test]
    fn best_fit_by_hand() {
        // Left over: 12 vCPU (0.09375 / 2) and 1 GPU (0.125 / 2): s = 0.109375, score 89.
        let c = node(16_000, 2);
        assert_eq!(best_fit(&c.nodes[0], &pod(4_000, 1, 1000)), 89);
        // A pod that fills the node exactly scores 100.
        assert_eq!(best_fit(&c.nodes[0], &pod(16_000, 2, 1000)), 100);
    }

    #[test]
    fn gpu_clustering_bands() {
        let mut c = node(96_000, 8);
        // Idle 8-GPU node: base 0, band 25. An idle 2-GPU node would have base 18.
        assert_eq!(gpu_clustering(&c.nodes[0], &pod(1_000, 1, 500)), 25);
        assert_eq!(
            gpu_clustering(&node(96_000, 2).nodes[0], &pod(1_000, 1, 500)),
            43
        );
        c.place(0, &pod(1_000, 1, 500), 0);
        c.place(0, &pod(1_000, 1, 1000), 0);
        // 1,500 milli used: base 25 * 1500 / 8000 = 4. Sharing class among others: 50.
        assert_eq!(gpu_clustering(&c.nodes[0], &pod(1_000, 1, 300)), 54);
        // Other classes only: base alone.
        assert_eq!(gpu_clustering(&c.nodes[0], &pod(1_000, 2, 1000)), 4);
        // CPU-only pods score 0 everywhere.
        assert_eq!(gpu_clustering(&c.nodes[0], &pod(1_000, 0, 0)), 0);
        let mut only_share = node(96_000, 8);
        only_share.place(0, &pod(1_000, 1, 500), 0);
        assert_eq!(
            gpu_clustering(&only_share.nodes[0], &pod(1_000, 1, 300)),
            75 + 1
        );
    }

    #[test]
    fn gpu_packing_cases() {
        assert_eq!(
            gpu_packing(
                &node(8_000, 1).nodes[0],
                &node(8_000, 1).gpu_free[0],
                &pod(1_000, 1, 500)
            ),
            32
        );
        assert_eq!(
            gpu_packing(
                &node(8_000, 8).nodes[0],
                &node(8_000, 8).gpu_free[0],
                &pod(1_000, 1, 500)
            ),
            25
        );
        // GPUs [1000, 300, 1000, 0].
        let mut c = node(32_000, 4);
        c.place(0, &pod(1_000, 1, 700), 1);
        c.place(0, &pod(1_000, 1, 1000), 0);
        c.gpu_free[0] = [1000, 300, 1000, 0, 0, 0, 0, 0];
        let (s, g) = (&c.nodes[0], &c.gpu_free[0]);
        // The partly used GPU (300 free) takes a 250 pod: 100 - 300/100.
        assert_eq!(gpu_packing(s, g, &pod(1_000, 1, 250)), 97);
        // A 400 pod must open a free GPU: 50 - 1.
        assert_eq!(gpu_packing(s, g, &pod(1_000, 1, 400)), 49);
        assert_eq!(gpu_packing(s, g, &pod(1_000, 2, 1000)), 48);
        assert_eq!(gpu_packing(s, g, &pod(1_000, 0, 0)), 0);
    }
}
