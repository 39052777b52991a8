//! The topology attributes the scored mode aligns devices on.

use std::sync::LazyLock;

use super::facts::{NONE, intern};
use super::pools::Inventory;
use crate::dra::value::QualifiedName;

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

impl Places {
    pub(super) fn new(alignment: &Alignment, inv: &Inventory<'_>) -> Self {
        let (pcie, _) = intern(inv, &alignment.pcie_root);
        let (numa, numa_count) = intern(inv, &alignment.numa);
        let (mut socket, _) = intern(inv, &alignment.socket);
        // A device without a socket takes its NUMA node's, learnt from the devices (CPUs)
        // that carry both.
        let mut socket_of_numa = vec![NONE; numa_count];
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
