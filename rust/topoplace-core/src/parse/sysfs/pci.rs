//! The PCI tree from `/sys/bus/pci/devices` and the GPUs / NICs on it.
//!
//! Each `/sys/bus/pci/devices/<bdf>` is a symlink into `/sys/devices`, e.g.
//! `../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0`: `pci0000:3a` is the host bridge,
//! the bdfs in between are bridges and the last one is the function itself. Network and RDMA
//! names come from the `/sys/class/net/<if>` and `/sys/class/infiniband/<dev>` links.

use std::collections::BTreeMap;

use super::Reader;
use crate::error::Result;
use crate::topology::{CpuSet, Device, DeviceKind, PciKind, PciNode, to_u32};

const PCI_DEVICES: &str = "/sys/bus/pci/devices";

/// Whether `s` is a PCI address `dddd:bb:dd.f`.
pub(super) fn is_bdf(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b[4] == b':'
        && b[7] == b':'
        && b[10] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10) || c.is_ascii_hexdigit())
}

/// The last PCI address in a link target (`../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0`
/// → `0000:00:03.0`).
fn last_bdf(target: &str) -> Option<String> {
    target
        .split('/')
        .rev()
        .find(|c| is_bdf(c))
        .map(str::to_ascii_lowercase)
}

/// The name of a vendor id topoplace knows.
fn vendor_name(id: u16) -> Option<&'static str> {
    Some(match id {
        0x10de => "NVIDIA",
        0x1002 => "AMD",
        0x15b3 => "Mellanox",
        0x8086 => "Intel",
        0x14e4 => "Broadcom",
        0x1af4 => "Red Hat (virtio)",
        0x1d0f => "Amazon",
        0x1077 => "QLogic",
        _ => return None,
    })
}

/// What a PCI function is, by class code and vendor (hwloc's rules).
fn classify(class_id: u16, vendor_id: u16) -> Option<DeviceKind> {
    match class_id {
        0x0302 | 0x0b40 | 0x1200 => Some(DeviceKind::Gpu),
        0x0300 if vendor_id == 0x10de => Some(DeviceKind::Gpu),
        0x0c06 => Some(DeviceKind::Nic),
        c if c >> 8 == 0x02 => Some(DeviceKind::Nic),
        _ => None,
    }
}

/// The PCI tree and devices found.
#[derive(Debug, Default)]
pub(super) struct PciScan {
    pub(super) nodes: Vec<PciNode>,
    pub(super) devices: Vec<Device>,
}

fn hex16(r: &Reader<'_>, path: &str, bits_shift: u32) -> Result<u16> {
    let Some(text) = r.read(path) else {
        return Ok(0);
    };
    let t = text.trim();
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let value = u32::from_str_radix(hex, 16)
        .map_err(|_| r.err(path, format!("{t:?} is not a hexadecimal PCI id")))?;
    u16::try_from(value >> bits_shift).map_err(|_| r.err(path, format!("{t:?} is out of range")))
}

/// Scans the PCI devices. `numa_dense` maps an OS NUMA id to its dense index; `numa_cpus` gives
/// the CPUs of a dense node (the device locality when `local_cpulist` is absent).
pub(super) fn scan(
    r: &Reader<'_>,
    numa_dense: &dyn Fn(u32) -> Option<u32>,
    numa_cpus: &dyn Fn(u32) -> CpuSet,
) -> Result<PciScan> {
    let mut out = PciScan::default();
    let mut index: BTreeMap<String, u32> = BTreeMap::new();
    let mut has_child: Vec<bool> = Vec::new();
    let mut ensure = |out: &mut PciScan,
                      has_child: &mut Vec<bool>,
                      address: &str,
                      kind: PciKind,
                      parent: Option<u32>|
     -> u32 {
        if let Some(&i) = index.get(address) {
            if out.nodes[i as usize].parent.is_none() && kind != PciKind::HostBridge {
                out.nodes[i as usize].parent = parent;
            }
            return i;
        }
        let i = to_u32(out.nodes.len());
        out.nodes.push(PciNode {
            kind,
            address: address.to_owned(),
            parent,
            class_id: 0,
            vendor_id: 0,
            device_id: 0,
            numa: None,
        });
        has_child.push(false);
        index.insert(address.to_owned(), i);
        i
    };
    let mut functions: Vec<(u32, String)> = Vec::new();
    let mut local: BTreeMap<u32, CpuSet> = BTreeMap::new();
    for bdf in r.files.list(PCI_DEVICES) {
        if !is_bdf(&bdf) {
            continue;
        }
        let bdf = bdf.to_ascii_lowercase();
        let path = format!("{PCI_DEVICES}/{bdf}");
        let target = r.files.link(&path).unwrap_or_default();
        let components: Vec<&str> = target.split('/').collect();
        let root = components
            .iter()
            .find_map(|c| c.strip_prefix("pci").filter(|rest| rest.contains(':')))
            .map_or_else(|| bdf[..7].to_owned(), str::to_ascii_lowercase);
        let mut chain: Vec<String> = components
            .iter()
            .filter(|c| is_bdf(c))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if chain.last() != Some(&bdf) {
            chain.push(bdf.clone());
        }
        let mut parent = ensure(&mut out, &mut has_child, &root, PciKind::HostBridge, None);
        for (k, address) in chain.iter().enumerate() {
            let kind = if k + 1 == chain.len() {
                PciKind::Function
            } else {
                PciKind::Bridge
            };
            has_child[parent as usize] = true;
            parent = ensure(&mut out, &mut has_child, address, kind, Some(parent));
        }
        let node = parent;
        let class_path = format!("{path}/class");
        let class_id = hex16(r, &class_path, 8)?;
        let vendor_id = hex16(r, &format!("{path}/vendor"), 0)?;
        let device_id = hex16(r, &format!("{path}/device"), 0)?;
        let numa_path = format!("{path}/numa_node");
        let numa = match r.number::<i64>(&numa_path)? {
            None => None,
            Some(n) if n < 0 => None,
            Some(n) => {
                let os = u32::try_from(n).unwrap_or(u32::MAX);
                Some(numa_dense(os).ok_or_else(|| {
                    r.err(
                        &numa_path,
                        format!("numa_node {n}: NUMA node {n} does not exist"),
                    )
                })?)
            }
        };
        let n = &mut out.nodes[node as usize];
        n.class_id = class_id;
        n.vendor_id = vendor_id;
        n.device_id = device_id;
        n.numa = numa;
        if let Some(cpus) = r.cpulist(&format!("{path}/local_cpulist"))? {
            local.insert(node, cpus);
        }
        functions.push((node, bdf));
    }
    // Kinds: anything with children is a bridge, as is a leaf of class PCI bridge.
    for (i, node) in out.nodes.iter_mut().enumerate() {
        if node.kind != PciKind::HostBridge && (has_child[i] || node.class_id == 0x0604) {
            node.kind = PciKind::Bridge;
        } else if node.kind == PciKind::Bridge {
            node.kind = PciKind::Function;
        }
    }
    // A host bridge is on the NUMA node of its first child that says.
    for i in 0..out.nodes.len() {
        if out.nodes[i].kind == PciKind::HostBridge {
            let numa = out
                .nodes
                .iter()
                .filter(|n| n.parent == Some(to_u32(i)))
                .find_map(|n| n.numa);
            out.nodes[i].numa = numa;
        }
    }

    let names = class_names(r);
    for (node, bdf) in functions {
        let pci = &out.nodes[node as usize];
        if pci.kind != PciKind::Function {
            continue;
        }
        let Some(kind) = classify(pci.class_id, pci.vendor_id) else {
            continue;
        };
        let (net, ib) = names.get(&bdf).cloned().unwrap_or_default();
        // The RDMA name is what NCCL and nvidia-smi show; netdevs become aliases.
        let mut all: Vec<String> = ib.into_iter().chain(net).collect();
        let name = if all.is_empty() {
            format!("pci:{bdf}")
        } else {
            all.remove(0)
        };
        let cpus = match local.get(&node) {
            Some(c) => c.clone(),
            None => pci.numa.map(numa_cpus).unwrap_or_default(),
        };
        out.devices.push(Device {
            kind,
            name,
            aliases: all,
            pci: Some(node),
            bus_id: Some(bdf),
            numa: pci.numa,
            cpus,
            vendor: vendor_name(pci.vendor_id).map(str::to_owned),
            model: None,
            memory_bytes: None,
        });
    }
    Ok(out)
}

/// `bdf` → (netdev names, RDMA device names), from `/sys/class/net` and `/sys/class/infiniband`.
fn class_names(r: &Reader<'_>) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let mut names: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (class, ib) in [("/sys/class/net", false), ("/sys/class/infiniband", true)] {
        for entry in r.files.list(class) {
            let path = format!("{class}/{entry}");
            let bdf = r.files.link(&path).and_then(|t| last_bdf(&t)).or_else(|| {
                r.files
                    .link(&format!("{path}/device"))
                    .and_then(|t| last_bdf(&t))
            });
            if let Some(bdf) = bdf {
                let slot = names.entry(bdf).or_default();
                if ib {
                    slot.1.push(entry);
                } else {
                    slot.0.push(entry);
                }
            }
        }
    }
    names
}
