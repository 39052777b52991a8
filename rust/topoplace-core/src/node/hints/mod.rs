//! NUMA hint merging: the kubelet Topology Manager's policies, reproduced exactly, and a merge
//! that gives the same answers on machines of any size.
//!
//! Hint providers (CPU, memory, device managers) each give a list of [`Hint`]s per resource: a
//! NUMA [`NumaMask`] that could satisfy the request (or `None`: no NUMA preference) and whether
//! it is *preferred* (typically: of the narrowest width that fits). A merge takes one hint from
//! every list and returns the best combination under the [`Policy`].
//!
//! Two merges are provided:
//!
//! - [`merge_exhaustive`]: the kubelet's algorithm, step for step. It walks the cross product
//!   of all lists, so like the kubelet it refuses machines with more than
//!   `max-allowable-numa-nodes` (default 8) NUMA nodes. It is the reference for tests.
//! - [`merge`]: the default. It returns exactly the same hint without enumerating the cross
//!   product, for up to [`MAX_NUMA_NODES`] (128) NUMA node ids.
//!
//! # The kubelet's rules, restated
//!
//! A combination's mask is the AND of its hints' masks (`None` standing for every node). It is
//! *preferred* when every hint is preferred **and** every hint that has a mask has the same
//! mask. Combinations with an empty mask are ignored. Among the rest:
//!
//! - a preferred combination beats any non-preferred one;
//! - between preferred ones, the better mask wins (fewer nodes, then — with
//!   `prefer-closest-numa-nodes`, outside `single-numa-node` — lower average distance, then
//!   lower integer value);
//! - between non-preferred ones, the kubelet aims at `B`, the largest over lists of the
//!   narrowest mask width in that list: a width of exactly `B` is best, then widths below `B`
//!   (wider first), then widths above `B` (narrower first); equal widths use the mask order.
//!
//! When nothing is left, the result is every node, not preferred. Under `single-numa-node`,
//! every list is first reduced by [`filter_single_numa`], and a result of every node is
//! reported as `mask: None`. The `none` policy returns `{None, not preferred}`.
//!
//! # Why the search gives the same answer
//!
//! The kubelet keeps a running best with a pairwise rule; that rule is a total order on
//! (preferred, mask), so the result is the minimum of that order over all combinations,
//! independent of enumeration order (the property tests check this against
//! [`merge_exhaustive`]). The search therefore only has to find that minimum:
//!
//! - *Preferred masks* are exactly the non-empty masks `m` such that every list has a
//!   preferred hint with mask `m` or a preferred `None` hint (and some list has `m` itself, or
//!   `m` is every node). The preferred masks of the list with the fewest are hashed, and every
//!   other list is streamed once through that table, counting the lists that have each one.
//! - Only when there is none, the *non-preferred* minimum is searched over the masks reachable
//!   as ANDs of one mask per list, depth first (most promising child first), with states
//!   already visited skipped and a bound (the best rank any non-empty subset of the current AND
//!   could reach) cutting branches. Every reachable AND is either visited or provably no better
//!   than the incumbent, so the result is the exact minimum.
//!
//! # Limits
//!
//! Node ids must be below 128; a hint naming a node the machine does not have is an error.

mod admit;
mod kubelet;
mod mask;
mod numa;
mod policy;
mod search;
mod set;

pub use admit::{admit, filter_single_numa, single_numa_keeps};
pub use kubelet::merge_exhaustive;
pub use mask::{MAX_NUMA_NODES, MaskIter, NumaMask};
pub use numa::NumaInfo;
pub use policy::{
    DEFAULT_MAX_ALLOWABLE_NUMA_NODES, MAX_ALLOWABLE_NUMA_NODES, PREFER_CLOSEST_NUMA_NODES, Policy,
    PolicyOptions,
};
pub use search::merge;

use crate::error::{Error, Result};

/// One topology hint: a NUMA mask (or `None`: no NUMA preference) and whether it is preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hint {
    /// The NUMA nodes, or `None` for "any / no preference".
    pub mask: Option<NumaMask>,
    /// Whether the hint is preferred.
    pub preferred: bool,
}

impl Hint {
    /// A hint on `mask`.
    #[must_use]
    pub const fn new(mask: Option<NumaMask>, preferred: bool) -> Self {
        Self { mask, preferred }
    }

    /// What the kubelet uses for a provider with no hints (or a `nil` list): no NUMA
    /// preference, preferred.
    pub const NO_PREFERENCE: Self = Self::new(None, true);

    /// What the kubelet uses for a provider with an empty (non-`nil`) list: no NUMA
    /// preference, not preferred.
    pub const NO_POSSIBLE_AFFINITY: Self = Self::new(None, false);
}

/// Checks what both merges need: masks only name nodes of the machine, and distances exist
/// when the mask order uses them.
fn validate(
    policy: Policy,
    opts: &PolicyOptions,
    numa: &NumaInfo,
    providers: &[Vec<Hint>],
) -> Result<()> {
    if uses_closest(policy, opts) && !numa.has_distances() {
        return Err(Error::Value(
            "prefer-closest-numa-nodes needs the NUMA distance matrix, and none was given".into(),
        ));
    }
    let all = numa.all();
    for (p, hints) in providers.iter().enumerate() {
        for (h, hint) in hints.iter().enumerate() {
            let Some(mask) = hint.mask else { continue };
            if !mask.is_subset_of(all) {
                return Err(Error::Value(format!(
                    "hint {h} of provider {p} names NUMA node(s) {} that the machine (nodes {all}) does not have",
                    NumaMask::from_bits(mask.bits() & !all.bits())
                )));
            }
        }
    }
    Ok(())
}

/// Whether masks of equal width are ordered by average distance.
const fn uses_closest(policy: Policy, opts: &PolicyOptions) -> bool {
    opts.prefer_closest_numa_nodes && !matches!(policy, Policy::SingleNumaNode)
}

/// The kubelet's final step under `single-numa-node`: every node means no affinity.
fn finish(policy: Policy, numa: &NumaInfo, hint: Hint) -> Hint {
    if matches!(policy, Policy::SingleNumaNode) && hint.mask == Some(numa.all()) {
        Hint::new(None, hint.preferred)
    } else {
        hint
    }
}
