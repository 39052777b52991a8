//! A small open-addressing set of non-empty masks (the crate avoids std hash containers, whose
//! iteration order varies; this one is never iterated, only probed).

/// A set of non-zero `u128` values; `0` marks a free slot.
#[derive(Debug, Clone, Default)]
pub(super) struct MaskSet {
    slots: Vec<u128>,
    len: usize,
    shift: u32,
}

/// Odd multiplier for Fibonacci-style hashing.
const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

impl MaskSet {
    /// A set that can hold `expected` values before growing.
    pub(super) fn with_capacity(expected: usize) -> Self {
        let mut set = Self::default();
        set.reset(expected);
        set
    }

    /// Empties the set and sizes it for `expected` values, reusing the allocation if it is
    /// big enough.
    pub(super) fn reset(&mut self, expected: usize) {
        let want = (expected.max(4) * 2).next_power_of_two();
        if self.slots.len() < want {
            self.slots = vec![0; want];
        } else {
            self.slots.fill(0);
        }
        self.len = 0;
        self.shift = 64 - self.slots.len().trailing_zeros();
    }

    #[allow(clippy::cast_possible_truncation)]
    fn home(&self, value: u128) -> usize {
        let folded = (value as u64) ^ ((value >> 64) as u64).rotate_left(29);
        (folded.wrapping_mul(MIX) >> self.shift) as usize
    }

    /// Whether `value` is in the set.
    #[cfg(test)]
    fn contains(&self, value: u128) -> bool {
        self.slot_of(value).is_some()
    }

    /// The slot holding `value` (below [`slot_count`](Self::slot_count)), if it is in the set.
    /// Slots stay put until the set grows.
    pub(super) fn slot_of(&self, value: u128) -> Option<usize> {
        if value == 0 || self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(value);
        loop {
            match self.slots.get(i) {
                Some(&v) if v == value => return Some(i),
                Some(&0) | None => return None,
                Some(_) => i = (i + 1) & mask,
            }
        }
    }

    /// The number of slots.
    pub(super) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Adds `value` (ignored when `0`); `true` when it was not there before.
    pub(super) fn insert(&mut self, value: u128) -> bool {
        if value == 0 {
            return false;
        }
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(value);
        loop {
            match self.slots.get_mut(i) {
                Some(v) if *v == value => return false,
                Some(v) if *v == 0 => {
                    *v = value;
                    self.len += 1;
                    return true;
                }
                Some(_) => i = (i + 1) & mask,
                None => return false,
            }
        }
    }

    /// The number of values held.
    #[cfg(test)]
    const fn len(&self) -> usize {
        self.len
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.reset(old.len().max(4));
        for v in old.into_iter().filter(|&v| v != 0) {
            self.insert(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MaskSet;

    #[test]
    fn insert_contains_grow() {
        let mut s = MaskSet::with_capacity(2);
        for v in 1..1000u128 {
            assert!(s.insert((v << 64) | v));
        }
        assert_eq!(s.len(), 999);
        for v in 1..1000u128 {
            assert!(s.contains((v << 64) | v));
            assert!(!s.insert((v << 64) | v));
        }
        assert!(!s.contains(0));
        assert!(!s.contains(1u128 << 127 | 3));
    }
}
