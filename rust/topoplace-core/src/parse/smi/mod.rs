//! `nvidia-smi topo -m` and `rocm-smi --showtopo`, optionally combined with a `.host.txt`
//! companion (`nvidia-smi`, `numactl --hardware`, `lscpu`, `nvidia-smi topo -c`, `rocm-smi`).
//!
//! The matrix parsers ([`nvidia`], [`rocm`]) produce a [`Matrix`]: devices, stated links and the
//! OS NUMA ids the matrix gives. [`assemble`] then merges the host facts ([`host`]) and builds the
//! [`TopologyParts`]: NUMA nodes, and with `lscpu` packages, cores and CPUs.

mod host;
mod nvidia;
mod rocm;

use std::collections::BTreeSet;

use crate::error::{Error, Location, Result};
use crate::topology::{
    Core, Cpu, CpuSet, Device, DeviceKind, Link, LinkClass, MemoryKind, NumaNode, Package,
    Topology, TopologyParts, to_u32,
};

use host::HostInfo;

/// Parses `nvidia-smi topo -m` output, optionally combined with a `.host.txt` companion.
///
/// # Errors
/// [`Error::Topology`] naming `source` and the line (and the row/column for a bad cell).
pub fn parse_nvidia(text: &str, host: Option<&str>, source: &str) -> Result<Topology> {
    let matrix = nvidia::parse(text, source)?;
    assemble(matrix, host, source, "nvidia-smi")
}

/// Parses `rocm-smi --showtopo` output, optionally combined with a `.host.txt` companion.
///
/// # Errors
/// [`Error::Topology`] naming `source` and the line.
pub fn parse_rocm(text: &str, host: Option<&str>, source: &str) -> Result<Topology> {
    let matrix = rocm::parse(text, source)?;
    assemble(matrix, host, source, "rocm-smi")
}

/// What a matrix parser found.
#[derive(Debug, Default)]
struct Matrix {
    /// Devices in column order; `numa` is left `None` here (see `numa_os`).
    devices: Vec<Device>,
    /// OS NUMA id of each device, as the matrix states it.
    numa_os: Vec<Option<u32>>,
    /// OS NUMA ids of GPU memory nodes (`GPU NUMA ID` column).
    gpu_memory_numa: Vec<u32>,
    /// Links, `a < b`.
    links: Vec<Link>,
}

fn err_at(source: &str, line: usize, object: Option<String>, message: String) -> Error {
    let mut location = Location::source(source).at_line(line);
    if let Some(object) = object {
        location = location.object(object);
    }
    Error::topology(location, message)
}

/// Parses a CPU list field, naming where it was on error.
fn parse_cpus(text: &str, source: &str, line: usize, object: &str) -> Result<CpuSet> {
    CpuSet::parse(text).map_err(|e| {
        err_at(
            source,
            line,
            Some(object.to_owned()),
            format!("CPU list {text:?} does not parse: {e}"),
        )
    })
}

/// Whether `class` says two devices hang off one NUMA node's PCIe tree.
const fn is_local_pcie(class: LinkClass) -> bool {
    matches!(
        class,
        LinkClass::Pix | LinkClass::Pxb | LinkClass::Phb | LinkClass::Node
    )
}

/// NICs carry no NUMA column: give each the NUMA of the GPUs it is PCIe-local to, when they
/// agree.
fn infer_nic_numa(matrix: &mut Matrix) {
    for nic in 0..matrix.devices.len() {
        if matrix.devices[nic].kind != DeviceKind::Nic || matrix.numa_os[nic].is_some() {
            continue;
        }
        let mut found: BTreeSet<u32> = BTreeSet::new();
        for link in &matrix.links {
            let other = if link.a as usize == nic {
                link.b
            } else if link.b as usize == nic {
                link.a
            } else {
                continue;
            } as usize;
            if matrix.devices[other].kind == DeviceKind::Gpu
                && is_local_pcie(link.class)
                && let Some(n) = matrix.numa_os[other]
            {
                found.insert(n);
            }
        }
        if found.len() == 1 {
            matrix.numa_os[nic] = found.first().copied();
        }
    }
}

/// Merges the matrix with the host facts and builds the topology.
fn assemble(mut matrix: Matrix, host: Option<&str>, source: &str, label: &str) -> Result<Topology> {
    let info = match host {
        Some(text) => host::parse(text, source)?,
        None => HostInfo::default(),
    };
    infer_nic_numa(&mut matrix);

    // NUMA nodes: those the host lists, else those the matrix names.
    let host_nodes = info.numa_ids();
    let mut ids: BTreeSet<u32> = host_nodes.iter().copied().collect();
    for (i, numa) in matrix.numa_os.iter().enumerate() {
        if let Some(n) = *numa {
            if !host_nodes.is_empty() && !host_nodes.contains(&n) {
                return Err(Error::topology(
                    Location::source(source)
                        .object(format!("{} NUMA Affinity", matrix.devices[i].name)),
                    format!(
                        "NUMA node {n} is not among the nodes the host output lists ({host_nodes:?})"
                    ),
                ));
            }
            ids.insert(n);
        }
    }
    let memory_ids: BTreeSet<u32> = matrix
        .gpu_memory_numa
        .iter()
        .copied()
        .filter(|n| !ids.contains(n))
        .collect();

    let mut parts = TopologyParts {
        name: source.rsplit('/').next().unwrap_or(source).to_owned(),
        source: label.to_owned(),
        ..TopologyParts::default()
    };
    for &os in &ids {
        let cpus = match info.numa_cpus(os) {
            Some(cpus) => cpus,
            None => {
                let mut cpus = CpuSet::new();
                for (d, numa) in matrix.devices.iter().zip(&matrix.numa_os) {
                    if *numa == Some(os) && d.kind == DeviceKind::Gpu {
                        cpus.union_with(&d.cpus);
                    }
                }
                cpus
            }
        };
        parts.numa_nodes.push(NumaNode {
            os_index: os,
            kind: MemoryKind::Dram,
            memory_bytes: info.numa_size_bytes(os).unwrap_or(0),
            cpus,
            allowed: true,
        });
    }
    for &os in &memory_ids {
        parts.numa_nodes.push(NumaNode {
            os_index: os,
            kind: MemoryKind::GpuMemory,
            memory_bytes: 0,
            cpus: CpuSet::new(),
            allowed: true,
        });
    }
    parts.distances = info.distances_for(&parts.numa_nodes);

    // Devices, with what the host output says about each GPU.
    for (i, mut device) in matrix.devices.into_iter().enumerate() {
        device.numa = matrix.numa_os[i].and_then(|n| parts.numa_by_os(n));
        if device.kind == DeviceKind::Gpu {
            let index = device
                .name
                .strip_prefix("GPU")
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(gpu) = index.and_then(|x| info.gpus.get(&x)) {
                if gpu.model.is_some() {
                    device.model.clone_from(&gpu.model);
                }
                if gpu.bus_id.is_some() {
                    device.bus_id.clone_from(&gpu.bus_id);
                }
                if gpu.memory_bytes.is_some() {
                    device.memory_bytes = gpu.memory_bytes;
                }
                for &cpu in &gpu.affine_cpus {
                    device.cpus.insert(cpu);
                }
            }
        }
        parts.devices.push(device);
    }
    parts.links = matrix.links;

    add_cpus(&mut parts, &info, source)?;
    parts.build(source)
}

/// Packages, cores and CPUs from `lscpu` (and the NUMA CPU lists to check the SMT enumeration);
/// with only `numactl`, CPUs without a known core.
fn add_cpus(parts: &mut TopologyParts, info: &HostInfo, source: &str) -> Result<()> {
    let Some(lscpu) = &info.lscpu else {
        let mut all = CpuSet::new();
        for node in &parts.numa_nodes {
            all.union_with(&node.cpus);
        }
        if info.numa_ids().is_empty() {
            return Ok(());
        }
        parts.cpus = all
            .iter()
            .map(|os_index| Cpu {
                os_index,
                core: None,
                online: true,
                allowed: true,
            })
            .collect();
        return Ok(());
    };
    let (Some(sockets), Some(per_socket), Some(threads)) = (
        lscpu.sockets,
        lscpu.cores_per_socket,
        lscpu.threads_per_core,
    ) else {
        return Ok(());
    };
    let bad = |message: String| Error::topology(Location::source(source).object("lscpu"), message);
    let cores = u64::from(sockets) * u64::from(per_socket);
    let total = cores * u64::from(threads);
    if sockets == 0 || per_socket == 0 || threads == 0 || total > 1 << 16 {
        return Err(bad(format!(
            "implausible CPU counts: {sockets} sockets x {per_socket} cores x {threads} threads"
        )));
    }
    if let Some(n) = lscpu.cpus.filter(|&n| u64::from(n) != total) {
        return Err(bad(format!(
            "CPU(s) is {n} but sockets x cores x threads is {total}"
        )));
    }
    let (cores, total) = (cores as u32, total as u32);
    // Linux x86 enumeration: CPU i and i + cores are SMT siblings. Some firmware numbers
    // siblings next to each other instead; take whichever keeps every core in one NUMA node.
    let spread = |cpu: u32| cpu % cores;
    let adjacent = |cpu: u32| cpu / threads;
    let core_of: &dyn Fn(u32) -> u32 =
        if threads == 1 || keeps_cores_whole(parts, cores, total, &spread) {
            &spread
        } else if keeps_cores_whole(parts, cores, total, &adjacent) {
            &adjacent
        } else {
            return Err(bad(
                "the NUMA CPU lists split a core whichever way SMT siblings are numbered".into(),
            ));
        };
    for p in 0..sockets {
        parts.packages.push(Package {
            os_index: p,
            model: lscpu.model.clone(),
            cpus: CpuSet::new(),
        });
    }
    for c in 0..cores {
        parts.cores.push(Core {
            os_index: Some(c % per_socket),
            package: c / per_socket,
            numa: None,
            cache: None,
            group: None,
            cpus: CpuSet::new(),
        });
    }
    let online = lscpu.online.clone();
    for cpu in 0..total {
        parts.cpus.push(Cpu {
            os_index: cpu,
            core: Some(core_of(cpu)),
            online: online.as_ref().is_none_or(|set| set.contains(cpu)),
            allowed: true,
        });
    }
    Ok(())
}

/// A link between devices `a` and `b` in canonical order.
fn link(a: usize, b: usize, class: LinkClass, count: u32) -> Link {
    Link {
        a: to_u32(a.min(b)),
        b: to_u32(a.max(b)),
        class,
        count,
    }
}

/// Whether numbering cores with `core_of` keeps every core's CPUs inside one NUMA node.
fn keeps_cores_whole(
    parts: &TopologyParts,
    cores: u32,
    total: u32,
    core_of: &dyn Fn(u32) -> u32,
) -> bool {
    let mut node_of_core: Vec<Option<Option<usize>>> = vec![None; cores as usize];
    for cpu in 0..total {
        let node = parts.numa_nodes.iter().position(|n| n.cpus.contains(cpu));
        let Some(slot) = node_of_core.get_mut(core_of(cpu) as usize) else {
            return false;
        };
        match slot {
            None => *slot = Some(node),
            Some(seen) if *seen == node => {}
            Some(_) => return false,
        }
    }
    true
}
