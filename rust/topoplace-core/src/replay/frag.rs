//! FGD's fragmentation measure: the typical pods of a workload and a node's expected
//! fragment F_n (Weng et al., "Beware of Fragmentation", USENIX ATC '23, section 4).
//!
//! Floating-point order matters here. A node's F is truncated into an integer score after a
//! subtraction and a sigmoid, so an F that differs from the authors' by one ulp can move a
//! score from 50 to 49. [`node_frag`] therefore accumulates the amounts per category, in
//! typical-pod order, and adds the categories in the order Q1, Q2, Q4, XL, XR, NA, as the
//! authors' simulator does; the frequencies are normalised with the same two divisions.

use std::cmp::Ordering;

use super::cluster::{Demand, MAX_GPUS};

/// Category slots of the per-node accumulator, in the simulator's summation order. Q3 (the
/// part of a satisfied pod's GPUs that is usable) is never added into F, so it has no slot.
const Q1_LACK_BOTH: usize = 0;
const Q2_LACK_GPU: usize = 1;
const Q4_LACK_CPU: usize = 2;
const XL_SATISFIED: usize = 3;
const XR_LACK_CPU: usize = 4;
const NO_ACCESS: usize = 5;

/// The typical pods of a workload in structure-of-arrays form, most frequent first.
#[derive(Debug, Clone, Default)]
pub(super) struct TypicalPods {
    /// CPU request in millicores.
    pub cpu: Vec<i64>,
    /// Per-GPU milli-GPU; 0 for CPU-only shapes.
    pub milli: Vec<i32>,
    /// Number of GPUs.
    pub num: Vec<u32>,
    /// Allowed GPU models as a bit mask of model ids (all ones: any model).
    pub spec: Vec<u64>,
    /// Renormalised frequency p_m (sums to 1 up to rounding).
    pub freq: Vec<f64>,
}

/// One pod shape of the workload, as the simulator keys them.
struct ShapeCount {
    cpu: i64,
    milli: i32,
    num: u32,
    /// Rank of the spec text among the workload's distinct spec texts.
    spec_rank: u32,
    spec: u64,
    count: f64,
}

/// The typical pods of `pods` (the original list, before padding): shapes `(cpu, milli, num,
/// spec)` sorted by count, then by the shape itself, both descending; kept until their
/// cumulative count reaches `threshold_pct` percent of the pods; frequencies renormalised.
///
/// `spec_rank[i]` orders pod i's GPU-model constraint as the simulator's annotation text
/// (models joined by `|`) sorts: equal texts, equal ranks. It keys the shapes and breaks ties
/// between equally frequent ones.
pub(super) fn typical_pods(pods: &[Demand], spec_rank: &[u32], threshold_pct: f64) -> TypicalPods {
    let key = |i: usize| (pods[i].cpu, pods[i].milli, pods[i].num, spec_rank[i]);
    let mut order: Vec<usize> = (0..pods.len()).collect();
    order.sort_unstable_by_key(|&i| (key(i), i));
    let mut shapes: Vec<ShapeCount> = Vec::new();
    for &i in &order {
        let (cpu, milli, num, rank) = key(i);
        match shapes.last_mut() {
            Some(s) if (s.cpu, s.milli, s.num, s.spec_rank) == (cpu, milli, num, rank) => {
                s.count += 1.0;
            }
            _ => shapes.push(ShapeCount {
                cpu,
                milli,
                num,
                spec_rank: rank,
                spec: pods[i].spec,
                count: 1.0,
            }),
        }
    }
    let total = pods.len() as f64;
    // Descending by (count, cpu, milli, num, spec text): the reverse of the simulator's
    // "less" order. All keys are distinct, so the order is total.
    shapes.sort_by(|a, b| {
        b.count
            .partial_cmp(&a.count)
            .unwrap_or(Ordering::Equal)
            .then(b.cpu.cmp(&a.cpu))
            .then(b.milli.cmp(&a.milli))
            .then(b.num.cmp(&a.num))
            .then(b.spec_rank.cmp(&a.spec_rank))
    });
    let expected = threshold_pct * total / 100.0;
    let mut cumulative = 0.0;
    let mut kept = 0;
    while cumulative < expected && kept < shapes.len() {
        cumulative += shapes[kept].count;
        kept += 1;
    }
    let mut out = TypicalPods::default();
    for s in &shapes[..kept] {
        let mut p = s.count / total;
        // The simulator skips the renormalisation when every shape was kept.
        if kept < shapes.len() {
            p /= cumulative / total;
        }
        out.cpu.push(s.cpu);
        out.milli.push(s.milli);
        out.num.push(s.num);
        out.spec.push(s.spec);
        out.freq.push(p);
    }
    out
}

/// Number of GPUs with at least `milli` free, and the free milli of the others. Indexed loops
/// over the fixed array: cheap in debug builds too, where the tests replay whole traces.
#[inline]
fn fit_and_frag(gpu_free: &[i32; MAX_GPUS], milli: i32) -> (u32, i32) {
    let mut fit = 0;
    let mut frag = 0;
    // Absent GPUs are stored as 0 free: they never fit a GPU shape and add 0 to the fragment.
    let mut i = 0;
    while i < MAX_GPUS {
        let free = gpu_free[i];
        if free >= milli {
            fit += 1;
        } else {
            frag += free;
        }
        i += 1;
    }
    (fit, frag)
}

/// F_n: the node's expected fragment (milli-GPU) under the typical pods.
///
/// For each typical pod m, the amount counted is all of the node's free GPU milli, except when
/// the node can host m (enough GPUs with enough free milli, CPU fits, model allowed): then only
/// the free milli of the GPUs too small for m. CPU-only shapes count everything, whether or not
/// their CPU fits (the simulator sums both of its CPU-only categories).
pub(super) fn node_frag(
    cpu_free: i64,
    gpu_free: &[i32; MAX_GPUS],
    model_bit: u64,
    typical: &TypicalPods,
) -> f64 {
    let total = gpu_free[0]
        + gpu_free[1]
        + gpu_free[2]
        + gpu_free[3]
        + gpu_free[4]
        + gpu_free[5]
        + gpu_free[6]
        + gpu_free[7];
    if total == 0 {
        return 0.0;
    }
    let total_f = f64::from(total);
    let mut acc = [0.0_f64; 6];
    let mut m = 0;
    while m < typical.freq.len() {
        let cpu_ok = cpu_free >= typical.cpu[m];
        let milli = typical.milli[m];
        let (slot, amount) = if milli == 0 {
            (if cpu_ok { XL_SATISFIED } else { XR_LACK_CPU }, total_f)
        } else if model_bit & typical.spec[m] == 0 {
            (NO_ACCESS, total_f)
        } else {
            let (fit, frag) = fit_and_frag(gpu_free, milli);
            match (fit >= typical.num[m], cpu_ok) {
                (true, true) => (Q2_LACK_GPU, f64::from(frag)),
                (true, false) => (Q4_LACK_CPU, total_f),
                (false, true) => (Q2_LACK_GPU, total_f),
                (false, false) => (Q1_LACK_BOTH, total_f),
            }
        };
        acc[slot] += typical.freq[m] * amount;
        m += 1;
    }
    let mut f = 0.0;
    for v in acc {
        f += v;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::super::cluster::{ANY_MODEL, Demand};
    use super::*;

    fn pod(cpu: i64, num: u32, milli: i32) -> Demand {
        Demand::new(cpu, 0, num, milli, ANY_MODEL, 0)
    }

    #[test]
    fn typical_pods_keep_the_popular_shapes_and_renormalise() {
        // Shapes: A (1 GPU x 1000) x6, B (half GPU) x3, C (CPU only) x1.
        let mut pods = vec![pod(4_000, 1, 1000); 6];
        pods.extend(vec![pod(2_000, 1, 500); 3]);
        pods.push(pod(8_000, 0, 0));
        let ranks = vec![0; pods.len()];
        // 95 % of 10 pods is 9.5: A and B give 9, C is needed too; every shape is kept and
        // the frequencies are not renormalised.
        let all = typical_pods(&pods, &ranks, 95.0);
        assert_eq!(all.freq, vec![0.6, 0.3, 0.1]);
        assert_eq!(all.milli, vec![1000, 500, 0]);
        // 80 % is 8: A and B are kept and renormalised by 0.9 with the simulator's divisions.
        let top = typical_pods(&pods, &ranks, 80.0);
        assert_eq!(top.freq, vec![0.6 / 0.9, 0.3 / 0.9]);
    }

    #[test]
    fn equally_frequent_shapes_sort_by_shape_descending() {
        let pods = vec![
            pod(1_000, 1, 200),
            pod(3_000, 1, 200),
            pod(2_000, 1, 900),
            pod(2_000, 1, 100),
        ];
        let t = typical_pods(&pods, &[0; 4], 100.0);
        assert_eq!(t.cpu, vec![3_000, 2_000, 2_000, 1_000]);
        assert_eq!(t.milli, vec![200, 900, 100, 200]);
    }

    #[test]
    fn node_fragment_by_category() {
        // Typical pods: whole GPU (0.5), half GPU needing 8 vCPU (0.25), CPU only (0.25).
        let typical = TypicalPods {
            cpu: vec![1_000, 8_000, 2_000],
            milli: vec![1000, 500, 0],
            num: vec![1, 1, 0],
            spec: vec![ANY_MODEL, ANY_MODEL, ANY_MODEL],
            freq: vec![0.5, 0.25, 0.25],
        };
        // GPUs with 300 and 600 free, 4 vCPU free. Whole GPU: no GPU fits -> all 900 (x0.5);
        // half GPU: one GPU fits but CPU is short -> all 900 (x0.25); CPU-only: all 900 (x0.25).
        let gpus = [300, 600, 0, 0, 0, 0, 0, 0];
        assert_eq!(node_frag(4_000, &gpus, 1, &typical), 900.0);
        // With 16 vCPU the half-GPU pod fits: only the 300 GPU is fragment for it.
        assert_eq!(node_frag(16_000, &gpus, 1, &typical), 450.0 + 75.0 + 225.0);
        // A model the pods exclude: everything is fragment.
        let t4_only = TypicalPods {
            spec: vec![2, 2, ANY_MODEL],
            ..typical.clone()
        };
        assert_eq!(node_frag(16_000, &gpus, 1, &t4_only), 900.0);
        // No free GPU: no fragment.
        assert_eq!(node_frag(16_000, &[0; 8], 1, &typical), 0.0);
    }
}
