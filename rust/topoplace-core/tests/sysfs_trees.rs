//! The sysfs reader on the generated fixture trees in `tests/data/sysfs` (see
//! `make_fixtures.py` there for what each models), on corrupt trees, and on this machine.

use std::fs;
use std::path::{Path, PathBuf};

use topoplace_core::parse::sysfs::{self, FileSource};
use topoplace_core::topology::{DeviceKind, LinkClass, PciKind};
use topoplace_core::{Error, Topology};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/sysfs");

/// A [`FileSource`] over a directory standing for `/`.
struct DirSource {
    root: PathBuf,
}

impl DirSource {
    fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

impl FileSource for DirSource {
    fn read(&self, path: &str) -> Option<String> {
        fs::read_to_string(self.path(path)).ok()
    }

    fn list(&self, dir: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(dir))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn link(&self, path: &str) -> Option<String> {
        fs::read_link(self.path(path))
            .ok()
            .and_then(|t| t.into_os_string().into_string().ok())
    }
}

fn tree(name: &str) -> Topology {
    let source = DirSource::new(Path::new(DIR).join(name));
    sysfs::parse(&source, name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn device(topo: &Topology, name: &str) -> u32 {
    topo.devices()
        .iter()
        .position(|d| d.name == name)
        .unwrap_or_else(|| panic!("no device {name}: {:?}", topo.devices())) as u32
}

fn numa_os(topo: &Topology, dev: u32) -> Option<u32> {
    topo.devices()[dev as usize]
        .numa
        .map(|n| topo.numa_nodes()[n as usize].os_index)
}

#[test]
fn gpu_2s_4gpu_2nic() {
    let topo = tree("gpu-2s-4gpu-2nic");
    let s = topo.summary();
    assert_eq!(
        (
            s.packages,
            s.numa_nodes,
            s.cores,
            s.cpus,
            s.cpus_online,
            s.cpus_offline
        ),
        (2, 2, 64, 64, 64, 0)
    );
    assert_eq!((s.gpus, s.nics), (4, 4));
    assert_eq!(s.memory_bytes, (193_129 + 193_477) << 20);
    assert_eq!(topo.numa_nodes()[1].cpus.to_list_string(), "32-63");
    assert_eq!(topo.distances().unwrap().values, vec![10, 32, 32, 10]);
    // 16 CCDs of 4 cores share an L3 of 32 MiB
    assert_eq!(topo.caches().len(), 16);
    assert_eq!(topo.caches()[0].size_bytes, 32 << 20);
    assert_eq!(topo.caches()[15].cpus.to_list_string(), "60-63");
    assert_eq!(topo.cores()[5].cache, Some(1));
    assert_eq!(topo.numa_of_cpu(40), Some(1));

    // GPUs: the four NVIDIA VGA functions; the ASPEED VGA is not a GPU
    let gpus: Vec<&str> = topo
        .devices_of(DeviceKind::Gpu)
        .map(|g| topo.devices()[g as usize].bus_id.as_deref().unwrap())
        .collect();
    assert_eq!(
        gpus,
        [
            "0000:01:00.0",
            "0000:41:00.0",
            "0000:c1:00.0",
            "0000:e1:00.0"
        ]
    );
    let g0 = device(&topo, "pci:0000:01:00.0");
    let g1 = device(&topo, "pci:0000:41:00.0");
    let g2 = device(&topo, "pci:0000:c1:00.0");
    assert_eq!(numa_os(&topo, g0), Some(0));
    assert_eq!(numa_os(&topo, g2), Some(1));
    assert_eq!(
        topo.devices()[g0 as usize].vendor.as_deref(),
        Some("NVIDIA")
    );
    assert_eq!(topo.devices()[g2 as usize].cpus.to_list_string(), "32-63");

    // NICs: RDMA names, netdevs as aliases
    let m0 = device(&topo, "mlx5_0");
    let m1 = device(&topo, "mlx5_1");
    let m3 = device(&topo, "mlx5_3");
    assert_eq!(topo.devices()[m0 as usize].aliases, vec!["ens33f0np0"]);
    assert_eq!(
        topo.devices()[m3 as usize].bus_id.as_deref(),
        Some("0000:a1:00.1")
    );
    assert_eq!(numa_os(&topo, m0), Some(0));
    assert_eq!(numa_os(&topo, m3), Some(1));

    // The PCIe classes of the published `nvidia-smi topo -m` matrix of this machine
    assert_eq!(topo.link_class(g0, g1), Some(LinkClass::Node));
    assert_eq!(topo.link_class(g0, g2), Some(LinkClass::Sys));
    assert_eq!(topo.link_class(m0, m1), Some(LinkClass::Pix));
    assert_eq!(topo.link_class(g0, m0), Some(LinkClass::Node));
    assert_eq!(topo.link_class(g2, m3), Some(LinkClass::Node));
    assert_eq!(topo.link_class(g0, m3), Some(LinkClass::Sys));

    // PCI tree: host bridges, root ports and the ASPEED bridge are bridges
    let kind = |addr: &str| topo.pci().iter().find(|p| p.address == addr).unwrap().kind;
    assert_eq!(kind("0000:c0"), PciKind::HostBridge);
    assert_eq!(kind("0000:c0:05.2"), PciKind::Bridge);
    assert_eq!(kind("0000:c2:00.0"), PciKind::Bridge);
    assert_eq!(kind("0000:c3:00.0"), PciKind::Function);
    let vga = topo
        .pci()
        .iter()
        .find(|p| p.address == "0000:c3:00.0")
        .unwrap();
    assert_eq!((vga.class_id, vga.vendor_id), (0x0300, 0x1a03));
    let hb = topo.pci().iter().find(|p| p.address == "0000:e0").unwrap();
    assert_eq!(hb.numa, topo.numa_by_os(1));
}

#[test]
fn snc2_2s() {
    let topo = tree("snc2-2s");
    let s = topo.summary();
    assert_eq!(
        (s.packages, s.numa_nodes, s.cores, s.cpus, s.cpus_online),
        (2, 4, 40, 80, 80)
    );
    assert_eq!((s.gpus, s.nics), (0, 2));
    // SMT siblings i and i+40; sparse Skylake core ids
    assert_eq!(topo.cpu(3).unwrap().core, topo.cpu(43).unwrap().core);
    let core = &topo.cores()[topo.cpu(19).unwrap().core.unwrap() as usize];
    assert_eq!((core.os_index, core.package), (Some(28), 0));
    assert_eq!(core.cpus.to_list_string(), "19,59");
    // 2 NUMA nodes per package
    assert_eq!(topo.numa_nodes()[1].cpus.to_list_string(), "10-19,50-59");
    assert_eq!(topo.numa_of_cpu(25), Some(2));
    assert_eq!(topo.numa_of_cpu(79), Some(3));
    let d = topo.distances().unwrap();
    assert_eq!(
        (d.get(0, 0), d.get(0, 1), d.get(0, 2), d.get(2, 3)),
        (10, 11, 21, 11)
    );
    assert_eq!(topo.caches().len(), 2);
    assert_eq!(topo.caches()[1].size_bytes, 28_160 << 10);
    assert_eq!(topo.packages()[1].cpus.to_list_string(), "20-39,60-79");
    // NICs: one on node 0, one whose numa_node is -1
    let eno1 = device(&topo, "eno1");
    let eno2 = device(&topo, "eno2");
    assert_eq!(numa_os(&topo, eno1), Some(0));
    assert_eq!(numa_os(&topo, eno2), None);
    assert_eq!(
        topo.devices()[eno1 as usize].cpus.to_list_string(),
        "0-9,40-49"
    );
    assert_eq!(topo.link_class(eno1, eno2), Some(LinkClass::Pix));
}

#[test]
fn offline_4s() {
    let topo = tree("offline-4s");
    let s = topo.summary();
    assert_eq!(
        (
            s.packages,
            s.numa_nodes,
            s.cores,
            s.cpus,
            s.cpus_online,
            s.cpus_offline
        ),
        (4, 1, 5, 7, 7, 9)
    );
    assert_eq!(topo.all_cpus().len(), 16);
    assert_eq!(topo.usable_cpus().to_list_string(), "0-2,4,6,8,14");
    let cpu5 = topo.cpu(5).unwrap();
    assert!(!cpu5.online);
    assert_eq!(cpu5.core, None);
    // siblings 6 and 14 are one core of package 3
    let core = topo.cpu(6).unwrap().core.unwrap();
    assert_eq!(topo.cpu(14).unwrap().core, Some(core));
    assert_eq!(
        topo.packages()[topo.cores()[core as usize].package as usize].os_index,
        3
    );
    // no node directory: one node 0 with every CPU
    assert_eq!(topo.numa_nodes()[0].os_index, 0);
    assert_eq!(topo.numa_nodes()[0].cpus.len(), 16);
    assert!(topo.distances().is_none());
    assert_eq!(topo.numa_of_cpu(14), Some(0));
    assert!(topo.devices().is_empty() && topo.caches().is_empty());
}

// ---------- errors on corrupt copies ----------

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A fresh copy of fixture `name` in a temporary directory, removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn new(name: &str, tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "topoplace-sysfs-{}-{name}-{tag}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        copy_tree(&Path::new(DIR).join(name), &dir);
        Self(dir)
    }

    fn write(&self, path: &str, text: &str) {
        fs::write(self.0.join(path.trim_start_matches('/')), text).unwrap();
    }

    fn parse(&self) -> Result<Topology, Error> {
        sysfs::parse(&DirSource::new(&self.0), "corrupt")
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn object_of(err: Error) -> (String, String) {
    match err {
        Error::Topology { location, message } => {
            assert_eq!(location.source, "corrupt");
            (location.object.unwrap_or_default(), message)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_device_on_missing_node() {
    let t = TempTree::new("snc2-2s", "numa");
    t.write("/sys/bus/pci/devices/0000:3d:00.0/numa_node", "7\n");
    let (object, message) = object_of(t.parse().unwrap_err());
    assert_eq!(object, "/sys/bus/pci/devices/0000:3d:00.0/numa_node");
    assert!(message.contains("numa_node 7"), "{message}");
}

#[test]
fn error_unparseable_files() {
    let cases = [
        ("/sys/devices/system/cpu/online", "0-3,x\n"),
        ("/sys/devices/system/cpu/cpu3/topology/core_id", "three\n"),
        ("/sys/devices/system/node/node1/cpulist", "10-5\n"),
        ("/sys/devices/system/node/node2/distance", "21 21 ten 11\n"),
        ("/sys/devices/system/node/node0/meminfo", "garbage\n"),
        ("/sys/devices/system/cpu/cpu0/cache/index3/size", "lots\n"),
        ("/sys/bus/pci/devices/0000:3d:00.1/class", "0xzz\n"),
    ];
    for (i, (path, text)) in cases.iter().enumerate() {
        let t = TempTree::new("snc2-2s", &i.to_string());
        t.write(path, text);
        let (object, _) = object_of(t.parse().unwrap_err());
        assert_eq!(&object, path);
    }
}

#[test]
fn asymmetric_distances_are_rejected() {
    let t = TempTree::new("snc2-2s", "asym");
    t.write("/sys/devices/system/node/node0/distance", "10 12 21 21\n");
    let (object, _) = object_of(t.parse().unwrap_err());
    assert_eq!(object, "distances");
}

#[test]
fn missing_files_are_tolerated() {
    let t = TempTree::new("gpu-2s-4gpu-2nic", "missing");
    fs::remove_file(t.0.join("sys/devices/system/cpu/present")).unwrap();
    fs::remove_file(t.0.join("sys/devices/system/node/node0/distance")).unwrap();
    fs::remove_dir_all(t.0.join("sys/class")).unwrap();
    let topo = t.parse().unwrap();
    assert_eq!(topo.summary().cpus, 64);
    assert!(topo.distances().is_none());
    assert!(topo.devices().iter().any(|d| d.name == "pci:0000:21:00.1"));
}

#[test]
fn empty_tree_is_an_error() {
    let dir = std::env::temp_dir().join(format!("topoplace-sysfs-{}-empty", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    assert!(sysfs::parse(&DirSource::new(&dir), "corrupt").is_err());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn this_machine() {
    if !Path::new("/sys/devices/system/cpu").exists() {
        return;
    }
    let topo = sysfs::parse(&DirSource::new("/"), "sysfs").unwrap();
    let s = topo.summary();
    assert!(s.cpus_online >= 1, "{s:?}");
    assert!(s.numa_nodes >= 1);
    assert!(!topo.usable_cpus().is_empty());
    // a PCI network interface (virtio, eth0 here) becomes a NIC under its netdev name
    for entry in fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().into_string().unwrap_or_default();
        let pci = fs::read_link(entry.path()).is_ok_and(|t| t.to_string_lossy().contains("/pci"));
        if pci {
            let nic = topo.devices().iter().find(|d| d.name == name);
            assert_eq!(nic.map(|d| d.kind), Some(DeviceKind::Nic), "{name}");
        }
    }
}
