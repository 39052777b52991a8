//! PCI functions and their OS devices: which functions are GPUs / NICs (the counting rules of
//! `tests/data/hwloc/README.md`), and NVLink links from the `NVLinkBandwidth` matrix.

use crate::topology::{DeviceKind, Link, LinkClass};

/// What a PCI function carries, gathered while parsing.
#[derive(Debug, Clone, Default)]
pub(super) struct Func {
    /// Dense PCI node index.
    pub(super) pci: u32,
    /// `subtype="NVSwitch"`.
    pub(super) nvswitch: bool,
    /// OS device names in document order.
    pub(super) names: Vec<String>,
    /// A co-processor OS device (CUDA, OpenCL, NVML, RSMI, Level Zero, VE).
    pub(super) coproc: bool,
    /// A network or OpenFabrics OS device.
    pub(super) network: bool,
    /// `GPUModel` of an OS device.
    pub(super) gpu_model: Option<String>,
    /// `GPUVendor` of an OS device.
    pub(super) gpu_vendor: Option<String>,
    /// `PCIDevice` info of the function.
    pub(super) pci_model: Option<String>,
    /// `PCIVendor` info of the function.
    pub(super) pci_vendor: Option<String>,
    /// Device memory in bytes (`CUDAGlobalMemorySize`...).
    pub(super) memory: Option<u64>,
}

impl Func {
    /// Records an `<info>` of the function (`osdev` false) or of one of its OS devices.
    pub(super) fn info(&mut self, osdev: bool, name: &str, value: &str) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        match (osdev, name) {
            (true, "GPUModel") => {
                self.gpu_model.get_or_insert_with(|| value.to_owned());
            }
            (true, "GPUVendor") => {
                self.gpu_vendor.get_or_insert_with(|| value.to_owned());
            }
            (true, "CUDAGlobalMemorySize" | "RSMIVRAMSize" | "LevelZeroHBMSize")
                if self.memory.is_none() =>
            {
                self.memory = parse_kib(value);
            }
            (false, "PCIDevice") => self.pci_model = Some(value.to_owned()),
            (false, "PCIVendor") => self.pci_vendor = Some(value.to_owned()),
            _ => {}
        }
    }

    /// The device kind by the README's rules, or `None` for a function we do not keep.
    pub(super) fn kind(&self, class_id: u16, vendor_id: u16) -> Option<DeviceKind> {
        let gpu = matches!(class_id, 0x0302 | 0x0b40 | 0x1200)
            || self.coproc
            || (class_id == 0x0300 && matches!(vendor_id, 0x10de | 0x0000));
        if gpu {
            return Some(DeviceKind::Gpu);
        }
        if class_id >> 8 == 0x02 || class_id == 0x0c06 || self.network {
            return Some(DeviceKind::Nic);
        }
        if self.nvswitch || (vendor_id == 0x10de && class_id == 0x0680) {
            return Some(DeviceKind::Switch);
        }
        None
    }
}

/// Parses `"<n>KiB"`, `"<n>kB"`, `"<n> MB"`... or a bare number of KiB into bytes.
fn parse_kib(value: &str) -> Option<u64> {
    let digits_end = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let n: u64 = value.get(..digits_end)?.parse().ok()?;
    let unit = value.get(digits_end..)?.trim().to_ascii_lowercase();
    let scale: u64 = match unit.as_str() {
        "" | "kib" | "kb" | "k" => 1 << 10,
        "mib" | "mb" | "m" => 1 << 20,
        "gib" | "gb" | "g" => 1 << 30,
        "b" => 1,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// What an OS device is, from `osdev_type`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct OsDevClass {
    pub(super) coproc: bool,
    pub(super) network: bool,
}

impl OsDevClass {
    /// 1.x / 2.0: enum (0 block, 1 gpu, 2 network, 3 openfabrics, 4 dma, 5 coproc).
    /// 3.0: bit mask (1 storage, 2 memory, 4 gpu, 8 coproc, 16 network, 32 openfabrics, 64 dma).
    pub(super) fn from_type(osdev_type: Option<u32>, bitmask: bool) -> Self {
        let Some(t) = osdev_type else {
            return Self::default();
        };
        if bitmask {
            Self {
                coproc: t & 8 != 0,
                network: t & (16 | 32) != 0,
            }
        } else {
            Self {
                coproc: t == 5,
                network: t == 2 || t == 3,
            }
        }
    }
}

/// Parses `pci_type="0302 [10de:1db4] [10de:1212] a1"` into (class, vendor, device).
pub(super) fn parse_pci_type(value: &str) -> Option<(u16, u16, u16)> {
    let mut parts = value.split_ascii_whitespace();
    let class = u16::from_str_radix(parts.next()?, 16).ok()?;
    let ids = parts.next()?.strip_prefix('[')?.strip_suffix(']')?;
    let (vendor, device) = ids.split_once(':')?;
    Some((
        class,
        u16::from_str_radix(vendor, 16).ok()?,
        u16::from_str_radix(device, 16).ok()?,
    ))
}

/// NVLink bandwidth per link in MB/s for the generations hwloc reports (NVLink 2-4: 25 GB/s,
/// NVLink 1: 20 GB/s); a bandwidth that is a multiple gives a link count.
fn links_from_bandwidth(bw: u64) -> u32 {
    for per_link in [25_000u64, 20_000] {
        if bw % per_link == 0 {
            return u32::try_from(bw / per_link).unwrap_or(0);
        }
    }
    0
}

/// GPU-GPU links from an `NVLinkBandwidth` matrix. `objects[i]` is the device index of matrix
/// entry `i` and whether it is a GPU (`None` when the entry is not a kept device; such entries
/// and non-GPU devices are taken as switches). Direct GPU-GPU bandwidth gives NVLink; GPUs that
/// both reach NVSwitch chips are connected all-to-all through them (NVSwitch fabrics are
/// non-blocking), with `count` = the smaller number of switch links of the two.
pub(super) fn nvlink_links(objects: &[Option<(u32, bool)>], values: &[u64]) -> Vec<Link> {
    let n = objects.len();
    if values.len() != n * n {
        return Vec::new();
    }
    let bw = |i: usize, j: usize| values[i * n + j].max(values[j * n + i]);
    let is_gpu = |i: usize| matches!(objects[i], Some((_, true)));
    let gpus: Vec<usize> = (0..n).filter(|&i| is_gpu(i)).collect();
    let switch_links: Vec<u32> = (0..n)
        .map(|i| {
            let count = (0..n)
                .filter(|&k| k != i && !is_gpu(k) && bw(i, k) > 0)
                .count();
            u32::try_from(count).unwrap_or(u32::MAX)
        })
        .collect();
    let mut links = Vec::new();
    for (x, &i) in gpus.iter().enumerate() {
        for &j in &gpus[x + 1..] {
            let (Some((a, _)), Some((b, _))) = (objects[i], objects[j]) else {
                continue;
            };
            if a == b {
                continue;
            }
            let (a, b) = (a.min(b), a.max(b));
            if switch_links[i] > 0 && switch_links[j] > 0 {
                links.push(Link {
                    a,
                    b,
                    class: LinkClass::NvSwitch,
                    count: switch_links[i].min(switch_links[j]),
                });
            } else if bw(i, j) > 0 {
                links.push(Link {
                    a,
                    b,
                    class: LinkClass::NvLink,
                    count: links_from_bandwidth(bw(i, j)),
                });
            }
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_type_and_sizes() {
        assert_eq!(
            parse_pci_type("0302 [10de:1db4] [10de:1212] a1"),
            Some((0x0302, 0x10de, 0x1db4))
        );
        assert_eq!(
            parse_pci_type("0300 [0000:0000] [0000:0000] ff"),
            Some((0x0300, 0, 0))
        );
        assert_eq!(parse_pci_type("zz"), None);
        assert_eq!(parse_kib("11796032KiB"), Some(11_796_032 << 10));
        assert_eq!(parse_kib("12"), Some(12 << 10));
        assert_eq!(parse_kib("x"), None);
    }

    #[test]
    fn classes() {
        let plain = Func::default();
        assert_eq!(plain.kind(0x0302, 0x10de), Some(DeviceKind::Gpu));
        assert_eq!(plain.kind(0x0300, 0x102b), None);
        assert_eq!(plain.kind(0x0300, 0x0000), Some(DeviceKind::Gpu));
        assert_eq!(plain.kind(0x0207, 0x15b3), Some(DeviceKind::Nic));
        assert_eq!(plain.kind(0x0680, 0x10de), Some(DeviceKind::Switch));
        let ve = Func {
            coproc: true,
            ..Func::default()
        };
        assert_eq!(ve.kind(0x0880, 0x1bcf), Some(DeviceKind::Gpu));
        assert!(OsDevClass::from_type(Some(12), true).coproc);
        assert!(OsDevClass::from_type(Some(48), true).network);
        assert!(!OsDevClass::from_type(Some(4), true).coproc);
        assert!(OsDevClass::from_type(Some(5), false).coproc);
    }

    #[test]
    fn direct_nvlink() {
        let objects = [Some((0, true)), Some((1, true)), Some((2, true))];
        let values = [0, 50_000, 0, 50_000, 0, 0, 0, 0, 0];
        let links = nvlink_links(&objects, &values);
        assert_eq!(links.len(), 1);
        assert_eq!((links[0].class, links[0].count), (LinkClass::NvLink, 2));
    }
}
