//! Linux sysfs: CPUs, cores, packages, dies and L3 caches from `/sys/devices/system/cpu`, NUMA
//! nodes from `/sys/devices/system/node`, and the PCI tree with its GPUs and NICs from
//! `/sys/bus/pci/devices` (see [`pci`]). Optional extras: `/proc/cpuinfo` (model name),
//! `/proc/meminfo` (memory of a non-NUMA kernel), `/proc/self/status` (allowed CPUs / nodes).

mod pci;

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::error::{Error, Location, Result};
use crate::topology::{
    Cache, Core, Cpu, CpuSet, Distances, Group, GroupKind, MemoryKind, NumaNode, Package, Topology,
    TopologyParts, to_u32,
};

/// Read access to a sysfs-like tree. Paths are absolute (`/sys/devices/system/cpu/online`);
/// implementations map them onto the real `/` or onto a fixture directory.
pub trait FileSource {
    /// The content of a file, or `None` when it does not exist or cannot be read.
    fn read(&self, path: &str) -> Option<String>;
    /// The entry names of a directory (not full paths), sorted; empty when it does not exist.
    fn list(&self, dir: &str) -> Vec<String>;
    /// The target of a symbolic link, if `path` is one.
    fn link(&self, path: &str) -> Option<String>;
}

const CPU_DIR: &str = "/sys/devices/system/cpu";
const NODE_DIR: &str = "/sys/devices/system/node";

/// A [`FileSource`] with error helpers naming the file.
struct Reader<'a> {
    files: &'a dyn FileSource,
    source: &'a str,
}

impl Reader<'_> {
    fn err(&self, path: &str, message: impl Into<String>) -> Error {
        Error::topology(
            Location::source(self.source).object(path.to_owned()),
            message,
        )
    }

    fn read(&self, path: &str) -> Option<String> {
        self.files.read(path)
    }

    /// A CPU list file; `None` when absent.
    fn cpulist(&self, path: &str) -> Result<Option<CpuSet>> {
        self.read(path)
            .map(|text| {
                CpuSet::parse(&text).map_err(|e| self.err(path, format!("bad CPU list: {e}")))
            })
            .transpose()
    }

    /// A file holding one number; `None` when absent.
    fn number<T: FromStr>(&self, path: &str) -> Result<Option<T>> {
        self.read(path)
            .map(|text| {
                let t = text.trim();
                t.parse::<T>()
                    .map_err(|_| self.err(path, format!("{t:?} is not a number")))
            })
            .transpose()
    }
}

/// `32768K`, `1M`, `512` → bytes.
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KB" | "kB" => 10,
        "M" | "MB" => 20,
        "G" | "GB" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

fn numbered(names: Vec<String>, prefix: &str) -> Vec<u32> {
    let mut ids: Vec<u32> = names
        .iter()
        .filter_map(|n| n.strip_prefix(prefix))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|n| n.parse().ok())
        .collect();
    ids.sort_unstable();
    ids
}

/// One CPU as read from `cpuN/topology`.
struct CpuPlace {
    os: u32,
    package: u32,
    die: u32,
    core_id: u32,
}

/// Reads a topology from a sysfs tree.
///
/// # Errors
/// [`Error::Topology`] naming `source` and the file (and field) that is wrong.
pub fn parse(files: &dyn FileSource, source: &str) -> Result<Topology> {
    let r = Reader { files, source };
    let mut parts = TopologyParts {
        name: source.to_owned(),
        source: "sysfs".into(),
        ..TopologyParts::default()
    };

    // ---- CPUs ----
    let listed: CpuSet = numbered(files.list(CPU_DIR), "cpu").into_iter().collect();
    let present = match r.cpulist(&format!("{CPU_DIR}/present"))? {
        Some(p) => p,
        None => match r.cpulist(&format!("{CPU_DIR}/possible"))? {
            Some(p) if !listed.is_empty() => p.intersection(&listed),
            Some(p) => p,
            None => listed,
        },
    };
    if present.is_empty() {
        return Err(r.err(&format!("{CPU_DIR}/present"), "no CPUs found"));
    }
    let online = r
        .cpulist(&format!("{CPU_DIR}/online"))?
        .unwrap_or_else(|| present.clone());
    let allowed_cpus = read_status_list(&r, "Cpus_allowed_list:")?;
    let mut places: Vec<CpuPlace> = Vec::new();
    for os in present.iter() {
        let topo = format!("{CPU_DIR}/cpu{os}/topology");
        let package = r.number::<i64>(&format!("{topo}/physical_package_id"))?;
        if let Some(package) = package {
            let die = r.number::<i64>(&format!("{topo}/die_id"))?.unwrap_or(0);
            let core_path = format!("{topo}/core_id");
            let core_id = r.number::<i64>(&core_path)?.unwrap_or(i64::from(os));
            let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
            places.push(CpuPlace {
                os,
                package: clamp(package),
                die: clamp(die),
                core_id: clamp(core_id),
            });
        }
        parts.cpus.push(Cpu {
            os_index: os,
            core: None,
            online: online.contains(os),
            allowed: allowed_cpus.as_ref().is_none_or(|a| a.contains(os)),
        });
    }

    // Packages, dies, cores.
    let mut package_ids: Vec<u32> = places.iter().map(|p| p.package).collect();
    package_ids.sort_unstable();
    package_ids.dedup();
    let model = cpu_model(&r);
    for &os in &package_ids {
        parts.packages.push(Package {
            os_index: os,
            model: model.clone(),
            cpus: CpuSet::new(),
        });
    }
    let mut dies: BTreeMap<(u32, u32), CpuSet> = BTreeMap::new();
    for p in &places {
        dies.entry((p.package, p.die)).or_default().insert(p.os);
    }
    let multi_die = package_ids
        .iter()
        .any(|&pkg| dies.keys().filter(|(p, _)| *p == pkg).count() > 1);
    let mut die_group: BTreeMap<(u32, u32), u32> = BTreeMap::new();
    if multi_die {
        for (&(pkg, die), cpus) in &dies {
            die_group.insert((pkg, die), to_u32(parts.groups.len()));
            parts.groups.push(Group {
                kind: GroupKind::Die,
                os_index: Some(die),
                cpus: cpus.clone(),
            });
        }
    }
    let mut core_index: BTreeMap<(u32, u32, u32), u32> = BTreeMap::new();
    for p in &places {
        let key = (p.package, p.die, p.core_id);
        let core = *core_index.entry(key).or_insert_with(|| {
            parts.cores.push(Core {
                os_index: Some(p.core_id),
                package: to_u32(package_ids.binary_search(&p.package).unwrap_or(0)),
                numa: None,
                cache: None,
                group: die_group.get(&(p.package, p.die)).copied(),
                cpus: CpuSet::new(),
            });
            to_u32(parts.cores.len() - 1)
        });
        // `parts.cpus` is in `present` order, sorted by OS index.
        if let Ok(i) = parts.cpus.binary_search_by_key(&p.os, |c| c.os_index) {
            parts.cpus[i].core = Some(core);
        }
        parts.cores[core as usize].cpus.insert(p.os);
    }

    // L3 caches.
    for p in &places {
        let dir = format!("{CPU_DIR}/cpu{}/cache", p.os);
        for k in numbered(files.list(&dir), "index") {
            let idx = format!("{dir}/index{k}");
            if r.number::<u8>(&format!("{idx}/level"))? != Some(3) {
                continue;
            }
            if r.read(&format!("{idx}/type"))
                .is_some_and(|t| t.trim() == "Instruction")
            {
                continue;
            }
            let Some(cpus) = r.cpulist(&format!("{idx}/shared_cpu_list"))? else {
                continue;
            };
            if parts.caches.iter().any(|c| c.cpus == cpus) {
                continue;
            }
            let size_path = format!("{idx}/size");
            let size_bytes = match r.read(&size_path) {
                Some(t) => parse_size(&t)
                    .ok_or_else(|| r.err(&size_path, format!("{:?} is not a size", t.trim())))?,
                None => 0,
            };
            parts.caches.push(Cache {
                level: 3,
                size_bytes,
                cpus,
            });
        }
    }
    for core in &mut parts.cores {
        core.cache = core.cpus.first().and_then(|cpu| {
            parts
                .caches
                .iter()
                .position(|c| c.cpus.contains(cpu))
                .map(to_u32)
        });
    }

    // ---- NUMA ----
    read_numa(&r, &mut parts, &present)?;
    for core in &mut parts.cores {
        let Some(first) = core.cpus.first() else {
            continue;
        };
        core.numa = parts
            .numa_nodes
            .iter()
            .position(|n| n.cpus.contains(first))
            .map(to_u32);
    }

    // ---- PCI ----
    let nodes = parts.numa_nodes.clone();
    let dense = |os: u32| nodes.iter().position(|n| n.os_index == os).map(to_u32);
    let cpus_of = |i: u32| nodes[i as usize].cpus.clone();
    let scan = pci::scan(&r, &dense, &cpus_of)?;
    parts.pci = scan.nodes;
    parts.devices = scan.devices;

    // The core list of each CPU is rebuilt by `build`.
    for core in &mut parts.cores {
        core.cpus = CpuSet::new();
    }
    parts.build(source)
}

/// NUMA nodes with their CPUs, memory and distances; one node 0 when the kernel has none.
fn read_numa(r: &Reader<'_>, parts: &mut TopologyParts, present: &CpuSet) -> Result<()> {
    let ids = numbered(r.files.list(NODE_DIR), "node");
    let allowed_mems = read_status_list(r, "Mems_allowed_list:")?;
    let allowed = |os: u32| allowed_mems.as_ref().is_none_or(|a| a.contains(os));
    if ids.is_empty() {
        let memory_bytes = r
            .read("/proc/meminfo")
            .and_then(|m| memtotal_kb(&m))
            .map_or(0, |kb| kb.saturating_mul(1024));
        parts.numa_nodes.push(NumaNode {
            os_index: 0,
            kind: MemoryKind::Dram,
            memory_bytes,
            cpus: present.clone(),
            allowed: allowed(0),
        });
        return Ok(());
    }
    let mut rows: Vec<Option<Vec<u32>>> = Vec::new();
    for &os in &ids {
        let dir = format!("{NODE_DIR}/node{os}");
        let cpus = r.cpulist(&format!("{dir}/cpulist"))?.unwrap_or_default();
        let meminfo_path = format!("{dir}/meminfo");
        let memory_bytes = match r.read(&meminfo_path) {
            Some(text) => memtotal_kb(&text)
                .ok_or_else(|| r.err(&meminfo_path, "no readable `MemTotal: N kB` line"))?
                .saturating_mul(1024),
            None => 0,
        };
        let distance_path = format!("{dir}/distance");
        let row = match r.read(&distance_path) {
            Some(text) => Some(
                text.split_whitespace()
                    .map(|w| w.parse::<u32>().ok())
                    .collect::<Option<Vec<u32>>>()
                    .ok_or_else(|| {
                        r.err(
                            &distance_path,
                            format!("{:?} is not a list of numbers", text.trim()),
                        )
                    })?,
            ),
            None => None,
        };
        rows.push(row);
        let kind = if cpus.is_empty() {
            MemoryKind::Unknown
        } else {
            MemoryKind::Dram
        };
        parts.numa_nodes.push(NumaNode {
            os_index: os,
            kind,
            memory_bytes,
            cpus,
            allowed: allowed(os),
        });
    }
    let n = ids.len();
    if rows
        .iter()
        .all(|row| row.as_ref().is_some_and(|v| v.len() == n))
    {
        parts.distances = Some(Distances {
            size: to_u32(n),
            values: rows.into_iter().flatten().flatten().collect(),
        });
    }
    Ok(())
}

/// `MemTotal` in kB from a `/proc/meminfo` or `nodeN/meminfo` text.
fn memtotal_kb(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.contains("MemTotal:"))?;
    let (_, rest) = line.split_once("MemTotal:")?;
    rest.trim().trim_end_matches("kB").trim().parse().ok()
}

/// A `Key: list` line of `/proc/self/status`, when that file is readable.
fn read_status_list(r: &Reader<'_>, key: &str) -> Result<Option<CpuSet>> {
    let Some(text) = r.read("/proc/self/status") else {
        return Ok(None);
    };
    let Some(line) = text.lines().find_map(|l| l.strip_prefix(key)) else {
        return Ok(None);
    };
    CpuSet::parse(line)
        .map(Some)
        .map_err(|e| r.err("/proc/self/status", format!("{key} {e}")))
}

/// The first `model name` of `/proc/cpuinfo`.
fn cpu_model(r: &Reader<'_>) -> Option<String> {
    let text = r.read("/proc/cpuinfo")?;
    text.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}
