//! The kubelet's packed picker (`takeByTopologyNUMAPacked`): best fit by topology level.

use super::accumulator::{CpuAccumulator, SortingStrategy};
use super::details::CpuDetails;
use super::error::PickError;
use crate::topology::CpuSet;

/// Picks `n` CPUs out of `available` the way the kubelet's static policy does by default.
///
/// In order, while CPUs are still needed:
/// 1. whole free NUMA nodes and whole free sockets (the higher level first), each only while at
///    least its size is still needed;
/// 2. with `prefer_uncore`, whole free uncore caches, then one cache that can hold the rest;
/// 3. whole free cores (skipped under [`SortingStrategy::Spread`]);
/// 4. single CPUs in the strategy's order.
///
/// # Errors
/// [`PickError::NotEnoughCpus`] when fewer than `n` CPUs of the machine are available;
/// [`PickError::AllocationFailed`] if the walk ends short (not expected).
pub fn take_by_topology_packed(
    details: &CpuDetails,
    available: &CpuSet,
    n: usize,
    strategy: SortingStrategy,
    prefer_uncore: bool,
) -> Result<CpuSet, PickError> {
    let mut acc = CpuAccumulator::new(details, available, n, strategy);
    if let Some(answer) = acc.settled_before_picking(n, available) {
        return answer;
    }
    acc.take_full_first_level();
    if acc.is_satisfied() {
        return Ok(acc.result().clone());
    }
    acc.take_full_second_level();
    if acc.is_satisfied() {
        return Ok(acc.result().clone());
    }
    if prefer_uncore {
        acc.take_uncore_caches();
        if acc.is_satisfied() {
            return Ok(acc.result().clone());
        }
    }
    if strategy != SortingStrategy::Spread {
        acc.take_full_cores();
        if acc.is_satisfied() {
            return Ok(acc.result().clone());
        }
    }
    acc.take_remaining_cpus();
    if acc.is_satisfied() {
        return Ok(acc.result().clone());
    }
    Err(PickError::AllocationFailed {
        remaining: acc.needed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::cpu::{CpuInfo, DeclaredCounts};

    /// The kubelet's `topoDualSocketHT`: core i holds CPUs i and i+6, on socket (and NUMA
    /// node) i % 2; no NUMA count declared.
    fn dual_socket_ht() -> CpuDetails {
        let cpus = (0..12u32).map(|cpu| {
            let core = cpu % 6;
            let socket = core % 2;
            let info = CpuInfo {
                core,
                socket,
                numa: socket,
                uncore: 0,
            };
            (cpu, info)
        });
        let counts = DeclaredCounts {
            num_cpus: 12,
            num_sockets: 2,
            num_cores: 6,
            ..DeclaredCounts::default()
        };
        CpuDetails::new(cpus, counts).unwrap_or_else(|e| panic!("{e}"))
    }

    fn pick(available: &str, n: usize, strategy: SortingStrategy) -> Result<String, PickError> {
        let details = dual_socket_ht();
        let available = CpuSet::parse(available).unwrap_or_else(|e| panic!("{e}"));
        take_by_topology_packed(&details, &available, n, strategy, false)
            .map(|set| set.to_list_string())
    }

    #[test]
    fn whole_socket_first() {
        assert_eq!(
            pick("0-11", 6, SortingStrategy::Packed).as_deref(),
            Ok("0,2,4,6,8,10")
        );
    }

    #[test]
    fn whole_cores_then_single_cpus_on_the_fuller_socket() {
        // Socket 0 lost CPU 0, so whole cores come from its remaining cores first.
        assert_eq!(
            pick("1-11", 4, SortingStrategy::Packed).as_deref(),
            Ok("2,4,8,10")
        );
        assert_eq!(pick("1-11", 1, SortingStrategy::Packed).as_deref(), Ok("6"));
    }

    #[test]
    fn spread_takes_ascending_cpus_of_a_socket() {
        assert_eq!(
            pick("0-11", 3, SortingStrategy::Spread).as_deref(),
            Ok("0,2,4")
        );
    }

    #[test]
    fn zero_and_too_many() {
        assert_eq!(pick("0-3", 0, SortingStrategy::Packed).as_deref(), Ok(""));
        assert_eq!(
            pick("0-3", 5, SortingStrategy::Packed),
            Err(PickError::NotEnoughCpus {
                requested: 5,
                available: 4
            })
        );
    }

    #[test]
    fn cpus_outside_the_machine_are_ignored() {
        assert_eq!(
            pick("10-11,40-50", 3, SortingStrategy::Packed),
            Err(PickError::NotEnoughCpus {
                requested: 3,
                available: 13
            })
        );
    }
}
