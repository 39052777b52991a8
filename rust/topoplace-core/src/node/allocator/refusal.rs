//! Why a request does not fit: [`Refusal`], [`RefusalKind`], and the [`Outcome`] of a placement.

use std::fmt;

use super::ledger::Grant;

/// The result of [`super::NodeAllocator::check`] / [`super::NodeAllocator::allocate`]: a grant,
/// or a refusal with its reason. A refusal is an answer, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The request fits; this is what it gets (or would get, for `check`).
    Placed(Grant),
    /// The request does not fit now.
    Refused(Refusal),
}

impl Outcome {
    /// The grant, if placed.
    #[must_use]
    pub const fn grant(&self) -> Option<&Grant> {
        match self {
            Self::Placed(g) => Some(g),
            Self::Refused(_) => None,
        }
    }

    /// The refusal, if refused.
    #[must_use]
    pub const fn refusal(&self) -> Option<&Refusal> {
        match self {
            Self::Placed(_) => None,
            Self::Refused(r) => Some(r),
        }
    }

    /// Whether the request was placed.
    #[must_use]
    pub const fn is_placed(&self) -> bool {
        matches!(self, Self::Placed(_))
    }
}

/// What kind of shortage or rule refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RefusalKind {
    /// Not enough free CPUs (anywhere, or where the placement needs them).
    NotEnoughCpus,
    /// Not enough free memory of some kind (or no hugepage pool of that size).
    NotEnoughMemory,
    /// The resources exist but not aligned as the policy requires (the Topology Manager would
    /// not admit the pod).
    NotAligned,
    /// `full-pcpus-only`: the request is not a multiple of the CPUs per core, or too few
    /// whole cores are free.
    SmtAlignment,
    /// Not enough free GPUs meeting the request's model and memory constraints.
    NotEnoughGpus,
    /// Not enough free NICs.
    NotEnoughNics,
}

impl RefusalKind {
    /// A short name: `"not-enough-cpus"`, `"not-enough-memory"`, `"not-aligned"`,
    /// `"smt-alignment"`, `"not-enough-gpus"`, `"not-enough-nics"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotEnoughCpus => "not-enough-cpus",
            Self::NotEnoughMemory => "not-enough-memory",
            Self::NotAligned => "not-aligned",
            Self::SmtAlignment => "smt-alignment",
            Self::NotEnoughGpus => "not-enough-gpus",
            Self::NotEnoughNics => "not-enough-nics",
        }
    }
}

/// The NUMA node that came closest to holding a refused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closest {
    /// The node's OS id.
    pub numa: u32,
    /// Its free CPUs.
    pub free_cpus: u32,
    /// Its free regular memory, bytes.
    pub free_bytes: u64,
}

/// A refused request: a sentence a person can act on, the kind, and the closest node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// E.g. "no single NUMA node has 20 free CPUs and 64 GiB; closest is node 1 with 18 free
    /// CPUs and 70 GiB free".
    pub reason: String,
    /// What kind of refusal.
    pub kind: RefusalKind,
    /// The node that came closest, when the question is per node.
    pub closest: Option<Closest>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl Refusal {
    /// A refusal of `kind` for `reason`.
    pub(super) fn new(kind: RefusalKind, reason: String, closest: Option<Closest>) -> Self {
        Self {
            reason,
            kind,
            closest,
        }
    }
}
