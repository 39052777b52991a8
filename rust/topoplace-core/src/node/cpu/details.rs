//! The kubelet's view of a machine's CPUs: for every logical CPU its core, socket, NUMA node and
//! uncore (last-level) cache, plus the summary counts the kubelet derives its ratios from.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::topology::{CpuSet, Topology};

/// Where one logical CPU sits. Ids are the kubelet's: a core id may be shared by cores of
/// different sockets when the source numbers cores per socket, exactly as the kubelet sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuInfo {
    /// Core id.
    pub core: u32,
    /// Socket (package) id.
    pub socket: u32,
    /// NUMA node id.
    pub numa: u32,
    /// Uncore (last-level) cache id; 0 when the source has none.
    pub uncore: u32,
}

/// The summary counts of a topology. The kubelet takes its "CPUs per core / socket / uncore
/// cache" ratios from these numbers, not from the CPU list, so they are kept as given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeclaredCounts {
    /// Number of logical CPUs.
    pub num_cpus: usize,
    /// Number of sockets.
    pub num_sockets: usize,
    /// Number of physical cores.
    pub num_cores: usize,
    /// Number of NUMA nodes (0 when unknown).
    pub num_numa_nodes: usize,
    /// Number of uncore caches (0 when unknown).
    pub num_uncore_caches: usize,
}

/// A level of the CPU hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Sockets (packages).
    Socket,
    /// NUMA nodes.
    Numa,
    /// Physical cores.
    Core,
    /// Uncore (last-level) caches.
    Uncore,
}

impl Level {
    const fn slot(self) -> usize {
        match self {
            Self::Socket => 0,
            Self::Numa => 1,
            Self::Core => 2,
            Self::Uncore => 3,
        }
    }

    const fn of(self, info: &CpuInfo) -> u32 {
        match self {
            Self::Socket => info.socket,
            Self::Numa => info.numa,
            Self::Core => info.core,
            Self::Uncore => info.uncore,
        }
    }
}

/// One group of a level: its id and its CPUs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    id: u32,
    cpus: CpuSet,
}

/// A machine as the kubelet CPU Manager sees it (its `CPUTopology` / `CPUDetails`).
///
/// Built from a kubelet test fixture with [`CpuDetails::new`] or from a topoplace
/// [`Topology`] with [`CpuDetails::from_topology`]. Immutable; queries never allocate strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuDetails {
    /// `infos[cpu]`, `None` for ids the machine does not have.
    infos: Vec<Option<CpuInfo>>,
    all: CpuSet,
    /// Per level (indexed by [`Level::slot`]) the groups sorted by id.
    groups: [Vec<Group>; 4],
    counts: DeclaredCounts,
}

/// The empty set, returned for ids that do not exist.
static EMPTY: CpuSet = CpuSet::new();

impl CpuDetails {
    /// Builds the details from `(cpu id, place)` pairs and the declared counts.
    ///
    /// # Errors
    /// [`Error::Value`] when a CPU id is listed twice or exceeds [`crate::topology::MAX_CPU_ID`].
    pub fn new<I>(cpus: I, counts: DeclaredCounts) -> Result<Self>
    where
        I: IntoIterator<Item = (u32, CpuInfo)>,
    {
        let mut infos: Vec<Option<CpuInfo>> = Vec::new();
        let mut all = CpuSet::new();
        let mut maps: [BTreeMap<u32, CpuSet>; 4] = Default::default();
        for (cpu, info) in cpus {
            if cpu >= crate::topology::MAX_CPU_ID {
                return Err(Error::Value(format!("CPU id {cpu} is too large")));
            }
            let idx = cpu as usize;
            if infos.len() <= idx {
                infos.resize(idx + 1, None);
            }
            if let Some(slot) = infos.get_mut(idx) {
                if slot.is_some() {
                    return Err(Error::Value(format!("CPU {cpu} is listed twice")));
                }
                *slot = Some(info);
            }
            all.insert(cpu);
            for level in [Level::Socket, Level::Numa, Level::Core, Level::Uncore] {
                if let Some(map) = maps.get_mut(level.slot()) {
                    map.entry(level.of(&info)).or_default().insert(cpu);
                }
            }
        }
        let groups = maps.map(|map| {
            map.into_iter()
                .map(|(id, cpus)| Group { id, cpus })
                .collect()
        });
        Ok(Self {
            infos,
            all,
            groups,
            counts,
        })
    }

    /// The kubelet view of a topoplace topology: socket = package OS number, core = dense core
    /// index (unique machine-wide), NUMA node = NUMA OS number (0 when the core has none), uncore
    /// cache = dense cache index (0 when unknown). Only online CPUs placed on a core are
    /// included; the declared counts are the distinct counts of what is included.
    #[must_use]
    pub fn from_topology(topo: &Topology) -> Self {
        let mut cpus = Vec::new();
        for cpu in topo.cpus() {
            if !cpu.online {
                continue;
            }
            let Some(core_idx) = cpu.core else { continue };
            let Some(core) = topo.cores().get(core_idx as usize) else {
                continue;
            };
            let socket = topo
                .packages()
                .get(core.package as usize)
                .map_or(core.package, |p| p.os_index);
            let numa = core
                .numa
                .and_then(|n| topo.numa_nodes().get(n as usize))
                .map_or(0, |n| n.os_index);
            let info = CpuInfo {
                core: core_idx,
                socket,
                numa,
                uncore: core.cache.unwrap_or(0),
            };
            cpus.push((cpu.os_index, info));
        }
        let distinct = |f: fn(&CpuInfo) -> u32| {
            let mut ids: Vec<u32> = cpus.iter().map(|(_, i)| f(i)).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len()
        };
        let counts = DeclaredCounts {
            num_cpus: cpus.len(),
            num_sockets: distinct(|i| i.socket),
            num_cores: distinct(|i| i.core),
            num_numa_nodes: distinct(|i| i.numa),
            num_uncore_caches: distinct(|i| i.uncore),
        };
        // Ids come from a validated topology and are unique, so `new` cannot fail here; fall
        // back to an empty machine rather than panic if that ever changes.
        Self::new(cpus, counts).unwrap_or_else(|_| Self {
            infos: Vec::new(),
            all: CpuSet::new(),
            groups: Default::default(),
            counts: DeclaredCounts::default(),
        })
    }

    /// All CPUs of the machine.
    #[must_use]
    pub fn cpus(&self) -> &CpuSet {
        &self.all
    }

    /// The place of `cpu`, if the machine has it.
    #[must_use]
    pub fn info(&self, cpu: u32) -> Option<&CpuInfo> {
        self.infos.get(cpu as usize).and_then(Option::as_ref)
    }

    /// The declared counts.
    #[must_use]
    pub fn counts(&self) -> &DeclaredCounts {
        &self.counts
    }

    /// CPUs per core as the kubelet computes it: declared CPUs / declared cores (0 without cores).
    #[must_use]
    pub fn cpus_per_core(&self) -> usize {
        ratio(self.counts.num_cpus, self.counts.num_cores)
    }

    /// CPUs per socket: declared CPUs / declared sockets (0 without sockets).
    #[must_use]
    pub fn cpus_per_socket(&self) -> usize {
        ratio(self.counts.num_cpus, self.counts.num_sockets)
    }

    /// CPUs per uncore cache: declared CPUs / declared uncore caches (0 without caches).
    #[must_use]
    pub fn cpus_per_uncore(&self) -> usize {
        ratio(self.counts.num_cpus, self.counts.num_uncore_caches)
    }

    /// Whether NUMA nodes rank above sockets for the packed picker (the kubelet's test:
    /// declared sockets >= declared NUMA nodes).
    #[must_use]
    pub fn numa_first(&self) -> bool {
        self.counts.num_sockets >= self.counts.num_numa_nodes
    }

    /// The CPUs of group `id` at `level` (empty when there is no such group).
    #[must_use]
    pub fn group_cpus(&self, level: Level, id: u32) -> &CpuSet {
        self.level_groups(level)
            .binary_search_by_key(&id, |g| g.id)
            .ok()
            .and_then(|i| self.level_groups(level).get(i))
            .map_or(&EMPTY, |g| &g.cpus)
    }

    /// The CPUs of the groups `ids` at `level`.
    #[must_use]
    pub fn cpus_in(&self, level: Level, ids: &[u32]) -> CpuSet {
        let mut set = CpuSet::new();
        for &id in ids {
            set.union_with(self.group_cpus(level, id));
        }
        set
    }

    /// Ids at `level` of the machine, ascending.
    pub fn ids(&self, level: Level) -> impl Iterator<Item = u32> + '_ {
        self.level_groups(level).iter().map(|g| g.id)
    }

    /// Ids at `level` of the groups holding at least one CPU of `within`, ascending.
    #[must_use]
    pub fn ids_within(&self, level: Level, within: &CpuSet) -> Vec<u32> {
        // Groups are kept sorted by id, so a scan of the groups gives the ids in order without
        // a per-CPU lookup, sort and dedup (this is on the allocator's hot path).
        self.level_groups(level)
            .iter()
            .filter(|g| g.cpus.intersects(within))
            .map(|g| g.id)
            .collect()
    }

    /// The CPUs of `cpus` that are on a core holding any CPU of `cpus`, i.e. `cpus` widened to
    /// whole cores.
    #[must_use]
    pub fn whole_cores_of(&self, cpus: &CpuSet) -> CpuSet {
        self.cpus_in(Level::Core, &self.ids_within(Level::Core, cpus))
    }

    fn level_groups(&self, level: Level) -> &[Group] {
        self.groups.get(level.slot()).map_or(&[], Vec::as_slice)
    }
}

fn ratio(num: usize, den: usize) -> usize {
    num.checked_div(den).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::SyntheticSpec;

    #[test]
    fn from_synthetic_topology() {
        let topo = SyntheticSpec {
            sockets: 2,
            numa_per_socket: 2,
            l3_per_numa: 2,
            cores_per_numa: 4,
            threads_per_core: 2,
            ..SyntheticSpec::default()
        }
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
        let details = CpuDetails::from_topology(&topo);
        let counts = details.counts();
        assert_eq!(
            (counts.num_cpus, counts.num_sockets, counts.num_cores),
            (32, 2, 16)
        );
        assert_eq!((counts.num_numa_nodes, counts.num_uncore_caches), (4, 8));
        assert_eq!(details.cpus_per_core(), 2);
        assert_eq!(details.cpus_per_socket(), 16);
        assert_eq!(details.cpus_per_uncore(), 4);
        assert!(!details.numa_first());
        for level in [Level::Socket, Level::Numa, Level::Core, Level::Uncore] {
            let total: usize = details
                .ids(level)
                .map(|id| details.group_cpus(level, id).len())
                .sum();
            assert_eq!(total, 32, "{level:?} groups partition the CPUs");
        }
    }

    #[test]
    fn duplicate_cpu_is_an_error() {
        let info = CpuInfo {
            core: 0,
            socket: 0,
            numa: 0,
            uncore: 0,
        };
        let err = CpuDetails::new([(3, info), (3, info)], DeclaredCounts::default());
        assert!(err.is_err());
    }

    #[test]
    fn declared_counts_drive_ratios() {
        let info = |core| CpuInfo {
            core,
            socket: 0,
            numa: 0,
            uncore: 0,
        };
        // Declares 128 CPUs on 64 cores but lists only one thread per core, like the kubelet's
        // `topoSingleSocketSingleNumaPerSocketNoSMTSmallUncore`.
        let counts = DeclaredCounts {
            num_cpus: 128,
            num_sockets: 1,
            num_cores: 64,
            num_numa_nodes: 1,
            num_uncore_caches: 16,
        };
        let details = CpuDetails::new((0..64).map(|c| (c, info(c))), counts)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(details.cpus_per_core(), 2);
        assert_eq!(details.cpus_per_uncore(), 8);
        assert_eq!(details.group_cpus(Level::Core, 99).len(), 0);
        assert_eq!(details.whole_cores_of(&CpuSet::from_ids([5])).len(), 1);
    }
}
