//! The topology attributes the scored mode aligns devices on.

use std::sync::LazyLock;

use super::facts::NONE;
use super::pools::{Dev, Inventory};
use crate::dra::value::{AttrValue, QualifiedName};

/// Which device attributes say where a device sits. For each level, the first attribute
/// of the list that a device carries is its place at that level; a device with none of them
/// is not counted at that level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alignment {
    /// PCIe root complex (`resource.kubernetes.io/pcieRoot`).
    pub pcie_root: Vec<QualifiedName>,
    /// NUMA node (`resource.kubernetes.io/numaNode`, DraNet's and the CPU driver's own).
    pub numa: Vec<QualifiedName>,
    /// CPU socket (the CPU driver's `socketID`). Devices without one take the socket of
    /// their NUMA node when some other device carries both.
    pub socket: Vec<QualifiedName>,
}

fn names(list: &[&str]) -> Vec<QualifiedName> {
    list.iter().map(|n| QualifiedName::parse(n, "")).collect()
}

impl Alignment {
    /// Alignment on the attributes named (`domain/name`), in order of precedence per level.
    #[must_use]
    pub fn from_names(pcie_root: &[String], numa: &[String], socket: &[String]) -> Self {
        let names = |l: &[String]| l.iter().map(|n| QualifiedName::parse(n, "")).collect();
        Self {
            pcie_root: names(pcie_root),
            numa: names(numa),
            socket: names(socket),
        }
    }

    /// The standard attributes and those of the drivers that publish their own.
    #[must_use]
    pub fn standard() -> &'static Self {
        static STANDARD: LazyLock<Alignment> = LazyLock::new(|| Alignment {
            pcie_root: names(&["resource.kubernetes.io/pcieRoot"]),
            numa: names(&[
                "resource.kubernetes.io/numaNode",
                "dra.net/numaNode",
                "dra.cpu/numaNodeID",
            ]),
            socket: names(&["resource.kubernetes.io/socket", "dra.cpu/socketID"]),
        });
        &STANDARD
    }
}

/// Each device's place at each level as a small id ([`NONE`] when unknown).
pub(super) struct Places {
    pub pcie: Vec<u32>,
    pub numa: Vec<u32>,
    pub socket: Vec<u32>,
}

/// The first of `attrs` that `dev` carries, as an id among `seen`.
fn place_of<'a>(dev: &Dev<'a>, attrs: &[QualifiedName], seen: &mut Vec<&'a AttrValue>) -> u32 {
    let Some(v) = attrs.iter().find_map(|a| dev.device.attributes.get(a)) else {
        return NONE;
    };
    let i = seen.iter().position(|s| *s == v).unwrap_or_else(|| {
        seen.push(v);
        seen.len() - 1
    });
    u32::try_from(i).unwrap_or(NONE)
}

impl Places {
    pub(super) fn new(alignment: &Alignment, inv: &Inventory<'_>) -> Self {
        let (mut pcie_seen, mut numa_seen, mut socket_seen) = (Vec::new(), Vec::new(), Vec::new());
        let mut pcie = Vec::with_capacity(inv.devices.len());
        let mut numa = Vec::with_capacity(inv.devices.len());
        let mut socket = Vec::with_capacity(inv.devices.len());
        for dev in &inv.devices {
            pcie.push(place_of(dev, &alignment.pcie_root, &mut pcie_seen));
            numa.push(place_of(dev, &alignment.numa, &mut numa_seen));
            socket.push(place_of(dev, &alignment.socket, &mut socket_seen));
        }
        // A device without a socket takes its NUMA node's, learnt from the devices (CPUs)
        // that carry both.
        let mut socket_of_numa = vec![NONE; numa_seen.len()];
        for (&n, &s) in numa.iter().zip(&socket) {
            if n != NONE && s != NONE && socket_of_numa[n as usize] == NONE {
                socket_of_numa[n as usize] = s;
            }
        }
        for (s, &n) in socket.iter_mut().zip(&numa) {
            if *s == NONE && n != NONE {
                *s = socket_of_numa[n as usize];
            }
        }
        Self { pcie, numa, socket }
    }
}
