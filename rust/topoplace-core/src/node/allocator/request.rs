//! What one container or pod asks the allocator for: [`AllocRequest`] and [`Mode`].

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::node::cpu::CpuOptions;
use crate::node::hints::{Policy, PolicyOptions};

/// Which placement rules [`super::NodeAllocator`] follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Exactly what the kubelet's CPU Manager, Memory Manager and Topology Manager would do.
    Kubelet,
    /// topoplace's own choice: fewest, closest NUMA nodes, least fragmentation.
    #[default]
    Default,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Self; 2] = [Self::Kubelet, Self::Default];

    /// The mode's name: `"kubelet"` or `"default"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Kubelet => "kubelet",
            Self::Default => "default",
        }
    }

    /// The mode named `name`.
    ///
    /// # Errors
    /// [`Error::Value`] listing the valid names.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == name)
            .ok_or_else(|| {
                Error::Value(format!(
                    "unknown allocation mode {name:?}; valid modes: kubelet, default"
                ))
            })
    }
}

impl FromStr for Mode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of memory the allocator accounts, each per NUMA node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemKind {
    /// Regular memory (`memory`).
    Regular,
    /// 2 MiB hugepages (`hugepages-2Mi`), in bytes.
    Huge2M,
    /// 1 GiB hugepages (`hugepages-1Gi`), in bytes.
    Huge1G,
}

impl MemKind {
    /// Every kind, in index order.
    pub const ALL: [Self; 3] = [Self::Regular, Self::Huge2M, Self::Huge1G];

    /// Index into per-kind arrays.
    #[must_use]
    pub const fn index(self) -> usize {
        match self {
            Self::Regular => 0,
            Self::Huge2M => 1,
            Self::Huge1G => 2,
        }
    }

    /// The Kubernetes resource name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Regular => "memory",
            Self::Huge2M => "hugepages-2Mi",
            Self::Huge1G => "hugepages-1Gi",
        }
    }
}

/// One allocation request: exclusive CPUs, memory per kind, the Topology Manager policy and
/// options, the CPU Manager options and the [`Mode`].
///
/// ```
/// use topoplace_core::node::allocator::{AllocRequest, Mode};
/// use topoplace_core::node::hints::Policy;
/// let req = AllocRequest::new(16, 64 << 30)
///     .with_policy(Policy::SingleNumaNode)
///     .with_mode(Mode::Kubelet);
/// assert_eq!(req.cpus, 16);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocRequest {
    /// Exclusive CPUs.
    pub cpus: u32,
    /// Regular memory, bytes.
    pub memory_bytes: u64,
    /// 2 MiB hugepages, bytes.
    pub hugepages_2m_bytes: u64,
    /// 1 GiB hugepages, bytes.
    pub hugepages_1g_bytes: u64,
    /// The Topology Manager policy.
    pub policy: Policy,
    /// Topology Manager options (`prefer-closest-numa-nodes`, `max-allowable-numa-nodes`).
    pub tm_options: PolicyOptions,
    /// CPU Manager static-policy options.
    pub cpu_options: CpuOptions,
    /// Kubelet-exact or topoplace's default placement.
    pub mode: Mode,
}

impl Default for AllocRequest {
    fn default() -> Self {
        Self::new(0, 0)
    }
}

impl AllocRequest {
    /// `cpus` exclusive CPUs and `memory_bytes` of memory, `best-effort` policy, default
    /// options, [`Mode::Default`].
    #[must_use]
    pub fn new(cpus: u32, memory_bytes: u64) -> Self {
        Self {
            cpus,
            memory_bytes,
            hugepages_2m_bytes: 0,
            hugepages_1g_bytes: 0,
            policy: Policy::BestEffort,
            tm_options: PolicyOptions::default(),
            cpu_options: CpuOptions::default(),
            mode: Mode::Default,
        }
    }

    /// With the Topology Manager `policy`.
    #[must_use]
    pub const fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// With the placement `mode`.
    #[must_use]
    pub const fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// With hugepages (bytes of 2 MiB pages and of 1 GiB pages).
    #[must_use]
    pub const fn with_hugepages(mut self, two_m_bytes: u64, one_g_bytes: u64) -> Self {
        self.hugepages_2m_bytes = two_m_bytes;
        self.hugepages_1g_bytes = one_g_bytes;
        self
    }

    /// With Topology Manager options.
    #[must_use]
    pub const fn with_tm_options(mut self, options: PolicyOptions) -> Self {
        self.tm_options = options;
        self
    }

    /// With CPU Manager options.
    #[must_use]
    pub const fn with_cpu_options(mut self, options: CpuOptions) -> Self {
        self.cpu_options = options;
        self
    }

    /// Bytes requested of `kind`.
    #[must_use]
    pub const fn memory_of(&self, kind: MemKind) -> u64 {
        match kind {
            MemKind::Regular => self.memory_bytes,
            MemKind::Huge2M => self.hugepages_2m_bytes,
            MemKind::Huge1G => self.hugepages_1g_bytes,
        }
    }

    /// The per-kind amounts, indexed by [`MemKind::index`].
    #[must_use]
    pub const fn memory_array(&self) -> [u64; 3] {
        [
            self.memory_bytes,
            self.hugepages_2m_bytes,
            self.hugepages_1g_bytes,
        ]
    }
}
