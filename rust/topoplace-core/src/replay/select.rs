//! Node selection with lazily refreshed per-shape score rows.
//!
//! A node's filter result and score for a pod depend only on the node's state and the pod's
//! shape (CPU, memory, GPUs, milli, models). Each shape keeps one row of keys over all nodes
//! (priority order), and a node's key is recomputed only when that node changed since the
//! row was last used: a global log of changed nodes and a per-row cursor say which. Picking
//! the node is then one max over a dense row of keys that carry both the score and the
//! position (first position wins ties); the filter and the score run only for the nodes that
//! changed.

use super::cluster::{Cluster, Demand};

/// Key of a node that does not pass the filter.
pub(super) const INFEASIBLE: i32 = i32::MIN;

/// Most nodes a cluster may have: positions must fit in a key's low 16 bits.
pub(super) const MAX_NODES: usize = 1 << 16;

/// A feasible node's key: the score in the high 16 bits, the complement of the node's
/// position in the low 16, so that the largest key is the highest score at the first
/// position. 32-bit keys keep the row scan vectorised (scores are within 0..=100).
#[inline]
fn key(score: i32, n: usize) -> i32 {
    (score.clamp(-32_767, 32_767) << 16) | (0xFFFF - n as i32)
}

/// Per-shape rows of node keys, with the change log that invalidates them.
#[derive(Debug)]
pub(super) struct Selector {
    nodes: usize,
    /// `keys[shape * nodes + n]`: node n's key for the shape (see [`key`]), or [`INFEASIBLE`].
    keys: Vec<i32>,
    /// Node version each key was computed at (0: never).
    versions: Vec<u32>,
    /// GPU a sharing pod of the shape would get on the node (policies that choose it while
    /// scoring: FGD).
    gpus: Vec<u8>,
    /// Per shape: how much of `log` the row has seen, or `None` before its first use.
    cursor: Vec<Option<usize>>,
    /// Nodes changed by placements, in order (with repeats).
    log: Vec<u32>,
}

impl Selector {
    /// Empty rows for `nodes` nodes and `shapes` pod shapes.
    pub(super) fn new(nodes: usize, shapes: usize) -> Self {
        Self {
            nodes,
            keys: vec![INFEASIBLE; nodes * shapes],
            versions: vec![0; nodes * shapes],
            gpus: vec![0; nodes * shapes],
            cursor: vec![None; shapes],
            log: Vec::new(),
        }
    }

    /// Records that node `n` changed (a pod was placed on it).
    pub(super) fn changed(&mut self, n: usize) {
        self.log.push(n as u32);
    }

    /// Brings the row of `d`'s shape up to date and returns its keys and GPU choices.
    /// `eval(n)` scores a node that passes the filter, with the GPU it would use.
    pub(super) fn row(
        &mut self,
        c: &Cluster,
        d: &Demand,
        mut eval: impl FnMut(usize) -> (i32, u8),
    ) -> (&[i32], &[u8]) {
        let shape = d.shape as usize;
        let base = shape * self.nodes;
        let keys = &mut self.keys[base..base + self.nodes];
        let versions = &mut self.versions[base..base + self.nodes];
        let gpus = &mut self.gpus[base..base + self.nodes];
        let mut refresh = |n: usize| {
            let node = &c.nodes[n];
            if versions[n] != node.version {
                versions[n] = node.version;
                if node.fits(d) {
                    let (score, g) = eval(n);
                    keys[n] = key(score, n);
                    gpus[n] = g;
                } else {
                    keys[n] = INFEASIBLE;
                }
            }
        };
        // After more placements than there are nodes, checking every node's version is
        // cheaper than walking the log.
        match self.cursor[shape] {
            Some(seen) if self.log.len() - seen < self.nodes => {
                for &n in &self.log[seen..] {
                    refresh(n as usize);
                }
            }
            _ => (0..self.nodes).for_each(&mut refresh),
        }
        self.cursor[shape] = Some(self.log.len());
        (
            &self.keys[base..base + self.nodes],
            &self.gpus[base..base + self.nodes],
        )
    }

    /// The first node with the highest key among those that pass the filter, and its GPU.
    pub(super) fn best(
        &mut self,
        c: &Cluster,
        d: &Demand,
        eval: impl FnMut(usize) -> (i32, u8),
    ) -> Option<(usize, usize)> {
        let (keys, gpus) = self.row(c, d, eval);
        // A plain indexed loop: it vectorises in release builds and stays cheap in debug ones.
        let mut max = INFEASIBLE;
        let mut i = 0;
        while i < keys.len() {
            if keys[i] > max {
                max = keys[i];
            }
            i += 1;
        }
        if max == INFEASIBLE {
            return None;
        }
        let n = (0xFFFF - (max & 0xFFFF)) as usize;
        Some((n, usize::from(gpus[n])))
    }
}
