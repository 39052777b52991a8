//! The kubelet CPU Manager static policy's exclusive-CPU allocation (`Allocate`).

use std::collections::BTreeMap;

use super::accumulator::SortingStrategy;
use super::details::{CpuDetails, Level};
use super::distributed::take_by_topology_distributed;
use super::error::PickError;
use super::options::CpuOptions;
use super::packed::take_by_topology_packed;
use crate::error::{Error, Result};
use crate::topology::CpuSet;

/// The policy's bookkeeping: the shared pool and the containers holding exclusive CPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyState {
    /// The shared (default) CPU set, reserved CPUs included as the kubelet keeps them.
    pub default_cpuset: CpuSet,
    /// Exclusive assignments by (pod uid, container name).
    pub assignments: BTreeMap<(String, String), CpuSet>,
}

impl PolicyState {
    /// A state whose shared pool is `default_cpuset` and with no assignments.
    #[must_use]
    pub fn new(default_cpuset: CpuSet) -> Self {
        Self {
            default_cpuset,
            assignments: BTreeMap::new(),
        }
    }
}

/// A container's CPU request and limit, in millicores (`None` when not set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuRequest {
    /// `resources.requests.cpu` in millicores.
    pub request_milli: Option<u64>,
    /// `resources.limits.cpu` in millicores.
    pub limit_milli: Option<u64>,
}

impl CpuRequest {
    /// A Guaranteed request of `n` whole CPUs (request = limit = `n`).
    #[must_use]
    pub fn whole(n: u64) -> Self {
        let milli = Some(n.saturating_mul(1000));
        Self {
            request_milli: milli,
            limit_milli: milli,
        }
    }

    /// Parses quantity strings such as `"2"`, `"2000m"`, `"1.5"`.
    ///
    /// # Errors
    /// [`Error::Value`] when a quantity cannot be parsed.
    pub fn parse(request: Option<&str>, limit: Option<&str>) -> Result<Self> {
        Ok(Self {
            request_milli: request.map(parse_cpu_quantity).transpose()?,
            limit_milli: limit.map(parse_cpu_quantity).transpose()?,
        })
    }

    /// CPUs the static policy pins exclusively: the CPU count when the container is
    /// Guaranteed (limit set, request equal to it or unset) and integral, else 0.
    #[must_use]
    pub fn exclusive_cpus(&self) -> usize {
        let Some(limit) = self.limit_milli else {
            return 0;
        };
        let request = self.request_milli.unwrap_or(limit);
        if request != limit || request % 1000 != 0 {
            return 0;
        }
        usize::try_from(request / 1000).unwrap_or(0)
    }
}

/// Parses a Kubernetes CPU quantity into millicores, rounding a finer fraction up as the
/// kubelet does: `"2"`, `"2000m"`, `"0.5"`, `"1k"`.
///
/// # Errors
/// [`Error::Value`] when the text is not a non-negative decimal with an optional suffix.
pub fn parse_cpu_quantity(text: &str) -> Result<u64> {
    let bad = || Error::Value(format!("CPU quantity {text:?} is not valid"));
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, suffix) = t.split_at(split);
    // (multiplier, divisor) turning units into millicores.
    let (mul, div): (u128, u128) = match suffix {
        "m" => (1, 1),
        "" => (1000, 1),
        "k" => (1_000_000, 1),
        "M" => (1_000_000_000, 1),
        "G" => (1_000_000_000_000, 1),
        "Ki" => (1000 * 1024, 1),
        "Mi" => (1000 * 1024 * 1024, 1),
        "Gi" => (1000 * 1024 * 1024 * 1024, 1),
        "u" => (1, 1000),
        "n" => (1, 1_000_000),
        _ => return Err(bad()),
    };
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    if int_part.is_empty() && frac_part.is_empty() || frac_part.len() > 18 {
        return Err(bad());
    }
    let digits = format!("{int_part}{frac_part}");
    let mantissa: u128 = digits.parse().map_err(|_| bad())?;
    let scale = 10u128.pow(u32::try_from(frac_part.len()).map_err(|_| bad())?);
    let num = mantissa.checked_mul(mul).ok_or_else(bad)?;
    let den = scale.checked_mul(div).ok_or_else(bad)?;
    u64::try_from(num.div_ceil(den)).map_err(|_| bad())
}

/// The static policy over one machine: options, reserved CPUs and the CPU group size.
#[derive(Debug, Clone)]
pub struct StaticPolicy<'a> {
    details: &'a CpuDetails,
    options: CpuOptions,
    reserved: CpuSet,
    reserved_physical: CpuSet,
    group_size: usize,
}

impl<'a> StaticPolicy<'a> {
    /// A policy over `details` with `options` and the `reserved` CPUs (`--reserved-cpus`).
    #[must_use]
    pub fn new(details: &'a CpuDetails, options: CpuOptions, reserved: CpuSet) -> Self {
        let reserved_physical = details.whole_cores_of(&reserved);
        Self {
            details,
            options,
            reserved,
            reserved_physical,
            group_size: details.cpus_per_core(),
        }
    }

    /// The options in force.
    #[must_use]
    pub fn options(&self) -> &CpuOptions {
        &self.options
    }

    /// CPUs available for exclusive allocation: the shared pool minus the reserved CPUs.
    #[must_use]
    pub fn available_cpus(&self, state: &PolicyState) -> CpuSet {
        state.default_cpuset.difference(&self.reserved)
    }

    /// CPUs of the shared pool on cores that hold no reserved CPU (what `full-pcpus-only`
    /// admission counts).
    #[must_use]
    pub fn available_physical_cpus(&self, state: &PolicyState) -> CpuSet {
        state.default_cpuset.difference(&self.reserved_physical)
    }

    /// Allocates exclusive CPUs to container `(pod, container)`, as the kubelet's `Allocate`.
    ///
    /// Returns the empty set when the container gets none (not Guaranteed or not integral),
    /// the existing assignment unchanged when it already has one, else the new CPUs, which are
    /// removed from the shared pool and recorded. `numa_affinity` is the Topology Manager's
    /// NUMA mask (`None`: no preference).
    ///
    /// # Errors
    /// [`PickError::SmtAlignment`] under `full-pcpus-only`; [`PickError::NotEnoughCpus`].
    pub fn allocate(
        &self,
        state: &mut PolicyState,
        pod: &str,
        container: &str,
        request: &CpuRequest,
        numa_affinity: Option<&[u32]>,
    ) -> Result<CpuSet, PickError> {
        let n = request.exclusive_cpus();
        if n == 0 {
            return Ok(CpuSet::new());
        }
        if self.options.full_pcpus_only {
            let group = self.group_size.max(1);
            if n % group != 0 {
                return Err(PickError::SmtAlignment {
                    requested: n,
                    cpus_per_core: self.group_size,
                    available_physical_cpus: None,
                });
            }
            let physical = self.available_physical_cpus(state).len();
            if n > physical {
                return Err(PickError::SmtAlignment {
                    requested: n,
                    cpus_per_core: self.group_size,
                    available_physical_cpus: Some(physical),
                });
            }
        }
        let key = (pod.to_owned(), container.to_owned());
        if let Some(existing) = state.assignments.get(&key) {
            return Ok(existing.clone());
        }
        let cpus = self.allocate_cpus(state, n, numa_affinity)?;
        state.assignments.insert(key, cpus.clone());
        Ok(cpus)
    }

    /// Picks `n` CPUs, first up to `n` from the CPUs aligned with `numa_affinity` (widened to
    /// sockets under `align-by-socket`), then the rest from all available CPUs, and removes them
    /// from the shared pool (the kubelet's `allocateCPUs`).
    ///
    /// # Errors
    /// [`PickError::NotEnoughCpus`] when the CPUs cannot be found.
    pub fn allocate_cpus(
        &self,
        state: &mut PolicyState,
        n: usize,
        numa_affinity: Option<&[u32]>,
    ) -> Result<CpuSet, PickError> {
        let allocatable = self.available_cpus(state);
        let mut result = CpuSet::new();
        if let Some(mask) = numa_affinity {
            let aligned = self.aligned_cpus(mask, &allocatable);
            let count = n.min(aligned.len());
            result.union_with(&self.take_by_topology(&aligned, count)?);
        }
        let rest = allocatable.difference(&result);
        let more = self.take_by_topology(&rest, n.saturating_sub(result.len()))?;
        result.union_with(&more);
        state.default_cpuset = state.default_cpuset.difference(&result);
        Ok(result)
    }

    /// Picks `n` CPUs from `available` with the picker the options select.
    ///
    /// # Errors
    /// As [`take_by_topology_packed`] / [`take_by_topology_distributed`].
    pub fn take_by_topology(&self, available: &CpuSet, n: usize) -> Result<CpuSet, PickError> {
        let strategy = if self.options.distribute_cpus_across_cores {
            SortingStrategy::Spread
        } else {
            SortingStrategy::Packed
        };
        if self.options.distribute_cpus_across_numa {
            let group = if self.options.full_pcpus_only {
                self.group_size
            } else {
                1
            };
            return take_by_topology_distributed(self.details, available, n, group, strategy);
        }
        take_by_topology_packed(
            self.details,
            available,
            n,
            strategy,
            self.options.prefer_align_by_uncore_cache,
        )
    }

    fn aligned_cpus(&self, mask: &[u32], allocatable: &CpuSet) -> CpuSet {
        let numa_cpus = self.details.cpus_in(Level::Numa, mask);
        let scope = if self.options.align_by_socket {
            let sockets = self.details.ids_within(Level::Socket, &numa_cpus);
            self.details.cpus_in(Level::Socket, &sockets)
        } else {
            numa_cpus
        };
        allocatable.intersection(&scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_cpu_quantity("2"), Ok(2000));
        assert_eq!(parse_cpu_quantity("2000m"), Ok(2000));
        assert_eq!(parse_cpu_quantity("1.5"), Ok(1500));
        assert_eq!(parse_cpu_quantity("977m"), Ok(977));
        assert_eq!(parse_cpu_quantity("1500u"), Ok(2));
        assert!(parse_cpu_quantity("two").is_err());
        assert!(parse_cpu_quantity("").is_err());
    }

    #[test]
    fn exclusive_only_for_guaranteed_integral() {
        let req =
            |r: Option<&str>, l: Option<&str>| CpuRequest::parse(r, l).map(|q| q.exclusive_cpus());
        assert_eq!(req(Some("2000m"), Some("2000m")), Ok(2));
        assert_eq!(req(None, Some("3")), Ok(3));
        assert_eq!(req(Some("1000m"), Some("2000m")), Ok(0));
        assert_eq!(req(Some("977m"), Some("977m")), Ok(0));
        assert_eq!(req(Some("1"), None), Ok(0));
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;
    use crate::node::cpu::{CpuInfo, DeclaredCounts};

    /// One socket, four cores of two threads: core i holds CPUs i and i+4.
    fn single_socket_ht() -> CpuDetails {
        let cpus = (0..8u32).map(|cpu| {
            let info = CpuInfo {
                core: cpu % 4,
                socket: 0,
                numa: 0,
                uncore: 0,
            };
            (cpu, info)
        });
        let counts = DeclaredCounts {
            num_cpus: 8,
            num_sockets: 1,
            num_cores: 4,
            ..DeclaredCounts::default()
        };
        CpuDetails::new(cpus, counts).unwrap_or_else(|e| panic!("{e}"))
    }

    fn full_pcpus() -> CpuOptions {
        CpuOptions {
            full_pcpus_only: true,
            ..CpuOptions::default()
        }
    }

    #[test]
    fn smt_alignment_errors() {
        let details = single_socket_ht();
        let policy = StaticPolicy::new(&details, full_pcpus(), CpuSet::from_ids([0]));
        let mut state = PolicyState::new(CpuSet::first_n(8));
        let odd = policy.allocate(&mut state, "p", "c", &CpuRequest::whole(1), None);
        assert_eq!(
            odd,
            Err(PickError::SmtAlignment {
                requested: 1,
                cpus_per_core: 2,
                available_physical_cpus: None
            })
        );
        // CPU 0 is reserved, so its sibling 4 is not on a wholly free core: 6 CPUs left.
        let big = policy.allocate(&mut state, "p", "c", &CpuRequest::whole(8), None);
        assert_eq!(
            big,
            Err(PickError::SmtAlignment {
                requested: 8,
                cpus_per_core: 2,
                available_physical_cpus: Some(6)
            })
        );
        assert_eq!(state.default_cpuset, CpuSet::first_n(8));
    }

    #[test]
    fn allocates_whole_cores_and_keeps_existing_assignments() {
        let details = single_socket_ht();
        let policy = StaticPolicy::new(&details, full_pcpus(), CpuSet::from_ids([0]));
        let mut state = PolicyState::new(CpuSet::first_n(8));
        let got = policy.allocate(&mut state, "p", "c", &CpuRequest::whole(2), None);
        assert_eq!(
            got.as_ref().map(CpuSet::to_list_string).as_deref(),
            Ok("1,5")
        );
        assert_eq!(state.default_cpuset.to_list_string(), "0,2-4,6-7");
        let again = policy.allocate(&mut state, "p", "c", &CpuRequest::whole(2), None);
        assert_eq!(again, got);
        let shared = CpuRequest {
            request_milli: Some(500),
            limit_milli: Some(1000),
        };
        let none = policy.allocate(&mut state, "p", "d", &shared, None);
        assert_eq!(none, Ok(CpuSet::new()));
    }
}
