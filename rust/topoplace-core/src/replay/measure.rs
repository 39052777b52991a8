//! Per-pod records and the authors' bucketing into 131 "arrived percent" values.
//!
//! The authors log one record per offered pod and post-process the log with pandas; the
//! published CSVs carry values rounded to 0.01, so reproducing them exactly means repeating
//! that post-processing's float semantics:
//! - arrived percent `round(arrived / gpus / 10, 0)` with Python's `round` (half to even);
//! - allocation percent `round(used / gpus / 10, 2)`, Python's correctly rounded `round`;
//! - fragmentation amounts as the simulator logged them, `%.2f` milli;
//! - a bucket's value is the mean of its records (numpy's pairwise summation, then one
//!   division), rounded with numpy's `round` (scale by 100, round half to even, unscale).

/// One record, taken after each offered pod (placed or failed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record {
    /// Cumulative `num_gpu x gpu_milli` of the pods offered so far, failed ones included.
    pub arrived_milli: i64,
    /// Milli-GPU allocated in the cluster after this pod.
    pub used_milli: i64,
    /// FGD fragmentation of the cluster (sum of every node's F), milli-GPU.
    pub frag_milli: f64,
}

/// Number of buckets: arrived percent 0 to 130.
pub const BUCKETS: usize = 131;

/// Python's `round(x, 2)`: the decimal nearest to the exact binary value, ties to even.
/// Rust's fixed-precision formatting is exact with the same tie rule.
pub(super) fn py_round2(x: f64) -> f64 {
    let scaled = x * 100.0;
    let nearest = scaled.round_ties_even();
    // `x * 100` is within an ulp or so of the exact product, so the rounding decision is
    // only in doubt near a half; there the exact decimal expansion decides. Elsewhere
    // `nearest / 100` is the double nearest to the decimal, as parsing its text would give.
    if ((scaled - nearest).abs() - 0.5).abs() > 1e-6 {
        return nearest / 100.0;
    }
    format!("{x:.2}").parse().unwrap_or(x)
}

/// numpy's `round(x, 2)` on a float64: `rint(x * 100) / 100`.
pub(super) fn np_round2(x: f64) -> f64 {
    (x * 100.0).round_ties_even() / 100.0
}

/// numpy's pairwise summation of a float64 array (`add.reduce` on contiguous data): plain
/// loop below 8 values, 8 interleaved partial sums up to 128, halves (kept at multiples of 8)
/// above.
pub(super) fn np_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut s = 0.0;
        for &v in a {
            s += v;
        }
        s
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (k, rk) in r.iter_mut().enumerate() {
                *rk += a[i + k];
            }
            i += 8;
        }
        let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &a[i..] {
            s += v;
        }
        s
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        np_sum(&a[..n2]) + np_sum(&a[n2..])
    }
}

/// The two published curves for one run: allocation percent and fragmentation percent of
/// the GPU capacity, by arrived percent 0..=130. A bucket with no record within one percent
/// either side (the authors leave the cell empty) is `NaN`.
pub(super) fn bucketize(records: &[Record], total_gpus: u32) -> (Vec<f64>, Vec<f64>) {
    let gpus = f64::from(total_gpus);
    let arrived: Vec<f64> = records
        .iter()
        .map(|r| (r.arrived_milli as f64 / gpus / 10.0).round_ties_even())
        .collect();
    let alloc: Vec<f64> = records
        .iter()
        .map(|r| py_round2(r.used_milli as f64 / gpus / 10.0))
        .collect();
    // The simulator printed the amount with "%.2f"; pandas read that text back.
    let frag: Vec<f64> = records.iter().map(|r| py_round2(r.frag_milli)).collect();

    let mut alloc_out = vec![f64::NAN; BUCKETS];
    let mut frag_out = vec![f64::NAN; BUCKETS];
    // Arrived milli never decreases, so each bucket's records are one contiguous run.
    let range = |lo: f64, hi: f64| {
        let start = arrived.partition_point(|&a| a < lo);
        let end = arrived.partition_point(|&a| a <= hi);
        start..end
    };
    for k in 0..BUCKETS {
        let kf = k as f64;
        let mut r = range(kf, kf);
        if r.is_empty() {
            r = range(kf - 1.0, kf + 1.0);
        }
        if r.is_empty() {
            continue;
        }
        let count = r.len() as f64;
        alloc_out[k] = np_round2(np_sum(&alloc[r.clone()]) / count);
        let frag_mean = np_sum(&frag[r]) / count;
        frag_out[k] = np_round2(100.0 * frag_mean / 1000.0 / gpus);
    }
    (alloc_out, frag_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_and_numpy_rounding() {
        // Exact binary ties go to even, as Python's round and "%.2f" do.
        assert_eq!(py_round2(0.125), 0.12);
        assert_eq!(py_round2(0.375), 0.38);
        assert_eq!(py_round2(2.675), 2.67); // 2.675 is stored just below the tie
        assert_eq!(py_round2(80.016), 80.02);
        // numpy scales first: 0.125 * 100 = 12.5 exactly, rint gives 12.
        assert_eq!(np_round2(0.125), 0.12);
        assert_eq!(np_round2(0.135), 0.14);
    }

    #[test]
    fn pairwise_sum_matches_numpy_structure() {
        let few = [0.1, 0.2, 0.3];
        assert_eq!(np_sum(&few), (0.1 + 0.2) + 0.3);
        // Nine values: eight partial sums, combined as a tree, then the ninth.
        let nine: Vec<f64> = (1..=9).map(|i| f64::from(i) * 0.1).collect();
        let r = &nine;
        let tree = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        assert_eq!(np_sum(&nine), tree + r[8]);
        let many: Vec<f64> = (0..1000).map(|i| f64::from(i) * 0.01).collect();
        assert!((np_sum(&many) - 4995.0).abs() < 1e-9);
    }

    #[test]
    fn buckets_by_hand() {
        // 10 GPUs: 100 milli is 1 %.
        let rec = |arrived: i64, used: i64| Record {
            arrived_milli: arrived,
            used_milli: used,
            frag_milli: 1_000.0,
        };
        // Arrived 1 %, 2.5 % (rounds to 2), 3.5 % (rounds to 4).
        let records = [rec(100, 100), rec(250, 200), rec(350, 300)];
        let (alloc, frag) = bucketize(&records, 10);
        assert_eq!(alloc[0], 1.0); // no record at 0: those within 1 % (the one at 1)
        assert_eq!(alloc[1], 1.0);
        assert_eq!(alloc[2], 2.0);
        assert_eq!(alloc[3], 2.5); // no record at 3: mean of those at 2 and 4
        assert_eq!(alloc[4], 3.0);
        assert_eq!(alloc[5], 3.0);
        assert!(alloc[6].is_nan());
        // 1,000 milli of fragment in a 10-GPU cluster is 10 %.
        assert_eq!(frag[2], 10.0);
        assert!(frag[130].is_nan());
    }
}
