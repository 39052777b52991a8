//! [`NumaMask`]: a set of NUMA node ids stored as one `u128`.

use std::fmt;

use crate::error::{Error, Result};

/// The largest number of distinct NUMA node ids a [`NumaMask`] can hold: ids `0..128`.
pub const MAX_NUMA_NODES: usize = 128;

/// A set of NUMA node ids (operating-system ids, `0..128`), one bit per id.
///
/// The kubelet's `bitmask.BitMask` is a `uint64`; this type holds the same bits in a `u128`,
/// so every kubelet mask is representable and its integer order (used by the kubelet's
/// `IsLessThan` tie-break) is preserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NumaMask(u128);

impl NumaMask {
    /// The empty mask.
    pub const EMPTY: Self = Self(0);

    /// A mask from its raw bits (bit `i` set means NUMA node `i`).
    #[must_use]
    pub const fn from_bits(bits: u128) -> Self {
        Self(bits)
    }

    /// The raw bits.
    #[must_use]
    pub const fn bits(self) -> u128 {
        self.0
    }

    /// A mask holding the given node ids.
    ///
    /// # Errors
    /// [`Error::Value`] when an id is `128` or more.
    pub fn from_ids<I>(ids: I) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: Into<u64>,
    {
        let mut bits = 0u128;
        for id in ids {
            let id: u64 = id.into();
            let Some(bit) = u32::try_from(id)
                .ok()
                .filter(|&b| (b as usize) < MAX_NUMA_NODES)
            else {
                return Err(Error::Value(format!(
                    "NUMA node id {id} is out of range: at most {MAX_NUMA_NODES} nodes (ids 0-{}) are supported",
                    MAX_NUMA_NODES - 1
                )));
            };
            bits |= 1u128 << bit;
        }
        Ok(Self(bits))
    }

    /// The mask holding the single node `id`, or `None` when `id >= 128`.
    #[must_use]
    pub fn single(id: u32) -> Option<Self> {
        (usize::try_from(id).ok()? < MAX_NUMA_NODES).then(|| Self(1u128 << id))
    }

    /// The number of nodes in the mask.
    #[must_use]
    pub const fn count(self) -> u32 {
        self.0.count_ones()
    }

    /// Whether the mask holds no node.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether node `id` is in the mask.
    #[must_use]
    pub const fn contains(self, id: u32) -> bool {
        id < MAX_NUMA_NODES as u32 && (self.0 >> id) & 1 == 1
    }

    /// The nodes in both masks.
    #[must_use]
    pub const fn and(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The nodes in either mask.
    #[must_use]
    pub const fn or(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every node of `self` is in `other`.
    #[must_use]
    pub const fn is_subset_of(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    /// The kubelet's `IsLessThan`: plain integer order of the bits.
    #[must_use]
    pub const fn is_less_than(self, other: Self) -> bool {
        self.0 < other.0
    }

    /// The kubelet's `IsNarrowerThan`: fewer nodes, or as many nodes and
    /// [`is_less_than`](Self::is_less_than).
    #[must_use]
    pub const fn is_narrower_than(self, other: Self) -> bool {
        let (a, b) = (self.count(), other.count());
        if a == b { self.0 < other.0 } else { a < b }
    }

    /// The `n` lowest node ids of the mask (all of them when it has fewer).
    #[must_use]
    pub const fn lowest(self, n: u32) -> Self {
        let mut rest = self.0;
        let mut out = 0u128;
        let mut taken = 0;
        while taken < n && rest != 0 {
            let low = rest & rest.wrapping_neg();
            out |= low;
            rest ^= low;
            taken += 1;
        }
        Self(out)
    }

    /// The node ids in ascending order.
    #[must_use]
    pub const fn iter(self) -> MaskIter {
        MaskIter(self.0)
    }
}

/// Iterator over the node ids of a [`NumaMask`], ascending.
#[derive(Debug, Clone)]
pub struct MaskIter(u128);

impl Iterator for MaskIter {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let id = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(id)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for MaskIter {}

impl IntoIterator for NumaMask {
    type Item = u32;
    type IntoIter = MaskIter;

    fn into_iter(self) -> MaskIter {
        self.iter()
    }
}

impl fmt::Display for NumaMask {
    /// Node ids as a comma-separated list in brackets: `[0,2,5]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, id) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{id}")?;
        }
        f.write_str("]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let m = NumaMask::from_ids([0u32, 5, 127]).unwrap();
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![0, 5, 127]);
        assert_eq!(m.count(), 3);
        assert_eq!(m.to_string(), "[0,5,127]");
        assert!(NumaMask::from_ids([128u32]).is_err());
        assert_eq!(m.lowest(2), NumaMask::from_ids([0u32, 5]).unwrap());
    }

    #[test]
    fn narrower() {
        let a = NumaMask::from_ids([1u32, 2]).unwrap();
        let b = NumaMask::from_ids([0u32, 3]).unwrap();
        let c = NumaMask::from_ids([7u32]).unwrap();
        assert!(a.is_narrower_than(b));
        assert!(c.is_narrower_than(a));
        assert!(!a.is_narrower_than(a));
    }
}
