//! A compact text tree of a machine, for people: packages, NUMA nodes with memory, cache
//! groups and core counts, then devices with their NUMA node and best links. Modelled on what
//! `lstopo`'s console output tells, with the device links `nvidia-smi topo -m` tells.

use std::fmt::Write;

use super::Topology;
use super::model::DeviceKind;

/// Formats a byte count in binary units (`"1.5 TiB"`, `"64 GiB"`).
#[must_use]
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if (value - value.round()).abs() < 0.05 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl Topology {
    /// The text tree `topoplace show` prints.
    #[must_use]
    pub fn render_text(&self) -> String {
        let s = self.summary();
        let mut out = String::new();
        let label = if self.name().is_empty() {
            "machine"
        } else {
            self.name()
        };
        let _ = writeln!(
            out,
            "Machine {label} ({}): {} packages, {} NUMA nodes, {} cores, {} CPUs ({} online), {}, {} GPUs, {} NICs",
            self.source(),
            s.packages,
            s.numa_nodes,
            s.cores,
            s.cpus,
            s.cpus_online,
            human_bytes(s.memory_bytes),
            s.gpus,
            s.nics
        );
        for (p, package) in self.packages().iter().enumerate() {
            let cores = self
                .cores()
                .iter()
                .filter(|c| c.package as usize == p)
                .count();
            let model = package
                .model
                .as_deref()
                .map(|m| format!(" {m}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  Package P#{}{model}: {cores} cores, CPUs {}",
                package.os_index, package.cpus
            );
            for (n, node) in self.numa_nodes().iter().enumerate() {
                let local = !node.cpus.is_empty() && node.cpus.is_subset(&package.cpus);
                if !local {
                    continue;
                }
                self.render_numa(&mut out, n, "    ");
            }
        }
        // Nodes with no CPUs inside one package (CPU-less memory, nodes spanning packages).
        for (n, node) in self.numa_nodes().iter().enumerate() {
            if !self
                .packages()
                .iter()
                .any(|p| !node.cpus.is_empty() && node.cpus.is_subset(&p.cpus))
            {
                self.render_numa(&mut out, n, "  ");
            }
        }
        if let Some(d) = self.distances() {
            let mut values: Vec<u32> = d.values.clone();
            values.sort_unstable();
            values.dedup();
            let list: Vec<String> = values.iter().map(u32::to_string).collect();
            let _ = writeln!(
                out,
                "  NUMA distances: {0}x{0}, values {1}",
                d.size,
                list.join("/")
            );
        }
        self.render_devices(&mut out);
        out
    }

    fn render_numa(&self, out: &mut String, n: usize, indent: &str) {
        let node = &self.numa_nodes()[n];
        let cores = self
            .cores()
            .iter()
            .filter(|c| c.numa == Some(n as u32))
            .count();
        let caches = self
            .caches()
            .iter()
            .filter(|c| !c.cpus.is_empty() && c.cpus.is_subset(&node.cpus))
            .count();
        let allowed = if node.allowed { "" } else { " (not allowed)" };
        let _ = write!(
            out,
            "{indent}NUMANode N#{} {} {}{allowed}: {cores} cores",
            node.os_index,
            node.kind.as_str(),
            human_bytes(node.memory_bytes)
        );
        if caches > 0 && cores > 0 {
            let _ = write!(
                out,
                " in {caches} L3 group{}",
                if caches == 1 { "" } else { "s" }
            );
        }
        let _ = writeln!(
            out,
            ", CPUs {}",
            if node.cpus.is_empty() {
                "-".to_owned()
            } else {
                node.cpus.to_list_string()
            }
        );
    }

    fn render_devices(&self, out: &mut String) {
        let mut listed = false;
        for (i, dev) in self.devices().iter().enumerate() {
            if !matches!(dev.kind, DeviceKind::Gpu | DeviceKind::Nic) {
                continue;
            }
            if !listed {
                let _ = writeln!(out, "  Devices:");
                listed = true;
            }
            let numa = dev
                .numa
                .and_then(|n| self.numa_nodes().get(n as usize))
                .map_or("?".to_owned(), |n| n.os_index.to_string());
            let model = dev
                .model
                .as_deref()
                .map(|m| format!(" {m}"))
                .unwrap_or_default();
            let bus = dev
                .bus_id
                .as_deref()
                .map(|b| format!(" [{b}]"))
                .unwrap_or_default();
            let _ = write!(
                out,
                "    {} {}{model}{bus} NUMA {numa}",
                dev.kind.as_str().to_uppercase(),
                dev.name
            );
            // Best link to any other GPU/NIC, e.g. "NV18 x7, PIX mlx5_0".
            let mut best: Vec<String> = Vec::new();
            let i = i as u32;
            if let Some((class, count, n)) = self.best_links(i, DeviceKind::Gpu) {
                let label = match (class, count) {
                    (super::LinkClass::NvLink, c) if c > 0 => format!("NV{c}"),
                    (super::LinkClass::NvSwitch, c) if c > 0 => format!("NVSwitch ({c} links)"),
                    _ => class.as_str().to_owned(),
                };
                best.push(format!(
                    "{label} to {n} GPU{}",
                    if n == 1 { "" } else { "s" }
                ));
            }
            if let Some((class, _, n)) = self.best_links(i, DeviceKind::Nic) {
                best.push(format!(
                    "{} to {n} NIC{}",
                    class.as_str(),
                    if n == 1 { "" } else { "s" }
                ));
            }
            if !best.is_empty() {
                let _ = write!(out, "; best: {}", best.join(", "));
            }
            let _ = writeln!(out);
        }
    }

    /// The best link class from device `i` to devices of `kind`, its count, and how many
    /// devices share that class.
    fn best_links(&self, i: u32, kind: DeviceKind) -> Option<(super::LinkClass, u32, usize)> {
        let mut best: Option<(super::LinkClass, u32, usize)> = None;
        for j in self.devices_of(kind) {
            let Some(class) = self.link_class(i, j) else {
                continue;
            };
            let count = self
                .links()
                .iter()
                .find(|l| (l.a == i.min(j)) && (l.b == i.max(j)) && l.class == class)
                .map_or(0, |l| l.count);
            best = match best {
                Some((c, n, k)) if c == class => Some((c, n.max(count), k + 1)),
                Some((c, _, _)) if c < class => best,
                _ => Some((class, count, 1)),
            };
        }
        best
    }
}
