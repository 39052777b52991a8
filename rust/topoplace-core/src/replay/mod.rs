//! Trace replay: the FGD paper's simulation of the Alibaba GPU trace, reproduced run by run.
//!
//! Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation
//! Gradient Descent", USENIX ATC '23, evaluate six schedulers by offering the pods of a trace
//! one by one to a cluster of 1,213 GPU nodes until the arrived GPU request reaches 130 % of
//! the capacity, and plot the GPU allocation ratio against the arrived workload. Their Go
//! simulator draws the arrival order, the padding and a per-run node priority from Go's
//! `math/rand`; this module repeats those draws with a port of that generator
//! ([`go_rand::GoRand`]) and the policies' integer scores with their float semantics, so that
//! a run with the same seed gives the same 131 published values. The procedure, and every
//! detail that matters, is in the trace folder's `FGD-PROCEDURE.md`.
//!
//! ```
//! use topoplace_core::replay::{Policy, read_nodes, read_pods, replay};
//! let nodes = read_nodes(
//!     "sn,cpu_milli,memory_mib,gpu,model\nn0,32000,131072,2,T4\n",
//!     "nodes.csv",
//! )?;
//! let pods = read_pods(
//!     "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n\
//!      p0,4000,8192,1,500,\np1,8000,16384,1,1000,T4\n",
//!     "pods.csv",
//! )?;
//! let run = replay(&nodes, &pods, Policy::Fgd, 42)?;
//! assert_eq!(run.total_gpus, 2);
//! assert_eq!(run.allocation_ratio.len(), 131);
//! # Ok::<(), topoplace_core::Error>(())
//! ```
//!
//! Files: [`trace`] reads the CSVs; `go_rand` is the generator; `arrivals` the shuffle,
//! padding and node priority; `cluster` the dense node state, filter and GPU assignment;
//! `select` the node choice with lazily refreshed score rows; `scores` and `fgd` the
//! policies, `fgd_reach` topoplace's own; `frag` FGD's fragmentation measure and `memo` its
//! memo by node state; [`measure`] the records and the authors' bucketing; `run` the replay
//! loop.

mod arrivals;
mod cluster;
mod fgd;
mod fgd_reach;
mod frag;
pub mod go_rand;
mod go_rand_cooked;
pub mod measure;
mod memo;
mod order;
mod run;
mod scores;
mod select;
pub mod trace;

pub use measure::{BUCKETS, Record};
pub use order::{Arrivals, arrivals};
pub use run::{PodOutcome, ReplayTrace, replay, replay_traced, replay_with};
pub use trace::{NodeRow, PodRow, read_nodes, read_pods};

/// A scheduling policy of the FGD paper's evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// A feasible node uniformly at random, and a random fitting GPU. Not reproducible run by
    /// run (the authors' feasible list comes from parallel workers); compare seed means.
    Random,
    /// Tetris-style dot product of free and requested (CPU, GPU), smallest wins.
    DotProd,
    /// Groups pods of the same GPU class (sharing, 1-GPU, 2-GPU...) on the same nodes.
    GpuClustering,
    /// Prefers partly used GPUs, then used nodes, then small idle nodes.
    GpuPacking,
    /// Least CPU and GPU left over after placement.
    BestFit,
    /// Fragmentation Gradient Descent: the placement that grows the node's fragmentation least.
    Fgd,
    /// topoplace's own policy, not in the paper: FGD with a fragmentation measure that also
    /// counts the GPUs a typical pod cannot reach (CPU-stranded GPUs of sharing pods) and
    /// keeps the GPU models that model-restricted pods need (`docs/replay-policy.md`).
    FgdReach,
}

impl Policy {
    /// Every policy: the paper's six in its order, then topoplace's own.
    pub const ALL: [Self; 7] = [
        Self::Random,
        Self::DotProd,
        Self::GpuClustering,
        Self::GpuPacking,
        Self::BestFit,
        Self::Fgd,
        Self::FgdReach,
    ];

    /// Lower-case name: `random`, `dotprod`, `gpuclustering`, `gpupacking`, `bestfit`, `fgd`,
    /// `fgdreach`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::DotProd => "dotprod",
            Self::GpuClustering => "gpuclustering",
            Self::GpuPacking => "gpupacking",
            Self::BestFit => "bestfit",
            Self::Fgd => "fgd",
            Self::FgdReach => "fgdreach",
        }
    }

    /// The policy named `name` (see [`Self::name`]), if any.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The authors' label in the result CSVs' `sc_policy` column, e.g. `06-FGD`.
    #[must_use]
    pub fn artifact_label(self) -> &'static str {
        match self {
            Self::Random => "01-Random",
            Self::DotProd => "02-DotProd",
            Self::GpuClustering => "03-GpuClustering",
            Self::GpuPacking => "04-GpuPacking",
            Self::BestFit => "05-BestFit",
            Self::Fgd => "06-FGD",
            Self::FgdReach => "07-FgdReach",
        }
    }
}

/// Settings of the experiment; [`Default`] is the paper's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplayOptions {
    /// Arrived GPU request at the end, as a multiple of the capacity (the paper's 1.3).
    pub tune_ratio: f64,
    /// `Float64` draws taken by client-go informers between the padding and the node
    /// permutation (10 reproduces the authors' runs).
    pub informer_draws: usize,
    /// Typical pods cover this percentage of the pods (95).
    pub typical_pods_pct: f64,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            tune_ratio: 1.3,
            informer_draws: 10,
            typical_pods_pct: 95.0,
        }
    }
}

/// The outcome of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayResult {
    /// The policy run.
    pub policy: Policy,
    /// The tune seed (42..=51 in the paper).
    pub seed: i64,
    /// GPUs in the cluster.
    pub total_gpus: u32,
    /// Pods offered (after padding or thinning).
    pub pods_offered: usize,
    /// Pods that found no feasible node.
    pub pods_failed: usize,
    /// Allocated percent of the GPU capacity, index = arrived percent (0..=130), as the
    /// authors' `analysis_allo_discrete.csv` reports it. `NaN` where no record lies within
    /// one percent of the bucket (their CSV leaves that cell empty); so `==` on two results
    /// with such buckets is false, compare the values' bit patterns instead.
    pub allocation_ratio: Vec<f64>,
    /// FGD fragmentation in percent of the GPU capacity, same buckets
    /// (`analysis_frag_discrete.csv`).
    pub fragmentation: Vec<f64>,
    /// `total_gpus x (1 - allocation_ratio[130] / 100)`, the paper's "unallocated GPUs"
    /// (from the final state when bucket 130 is empty).
    pub unallocated_gpus_at_end: f64,
    /// Milli-GPU allocated when the last pod has been offered.
    pub final_used_milli: i64,
}
