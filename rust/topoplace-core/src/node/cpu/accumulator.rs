//! The kubelet's CPU accumulator: the state of one pick (free CPUs, CPUs taken, CPUs still
//! needed) and the orderings the packed picker walks topology groups in.
//!
//! Ordering rules, as the kubelet applies them:
//! - groups of one level are ordered by how many free CPUs they hold (fewest first), then by
//!   id;
//! - when NUMA nodes rank above sockets ([`CpuDetails::numa_first`]), NUMA nodes are ordered
//!   directly, sockets inside each ordered NUMA node, cores inside each ordered socket;
//!   otherwise sockets directly, NUMA nodes inside each socket, cores inside each NUMA node;
//! - uncore caches are ordered inside each ordered NUMA node;
//! - single CPUs follow the core order (packed: siblings together) or the socket order
//!   (spread: ascending id inside each socket).

use super::PickError;
use super::details::{CpuDetails, Level};
use crate::topology::CpuSet;

/// How single CPUs are ordered once whole groups have been taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortingStrategy {
    /// Fill cores: hyper-thread siblings are taken together (kubelet default).
    #[default]
    Packed,
    /// Spread over cores: CPUs in ascending id order within each socket, and whole cores are
    /// not taken first (`distribute-cpus-across-cores`).
    Spread,
}

/// The state of one CPU pick over a [`CpuDetails`].
#[derive(Debug, Clone)]
pub struct CpuAccumulator<'a> {
    topo: &'a CpuDetails,
    free: CpuSet,
    result: CpuSet,
    needed: i64,
    strategy: SortingStrategy,
}

impl<'a> CpuAccumulator<'a> {
    /// A pick of `n` CPUs out of `available` (CPUs the machine does not have are ignored).
    #[must_use]
    pub fn new(
        topo: &'a CpuDetails,
        available: &CpuSet,
        n: usize,
        strategy: SortingStrategy,
    ) -> Self {
        Self {
            topo,
            free: available.intersection(topo.cpus()),
            result: CpuSet::new(),
            needed: i64::try_from(n).unwrap_or(i64::MAX),
            strategy,
        }
    }

    /// The CPUs taken so far.
    #[must_use]
    pub fn result(&self) -> &CpuSet {
        &self.result
    }

    /// The CPUs still free.
    #[must_use]
    pub fn free(&self) -> &CpuSet {
        &self.free
    }

    /// CPUs still needed (negative when a take overshot).
    #[must_use]
    pub fn needed(&self) -> i64 {
        self.needed
    }

    pub(super) fn topo(&self) -> &'a CpuDetails {
        self.topo
    }

    pub(super) fn strategy(&self) -> SortingStrategy {
        self.strategy
    }

    /// Whether nothing more is needed.
    #[must_use]
    pub fn is_satisfied(&self) -> bool {
        self.needed < 1
    }

    /// Whether more CPUs are needed than are free.
    #[must_use]
    pub fn is_failed(&self) -> bool {
        self.needed > to_i64(self.free.len())
    }

    /// The answer before any picking, when there is one: nothing to pick (an empty set), or
    /// more requested than `available` holds (the picker's error). Shared by the packed and
    /// distributed pickers, which start the same way.
    pub(super) fn settled_before_picking(
        &self,
        requested: usize,
        available: &CpuSet,
    ) -> Option<Result<CpuSet, PickError>> {
        if self.is_satisfied() {
            return Some(Ok(CpuSet::new()));
        }
        self.is_failed().then(|| {
            Err(PickError::NotEnoughCpus {
                requested,
                available: available.len(),
            })
        })
    }

    fn needs_at_least(&self, n: usize) -> bool {
        self.needed >= to_i64(n)
    }

    /// Takes `cpus`: adds them to the result, removes them from the free CPUs and counts them
    /// against the need (all of them, as the kubelet does, even ones already taken).
    pub(super) fn take(&mut self, cpus: &CpuSet) {
        self.result.union_with(cpus);
        self.free = self.free.difference(cpus);
        self.needed -= to_i64(cpus.len());
    }

    /// Free CPUs of group `id` at `level`.
    fn free_in(&self, level: Level, id: u32) -> CpuSet {
        self.topo.group_cpus(level, id).intersection(&self.free)
    }

    /// How many CPUs of group `id` at `level` are free (no set is built).
    fn free_count(&self, level: Level, id: u32) -> usize {
        self.topo.group_cpus(level, id).intersection_len(&self.free)
    }

    /// Sorts ids of `level` by free CPUs held (ascending), then by id.
    fn sort_by_free(&self, level: Level, ids: &mut [u32]) {
        ids.sort_by_cached_key(|&id| (self.free_count(level, id), id));
    }

    /// Ids of `level` holding a free CPU of `scope`, in the level's order.
    fn sorted_within(&self, level: Level, scope: &CpuSet) -> Vec<u32> {
        let mut ids = self.topo.ids_within(level, &scope.intersection(&self.free));
        self.sort_by_free(level, &mut ids);
        ids
    }

    /// For each group of `outer` in `outer_order`, the groups of `inner` inside it, in order.
    fn nested(&self, outer: Level, outer_order: &[u32], inner: Level) -> Vec<u32> {
        let mut out = Vec::new();
        for &id in outer_order {
            out.extend(self.sorted_within(inner, self.topo.group_cpus(outer, id)));
        }
        out
    }

    /// NUMA nodes holding a free CPU, in the picker's order.
    #[must_use]
    pub fn sorted_numa_nodes(&self) -> Vec<u32> {
        if self.topo.numa_first() {
            self.sorted_within(Level::Numa, &self.free.clone())
        } else {
            self.nested(Level::Socket, &self.sorted_sockets(), Level::Numa)
        }
    }

    /// Sockets holding a free CPU, in the picker's order.
    #[must_use]
    pub fn sorted_sockets(&self) -> Vec<u32> {
        if self.topo.numa_first() {
            self.nested(Level::Numa, &self.sorted_numa_nodes(), Level::Socket)
        } else {
            self.sorted_within(Level::Socket, &self.free.clone())
        }
    }

    /// Cores holding a free CPU, in the picker's order.
    #[must_use]
    pub fn sorted_cores(&self) -> Vec<u32> {
        if self.topo.numa_first() {
            self.nested(Level::Socket, &self.sorted_sockets(), Level::Core)
        } else {
            self.nested(Level::Numa, &self.sorted_numa_nodes(), Level::Core)
        }
    }

    /// Uncore caches holding a free CPU, in the picker's order.
    #[must_use]
    pub fn sorted_uncore_caches(&self) -> Vec<u32> {
        self.nested(Level::Numa, &self.sorted_numa_nodes(), Level::Uncore)
    }

    /// Every free CPU in the order single CPUs are taken under the accumulator's strategy.
    #[must_use]
    pub fn sorted_cpus(&self) -> Vec<u32> {
        let (level, order) = match self.strategy {
            SortingStrategy::Packed => (Level::Core, self.sorted_cores()),
            SortingStrategy::Spread => (Level::Socket, self.sorted_sockets()),
        };
        let mut out = Vec::new();
        for id in order {
            out.extend(self.free_in(level, id).iter());
        }
        out
    }

    /// Fully free NUMA nodes (every CPU of the node free), in the picker's order.
    #[must_use]
    pub fn free_numa_nodes(&self) -> Vec<u32> {
        let mut ids = self.sorted_numa_nodes();
        ids.retain(|&id| self.free_count(Level::Numa, id) == self.group_len(Level::Numa, id));
        ids
    }

    /// Fully free sockets (as many free CPUs as the declared CPUs per socket), in order.
    #[must_use]
    pub fn free_sockets(&self) -> Vec<u32> {
        let per_socket = self.topo.cpus_per_socket();
        let mut ids = self.sorted_sockets();
        ids.retain(|&id| self.free_count(Level::Socket, id) == per_socket);
        ids
    }

    /// Fully free cores (as many free CPUs as the declared CPUs per core), in order.
    #[must_use]
    pub fn free_cores(&self) -> Vec<u32> {
        let per_core = self.topo.cpus_per_core();
        let mut ids = self.sorted_cores();
        ids.retain(|&id| self.free_count(Level::Core, id) == per_core);
        ids
    }

    /// Fully free uncore caches (every CPU of the cache free), in order.
    #[must_use]
    pub fn free_uncore_caches(&self) -> Vec<u32> {
        let mut ids = self.sorted_uncore_caches();
        ids.retain(|&id| self.free_count(Level::Uncore, id) == self.group_len(Level::Uncore, id));
        ids
    }

    fn group_len(&self, level: Level, id: u32) -> usize {
        self.topo.group_cpus(level, id).len()
    }

    /// Takes each group of `ids` at `level` whole while the need is at least its size.
    fn take_whole(&mut self, level: Level, ids: &[u32]) {
        let topo = self.topo;
        for &id in ids {
            let cpus = topo.group_cpus(level, id);
            if self.needs_at_least(cpus.len()) {
                self.take(cpus);
            }
        }
    }

    /// Takes whole free NUMA nodes while a whole node is still needed.
    pub(super) fn take_full_numa_nodes(&mut self) {
        let ids = self.free_numa_nodes();
        self.take_whole(Level::Numa, &ids);
    }

    /// Takes whole free sockets while a whole socket is still needed.
    pub(super) fn take_full_sockets(&mut self) {
        let ids = self.free_sockets();
        self.take_whole(Level::Socket, &ids);
    }

    /// Takes whole free cores while a whole core is still needed.
    pub(super) fn take_full_cores(&mut self) {
        let ids = self.free_cores();
        self.take_whole(Level::Core, &ids);
    }

    /// Takes whole free uncore caches while a whole cache is still needed.
    fn take_full_uncore_caches(&mut self) {
        let ids = self.free_uncore_caches();
        self.take_whole(Level::Uncore, &ids);
    }

    /// Takes the first level (NUMA nodes or sockets, whichever ranks higher) whole.
    pub(super) fn take_full_first_level(&mut self) {
        if self.topo.numa_first() {
            self.take_full_numa_nodes();
        } else {
            self.take_full_sockets();
        }
    }

    /// Takes the second level (sockets or NUMA nodes) whole.
    pub(super) fn take_full_second_level(&mut self) {
        if self.topo.numa_first() {
            self.take_full_sockets();
        } else {
            self.take_full_numa_nodes();
        }
    }

    /// Uncore-cache alignment: whole caches while a declared cache's worth is needed, then the
    /// first cache (in order) whose lowest free cores cover the rest exactly.
    pub(super) fn take_uncore_caches(&mut self) {
        let per_uncore = self.topo.cpus_per_uncore();
        for uncore in self.sorted_uncore_caches() {
            if self.needs_at_least(per_uncore) {
                self.take_full_uncore_caches();
            }
            if self.is_satisfied() {
                return;
            }
            self.take_partial_uncore_cache(uncore);
            if self.is_satisfied() {
                return;
            }
        }
    }

    /// Takes the remaining need from cache `uncore` if its lowest-numbered free cores hold
    /// exactly that many free CPUs (for an odd need on SMT machines, minus the highest CPU).
    fn take_partial_uncore_cache(&mut self, uncore: u32) {
        let per_core = self.topo.cpus_per_core().max(1);
        let Ok(needed) = usize::try_from(self.needed) else {
            return;
        };
        let cores_needed = needed.div_ceil(per_core);
        let cores = self
            .topo
            .ids_within(Level::Core, &self.free_in(Level::Uncore, uncore));
        let mut picked = CpuSet::new();
        for core in cores.into_iter().take(cores_needed) {
            picked.union_with(&self.free_in(Level::Core, core));
        }
        if needed % 2 != 0 && self.topo.cpus_per_core() > 1 && picked.len() > needed {
            if let Some(last) = picked.last() {
                picked.remove(last);
            }
        }
        if picked.len() == needed {
            self.take(&picked);
        }
    }

    /// Takes single CPUs in the strategy's order until satisfied.
    pub(super) fn take_remaining_cpus(&mut self) {
        for cpu in self.sorted_cpus() {
            self.take(&CpuSet::from_ids([cpu]));
            if self.is_satisfied() {
                return;
            }
        }
    }
}

pub(super) fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::cpu::{CpuInfo, DeclaredCounts};

    /// Two sockets of two NUMA nodes, two cores per node, no SMT (sockets rank above NUMA).
    fn machine() -> CpuDetails {
        let cpus = (0..8u32).map(|cpu| {
            let info = CpuInfo {
                core: cpu,
                socket: cpu / 4,
                numa: cpu / 2,
                uncore: cpu / 2,
            };
            (cpu, info)
        });
        let counts = DeclaredCounts {
            num_cpus: 8,
            num_sockets: 2,
            num_cores: 8,
            num_numa_nodes: 4,
            num_uncore_caches: 4,
        };
        CpuDetails::new(cpus, counts).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn orders_fullest_groups_last() {
        let details = machine();
        // Socket 0 has 3 free CPUs, socket 1 has 4: socket 0 comes first; inside it NUMA 0
        // (1 free) before NUMA 1 (2 free).
        let free = CpuSet::from_ids([1, 2, 3, 4, 5, 6, 7]);
        let acc = CpuAccumulator::new(&details, &free, 0, SortingStrategy::Packed);
        assert_eq!(acc.sorted_sockets(), vec![0, 1]);
        assert_eq!(acc.sorted_numa_nodes(), vec![0, 1, 2, 3]);
        assert_eq!(acc.free_numa_nodes(), vec![1, 2, 3]);
        assert_eq!(acc.free_sockets(), vec![1]);
        assert_eq!(acc.sorted_cpus(), vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(acc.sorted_uncore_caches(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn take_counts_every_cpu_passed() {
        let details = machine();
        let mut acc =
            CpuAccumulator::new(&details, &CpuSet::first_n(8), 3, SortingStrategy::Packed);
        acc.take(&CpuSet::from_ids([0, 1]));
        assert_eq!(acc.needed(), 1);
        assert!(!acc.is_satisfied());
        assert!(!acc.is_failed());
        acc.take_remaining_cpus();
        assert!(acc.is_satisfied());
        assert_eq!(acc.result().to_list_string(), "0-2");
    }
}
