//! The kubelet mode's per-request view of the machine (positions in NUMA OS-id order, which
//! masks are CPU and memory hints) and the bounded enumeration of masks by width.

use super::default_mode::top_k_width;
use super::ledger::Ledger;
use super::machine::Machine;
use super::request::AllocRequest;
use crate::node::hints::NumaMask;

/// Up to this many NUMA nodes, a best-effort merge without a preferred hint enumerates every
/// mask as the kubelet does; above it the result is the approximation described in [`super`].
pub(super) const EXHAUSTIVE_NODES: usize = 16;
/// Most masks examined by one bounded search.
pub(super) const SEARCH_BUDGET: u64 = 2_000_000;

/// Per-request view: the positions (dense nodes sorted by OS id) and what is asked.
pub(super) struct View<'a> {
    pub(super) m: &'a Machine,
    pub(super) l: &'a Ledger,
    pub(super) req: &'a AllocRequest,
    pub(super) mem: [u64; 3],
    pub(super) full: bool,
}

impl View<'_> {
    /// Dense node at position `p` of the OS-id order.
    pub(super) fn dense(&self, p: u32) -> u32 {
        self.m.os_order.get(p as usize).copied().unwrap_or(u32::MAX)
    }

    pub(super) fn os_mask(&self, pos: u128) -> NumaMask {
        let mut bits = 0u128;
        for p in Bits(pos) {
            bits |= 1u128 << (self.m.os_id(self.dense(p)) & 127);
        }
        NumaMask::from_bits(bits)
    }

    pub(super) fn dense_mask(&self, pos: u128) -> u128 {
        Bits(pos).fold(0u128, |a, p| a | 1u128 << (self.dense(p) & 127))
    }

    pub(super) fn free_cpus(&self, pos: u128) -> u64 {
        Bits(pos)
            .map(|p| {
                let d = self.dense(p);
                if self.full {
                    u64::from(self.l.node_free_physical(self.m, d))
                } else {
                    u64::from(self.l.node_free_cpus.get(d as usize).copied().unwrap_or(0))
                }
            })
            .sum()
    }

    pub(super) fn cpu_hint(&self, pos: u128) -> bool {
        self.free_cpus(pos) >= u64::from(self.req.cpus)
    }

    pub(super) fn sum_mem(&self, pos: u128, table: &[Vec<u64>; 3], k: usize) -> u64 {
        Bits(pos)
            .map(|p| table[k].get(self.dense(p) as usize).copied().unwrap_or(0))
            .fold(0u64, u64::saturating_add)
    }

    pub(super) fn allocatable_fits(&self, pos: u128) -> bool {
        (0..3).all(|k| self.mem[k] == 0 || self.sum_mem(pos, &self.m.capacity, k) >= self.mem[k])
    }

    pub(super) fn free_fits(&self, pos: u128) -> bool {
        (0..3).all(|k| self.mem[k] == 0 || self.sum_mem(pos, &self.l.mem_free, k) >= self.mem[k])
    }

    /// The Memory Manager's single/cross NUMA rule (`isAffinityViolatingNUMAAllocations`).
    pub(super) fn violates_groups(&self, pos: u128) -> bool {
        if pos.count_ones() == 1 {
            return false;
        }
        let dense = self.dense_mask(pos);
        Bits(pos).any(|p| {
            let d = self.dense(p);
            if self.l.mm_assign.get(d as usize).copied().unwrap_or(0) == 0 {
                return false;
            }
            let cells = self.l.cells(d);
            cells.count_ones() == 1 || cells != dense
        })
    }

    /// Whether `pos` is one of the Memory Manager's hints (`calculateHints`).
    pub(super) fn mem_hint(&self, pos: u128) -> bool {
        if !self.allocatable_fits(pos) {
            return false;
        }
        if pos.count_ones() == 1 && self.l.cells(self.dense(pos.trailing_zeros())).count_ones() > 1
        {
            return false;
        }
        !self.violates_groups(pos) && self.free_fits(pos)
    }

    pub(super) fn mem_min(&self) -> u32 {
        let mut width = 1;
        for k in 0..3 {
            if self.mem[k] > 0 {
                width = width.max(top_k_width(&self.m.capacity[k], self.mem[k]));
            }
        }
        width
    }

    pub(super) fn cpu_min(&self) -> u32 {
        let totals: Vec<u64> = self
            .m
            .node_total_cpus
            .iter()
            .map(|&c| u64::from(c))
            .collect();
        top_k_width(&totals, u64::from(self.req.cpus))
    }

    pub(super) fn has_mem(&self) -> bool {
        self.mem.iter().any(|&b| b > 0)
    }

    /// Positions of nodes with CPUs (the CPU Manager's NUMA node list).
    pub(super) fn cpu_universe(&self) -> u128 {
        let mut u = 0u128;
        for p in 0..self.m.n.min(128) {
            if self
                .m
                .node_total_cpus
                .get(self.dense(super::to_u32(p)) as usize)
                .copied()
                .unwrap_or(0)
                > 0
            {
                u |= 1u128 << p;
            }
        }
        u
    }

    pub(super) fn all_positions(&self) -> u128 {
        if self.m.n >= 128 {
            u128::MAX
        } else {
            (1u128 << self.m.n) - 1
        }
    }
}

/// Set bits of a `u128`, ascending.
pub(super) struct Bits(pub(super) u128);

impl Iterator for Bits {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let b = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(b)
    }
}

/// Calls `f` on every subset of `universe` with `k` members, in increasing order of the
/// position bits (the kubelet's integer order for a fixed width), until `f` returns `true` or
/// the budget runs out. Returns whether `f` returned `true`.
pub(super) fn for_each_width(
    universe: u128,
    k: u32,
    budget: &mut u64,
    mut f: impl FnMut(u128) -> bool,
) -> bool {
    let n = universe.count_ones();
    if k == 0 || k > n {
        return false;
    }
    let spread = |idx: u128| -> u128 {
        // Map the i-th bit of `idx` onto the i-th member of `universe`.
        let mut out = 0u128;
        let mut rest = universe;
        let mut i = idx;
        while i != 0 && rest != 0 {
            let low = rest & rest.wrapping_neg();
            if i & 1 == 1 {
                out |= low;
            }
            rest ^= low;
            i >>= 1;
        }
        out
    };
    let limit: u128 = if n >= 128 { u128::MAX } else { 1u128 << n };
    let mut v: u128 = if k >= 128 {
        u128::MAX
    } else {
        (1u128 << k) - 1
    };
    loop {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        if f(spread(v)) {
            return true;
        }
        // Gosper's hack: the next larger integer with the same popcount.
        let c = v & v.wrapping_neg();
        let r = v.wrapping_add(c);
        if r == 0 || c == 0 {
            return false;
        }
        v = (((r ^ v) >> 2) / c) | r;
        if n < 128 && v >= limit {
            return false;
        }
    }
}
