//! The `.host.txt` companion of a matrix: other output published for the same machine, each
//! part introduced by a `$ command` line (or a `# comment` naming what follows):
//! `nvidia-smi` (bus ids, names, memory), `numactl --hardware` (node CPUs, sizes, distances),
//! `lscpu` (sockets, cores, threads, NUMA CPU lists, model), `nvidia-smi topo -c` (CPU-GPU
//! affinity) and `rocm-smi` (VRAM). Parts that are absent are simply not known.

use std::collections::BTreeMap;

use super::err_at;
use crate::error::Result;
use crate::topology::{CpuSet, Distances, NumaNode, to_u32};

/// What the host output says about one GPU (by its index).
#[derive(Debug, Default, Clone)]
pub(super) struct GpuInfo {
    pub(super) model: Option<String>,
    pub(super) bus_id: Option<String>,
    pub(super) memory_bytes: Option<u64>,
    /// CPUs `nvidia-smi topo -c` says the GPU has affinity with.
    pub(super) affine_cpus: Vec<u32>,
}

/// `lscpu` facts.
#[derive(Debug, Default, Clone)]
pub(super) struct Lscpu {
    pub(super) model: Option<String>,
    pub(super) sockets: Option<u32>,
    pub(super) cores_per_socket: Option<u32>,
    pub(super) threads_per_core: Option<u32>,
    pub(super) cpus: Option<u32>,
    pub(super) online: Option<CpuSet>,
    /// `NUMA nodeN CPU(s)` lines.
    numa: Vec<(u32, CpuSet)>,
}

#[derive(Debug, Default, Clone)]
struct NodeInfo {
    os: u32,
    cpus: Option<CpuSet>,
    size_mib: Option<u64>,
}

/// Everything the companion file says.
#[derive(Debug, Default)]
pub(super) struct HostInfo {
    pub(super) gpus: BTreeMap<u32, GpuInfo>,
    pub(super) lscpu: Option<Lscpu>,
    /// `numactl --hardware` nodes, in the order printed.
    nodes: Vec<NodeInfo>,
    /// `numactl` distance table: node ids of the columns and row-major values.
    distances: Option<(Vec<u32>, Vec<u32>)>,
}

impl HostInfo {
    /// NUMA node OS ids the host lists (numactl, else lscpu), sorted.
    pub(super) fn numa_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = if self.nodes.is_empty() {
            self.lscpu
                .as_ref()
                .map(|l| l.numa.iter().map(|(n, _)| *n).collect())
                .unwrap_or_default()
        } else {
            self.nodes.iter().map(|n| n.os).collect()
        };
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The CPUs of NUMA node `os`, when the host lists them.
    pub(super) fn numa_cpus(&self, os: u32) -> Option<CpuSet> {
        if let Some(node) = self.nodes.iter().find(|n| n.os == os)
            && let Some(cpus) = &node.cpus
        {
            return Some(cpus.clone());
        }
        let lscpu = self.lscpu.as_ref()?;
        lscpu
            .numa
            .iter()
            .find(|(n, _)| *n == os)
            .map(|(_, c)| c.clone())
    }

    /// The memory size of NUMA node `os` in bytes (`numactl` prints MiB as "MB").
    pub(super) fn numa_size_bytes(&self, os: u32) -> Option<u64> {
        self.nodes
            .iter()
            .find(|n| n.os == os)
            .and_then(|n| n.size_mib)
            .map(|mib| mib.saturating_mul(1 << 20))
    }

    /// The distance matrix over `nodes` (dense order), when the table covers all of them.
    pub(super) fn distances_for(&self, nodes: &[NumaNode]) -> Option<Distances> {
        let (ids, values) = self.distances.as_ref()?;
        let n = ids.len();
        let pos: Vec<usize> = nodes
            .iter()
            .map(|node| ids.iter().position(|&id| id == node.os_index))
            .collect::<Option<Vec<_>>>()?;
        let mut out = Vec::with_capacity(pos.len() * pos.len());
        for &i in &pos {
            for &j in &pos {
                out.push(*values.get(i * n + j)?);
            }
        }
        Some(Distances {
            size: to_u32(pos.len()),
            values: out,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Unknown,
    NvidiaSmi,
    TopoC,
    Numactl,
    Lscpu,
    GpuList,
    Rocm,
}

fn section_of(command: &str) -> Section {
    let c = command.to_ascii_lowercase();
    if c.contains("topo -c") {
        Section::TopoC
    } else if c.contains("numactl") {
        Section::Numactl
    } else if c.contains("lscpu") {
        Section::Lscpu
    } else if c.contains("rocm-smi") {
        Section::Rocm
    } else if c.contains("nvidia-smi") {
        Section::NvidiaSmi
    } else if c.contains("gpus") {
        Section::GpuList
    } else {
        Section::Unknown
    }
}

/// `00000000:0A:00.0` → `0000:0a:00.0`.
pub(super) fn normalize_bus_id(text: &str) -> String {
    let lower = text.trim().to_ascii_lowercase();
    let parts: Vec<&str> = lower.split(':').collect();
    if parts.len() == 3
        && let Ok(domain) = u32::from_str_radix(parts[0], 16)
    {
        return format!("{domain:04x}:{}:{}", parts[1], parts[2]);
    }
    lower
}

fn looks_like_bus_id(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 3
        && parts[2].contains('.')
        && text
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
}

/// `NVIDIA H100 80GB HBM3` → `H100 80GB HBM3` (the vendor is implied by the tool).
fn model_name(words: &[&str]) -> Option<String> {
    let name = words.join(" ");
    let name = name.strip_prefix("NVIDIA ").unwrap_or(&name).trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Parses a companion file.
pub(super) fn parse(text: &str, source: &str) -> Result<HostInfo> {
    let mut info = HostInfo::default();
    let mut section = Section::Unknown;
    let mut current_gpu: Option<u32> = None;
    let mut topo_c_cpu: Option<u32> = None;
    let mut in_distances = false;
    let mut lscpu = Lscpu::default();
    let mut saw_lscpu = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end();
        let trimmed = line.trim();
        if let Some(command) = trimmed.strip_prefix("$ ") {
            section = section_of(command);
            current_gpu = None;
            topo_c_cpu = None;
            in_distances = false;
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            let next = section_of(comment);
            if next != Section::Unknown {
                section = next;
            }
            in_distances = false;
            continue;
        }
        let bad = |what: &str| {
            err_at(
                source,
                line_no,
                Some(what.to_owned()),
                format!("cannot read {what} from {trimmed:?}"),
            )
        };
        match section {
            Section::NvidiaSmi => {
                let fields: Vec<&str> = line.split('|').collect();
                if fields.len() < 4 {
                    continue;
                }
                let left: Vec<&str> = fields[1].split_whitespace().collect();
                let mid: Vec<&str> = fields[2].split_whitespace().collect();
                let index = left.first().and_then(|w| w.parse::<u32>().ok());
                if let (Some(index), Some(bus)) = (index, mid.first())
                    && looks_like_bus_id(bus)
                {
                    let gpu = info.gpus.entry(index).or_default();
                    // The last word of the left field is Persistence-M (On/Off).
                    let end = left.len().saturating_sub(1).max(1);
                    gpu.model = model_name(&left[1..end]);
                    gpu.bus_id = Some(normalize_bus_id(bus));
                    current_gpu = Some(index);
                    continue;
                }
                if let (Some(gpu), Some((_, total))) = (current_gpu, fields[2].split_once('/'))
                    && let Some(mib) = total.trim().strip_suffix("MiB")
                {
                    let mib: u64 = mib.trim().parse().map_err(|_| bad("GPU memory"))?;
                    info.gpus.entry(gpu).or_default().memory_bytes =
                        Some(mib.saturating_mul(1 << 20));
                    current_gpu = None;
                }
            }
            Section::GpuList => {
                let words: Vec<&str> = trimmed.split_whitespace().collect();
                if words.len() >= 2
                    && let (Ok(index), Some(bus)) = (words[0].parse::<u32>(), words.last())
                    && looks_like_bus_id(bus)
                {
                    let gpu = info.gpus.entry(index).or_default();
                    gpu.model = model_name(&words[1..words.len() - 1]);
                    gpu.bus_id = Some(normalize_bus_id(bus));
                }
            }
            Section::TopoC => {
                if let Some(rest) = trimmed.strip_prefix("The GPUs that have an affinity with CPU ")
                {
                    let cpu = rest.trim_end_matches("are:").trim();
                    topo_c_cpu = Some(cpu.parse().map_err(|_| bad("CPU number"))?);
                } else if let Some(cpu) = topo_c_cpu {
                    if trimmed.is_empty() {
                        continue;
                    }
                    for word in trimmed.split([',', ' ']).filter(|w| !w.is_empty()) {
                        let gpu: u32 = word.parse().map_err(|_| bad("GPU index"))?;
                        info.gpus.entry(gpu).or_default().affine_cpus.push(cpu);
                    }
                    topo_c_cpu = None;
                }
            }
            Section::Numactl => parse_numactl_line(&mut info, trimmed, &mut in_distances)
                .ok_or_else(|| bad("numactl output"))?,
            Section::Lscpu => {
                saw_lscpu |=
                    parse_lscpu_line(&mut lscpu, trimmed).ok_or_else(|| bad("lscpu value"))?;
            }
            Section::Rocm => {
                if let Some((head, value)) = trimmed.split_once("VRAM Total Memory (B):") {
                    let index = head
                        .trim()
                        .strip_prefix("GPU[")
                        .and_then(|h| h.split(']').next())
                        .and_then(|h| h.parse::<u32>().ok());
                    if let Some(index) = index {
                        let bytes: u64 = value.trim().parse().map_err(|_| bad("VRAM size"))?;
                        info.gpus.entry(index).or_default().memory_bytes = Some(bytes);
                    }
                }
            }
            Section::Unknown => {}
        }
    }
    if saw_lscpu {
        info.lscpu = Some(lscpu);
    }
    Ok(info)
}

/// One line of `numactl --hardware`; `None` when a value does not parse.
fn parse_numactl_line(info: &mut HostInfo, line: &str, in_distances: &mut bool) -> Option<()> {
    if line.is_empty() || line.starts_with("available:") {
        return Some(());
    }
    if line == "node distances:" {
        *in_distances = true;
        return Some(());
    }
    if *in_distances {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"node") {
            let ids = words[1..]
                .iter()
                .map(|w| w.parse::<u32>().ok())
                .collect::<Option<Vec<_>>>()?;
            info.distances = Some((ids, Vec::new()));
        } else if let Some((row, values)) = line.split_once(':') {
            let _: u32 = row.trim().parse().ok()?;
            let (ids, all) = info.distances.as_mut()?;
            let values = values
                .split_whitespace()
                .map(|w| w.parse::<u32>().ok())
                .collect::<Option<Vec<_>>>()?;
            if values.len() != ids.len() {
                return None;
            }
            all.extend(values);
        }
        return Some(());
    }
    let Some(rest) = line.strip_prefix("node ") else {
        return Some(());
    };
    let (head, value) = rest.split_once(':')?;
    let mut words = head.split_whitespace();
    let os: u32 = words.next()?.parse().ok()?;
    let field = words.next()?;
    let index = match info.nodes.iter().position(|n| n.os == os) {
        Some(i) => i,
        None => {
            info.nodes.push(NodeInfo {
                os,
                ..NodeInfo::default()
            });
            info.nodes.len() - 1
        }
    };
    let node = &mut info.nodes[index];
    match field {
        "cpus" => {
            let mut cpus = CpuSet::new();
            for w in value.split_whitespace() {
                let cpu: u32 = w.parse().ok()?;
                if cpu >= crate::topology::MAX_CPU_ID {
                    return None;
                }
                cpus.insert(cpu);
            }
            node.cpus = Some(cpus);
        }
        "size" => {
            let mib = value.trim().trim_end_matches("MB").trim();
            node.size_mib = Some(mib.parse().ok()?);
        }
        _ => {}
    }
    Some(())
}

/// One `key: value` line of `lscpu` (or its `key_name: value` summary form). Returns whether the
/// line was an `lscpu` field; `None` when a known field's value does not parse.
fn parse_lscpu_line(l: &mut Lscpu, line: &str) -> Option<bool> {
    let Some((key, value)) = line.split_once(':') else {
        return Some(false);
    };
    let key: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let value = value.trim();
    let number = || value.parse::<u32>().ok();
    match key.as_str() {
        "modelname" => l.model = Some(value.to_owned()),
        // `-` (unknown) is what lscpu prints on some ARM machines: not an error.
        "sockets" => l.sockets = number(),
        "corespersocket" => l.cores_per_socket = number(),
        "threadspercore" => l.threads_per_core = number(),
        "cpus" | "totalcpus" => l.cpus = number(),
        "onlinecpuslist" => l.online = Some(CpuSet::parse(value).ok()?),
        _ => {
            let node = key
                .strip_prefix("numanode")
                .and_then(|k| k.strip_suffix("cpus"))
                .filter(|k| !k.is_empty());
            let Some(node) = node else {
                return Some(false);
            };
            let node: u32 = node.parse().ok()?;
            l.numa.push((node, CpuSet::parse(value).ok()?));
        }
    }
    Some(true)
}
