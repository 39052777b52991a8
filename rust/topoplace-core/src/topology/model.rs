//! The entities of one machine: packages, groups/dies, NUMA nodes, caches, cores, CPUs, the PCI
//! tree and the devices on it, and device-to-device links.
//!
//! Every entity lives in a `Vec` and is referred to by its dense index in that vector (`u32`);
//! the operating system's own number is kept separately as `os_index`. Dense indexes let the
//! algorithms use bitsets and arrays instead of hash maps.

use serde::{Deserialize, Serialize};

use super::cpuset::CpuSet;

/// A logical CPU (hwloc "PU", a hardware thread).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// The OS number (`cpuN` in sysfs, `os_index` in hwloc).
    pub os_index: u32,
    /// Dense index of its core; `None` when the source lists the CPU but not its place (an
    /// offline CPU that appears only in hwloc's `complete_cpuset` or sysfs `present`).
    pub core: Option<u32>,
    /// Whether the CPU is online.
    pub online: bool,
    /// Whether this process / container may use it (cgroup cpuset, hwloc `allowed_cpuset`).
    pub allowed: bool,
}

/// A physical core: one or more CPUs sharing execution units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Core {
    /// The OS core id when the source gives one (`core_id` in sysfs; not unique across packages).
    pub os_index: Option<u32>,
    /// Dense index of its package.
    pub package: u32,
    /// Dense index of the NUMA node whose memory is local to it (the first normal-memory node
    /// whose locality contains the core), if any.
    pub numa: Option<u32>,
    /// Dense index of its last-level cache group, if known.
    pub cache: Option<u32>,
    /// Dense index of the innermost die or group containing it, if any.
    pub group: Option<u32>,
    /// Its CPUs (OS indexes). Derived from [`Cpu::core`] when the topology is built.
    #[serde(default)]
    pub cpus: CpuSet,
}

/// A processor package (socket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// The OS package id (`physical_package_id`).
    pub os_index: u32,
    /// CPU model name, when the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Its CPUs. Derived from the cores when the source does not give it.
    #[serde(default)]
    pub cpus: CpuSet,
}

/// What a [`Group`] object stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroupKind {
    /// A die inside a package (hwloc `Die`; AMD CCDs in some exports).
    Die,
    /// A cluster of cores sharing an L2 or a mesh stop (ARM clusters, hwloc `Cluster` subtype).
    Cluster,
    /// Any other grouping (hwloc `Group`: NUMA groups, boards, SGI blades...).
    Group,
}

/// A die, cluster or other group of CPUs between the package and the core, or above packages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// What the group is.
    pub kind: GroupKind,
    /// The OS number when the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_index: Option<u32>,
    /// The CPUs it contains.
    pub cpus: CpuSet,
}

/// The kind of memory a NUMA node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemoryKind {
    /// Ordinary DRAM.
    Dram,
    /// High-bandwidth memory (MCDRAM, on-package HBM).
    Hbm,
    /// Non-volatile / persistent memory (Optane DCPMM, NVDIMM).
    Nvm,
    /// CXL-attached memory.
    Cxl,
    /// A GPU's memory exposed as a NUMA node (POWER9 + V100, Grace Hopper).
    GpuMemory,
    /// Memory of a kind the source does not say.
    Unknown,
}

impl MemoryKind {
    /// Name used in JSON and text output.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Dram => "dram",
            Self::Hbm => "hbm",
            Self::Nvm => "nvm",
            Self::Cxl => "cxl",
            Self::GpuMemory => "gpu-memory",
            Self::Unknown => "unknown",
        }
    }
}

/// A NUMA node: a pool of memory and the CPUs local to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumaNode {
    /// The OS node number (`nodeN`); may be sparse (0, 8, 250...).
    pub os_index: u32,
    /// The kind of memory.
    pub kind: MemoryKind,
    /// Memory size in bytes (0 when the source does not say).
    pub memory_bytes: u64,
    /// The CPUs local to this memory. CPU-less nodes (HBM, GPU memory) carry the locality of the
    /// CPUs next to them, as hwloc does, or the empty set.
    pub cpus: CpuSet,
    /// Whether this process may allocate from it (hwloc `allowed_nodeset`, cgroup `mems`).
    pub allowed: bool,
}

/// A last-level (L3 / uncore) cache shared by a group of cores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cache {
    /// Cache level (3 for an L3).
    pub level: u8,
    /// Size in bytes (0 when unknown).
    pub size_bytes: u64,
    /// The CPUs sharing it.
    pub cpus: CpuSet,
}

/// What a node of the PCI tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PciKind {
    /// A PCI host bridge: the root of a PCIe hierarchy ("pcieRoot" in DRA terms).
    HostBridge,
    /// A PCI-to-PCI bridge or PCIe switch port.
    Bridge,
    /// An endpoint function.
    Function,
}

/// A node of the PCI tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciNode {
    /// What it is.
    pub kind: PciKind,
    /// `domain:bus:dev.fn` for functions and bridges (`"0000:3b:00.0"`); for a host bridge the
    /// root bus, e.g. `"0000:3a"`.
    pub address: String,
    /// Dense index of the parent node; `None` for a host bridge.
    pub parent: Option<u32>,
    /// PCI class code (`0x0302` 3D controller, `0x0200` Ethernet...); 0 when unknown.
    pub class_id: u16,
    /// PCI vendor id; 0 when unknown.
    pub vendor_id: u16,
    /// PCI device id; 0 when unknown.
    pub device_id: u16,
    /// Dense index of the NUMA node it is attached to, if known.
    pub numa: Option<u32>,
}

/// What a [`Device`] is, as topoplace counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// A GPU or other accelerator (3D controller, co-processor, processing accelerator).
    Gpu,
    /// A network interface (Ethernet, InfiniBand, RDMA).
    Nic,
    /// A storage controller or disk (NVMe...).
    Storage,
    /// A memory device (CXL memory expander, DAX).
    Memory,
    /// NVSwitch or another fabric switch chip.
    Switch,
    /// Anything else worth keeping.
    Other,
}

impl DeviceKind {
    /// Name used in JSON and text output.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Gpu => "gpu",
            Self::Nic => "nic",
            Self::Storage => "storage",
            Self::Memory => "memory",
            Self::Switch => "switch",
            Self::Other => "other",
        }
    }
}

/// A device work can be given: a GPU, a NIC...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// What it is.
    pub kind: DeviceKind,
    /// The name users know it by: `"GPU0"`, `"mlx5_0"`, `"cuda0"`, `"eth0"`.
    pub name: String,
    /// Other OS names of the same function (`["cuda0", "nvml0"]`, `["ib0", "mlx4_0"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Dense index of its PCI function, when the PCI tree is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci: Option<u32>,
    /// PCI bus id (`"0000:3b:00.0"`) when known without a tree (nvidia-smi, sysfs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus_id: Option<String>,
    /// Dense index of its local NUMA node, if known.
    pub numa: Option<u32>,
    /// CPUs local to it (its affinity), possibly empty when unknown.
    #[serde(default)]
    pub cpus: CpuSet,
    /// Vendor name, when known (`"NVIDIA"`, `"Mellanox"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model name, when known (`"H100 80GB HBM3"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// On-device memory in bytes, when known (GPU memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
}

/// How two devices are connected, from best to worst. GPU-GPU links use the fabric classes;
/// any pair also has a PCIe path class as printed by `nvidia-smi topo -m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkClass {
    /// All-to-all NVLink through NVSwitch chips (`count` = links per GPU).
    NvSwitch,
    /// Direct NVLink (`count` = bonded links, `NV#`).
    NvLink,
    /// AMD Infinity Fabric (XGMI) link (`count` = hops).
    Xgmi,
    /// At most one PCIe bridge (same PCIe switch).
    Pix,
    /// Several PCIe bridges, no host bridge.
    Pxb,
    /// Through a PCIe host bridge (same root complex).
    Phb,
    /// Between host bridges inside one NUMA node.
    Node,
    /// Across the SMP interconnect between NUMA nodes (QPI/UPI, Infinity Fabric); older tools
    /// print `SOC`.
    Sys,
}

impl LinkClass {
    /// The label `nvidia-smi topo -m` prints (`NV`, `PIX`...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NvSwitch => "NVSWITCH",
            Self::NvLink => "NV",
            Self::Xgmi => "XGMI",
            Self::Pix => "PIX",
            Self::Pxb => "PXB",
            Self::Phb => "PHB",
            Self::Node => "NODE",
            Self::Sys => "SYS",
        }
    }

    /// Whether this is a GPU fabric link (NVLink, NVSwitch, XGMI) rather than a PCIe path.
    #[must_use]
    pub const fn is_fabric(self) -> bool {
        matches!(self, Self::NvSwitch | Self::NvLink | Self::Xgmi)
    }
}

/// A link between two devices, stated by the source (nvidia-smi matrix, hwloc NVLink bandwidth,
/// the synthetic builder). PCIe path classes that follow from the PCI tree are derived on demand
/// and need not be stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Dense index of one device (always the smaller of the two).
    pub a: u32,
    /// Dense index of the other device.
    pub b: u32,
    /// The connection class.
    pub class: LinkClass,
    /// NVLink count / XGMI hops; 0 when not applicable.
    #[serde(default)]
    pub count: u32,
}

/// The NUMA distance matrix (ACPI SLIT style, 10 = local), over the NUMA nodes in dense order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distances {
    /// Number of rows and columns (the number of NUMA nodes).
    pub size: u32,
    /// Row-major values, `size * size` of them.
    pub values: Vec<u32>,
}

impl Distances {
    /// Distance from NUMA node `i` to `j` (dense indexes).
    #[must_use]
    pub fn get(&self, i: u32, j: u32) -> u32 {
        self.values[(i * self.size + j) as usize]
    }
}
