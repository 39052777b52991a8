//! The FGD score: `int(100 sigmoid((F_before - F_after) / 1000))`, the node (and GPU) whose
//! fragmentation grows least (Weng et al., USENIX ATC '23, Algorithm 1).
//!
//! The caller caches scores per (node, shape) (see `select`); F_before is kept per node by
//! the caller too (it is also the fragmentation record). F_after is computed once per distinct
//! free-milli value among the candidate GPUs, since F only depends on the multiset of free
//! values.

use super::cluster::{Cluster, Demand, MAX_GPUS};
use super::frag::{TypicalPods, node_frag};
use super::memo::FragMemo;

/// `int(100 / (1 + exp(-dF / 1000)))`, truncated toward zero as Go's `int64()` does.
#[inline]
fn sigmoid_score(f_before: f64, f_after: f64) -> i8 {
    let x = (f_before - f_after) / 1000.0;
    let s = 1.0 / (1.0 + (-x).exp());
    (s * 100.0) as i8
}

/// Score of node `n` for `d`, and the GPU a sharing pod would get there (the first GPU, in
/// index order, that reaches the node's best score). `f_before` is the node's current F.
pub(super) fn compute(
    c: &Cluster,
    n: usize,
    d: &Demand,
    f_before: f64,
    typical: &TypicalPods,
    memo: &mut FragMemo,
) -> (i8, usize) {
    compute_with(c, n, d, f_before, memo, |cpu, gpus, model| {
        node_frag(cpu, gpus, model, typical)
    })
}

/// As [`compute`], with the node measure `frag(cpu_free, gpu_free, model_bit)` in place of
/// FGD's F (it must depend on nothing else: `memo` keeps its values by node state). Policies
/// that refine the measure keep FGD's truncated score and GPU choice this way.
pub(super) fn compute_with(
    c: &Cluster,
    n: usize,
    d: &Demand,
    f_before: f64,
    memo: &mut FragMemo,
    frag: impl Fn(i64, &[i32; MAX_GPUS], u64) -> f64,
) -> (i8, usize) {
    let s = &c.nodes[n];
    let cpu_after = s.cpu_free - d.cpu;
    let model = s.model_bit;
    let gpus = usize::from(s.gpu_count);
    let free = c.gpu_free[n];
    if d.is_share() {
        let mut best: Option<(i8, usize)> = None;
        let mut seen_free = [i32::MIN; MAX_GPUS];
        let mut seen_score = [0_i8; MAX_GPUS];
        let mut seen = 0;
        for i in 0..gpus {
            if free[i] < d.milli {
                continue;
            }
            let score = if let Some(k) = seen_free[..seen].iter().position(|&v| v == free[i]) {
                seen_score[k]
            } else {
                let mut after = free;
                after[i] -= d.milli;
                let s = sigmoid_score(
                    f_before,
                    memo.get(cpu_after, model, &after, || frag(cpu_after, &after, model)),
                );
                seen_free[seen] = free[i];
                seen_score[seen] = s;
                seen += 1;
                s
            };
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, i));
            }
        }
        return best.unwrap_or((0, 0));
    }
    // Whole-GPU and CPU-only pods: the lowest-index fully free GPUs are emptied, which is
    // also where the pod will go.
    let mut after = free;
    let mut need = if d.milli == 0 { 0 } else { d.num };
    for g in after.iter_mut().take(gpus) {
        if need == 0 {
            break;
        }
        if *g == super::cluster::MILLI {
            *g = 0;
            need -= 1;
        }
    }
    let f_after = memo.get(cpu_after, model, &after, || frag(cpu_after, &after, model));
    (sigmoid_score(f_before, f_after), 0)
}

#[cfg(test)]
mod tests {
    use super::super::cluster::{ANY_MODEL, Cluster, Demand, NodeCapacity};
    use super::super::frag::{TypicalPods, node_frag};
    use super::*;

    /// One typical pod: 1 vCPU and half a GPU, any model.
    fn half_gpu_workload() -> TypicalPods {
        TypicalPods {
            cpu: vec![1_000],
            milli: vec![500],
            num: vec![1],
            spec: vec![ANY_MODEL],
            freq: vec![1.0],
        }
    }

    #[test]
    fn scores_by_hand() {
        let typical = half_gpu_workload();
        let mut c = Cluster::new(&[NodeCapacity {
            cpu: 16_000,
            mem: 1 << 20,
            gpus: 2,
            model_bit: 1,
        }]);
        let f0 = node_frag(c.nodes[0].cpu_free, &c.gpu_free[0], 1, &typical);
        assert_eq!(f0, 0.0);
        // 500 on a free GPU leaves 500, still enough for the typical pod: dF = 0, score 50.
        let share = Demand::new(1_000, 1, 1, 500, ANY_MODEL, 0);
        assert_eq!(
            compute(&c, 0, &share, f0, &typical, &mut FragMemo::new()),
            (50, 0)
        );
        // 600 leaves 400, too little: F grows by 400, int(100 sigmoid(-0.4)) = 40.
        let big = Demand::new(1_000, 1, 1, 600, ANY_MODEL, 0);
        assert_eq!(
            compute(&c, 0, &big, f0, &typical, &mut FragMemo::new()),
            (40, 0)
        );
        // With GPU 0 at 500 free, a 500 pod keeps F at 0 on either GPU (GPU 0 emptied, or GPU 1
        // left with 500): both score 50 and the first index wins.
        c.place(0, &share, 0);
        let f1 = node_frag(c.nodes[0].cpu_free, &c.gpu_free[0], 1, &typical);
        assert_eq!(
            compute(&c, 0, &share, f1, &typical, &mut FragMemo::new()),
            (50, 0)
        );
        // A 300 pod: on GPU 0 it leaves 200 (fragment 200, score 45); on GPU 1 it leaves 700
        // (no fragment, 50): GPU 1 wins.
        let small = Demand::new(1_000, 1, 1, 300, ANY_MODEL, 0);
        assert_eq!(
            compute(&c, 0, &small, f1, &typical, &mut FragMemo::new()),
            (50, 1)
        );
        // A whole GPU takes GPU 1, leaving GPU 0's 500 usable: 50.
        let whole = Demand::new(1_000, 1, 1, 1000, ANY_MODEL, 0);
        assert_eq!(
            compute(&c, 0, &whole, f1, &typical, &mut FragMemo::new()).0,
            50
        );
    }

    #[test]
    fn sigmoid_truncates_like_go() {
        assert_eq!(sigmoid_score(0.0, 0.0), 50);
        assert_eq!(sigmoid_score(0.0, 1e-9), 49);
        assert_eq!(sigmoid_score(1e6, 0.0), 100);
        assert_eq!(sigmoid_score(0.0, 1e6), 0);
    }
}
