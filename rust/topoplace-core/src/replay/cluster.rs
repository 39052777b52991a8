//! The simulated cluster as dense per-node arrays, the filter, and GPU assignment.
//!
//! Nodes are stored in tie-break priority order (index 0 wins every tie), so a policy's node
//! choice is "the first node with the highest score". Every array is indexed by that position;
//! the hot loops touch no strings and allocate nothing.

/// Most GPUs a node may have (the simulator's `MaxNumGpuPerNode`).
pub(super) const MAX_GPUS: usize = 8;
/// Milli-GPU of one whole GPU.
pub(super) const MILLI: i32 = 1000;
/// Spec mask of a pod that accepts any GPU model.
pub(super) const ANY_MODEL: u64 = u64::MAX;

/// What one pod asks for, in the units the simulator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Demand {
    /// CPU request, millicores.
    pub cpu: i64,
    /// Memory request, MiB (checked by the filter, used by no score).
    pub mem: i64,
    /// Number of GPUs (0 for CPU-only pods).
    pub num: u32,
    /// Per-GPU milli-GPU, 1..=1000 for GPU pods, 0 for CPU-only pods.
    pub milli: i32,
    /// Allowed GPU models as a mask of model ids ([`ANY_MODEL`] when unconstrained).
    pub spec: u64,
    /// Filter threshold on a node's largest free GPU: `milli` for a sharing pod, else 0.
    pub need_max_free: i32,
    /// Filter threshold on a node's fully free GPUs: `num` for a whole-GPU pod, else 0.
    pub need_full_free: u32,
    /// Id of the pod's shape for score caches: pods with equal `(cpu, num, milli, spec)`
    /// score the same on every node.
    pub shape: u32,
}

impl Demand {
    /// A demand with its filter thresholds filled in. CPU-only pods (`milli == 0`) accept any
    /// model: the simulator checks models for GPU pods only.
    pub(super) fn new(cpu: i64, mem: i64, num: u32, milli: i32, spec: u64, shape: u32) -> Self {
        let mut d = Self {
            cpu,
            mem,
            num,
            milli,
            spec: if milli == 0 { ANY_MODEL } else { spec },
            need_max_free: 0,
            need_full_free: 0,
            shape,
        };
        if milli > 0 {
            if d.is_share() {
                d.need_max_free = milli;
            } else {
                d.need_full_free = num;
            }
        }
        d
    }

    /// A GPU-sharing pod: one GPU, a fraction of it.
    #[inline]
    pub(super) fn is_share(&self) -> bool {
        self.num == 1 && self.milli < MILLI
    }

    /// Total milli-GPU requested.
    #[inline]
    pub(super) fn gpu_milli(&self) -> i64 {
        i64::from(self.num) * i64::from(self.milli)
    }

    /// The GpuClustering class bit: bit 0 for sharing pods, bit k for k whole GPUs (k <= 8);
    /// 0 for CPU-only pods, which no node records.
    #[inline]
    pub(super) fn class_bit(&self) -> u16 {
        if self.milli == 0 {
            0
        } else if self.is_share() {
            1
        } else {
            1 << self.num.min(15)
        }
    }
}

/// One node's capacity, in priority order, as [`Cluster::new`] takes it.
#[derive(Debug, Clone, Copy)]
pub(super) struct NodeCapacity {
    pub cpu: i64,
    pub mem: i64,
    pub gpus: u8,
    pub model_bit: u64,
}

/// The hot part of one node's state, scanned for every pod: one small record per node keeps
/// the filter and the scores in one cache line and free of bounds checks.
#[derive(Debug, Clone, Copy)]
pub(super) struct NodeState {
    pub cpu_free: i64,
    pub mem_free: i64,
    pub model_bit: u64,
    /// Sum of the GPUs' free milli.
    pub total_free: i32,
    /// Largest free milli on one GPU.
    pub max_free: i32,
    /// Bumped on every change, so that per-node caches can tell they are stale.
    pub version: u32,
    /// GpuClustering classes of the GPU pods placed so far (see [`Demand::class_bit`]).
    pub classes: u16,
    pub gpu_count: u8,
    /// Number of GPUs with all 1000 milli free.
    pub full_free: u8,
}

impl NodeState {
    /// The filter: CPU, memory, and for GPU pods the model and enough GPUs with enough free
    /// milli (one GPU with `milli` free for a sharing pod, `num` fully free GPUs otherwise).
    /// Branch-free: it runs for every node and every pod.
    #[inline(always)]
    pub(super) fn fits(&self, d: &Demand) -> bool {
        (self.cpu_free >= d.cpu)
            & (self.mem_free >= d.mem)
            & (self.max_free >= d.need_max_free)
            & (u32::from(self.full_free) >= d.need_full_free)
            & (self.model_bit & d.spec != 0)
    }
}

/// Mutable cluster state, one entry per node in priority order.
#[derive(Debug, Clone)]
pub(super) struct Cluster {
    pub nodes: Vec<NodeState>,
    /// Free milli per GPU, 0 for GPUs the node does not have.
    pub gpu_free: Vec<[i32; MAX_GPUS]>,
}

impl Cluster {
    /// An empty cluster.
    pub(super) fn new(capacities: &[NodeCapacity]) -> Self {
        let mut c = Self {
            nodes: Vec::with_capacity(capacities.len()),
            gpu_free: Vec::with_capacity(capacities.len()),
        };
        for (i, node) in capacities.iter().enumerate() {
            c.nodes.push(NodeState {
                cpu_free: node.cpu,
                mem_free: node.mem,
                model_bit: node.model_bit,
                total_free: 0,
                max_free: 0,
                version: 1,
                classes: 0,
                gpu_count: node.gpus,
                full_free: 0,
            });
            let mut gpus = [0; MAX_GPUS];
            gpus[..usize::from(node.gpus)].fill(MILLI);
            c.gpu_free.push(gpus);
            c.refresh(i);
        }
        c
    }

    /// Number of nodes.
    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Recomputes the per-node GPU summaries after `gpu_free[n]` changed.
    fn refresh(&mut self, n: usize) {
        let s = &mut self.nodes[n];
        let gpus = &self.gpu_free[n][..usize::from(s.gpu_count)];
        s.total_free = gpus.iter().sum();
        s.full_free = gpus.iter().filter(|&&g| g == MILLI).count() as u8;
        s.max_free = gpus.iter().copied().max().unwrap_or(0);
    }

    /// "Best" GPU for a sharing pod: the least free milli that still fits, lowest index on ties.
    pub(super) fn tightest_gpu(&self, n: usize, milli: i32) -> usize {
        let mut best = usize::MAX;
        let mut best_free = i32::MAX;
        let gpus = usize::from(self.nodes[n].gpu_count);
        for (i, &free) in self.gpu_free[n][..gpus].iter().enumerate() {
            if free >= milli && free < best_free {
                best = i;
                best_free = free;
            }
        }
        best
    }

    /// Places `d` on node `n`. A sharing pod goes to GPU `share_gpu`; a whole-GPU pod takes
    /// the lowest-index fully free GPUs. Returns the mask of GPUs used. The caller has checked
    /// [`NodeState::fits`].
    pub(super) fn place(&mut self, n: usize, d: &Demand, share_gpu: usize) -> u8 {
        let s = &mut self.nodes[n];
        s.cpu_free -= d.cpu;
        s.mem_free -= d.mem;
        s.version = s.version.wrapping_add(1).max(1);
        if d.milli == 0 {
            return 0;
        }
        s.classes |= d.class_bit();
        let mut mask = 0_u8;
        if d.is_share() {
            self.gpu_free[n][share_gpu] -= d.milli;
            mask = 1 << share_gpu;
        } else {
            let mut left = d.num;
            for (i, g) in self.gpu_free[n].iter_mut().enumerate() {
                if left == 0 {
                    break;
                }
                if *g == MILLI {
                    *g = 0;
                    mask |= 1 << i;
                    left -= 1;
                }
            }
        }
        self.refresh(n);
        mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_place_and_gpu_choice() {
        let mut c = Cluster::new(&[NodeCapacity {
            cpu: 8_000,
            mem: 1_000,
            gpus: 4,
            model_bit: 0b10,
        }]);
        let share = |milli| Demand::new(1_000, 100, 1, milli, ANY_MODEL, 0);
        assert_eq!(c.place(0, &share(700), 2), 0b100);
        assert_eq!(c.place(0, &share(600), 0), 0b1);
        // GPUs [400, 1000, 300, 1000]: the tightest fit for 250 is GPU 2, for 350 GPU 0.
        assert_eq!(c.tightest_gpu(0, 250), 2);
        assert_eq!(c.tightest_gpu(0, 350), 0);
        let two = Demand::new(1_000, 100, 2, 1000, ANY_MODEL, 0);
        assert!(c.nodes[0].fits(&two));
        assert_eq!(c.place(0, &two, 0), 0b1010);
        let s = c.nodes[0];
        assert_eq!(
            (
                s.total_free,
                s.full_free,
                s.max_free,
                s.cpu_free,
                s.mem_free
            ),
            (700, 0, 400, 5_000, 700)
        );
        assert_eq!(s.classes, 0b101);
        assert!(!s.fits(&Demand::new(1_000, 100, 1, 1000, ANY_MODEL, 0)));
        assert!(
            !s.fits(&Demand::new(1_000, 100, 1, 300, 0b01, 0)),
            "model not allowed"
        );
        assert!(s.fits(&Demand::new(1_000, 100, 1, 300, 0b11, 0)));
        assert!(
            !s.fits(&Demand::new(1_000, 701, 0, 0, ANY_MODEL, 0)),
            "memory short"
        );
        assert!(
            s.fits(&Demand::new(5_000, 700, 0, 0, 0, 0)),
            "CPU pods ignore models"
        );
    }
}
