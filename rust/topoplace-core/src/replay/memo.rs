//! A memo of F_n by node state, as the authors' simulator keeps one (`fragMemo`).
//!
//! F depends only on the node's free CPU, its model and the multiset of its GPUs' free milli,
//! and it is the same number whatever the GPU order (the per-GPU amounts are integers). Many
//! nodes share a state (hundreds of identical idle nodes at the start, and the same few
//! shapes of partly used ones later), so FGD evaluates far fewer distinct states than
//! candidates. The table is a plain open-addressing array: it is only ever looked up, never
//! iterated, so no order can leak into results.

use super::cluster::MAX_GPUS;

/// The state F depends on, with the GPUs sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Key {
    cpu: i64,
    model: u64,
    gpus: [i32; MAX_GPUS],
}

/// Entries before the table is emptied and started again, to bound memory (a cache miss
/// only costs a recomputation).
const MAX_ENTRIES: usize = 1 << 20;

/// F by node state.
#[derive(Debug)]
pub(super) struct FragMemo {
    keys: Vec<Key>,
    values: Vec<f64>,
    used: Vec<bool>,
    len: usize,
}

fn mix(mut x: u64) -> u64 {
    // splitmix64's finaliser.
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn hash(k: &Key) -> u64 {
    let mut h = mix(k.cpu as u64 ^ k.model.rotate_left(17));
    let mut i = 0;
    while i < MAX_GPUS {
        let pair = (u64::from(k.gpus[i] as u32) << 32) | u64::from(k.gpus[i + 1] as u32);
        h = mix(h ^ pair);
        i += 2;
    }
    h
}

impl FragMemo {
    /// An empty memo.
    pub(super) fn new() -> Self {
        Self::with_slots(1 << 12)
    }

    fn with_slots(slots: usize) -> Self {
        Self {
            keys: vec![Key::default(); slots],
            values: vec![0.0; slots],
            used: vec![false; slots],
            len: 0,
        }
    }

    /// F of the state `(cpu, model, gpus)`, from the memo or from `compute`.
    pub(super) fn get(
        &mut self,
        cpu: i64,
        model: u64,
        gpus: &[i32; MAX_GPUS],
        compute: impl FnOnce() -> f64,
    ) -> f64 {
        let mut sorted = *gpus;
        // Insertion sort: eight values, mostly sorted already.
        let mut i = 1;
        while i < MAX_GPUS {
            let v = sorted[i];
            let mut j = i;
            while j > 0 && sorted[j - 1] > v {
                sorted[j] = sorted[j - 1];
                j -= 1;
            }
            sorted[j] = v;
            i += 1;
        }
        let key = Key {
            cpu,
            model,
            gpus: sorted,
        };
        let mask = self.keys.len() - 1;
        let mut slot = hash(&key) as usize & mask;
        while self.used[slot] {
            if self.keys[slot] == key {
                return self.values[slot];
            }
            slot = (slot + 1) & mask;
        }
        let value = compute();
        self.keys[slot] = key;
        self.values[slot] = value;
        self.used[slot] = true;
        self.len += 1;
        if self.len * 2 > self.keys.len() {
            self.grow();
        }
        value
    }

    /// Doubles the table (or empties it past [`MAX_ENTRIES`]).
    fn grow(&mut self) {
        if self.len >= MAX_ENTRIES {
            *self = Self::with_slots(self.keys.len());
            return;
        }
        let mut bigger = Self::with_slots(self.keys.len() * 2);
        let mask = bigger.keys.len() - 1;
        for i in 0..self.keys.len() {
            if self.used[i] {
                let mut slot = hash(&self.keys[i]) as usize & mask;
                while bigger.used[slot] {
                    slot = (slot + 1) & mask;
                }
                bigger.keys[slot] = self.keys[i];
                bigger.values[slot] = self.values[i];
                bigger.used[slot] = true;
            }
        }
        bigger.len = self.len;
        *self = bigger;
    }
}
