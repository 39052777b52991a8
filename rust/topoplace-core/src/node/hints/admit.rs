//! The admit decision and the `single-numa-node` pre-filter.

use super::Hint;
use super::policy::Policy;

/// Whether `policy` admits a pod whose merged hint is `hint`: `none` and `best-effort` always
/// admit; `restricted` and `single-numa-node` admit only a preferred hint.
#[must_use]
pub const fn admit(policy: Policy, hint: &Hint) -> bool {
    match policy {
        Policy::None | Policy::BestEffort => true,
        Policy::Restricted | Policy::SingleNumaNode => hint.preferred,
    }
}

/// Whether the `single-numa-node` pre-filter keeps `hint`: preferred, and either without NUMA
/// preference or on exactly one node.
#[must_use]
pub const fn single_numa_keeps(hint: &Hint) -> bool {
    hint.preferred
        && match hint.mask {
            None => true,
            Some(mask) => mask.count() == 1,
        }
}

/// The `single-numa-node` pre-filter on one provider's hint list (order kept). The result may
/// be empty; a merge over an empty list has no candidate.
#[must_use]
pub fn filter_single_numa(hints: &[Hint]) -> Vec<Hint> {
    hints.iter().copied().filter(single_numa_keeps).collect()
}
