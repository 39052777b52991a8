//! Arrival order and node priority: every draw the FGD simulator takes from Go's global
//! random stream before the first pod is scheduled, in the order it takes them.
//!
//! 1. one `Int()` (evaluated as an argument of a debug log line, whether or not it prints);
//! 2. `Shuffle` of the name-sorted pods;
//! 3. padding up to `tune_ratio` x the GPU capacity with `Intn` re-draws from the name-sorted
//!    list, or thinning with `Intn` removals from the shuffled list when the trace asks for
//!    more;
//! 4. `informer_draws` `Float64()` draws (client-go reflectors' watch timeouts);
//! 5. `Perm(#nodes)` over the name-sorted nodes: node i is renamed `"%04d-" % perm[i] + name`
//!    and ties go to the lexicographically smallest name.

use super::cluster::Demand;
use super::go_rand::GoRand;
use crate::error::{Error, Result};

/// Draws 1 to 3: the arrival order as indexes into `pods` (the name-sorted pod list).
///
/// # Errors
/// [`Error::Value`] when the pods ask for no GPU at all or the cluster has no GPU (the
/// simulator refuses to tune such a workload), or when `tune_ratio` is not positive.
pub(super) fn arrival_order(
    pods: &[Demand],
    capacity_milli: i64,
    tune_ratio: f64,
    rng: &mut GoRand,
) -> Result<Vec<u32>> {
    let _debug_draw = rng.int();
    let mut order: Vec<u32> = (0..pods.len() as u32).collect();
    rng.shuffle(order.len(), |i, j| order.swap(i, j));

    let mut total: i64 = pods.iter().map(Demand::gpu_milli).sum();
    let cpu_total: i64 = pods.iter().map(|p| p.cpu).sum();
    if total <= 0 || cpu_total <= 0 || capacity_milli <= 0 {
        return Err(Error::Value(format!(
            "cannot tune the workload: pods request {total} milli-GPU and {cpu_total} \
             millicores, nodes have {capacity_milli} milli-GPU (all must be positive)"
        )));
    }
    if tune_ratio.is_nan() || tune_ratio <= 0.0 {
        return Err(Error::Value(format!(
            "tune ratio must be positive, got {tune_ratio}"
        )));
    }
    let target = tune_ratio * capacity_milli as f64;
    if (total as f64) > target {
        // Thinning keeps the order of the survivors.
        while total as f64 > target {
            let idx = rng.intn(order.len());
            total -= pods[order.remove(idx) as usize].gpu_milli();
        }
    } else if (total as f64) < target {
        loop {
            let idx = rng.intn(pods.len());
            let pod = &pods[idx];
            // The simulator compares with the PER-GPU milli but adds num x milli, so a
            // multi-GPU re-draw can overshoot the target.
            if (total + i64::from(pod.milli)) as f64 > target {
                break;
            }
            total += pod.gpu_milli();
            order.push(idx as u32);
        }
    }
    Ok(order)
}

/// Draws 4 and 5: skips the informers' draws, then returns the tie-break rank of each node
/// (`rank[i]` for the i-th name-sorted node; rank 0 wins every tie).
pub(super) fn node_ranks(node_count: usize, informer_draws: usize, rng: &mut GoRand) -> Vec<usize> {
    for _ in 0..informer_draws {
        rng.float64();
    }
    let perm = rng.perm(node_count);
    // With fewer than 10,000 nodes the "%04d-" prefixes order the nodes as the numbers do;
    // beyond that a 5-digit prefix sorts by its text, so compare the prefixes as text.
    let mut by_name: Vec<usize> = (0..node_count).collect();
    if node_count <= 10_000 {
        by_name.sort_by_key(|&i| perm[i]);
    } else {
        let prefix: Vec<String> = perm.iter().map(|p| format!("{p:04}-")).collect();
        by_name.sort_by(|&a, &b| prefix[a].cmp(&prefix[b]).then(a.cmp(&b)));
    }
    let mut rank = vec![0; node_count];
    for (r, &i) in by_name.iter().enumerate() {
        rank[i] = r;
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::super::cluster::ANY_MODEL;
    use super::*;

    fn gpu_pod(num: u32) -> Demand {
        Demand::new(1_000, 0, num, 1000, ANY_MODEL, 0)
    }

    #[test]
    fn padding_redraws_from_the_sorted_list_until_the_next_would_exceed() {
        // 2 pods of 1 GPU on 3 GPUs: target 3,900 milli; one re-draw fits (3,000), the next
        // would reach 4,000 and stops the loop.
        let pods = [gpu_pod(1), gpu_pod(1)];
        let mut rng = GoRand::new(42);
        let order = arrival_order(&pods, 3_000, 1.3, &mut rng).expect("tunable");
        assert_eq!(order.len(), 3);
        // The draws: Int, Shuffle(2), Intn(2) twice.
        let mut twin = GoRand::new(42);
        twin.int();
        twin.shuffle(2, |_, _| {});
        twin.intn(2);
        twin.intn(2);
        assert_eq!(rng.int63(), twin.int63());
    }

    #[test]
    fn padding_compares_the_per_gpu_milli() {
        // An 8-GPU re-draw is checked as if it asked for 1,000 milli: 1 pod of 8 GPUs on
        // 8 GPUs (target 10,400) is followed by another (16,000 in total).
        let pods = [gpu_pod(8)];
        let order = arrival_order(&pods, 8_000, 1.3, &mut GoRand::new(7)).expect("tunable");
        assert!(order.len() >= 2);
    }

    #[test]
    fn thinning_removes_pods_until_the_target() {
        let pods = vec![gpu_pod(1); 10];
        let order = arrival_order(&pods, 5_000, 1.3, &mut GoRand::new(1)).expect("tunable");
        assert_eq!(
            order.len(),
            6,
            "6,000 milli is the largest total within 6,500"
        );
        let mut sorted = order.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 6, "no pod twice");
    }

    #[test]
    fn workloads_without_gpu_requests_are_refused() {
        let cpu_only = [Demand::new(1_000, 0, 0, 0, ANY_MODEL, 0)];
        assert!(arrival_order(&cpu_only, 1_000, 1.3, &mut GoRand::new(1)).is_err());
    }

    #[test]
    fn ranks_follow_the_permutation() {
        let rank = node_ranks(5, 0, &mut GoRand::new(3));
        let perm = GoRand::new(3).perm(5);
        for i in 0..5 {
            assert_eq!(rank[i], perm[i]);
        }
    }
}
