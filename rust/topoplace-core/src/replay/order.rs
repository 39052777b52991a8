//! The inputs of a run that come from the random stream, for callers that replay the same
//! experiment another way (a peer implementation, a plot of arrival order, a what-if study).
//!
//! A run offers its pods in an order drawn from Go's `math/rand` (shuffle, then padding or
//! thinning) and breaks score ties by a node priority drawn from the same stream (items 1 and
//! 5 of the trace folder's `FGD-PROCEDURE.md`). [`arrivals`] returns both in terms of the
//! caller's own lists, so that everything else (typical pods, scores, GPU choice,
//! measurement) can be computed independently and compared with [`replay_with`].
//!
//! [`replay_with`]: super::replay_with

use super::run::prepare;
use super::{NodeRow, PodRow, ReplayOptions};
use crate::error::Result;

/// The arrival order and the node priority of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrivals {
    /// Index into the input pod list of each offered pod, in arrival order. Re-drawn pods
    /// (padding up to the tune ratio) repeat an index; thinned-out pods are absent.
    pub pods: Vec<usize>,
    /// Every index into the input node list, in tie-break order: when several nodes reach the
    /// best score, the one listed first wins.
    pub node_priority: Vec<usize>,
}

/// The arrival order and node priority that [`replay_with`] uses for `nodes`, `pods`, tune
/// seed `seed` and `options`, whatever the policy (the policies take no draw before the first
/// pod is offered).
///
/// ```
/// use topoplace_core::replay::{ReplayOptions, arrivals, read_nodes, read_pods};
/// let nodes = read_nodes(
///     "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,2,T4\nn1,32000,131072,2,T4\n",
///     "nodes.csv",
/// )?;
/// let pods = read_pods(
///     "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,4000,8192,1,500\np1,8000,16384,1,1000\n",
///     "pods.csv",
/// )?;
/// let a = arrivals(&nodes, &pods, 42, &ReplayOptions::default())?;
/// // 1.5 GPUs asked of 4: re-draws pad the list up to 130 % of the capacity.
/// assert!(a.pods.len() > pods.len());
/// let mut priority = a.node_priority.clone();
/// priority.sort_unstable();
/// assert_eq!(priority, [0, 1]);
/// # Ok::<(), topoplace_core::Error>(())
/// ```
///
/// # Errors
/// As [`replay_with`]: the same inputs are refused.
///
/// [`replay_with`]: super::replay_with
pub fn arrivals(
    nodes: &[NodeRow],
    pods: &[PodRow],
    seed: i64,
    options: &ReplayOptions,
) -> Result<Arrivals> {
    let prepared = prepare(nodes, pods, seed, options)?;
    // The run indexes pods by their place in the name-sorted list; map back to the input.
    let offered = prepared
        .arrivals
        .iter()
        .map(|&a| prepared.pod_index[a as usize])
        .collect();
    Ok(Arrivals {
        pods: offered,
        node_priority: prepared.node_index,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Policy, read_nodes, read_pods, replay_traced};
    use super::*;

    #[test]
    fn arrivals_are_the_order_a_run_offers_its_pods_in() {
        let nodes = read_nodes(
            "sn,cpu_milli,memory_mib,gpu,model\n\
             b,32000,131072,2,T4\na,32000,131072,1,T4\nc,16000,65536,1,P100\n",
            "nodes.csv",
        )
        .expect("nodes");
        // Names out of order, so that input and name-sorted indexes differ.
        let pods = read_pods(
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n\
             p3,4000,8192,1,500\np1,8000,16384,1,1000\np2,2000,4096,0,0\np0,1000,2048,1,250\n",
            "pods.csv",
        )
        .expect("pods");
        let options = ReplayOptions::default();
        let a = arrivals(&nodes, &pods, 7, &options).expect("arrivals");
        let run = replay_traced(&nodes, &pods, Policy::BestFit, 7, &options).expect("run");
        let offered: Vec<usize> = run.pods.iter().map(|o| o.pod).collect();
        assert_eq!(a.pods, offered);
        let mut priority = a.node_priority.clone();
        priority.sort_unstable();
        assert_eq!(priority, [0, 1, 2]);
        assert_eq!(
            arrivals(&nodes, &pods, 7, &options).expect("again"),
            a,
            "deterministic"
        );
    }

    #[test]
    fn ties_go_to_the_first_node_of_the_priority() {
        // Two identical idle nodes: the first pod of a run lands on the first of the two in
        // the priority, whichever seed shuffles them.
        let nodes = read_nodes(
            "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,1,T4\nn1,32000,131072,1,T4\n",
            "nodes.csv",
        )
        .expect("nodes");
        let pods = read_pods(
            "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,4000,8192,1,1000\n",
            "pods.csv",
        )
        .expect("pods");
        for seed in 0..8 {
            let options = ReplayOptions::default();
            let a = arrivals(&nodes, &pods, seed, &options).expect("arrivals");
            let run = replay_traced(&nodes, &pods, Policy::Fgd, seed, &options).expect("run");
            assert_eq!(run.pods[0].node, Some(a.node_priority[0]), "seed {seed}");
        }
    }
}
