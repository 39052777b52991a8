//! [`NumaInfo`]: the machine's NUMA nodes and distances, and the kubelet's mask orderings.

use std::cmp::Ordering;

use super::mask::{MAX_NUMA_NODES, NumaMask};
use crate::error::{Error, Result};

/// The NUMA nodes of one machine (operating-system ids) and, optionally, their distance
/// matrix (the kubelet's `NUMAInfo`).
///
/// Distances are only needed for the `prefer-closest-numa-nodes` option. They need not be
/// symmetric (the kubelet does not require it either): the average distance of a mask is the
/// mean of `distance(a, b)` over every ordered pair `(a, b)` of its nodes, diagonal included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumaInfo {
    nodes: Vec<u32>,
    all: NumaMask,
    /// Row-major by node id, `stride x stride`; empty when no distances were given.
    dist: Vec<u32>,
    stride: usize,
    /// Smallest diagonal and smallest off-diagonal distance (lower bounds for the search).
    min_self: u32,
    min_other: u32,
}

impl NumaInfo {
    /// A machine with the given node ids and no distance information.
    ///
    /// # Errors
    /// [`Error::Value`] when an id is 128 or more or appears twice.
    pub fn without_distances(nodes: &[u32]) -> Result<Self> {
        let mut all = NumaMask::EMPTY;
        for &id in nodes {
            let bit = NumaMask::single(id).ok_or_else(|| {
                Error::Value(format!(
                    "NUMA node id {id} is out of range: at most {MAX_NUMA_NODES} nodes (ids 0-{}) are supported",
                    MAX_NUMA_NODES - 1
                ))
            })?;
            if !all.and(bit).is_empty() {
                return Err(Error::Value(format!("NUMA node {id} is listed twice")));
            }
            all = all.or(bit);
        }
        Ok(Self {
            nodes: nodes.to_vec(),
            all,
            dist: Vec::new(),
            stride: 0,
            min_self: 0,
            min_other: 0,
        })
    }

    /// A machine with the given node ids and distances: `distances[i][j]` is the distance from
    /// `nodes[i]` to `nodes[j]` (rows and columns in the order of `nodes`, not by id).
    ///
    /// # Errors
    /// [`Error::Value`] when an id is out of range or repeated, or the matrix is not
    /// `nodes.len()` x `nodes.len()`.
    pub fn new(nodes: &[u32], distances: &[Vec<u32>]) -> Result<Self> {
        let mut info = Self::without_distances(nodes)?;
        if distances.len() != nodes.len() {
            return Err(Error::Value(format!(
                "NUMA distance matrix has {} rows for {} nodes",
                distances.len(),
                nodes.len()
            )));
        }
        let stride = nodes.iter().map(|&id| id as usize + 1).max().unwrap_or(0);
        let mut dist = vec![0u32; stride * stride];
        let (mut min_self, mut min_other) = (u32::MAX, u32::MAX);
        for (row, (&a, values)) in nodes.iter().zip(distances).enumerate() {
            if values.len() != nodes.len() {
                return Err(Error::Value(format!(
                    "NUMA distance row {row} (node {a}) has {} entries for {} nodes",
                    values.len(),
                    nodes.len()
                )));
            }
            for (&b, &d) in nodes.iter().zip(values) {
                if let Some(slot) = dist.get_mut(a as usize * stride + b as usize) {
                    *slot = d;
                }
                if a == b {
                    min_self = min_self.min(d);
                } else {
                    min_other = min_other.min(d);
                }
            }
        }
        info.dist = dist;
        info.stride = stride;
        info.min_self = if min_self == u32::MAX { 0 } else { min_self };
        info.min_other = if min_other == u32::MAX { 0 } else { min_other };
        Ok(info)
    }

    /// The node ids, in the order given.
    #[must_use]
    pub fn nodes(&self) -> &[u32] {
        &self.nodes
    }

    /// The mask of every node (the kubelet's default affinity).
    #[must_use]
    pub const fn all(&self) -> NumaMask {
        self.all
    }

    /// Whether a distance matrix was given.
    #[must_use]
    pub fn has_distances(&self) -> bool {
        self.stride > 0
    }

    /// The distance from node `a` to node `b` (0 when unknown).
    #[must_use]
    pub fn distance(&self, a: u32, b: u32) -> u32 {
        self.dist
            .get(a as usize * self.stride + b as usize)
            .copied()
            .unwrap_or(0)
    }

    /// The sum of `distance(a, b)` over every ordered pair of nodes of `mask`, diagonal
    /// included. Comparing sums of masks of equal size is comparing the kubelet's average
    /// distances (the divisor is the same, and the sums are exact in `f64` as well).
    #[must_use]
    pub fn distance_sum(&self, mask: NumaMask) -> u64 {
        if self.stride == 0 {
            return 0;
        }
        let mut sum = 0u64;
        for a in mask {
            let row = a as usize * self.stride;
            for b in mask {
                sum += u64::from(self.dist.get(row + b as usize).copied().unwrap_or(0));
            }
        }
        sum
    }

    /// A lower bound of [`distance_sum`](Self::distance_sum) over masks of `count` nodes.
    pub(super) fn distance_sum_lower_bound(&self, count: u32) -> u64 {
        let c = u64::from(count);
        c * u64::from(self.min_self) + c * c.saturating_sub(1) * u64::from(self.min_other)
    }
}

/// The ordering the kubelet uses between two distinct masks of equally-preferred hints:
/// `Narrowest` (fewer nodes, then lower integer value) or, with `prefer-closest-numa-nodes`
/// outside `single-numa-node`, `Closest` (fewer nodes, then lower average distance, then lower
/// integer value). Both are total orders; [`MaskKey`] is a sort key for them.
#[derive(Debug, Clone, Copy)]
pub(super) struct MaskOrder<'a> {
    pub(super) numa: &'a NumaInfo,
    pub(super) closest: bool,
}

/// Sort key of a mask under a [`MaskOrder`]: smaller is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct MaskKey {
    pub(super) count: u32,
    pub(super) sum: u64,
    pub(super) value: u128,
}

impl MaskOrder<'_> {
    /// The sort key of `mask`.
    pub(super) fn key(&self, mask: NumaMask) -> MaskKey {
        MaskKey {
            count: mask.count(),
            sum: if self.closest {
                self.numa.distance_sum(mask)
            } else {
                0
            },
            value: mask.bits(),
        }
    }

    /// The kubelet's pairwise choice (`Narrowest` / `Closest`) between two masks: `true`
    /// when `a` is chosen over `b`. Written the kubelet's way (not through [`MaskKey`]), so that
    /// the exhaustive form stays a faithful reference.
    pub(super) fn picks_first(&self, a: NumaMask, b: NumaMask) -> bool {
        if !self.closest || a.count() != b.count() {
            return a.is_narrower_than(b);
        }
        let (da, db) = (self.numa.distance_sum(a), self.numa.distance_sum(b));
        match da.cmp(&db) {
            Ordering::Equal => a.is_less_than(b),
            Ordering::Less => true,
            Ordering::Greater => false,
        }
    }
}
