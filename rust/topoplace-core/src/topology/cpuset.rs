//! `CpuSet`: a set of logical CPU ids (OS indexes) as a growable bitset.
//!
//! Reads and writes the Linux kernel / kubelet list syntax (`"0-3,8-11"`), the syntax of
//! `/sys/devices/system/cpu/online` and of the kubelet's `--reserved-cpus`. The hot paths
//! (union, intersection, count) work a 64-bit word at a time and never allocate per element.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Largest CPU id accepted from text; keeps a typo such as `"0-99999999999"` from allocating
/// gigabytes. 2^20 logical CPUs is far beyond any machine Linux supports today (8,192 by
/// default, `CONFIG_NR_CPUS` max 8,192 on x86 and 4,096 on arm64).
pub const MAX_CPU_ID: u32 = 1 << 20;

/// A set of CPU ids. Equality ignores trailing zero words, so sets compare by content.
#[derive(Clone, Default)]
pub struct CpuSet {
    words: Vec<u64>,
}

impl CpuSet {
    /// The empty set.
    #[must_use]
    pub const fn new() -> Self {
        Self { words: Vec::new() }
    }

    /// The set `{0, 1, ..., n-1}`.
    #[must_use]
    pub fn first_n(n: u32) -> Self {
        let mut set = Self::new();
        set.insert_range(0, n);
        set
    }

    /// Builds a set from ids.
    pub fn from_ids<I: IntoIterator<Item = u32>>(ids: I) -> Self {
        let mut set = Self::new();
        for id in ids {
            set.insert(id);
        }
        set
    }

    /// Parses the kernel list syntax: comma-separated ids and inclusive ranges `a-b`, with
    /// optional stride `a-b:s` (kernel `bitmap_parselist` form). Whitespace around items and a
    /// trailing newline are accepted; an empty string is the empty set.
    ///
    /// # Errors
    /// [`Error::Value`] naming the bad item when an item is not a number, a range is reversed,
    /// or an id exceeds [`MAX_CPU_ID`].
    pub fn parse(text: &str) -> Result<Self> {
        let mut set = Self::new();
        for item in text.trim().split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (range, stride) = match item.split_once(':') {
                Some((range, stride)) => (range, parse_id(stride, item)?),
                None => (item, 1),
            };
            if stride == 0 {
                return Err(Error::Value(format!("CPU list item {item:?}: stride 0")));
            }
            let (lo, hi) = match range.split_once('-') {
                Some((lo, hi)) => (parse_id(lo, item)?, parse_id(hi, item)?),
                None => {
                    let id = parse_id(range, item)?;
                    (id, id)
                }
            };
            if lo > hi {
                return Err(Error::Value(format!(
                    "CPU list item {item:?}: range is reversed"
                )));
            }
            let mut id = lo;
            while id <= hi {
                set.insert(id);
                id = match id.checked_add(stride) {
                    Some(next) => next,
                    None => break,
                };
            }
        }
        Ok(set)
    }

    /// Parses the kernel's hexadecimal mask syntax (`/sys/.../cpumap`, hwloc `cpuset`
    /// attributes): comma-separated 32-bit hex words, most significant first, optional `0x`.
    ///
    /// # Errors
    /// [`Error::Value`] when a word is not hexadecimal or the mask is absurdly long.
    pub fn parse_mask(text: &str) -> Result<Self> {
        let text = text.trim();
        let words: Vec<&str> = text.split(',').collect();
        if words.len() > (MAX_CPU_ID / 32) as usize {
            return Err(Error::Value(format!(
                "CPU mask of {} words is too long",
                words.len()
            )));
        }
        let mut set = Self::new();
        for (pos, word) in words.iter().rev().enumerate() {
            let hex = word
                .trim()
                .trim_start_matches("0x")
                .trim_start_matches("0X");
            if hex.is_empty() {
                continue;
            }
            // hwloc writes the first word of a wide mask without padding, e.g. 0xff,0xffffffff;
            // a single word may also be wider than 32 bits in hwloc's own output.
            let value = u128::from_str_radix(hex, 16)
                .map_err(|_| Error::Value(format!("CPU mask word {word:?} is not hexadecimal")))?;
            let base = u32::try_from(pos * 32).unwrap_or(u32::MAX);
            for bit in 0..128u32 {
                if value >> bit & 1 == 1 {
                    let id = base.saturating_add(bit);
                    if id >= MAX_CPU_ID {
                        return Err(Error::Value(format!("CPU mask sets CPU {id}, too large")));
                    }
                    set.insert(id);
                }
            }
        }
        Ok(set)
    }

    /// Adds `id`.
    pub fn insert(&mut self, id: u32) {
        let word = (id / 64) as usize;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1u64 << (id % 64);
    }

    /// Adds every id in `lo..hi`.
    pub fn insert_range(&mut self, lo: u32, hi: u32) {
        for id in lo..hi {
            self.insert(id);
        }
    }

    /// Removes `id`; returns whether it was present.
    pub fn remove(&mut self, id: u32) -> bool {
        let word = (id / 64) as usize;
        match self.words.get_mut(word) {
            Some(w) => {
                let had = *w >> (id % 64) & 1 == 1;
                *w &= !(1u64 << (id % 64));
                had
            }
            None => false,
        }
    }

    /// Whether `id` is in the set.
    #[must_use]
    pub fn contains(&self, id: u32) -> bool {
        self.words
            .get((id / 64) as usize)
            .is_some_and(|w| w >> (id % 64) & 1 == 1)
    }

    /// Number of ids.
    #[must_use]
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Smallest id, if any.
    #[must_use]
    pub fn first(&self) -> Option<u32> {
        self.iter().next()
    }

    /// Largest id, if any.
    #[must_use]
    pub fn last(&self) -> Option<u32> {
        let (i, w) = self
            .words
            .iter()
            .enumerate()
            .rev()
            .find(|(_, w)| **w != 0)?;
        Some(u32::try_from(i).ok()? * 64 + 63 - w.leading_zeros())
    }

    /// Ids in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &word)| {
            let base = i as u32 * 64;
            BitIter(word).map(move |bit| base + bit)
        })
    }

    /// `self ∪ other`.
    #[must_use]
    pub fn union(&self, other: &Self) -> Self {
        let mut out = self.clone();
        out.union_with(other);
        out
    }

    /// `self ∪= other`.
    pub fn union_with(&mut self, other: &Self) {
        if other.words.len() > self.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// `self ∩ other`.
    #[must_use]
    pub fn intersection(&self, other: &Self) -> Self {
        let words = self
            .words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| a & b)
            .collect();
        Self { words }
    }

    /// `self \ other`.
    #[must_use]
    pub fn difference(&self, other: &Self) -> Self {
        let mut words = self.words.clone();
        for (a, b) in words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
        Self { words }
    }

    /// Whether every id of `self` is in `other`.
    #[must_use]
    pub fn is_subset(&self, other: &Self) -> bool {
        self.words
            .iter()
            .enumerate()
            .all(|(i, &w)| w & !other.words.get(i).copied().unwrap_or(0) == 0)
    }

    /// `|self ∩ other|`, without building the intersection.
    #[must_use]
    pub fn intersection_len(&self, other: &Self) -> usize {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| (a & b).count_ones() as usize)
            .sum()
    }

    /// Whether the sets share an id.
    #[must_use]
    pub fn intersects(&self, other: &Self) -> bool {
        self.words.iter().zip(&other.words).any(|(a, b)| a & b != 0)
    }

    /// The kernel list syntax, ranges collapsed: `"0-3,8-11"`; empty string for the empty set.
    #[must_use]
    pub fn to_list_string(&self) -> String {
        let mut out = String::new();
        let mut ids = self.iter().peekable();
        while let Some(lo) = ids.next() {
            let mut hi = lo;
            while ids.peek() == Some(&(hi + 1)) {
                hi += 1;
                ids.next();
            }
            if !out.is_empty() {
                out.push(',');
            }
            if lo == hi {
                out.push_str(&lo.to_string());
            } else {
                out.push_str(&format!("{lo}-{hi}"));
            }
        }
        out
    }

    fn significant_words(&self) -> &[u64] {
        let len = self
            .words
            .iter()
            .rposition(|&w| w != 0)
            .map_or(0, |i| i + 1);
        &self.words[..len]
    }
}

fn parse_id(text: &str, item: &str) -> Result<u32> {
    let id: u32 = text
        .trim()
        .parse()
        .map_err(|_| Error::Value(format!("CPU list item {item:?}: {text:?} is not a CPU id")))?;
    if id >= MAX_CPU_ID {
        return Err(Error::Value(format!(
            "CPU list item {item:?}: CPU id {id} is too large"
        )));
    }
    Ok(id)
}

struct BitIter(u64);

impl Iterator for BitIter {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(bit)
    }
}

impl PartialEq for CpuSet {
    fn eq(&self, other: &Self) -> bool {
        self.significant_words() == other.significant_words()
    }
}

impl Eq for CpuSet {}

impl std::hash::Hash for CpuSet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.significant_words().hash(state);
    }
}

impl fmt::Display for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_list_string())
    }
}

impl fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CpuSet({:?})", self.to_list_string())
    }
}

impl FromIterator<u32> for CpuSet {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Self {
        Self::from_ids(iter)
    }
}

impl Serialize for CpuSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_list_string())
    }
}

impl<'de> Deserialize<'de> for CpuSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_syntax_round_trips() {
        let set = CpuSet::parse("0-3,8-11, 16\n").unwrap();
        assert_eq!(set.len(), 9);
        assert_eq!(set.to_list_string(), "0-3,8-11,16");
        assert_eq!(CpuSet::parse(&set.to_list_string()).unwrap(), set);
    }

    #[test]
    fn stride_and_empty() {
        assert_eq!(CpuSet::parse("0-7:2").unwrap().to_list_string(), "0,2,4,6");
        assert!(CpuSet::parse("").unwrap().is_empty());
        assert!(CpuSet::parse(" \n").unwrap().is_empty());
    }

    #[test]
    fn bad_lists_are_errors() {
        for bad in ["3-1", "a", "1-", "0-7:0", "99999999"] {
            assert!(CpuSet::parse(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn hex_masks() {
        assert_eq!(
            CpuSet::parse_mask("0x0000000f").unwrap().to_list_string(),
            "0-3"
        );
        assert_eq!(
            CpuSet::parse_mask("00000001,00000000")
                .unwrap()
                .to_list_string(),
            "32"
        );
        assert_eq!(CpuSet::parse_mask("0xff,0xffffffff").unwrap().len(), 40);
        assert!(CpuSet::parse_mask("0xzz").is_err());
    }

    #[test]
    fn set_algebra() {
        let a = CpuSet::parse("0-7").unwrap();
        let b = CpuSet::parse("4-11").unwrap();
        assert_eq!(a.intersection(&b).to_list_string(), "4-7");
        assert_eq!(a.intersection_len(&b), 4);
        assert_eq!(a.union(&b).to_list_string(), "0-11");
        assert_eq!(a.difference(&b).to_list_string(), "0-3");
        assert!(CpuSet::parse("1,2").unwrap().is_subset(&a));
        assert!(!b.is_subset(&a));
        assert_eq!(b.first(), Some(4));
        assert_eq!(b.last(), Some(11));
        let mut c = a.clone();
        c.insert(200);
        assert!(c.remove(200));
        assert_eq!(c, a, "trailing zero words do not affect equality");
    }
}
