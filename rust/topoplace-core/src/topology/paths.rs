//! How two devices are connected: the stated link if any, else the PCIe path class derived from
//! the PCI tree (the classes `nvidia-smi topo -m` prints), else from NUMA locality.

use super::Topology;
use super::model::{LinkClass, PciKind};

impl Topology {
    /// The best connection between devices `a` and `b` (dense indexes): a stated fabric link
    /// (NVLink, NVSwitch, XGMI) wins; otherwise the stated or derived PCIe path class. `None`
    /// when `a == b`, an index is out of range, or nothing at all is known about the pair.
    #[must_use]
    pub fn link_class(&self, a: u32, b: u32) -> Option<LinkClass> {
        let n = self.devices().len() as u32;
        if a == b || a >= n || b >= n {
            return None;
        }
        let stated = self.stated_classes(a, b).min();
        stated.or_else(|| self.pci_path_class(a, b))
    }

    /// The classes of the links stated between devices `a` and `b`, in either direction.
    fn stated_classes(&self, a: u32, b: u32) -> impl Iterator<Item = LinkClass> + '_ {
        let (lo, hi) = (a.min(b), a.max(b));
        self.links()
            .iter()
            .filter(move |l| l.a.min(l.b) == lo && l.a.max(l.b) == hi)
            .map(|l| l.class)
    }

    /// The PCIe path class between devices `a` and `b`, ignoring fabric links (NVLink,
    /// NVSwitch, XGMI): a stated PCIe label (nvidia-smi's matrix) wins over the class derived
    /// from the PCI tree or NUMA locality ([`Self::pci_path_class`]).
    #[must_use]
    pub fn pcie_class(&self, a: u32, b: u32) -> Option<LinkClass> {
        let stated = self
            .stated_classes(a, b)
            .filter(|c| !matches!(c, LinkClass::NvLink | LinkClass::NvSwitch | LinkClass::Xgmi))
            .min();
        stated.or_else(|| self.pci_path_class(a, b))
    }

    /// The PCIe path class between two devices from the PCI tree, ignoring fabric links:
    /// `PIX` when both devices sit on one PCIe switch (at most one bridge each below the common
    /// bridge), `PXB` for several bridges below one host
    /// bridge, `PHB` through the host bridge, then `NODE` (same NUMA node) or `SYS`.
    #[must_use]
    pub fn pci_path_class(&self, a: u32, b: u32) -> Option<LinkClass> {
        let da = self.devices().get(a as usize)?;
        let db = self.devices().get(b as usize)?;
        if let (Some(pa), Some(pb)) = (da.pci, db.pci) {
            let chain_a = self.pci_ancestors(pa);
            let chain_b = self.pci_ancestors(pb);
            if let Some((ia, ib)) = first_common(&chain_a, &chain_b) {
                let common = chain_a[ia];
                if self.pci()[common as usize].kind == PciKind::HostBridge {
                    return Some(LinkClass::Phb);
                }
                // A PCIe switch is an upstream bridge with one downstream bridge per port, so
                // two devices on one switch each cross one bridge below the common one. More
                // than that on either side means a second switch level: PXB.
                let below = |chain: &[u32], upto: usize| {
                    chain
                        .get(1..upto)
                        .unwrap_or(&[])
                        .iter()
                        .filter(|&&p| self.pci()[p as usize].kind == PciKind::Bridge)
                        .count()
                };
                let crossed = below(&chain_a, ia).max(below(&chain_b, ib));
                return Some(if crossed <= 1 {
                    LinkClass::Pix
                } else {
                    LinkClass::Pxb
                });
            }
        }
        match (da.numa, db.numa) {
            (Some(x), Some(y)) if x == y => Some(LinkClass::Node),
            (Some(_), Some(_)) => Some(LinkClass::Sys),
            _ => None,
        }
    }

    /// `node` and its ancestors up to the root, nearest first.
    fn pci_ancestors(&self, node: u32) -> Vec<u32> {
        let mut chain = vec![node];
        let mut at = node;
        while let Some(p) = self.pci().get(at as usize).and_then(|n| n.parent) {
            chain.push(p);
            at = p;
        }
        chain
    }
}

fn first_common(a: &[u32], b: &[u32]) -> Option<(usize, usize)> {
    a.iter()
        .enumerate()
        .find_map(|(i, x)| b.iter().position(|y| y == x).map(|j| (i, j)))
}
