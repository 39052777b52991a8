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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// GPUs, NICs and their alignment (none by default).
    pub devices: DeviceRequest,
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
            devices: DeviceRequest::default(),
        }
    }

    /// With devices (GPUs, NICs, alignment).
    #[must_use]
    pub fn with_devices(mut self, devices: DeviceRequest) -> Self {
        self.devices = devices;
        self
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

/// How tightly a joint request's GPUs, NICs, CPUs and memory must sit together, from the
/// tightest to the loosest. See [`super::joint`] for the exact meaning of each level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlignLevel {
    /// One NUMA node, and each GPU's NICs under the GPU's own PCIe root (path `PIX`, `PXB`
    /// or `PHB`); without NICs, all GPUs under one PCIe root.
    PcieRoot,
    /// Everything on one NUMA node.
    Numa,
    /// Everything on one socket (package).
    Socket,
    /// Anywhere on the machine.
    #[default]
    None,
}

impl AlignLevel {
    /// Every level, tightest first.
    pub const ALL: [Self; 4] = [Self::PcieRoot, Self::Numa, Self::Socket, Self::None];

    /// The level's name: `"pcie-root"`, `"numa"`, `"socket"` or `"none"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PcieRoot => "pcie-root",
            Self::Numa => "numa",
            Self::Socket => "socket",
            Self::None => "none",
        }
    }

    /// The level named `name`.
    ///
    /// # Errors
    /// [`Error::Value`] listing the valid names.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == name)
            .ok_or_else(|| {
                Error::Value(format!(
                    "unknown alignment {name:?}; valid alignments: pcie-root, numa, socket, none"
                ))
            })
    }
}

impl fmt::Display for AlignLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The device part of a request: GPUs (count, model and memory constraints), NICs (a count,
/// or a number per GPU chosen nearest by PCIe path) and the alignment of everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceRequest {
    /// Whole GPUs.
    pub gpus: u32,
    /// Only GPUs whose model contains this text (case-insensitive).
    pub gpu_model: Option<String>,
    /// Only GPUs with at least this much on-device memory, bytes (0: any).
    pub gpu_min_memory: u64,
    /// NICs, each scored by its best path to any chosen GPU.
    pub nics: u32,
    /// NICs per GPU, each GPU's own nearest by PCIe path.
    pub nics_per_gpu: u32,
    /// The alignment level.
    pub align: AlignLevel,
    /// Whether the level is required (refuse otherwise) or preferred (fall back to looser
    /// levels, one at a time).
    pub align_required: bool,
}

impl DeviceRequest {
    /// Whether any device is asked for.
    #[must_use]
    pub const fn any(&self) -> bool {
        self.gpus > 0 || self.nics > 0 || self.nics_per_gpu > 0
    }

    /// NICs asked for in all.
    #[must_use]
    pub const fn nic_count(&self) -> u32 {
        self.nics
            .saturating_add(self.gpus.saturating_mul(self.nics_per_gpu))
    }

    /// Checks the combination makes sense.
    ///
    /// # Errors
    /// [`Error::Value`] when both NIC forms are given, or NICs per GPU without GPUs.
    pub fn validate(&self) -> Result<()> {
        if self.nics > 0 && self.nics_per_gpu > 0 {
            return Err(Error::Value(
                "give either nics (a count) or nics_per_gpu, not both".into(),
            ));
        }
        if self.nics_per_gpu > 0 && self.gpus == 0 {
            return Err(Error::Value(
                "nics_per_gpu needs gpus: NICs are chosen nearest to each GPU".into(),
            ));
        }
        if self.gpus as usize > crate::node::gpu::MAX_GPUS {
            return Err(Error::Value(format!(
                "{} GPUs requested: at most {} are supported",
                self.gpus,
                crate::node::gpu::MAX_GPUS
            )));
        }
        Ok(())
    }
}
