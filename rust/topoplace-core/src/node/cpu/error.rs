//! Why a CPU pick failed.

/// A CPU pick or static-policy allocation that cannot be satisfied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickError {
    /// Fewer CPUs are available than requested.
    #[error("not enough CPUs available: requested {requested}, available {available}")]
    NotEnoughCpus {
        /// CPUs requested.
        requested: usize,
        /// CPUs available.
        available: usize,
    },
    /// `full-pcpus-only`: the request is not a multiple of the CPUs per core
    /// (`available_physical_cpus` is `None`), or fewer CPUs on wholly free cores are available
    /// than requested (`Some(count)`).
    #[error("{}", smt_message(*.requested, *.cpus_per_core, *.available_physical_cpus))]
    SmtAlignment {
        /// CPUs requested.
        requested: usize,
        /// CPUs per physical core.
        cpus_per_core: usize,
        /// CPUs on physical cores that are wholly available, when that was the cause.
        available_physical_cpus: Option<usize>,
    },
    /// The picker ended without the requested count (an accounting error; not expected).
    #[error("CPU pick ended {remaining} CPUs short of the request")]
    AllocationFailed {
        /// CPUs still needed (negative when too many were taken).
        remaining: i64,
    },
}

fn smt_message(requested: usize, cpus_per_core: usize, physical: Option<usize>) -> String {
    match physical {
        Some(available) => format!(
            "SMT alignment: {requested} CPUs requested but only {available} CPUs on wholly \
             free physical cores ({cpus_per_core} CPUs per core)"
        ),
        None => format!(
            "SMT alignment: {requested} CPUs requested is not a multiple of the \
             {cpus_per_core} CPUs per core"
        ),
    }
}
