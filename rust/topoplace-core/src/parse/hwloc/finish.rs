//! After the streaming pass: NUMA order, offline CPUs, the distance matrix, PCI and device
//! locality, devices and NVLink links.

use super::io::nvlink_links;
use super::{DistRaw, NONE, Parser, Version};
use crate::error::Result;
use crate::topology::{
    Cpu, CpuSet, Device, DeviceKind, Distances, MemoryKind, NumaNode, TopologyParts, to_u32,
};

impl Parser<'_> {
    pub(super) fn finish(mut self) -> Result<TopologyParts> {
        // NUMA nodes in OS-index order; `perm[document position] = dense index`.
        let mut order: Vec<usize> = (0..self.numa.len()).collect();
        order.sort_by_key(|&i| self.numa[i].node.os_index);
        let mut perm = vec![0u32; self.numa.len()];
        for (dense, &doc) in order.iter().enumerate() {
            perm[doc] = to_u32(dense);
        }
        self.parts.numa_nodes = order.iter().map(|&i| self.numa[i].node.clone()).collect();

        // Offline CPUs: in the root's complete_cpuset but not listed as PUs.
        if let Some(complete) = self.root.complete_cpus.take() {
            for os in complete.difference(&self.listed_cpus).iter() {
                self.parts.cpus.push(Cpu {
                    os_index: os,
                    core: None,
                    online: false,
                    allowed: false,
                });
            }
        }

        let dists = std::mem::take(&mut self.dists);
        if let Some(d) = dists.iter().find(|d| d.numa_type && d.latency && !d.hetero) {
            self.parts.distances = self.numa_distances(d, &perm)?;
        }

        // NUMA locality of each I/O attachment point.
        let locality_numa: Vec<Option<u32>> = self
            .localities
            .iter()
            .map(|set| local_numa(&self.parts.numa_nodes, set))
            .collect();
        let numa_of = |loc: u32| locality_numa.get(loc as usize).copied().flatten();
        for (node, &loc) in self.parts.pci.iter_mut().zip(&self.pci_locality) {
            node.numa = numa_of(loc);
        }

        // Devices, and the device of each PCI node.
        let mut device_of_pci = vec![NONE; self.parts.pci.len()];
        for func in &mut self.funcs {
            let Some(node) = self.parts.pci.get(func.pci as usize) else {
                continue;
            };
            let Some(kind) = func.kind(node.class_id, node.vendor_id) else {
                continue;
            };
            let loc = self
                .pci_locality
                .get(func.pci as usize)
                .copied()
                .unwrap_or(NONE);
            let mut names = std::mem::take(&mut func.names).into_iter();
            let name = names
                .next()
                .unwrap_or_else(|| format!("pci:{}", node.address));
            if let Some(slot) = device_of_pci.get_mut(func.pci as usize) {
                *slot = to_u32(self.parts.devices.len());
            }
            self.parts.devices.push(Device {
                kind,
                name,
                aliases: names.collect(),
                pci: Some(func.pci),
                bus_id: Some(node.address.clone()).filter(|a| !a.is_empty()),
                numa: numa_of(loc),
                cpus: self
                    .localities
                    .get(loc as usize)
                    .cloned()
                    .unwrap_or_default(),
                vendor: func.gpu_vendor.take().or_else(|| func.pci_vendor.take()),
                model: func.gpu_model.take().or_else(|| func.pci_model.take()),
                memory_bytes: func.memory,
            });
        }

        // NVLink links from the heterogeneous bandwidth matrix.
        self.gp_to_pci.sort_unstable();
        for d in dists
            .iter()
            .filter(|d| d.hetero && d.name.contains("NVLink"))
        {
            let objects: Vec<Option<(u32, bool)>> = d
                .indexes
                .iter()
                .map(|gp| {
                    let at = self.gp_to_pci.binary_search_by_key(gp, |&(g, _)| g).ok()?;
                    let pci = self.gp_to_pci.get(at)?.1;
                    let dev = *device_of_pci.get(pci as usize)?;
                    let kind = self.parts.devices.get(dev as usize)?.kind;
                    Some((dev, kind == DeviceKind::Gpu))
                })
                .collect();
            for link in nvlink_links(&objects, &d.values) {
                if !self
                    .parts
                    .links
                    .iter()
                    .any(|l| l.a == link.a && l.b == link.b)
                {
                    self.parts.links.push(link);
                }
            }
        }

        self.parts.name = machine_name(self.source);
        self.parts.source = match self.version {
            Version::V1 => "hwloc-xml-1.x",
            Version::V2 => "hwloc-xml-2.0",
            Version::V3 => "hwloc-xml-3.0",
        }
        .to_owned();
        Ok(std::mem::take(&mut self.parts))
    }

    /// The NUMA latency matrix over the dense NUMA order; `None` when it does not cover every
    /// NUMA node (a partial matrix cannot be represented).
    fn numa_distances(&self, d: &DistRaw, perm: &[u32]) -> Result<Option<Distances>> {
        let n = self.parts.numa_nodes.len();
        let object = if d.v1 { "<distances>" } else { "<distances2>" };
        // dense[i] = dense NUMA index of matrix row i.
        let dense: Vec<u32> = if d.v1 {
            if !d.at_root || d.nbobjs != n {
                return Ok(None);
            }
            perm.to_vec()
        } else {
            let mut dense = Vec::with_capacity(n);
            for &index in &d.indexes {
                let found = if d.gp_indexing {
                    self.numa
                        .iter()
                        .position(|t| t.gp == Some(index))
                        .and_then(|doc| perm.get(doc).copied())
                } else {
                    u32::try_from(index)
                        .ok()
                        .and_then(|os| self.parts.numa_by_os(os))
                };
                let Some(found) = found else {
                    let how = if d.gp_indexing {
                        "gp_index"
                    } else {
                        "os_index"
                    };
                    return Err(self.error(
                        d.pos,
                        format!("{object} indexes"),
                        format!("NUMA node with {how} {index} does not exist"),
                    ));
                };
                dense.push(found);
            }
            dense
        };
        if dense.len() != n {
            // A matrix over a subset of the NUMA nodes cannot be represented: leave it out.
            return Ok(None);
        }
        let mut seen = CpuSet::new();
        for &x in &dense {
            if seen.contains(x) {
                return Err(self.error(
                    d.pos,
                    format!("{object} indexes"),
                    "a NUMA node appears twice in the distance matrix",
                ));
            }
            seen.insert(x);
        }
        let mut values = vec![0u32; n * n];
        for i in 0..n {
            for j in 0..n {
                let k = i * n + j;
                let v = if d.v1 {
                    let x = d.latencies.get(k).copied().unwrap_or(0.0) * d.base;
                    let r = x.round();
                    if !(0.0..=f64::from(u32::MAX)).contains(&r) {
                        return Err(self.error(
                            d.pos,
                            object,
                            format!("latency {x} is out of range"),
                        ));
                    }
                    // In range and integral: the cast is exact.
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let v = r as u32;
                    v
                } else {
                    let raw = d.values.get(k).copied().unwrap_or(0);
                    u32::try_from(raw).map_err(|_| {
                        self.error(d.pos, object, format!("distance {raw} is out of range"))
                    })?
                };
                let (Some(&a), Some(&b)) = (dense.get(i), dense.get(j)) else {
                    continue;
                };
                let (a, b) = (a as usize, b as usize);
                if let Some(slot) = values.get_mut(a * n + b) {
                    *slot = v;
                }
            }
        }
        Ok(Some(Distances {
            size: to_u32(n),
            values,
        }))
    }
}

/// The normal-memory NUMA node local to CPUs `set`: the only DRAM (or unknown-kind) node whose
/// CPUs include the set.
fn local_numa(nodes: &[NumaNode], set: &CpuSet) -> Option<u32> {
    if set.is_empty() {
        return None;
    }
    let mut found = None;
    for (i, node) in nodes.iter().enumerate() {
        if matches!(node.kind, MemoryKind::Dram | MemoryKind::Unknown) && set.is_subset(&node.cpus)
        {
            if found.is_some() {
                return None;
            }
            found = Some(to_u32(i));
        }
    }
    found
}

/// The machine name: the file stem of `source`.
fn machine_name(source: &str) -> String {
    let file = source.rsplit(['/', '\\']).next().unwrap_or(source);
    file.strip_suffix(".xml").unwrap_or(file).to_owned()
}
