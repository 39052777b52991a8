//! Pair scores between GPUs, as `go-gpuallocator`'s best-effort policy counts them.

use super::MAX_GPUS;
use crate::error::{Error, Result};
use crate::topology::{DeviceKind, LinkClass, Topology};

/// The score of one link label: `NVk` = 100 k, `BOARD` 60, `PIX` 50, `PXB` 40, `PHB` 30,
/// `NODE` 20, `SYS` 10; `None` for labels that carry no score here (`XGMI`, `PCIE`, `X`).
#[must_use]
pub fn label_score(label: &str) -> Option<u32> {
    match label {
        "BOARD" => Some(60),
        "PIX" => Some(50),
        "PXB" => Some(40),
        "PHB" => Some(30),
        "NODE" => Some(20),
        "SYS" | "SOC" => Some(10),
        _ => {
            let k: u32 = label.strip_prefix("NV")?.parse().ok()?;
            Some(100 * k)
        }
    }
}

/// Symmetric matrix of pair scores over `n` GPUs (diagonal 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairScores {
    n: usize,
    values: Vec<u32>,
}

impl PairScores {
    /// All-zero scores over `n` GPUs.
    ///
    /// # Errors
    /// [`Error::Value`] when `n` exceeds 128.
    pub fn new(n: usize) -> Result<Self> {
        if n > MAX_GPUS {
            return Err(Error::Value(format!(
                "{n} GPUs: at most {MAX_GPUS} are supported"
            )));
        }
        Ok(Self {
            n,
            values: vec![0; n * n],
        })
    }

    /// Number of GPUs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are no GPUs.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The score of pair `(i, j)`; 0 when `i == j` or out of range.
    #[must_use]
    pub fn get(&self, i: usize, j: usize) -> u32 {
        if i >= self.n || j >= self.n || i == j {
            return 0;
        }
        self.values[i * self.n + j]
    }

    /// Adds `score` to pair `(i, j)` (both directions).
    ///
    /// # Errors
    /// [`Error::Value`] when an index is out of range or `i == j`.
    pub fn add(&mut self, i: usize, j: usize, score: u32) -> Result<()> {
        if i >= self.n || j >= self.n || i == j {
            return Err(Error::Value(format!(
                "bad GPU pair ({i}, {j}) over {} GPUs",
                self.n
            )));
        }
        let v = self.values[i * self.n + j].saturating_add(score);
        self.values[i * self.n + j] = v;
        self.values[j * self.n + i] = v;
        Ok(())
    }

    /// Scores from `[i, j, label]` triples (a pair may be listed with several labels; their
    /// scores add up). Labels without a score are ignored.
    ///
    /// # Errors
    /// [`Error::Value`] on a bad pair.
    pub fn from_labels<'a>(
        n: usize,
        links: impl IntoIterator<Item = (usize, usize, &'a str)>,
    ) -> Result<Self> {
        let mut s = Self::new(n)?;
        for (i, j, label) in links {
            if let Some(v) = label_score(label) {
                s.add(i, j, v)?;
            }
        }
        Ok(s)
    }

    /// Scores between the GPUs of `topo` (in [`Topology::devices_of`] order, so GPU `k` of the
    /// matrix is the `k`-th GPU device). As on a real node where NVML reports both, a pair scores
    /// its stated NVLink / NVSwitch links (100 per link) plus its PCIe path class (the stated
    /// one, else the one derived from the PCI tree or NUMA locality).
    ///
    /// More than 128 GPUs: only the first 128 are scored.
    #[must_use]
    pub fn from_topology(topo: &Topology) -> Self {
        let gpus: Vec<u32> = topo.devices_of(DeviceKind::Gpu).take(MAX_GPUS).collect();
        let n = gpus.len();
        let mut values = vec![0u32; n * n];
        for (i, &a) in gpus.iter().enumerate() {
            for (j, &b) in gpus.iter().enumerate().skip(i + 1) {
                let (lo, hi) = (a.min(b), a.max(b));
                let mut fabric = 0u32;
                let mut pcie: Option<LinkClass> = None;
                for l in topo
                    .links()
                    .iter()
                    .filter(|l| l.a.min(l.b) == lo && l.a.max(l.b) == hi)
                {
                    match l.class {
                        LinkClass::NvLink | LinkClass::NvSwitch => {
                            fabric = fabric.saturating_add(100 * l.count.max(1));
                        }
                        LinkClass::Xgmi => {}
                        c => pcie = Some(pcie.map_or(c, |p| p.min(c))),
                    }
                }
                let pcie = pcie.or_else(|| topo.pci_path_class(a, b));
                let v = fabric.saturating_add(pcie.map_or(0, class_score));
                values[i * n + j] = v;
                values[j * n + i] = v;
            }
        }
        Self { n, values }
    }
}

fn class_score(c: LinkClass) -> u32 {
    match c {
        LinkClass::Pix => 50,
        LinkClass::Pxb => 40,
        LinkClass::Phb => 30,
        LinkClass::Node => 20,
        LinkClass::Sys => 10,
        LinkClass::NvLink | LinkClass::NvSwitch | LinkClass::Xgmi => 0,
    }
}
