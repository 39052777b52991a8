//! The hwloc XML parser on the 20 real hwloc files of `tests/data/hwloc/` (hwloc's own test
//! suite, BSD-3-Clause): exact counts from the data README, deep facts (memory kinds, allowed
//! sets, sparse indexes, distances, NVLink, PCI paths, locality, L3 groups), error reporting, and
//! a property test that corrupted files give `Ok` or `Err`, never a panic.

use std::path::PathBuf;

use proptest::prelude::*;
use topoplace_core::error::Error;
use topoplace_core::parse::hwloc::parse;
use topoplace_core::topology::{DeviceKind, GroupKind, LinkClass, MemoryKind, Topology};

fn data_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/data/hwloc"
    ))
}

fn read(name: &str) -> String {
    let path = data_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(name: &str) -> Topology {
    parse(&read(name), name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// file, packages, NUMA, cores, PUs, GPUs, NICs, distances (README of tests/data/hwloc).
type Row = (&'static str, usize, usize, usize, usize, usize, usize, bool);

const EXPECTED: &[Row] = &[
    ("128arm-2pa2n8cluster4co.xml", 2, 4, 128, 128, 0, 0, true),
    ("16em64t-4s2c2t-offlines.xml", 4, 1, 6, 7, 0, 0, false),
    ("16intel64-manyVFs.xml", 2, 2, 16, 16, 0, 18, false),
    ("192em64t-24n8c2t.xml", 24, 24, 192, 384, 0, 7, true),
    ("256ppc-8n8s4t.xml", 64, 8, 64, 256, 0, 0, true),
    ("2i386-2c-nohugepage.xml", 1, 1, 2, 2, 0, 0, false),
    (
        "32em64t-2n8c+dax+nvme+mic+dimms.xml",
        2,
        2,
        16,
        16,
        1,
        3,
        true,
    ),
    ("32em64t-2n8c2t-pci-normalio.xml", 2, 2, 16, 32, 4, 3, true),
    ("32intel64-2p8co2t+8ve.xml", 2, 2, 16, 32, 8, 4, true),
    ("40intel64-2g2n4c+pcilocality.xml", 4, 4, 40, 40, 0, 5, true),
    ("48amd64-4pa2n6c-sparse.v1.xml", 4, 8, 48, 48, 0, 0, true),
    ("64amd64-4p2n4ca2co.xml", 4, 8, 64, 64, 0, 0, true),
    ("64intel64-heteromem.xml", 1, 8, 16, 64, 0, 0, false),
    ("AMD-19h-Zen4-2xEpyc-9654.xml", 2, 1, 192, 384, 0, 0, false),
    ("cxlmem+dax.v3.xml", 1, 1, 4, 4, 0, 1, false),
    ("irregulargroups-disallowed.xml", 8, 8, 64, 64, 2, 2, true),
    ("memorysidecaches.xml", 2, 4, 40, 80, 0, 0, true),
    ("nvidia-dgx-gb10.xml", 1, 1, 20, 20, 0, 0, false),
    ("nvidiaDGX2.xml", 2, 2, 4, 4, 16, 0, true),
    ("nvidiagpunumanodes-kept.xml", 2, 8, 8, 32, 6, 0, true),
];

#[test]
fn every_file_matches_the_readme_counts() {
    let mut files: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), EXPECTED.len(), "{files:?}");
    let mut failures = Vec::new();
    for &(file, packages, numa, cores, cpus, gpus, nics, distances) in EXPECTED {
        assert!(files.iter().any(|f| f == file), "{file} missing");
        let s = load(file).summary();
        let got = (
            s.packages,
            s.numa_nodes,
            s.cores,
            s.cpus,
            s.gpus,
            s.nics,
            s.has_distances,
        );
        let want = (packages, numa, cores, cpus, gpus, nics, distances);
        if got != want {
            failures.push(format!("{file}: got {got:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_round_trip_keeps_every_file() {
    for &(file, ..) in EXPECTED {
        let topo = load(file);
        let back = Topology::from_json(&topo.to_json(), file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, topo, "{file}");
    }
}

#[test]
fn memory_kinds_and_sizes() {
    let heteromem = load("64intel64-heteromem.xml");
    let count = |t: &Topology, kind| t.numa_nodes().iter().filter(|n| n.kind == kind).count();
    assert_eq!(count(&heteromem, MemoryKind::Hbm), 4);
    assert_eq!(count(&heteromem, MemoryKind::Dram), 4);
    // HBM nodes carry the locality of their DRAM neighbour but never capture a core.
    for core in heteromem.cores() {
        let numa = core.numa.unwrap_or_else(|| panic!("core without NUMA"));
        assert_eq!(heteromem.numa_nodes()[numa as usize].kind, MemoryKind::Dram);
    }
    assert_eq!(
        heteromem.summary().memory_bytes,
        4 * (1 << 30) + 4 * (2 << 30)
    );

    let gpu_numa = load("nvidiagpunumanodes-kept.xml");
    assert_eq!(count(&gpu_numa, MemoryKind::GpuMemory), 6);
    assert!(
        gpu_numa
            .numa_nodes()
            .iter()
            .filter(|n| n.kind == MemoryKind::GpuMemory)
            .all(|n| n.memory_bytes == 16_106_127_360)
    );
    let os: Vec<u32> = gpu_numa.numa_nodes().iter().map(|n| n.os_index).collect();
    assert_eq!(os, [0, 8, 250, 251, 252, 253, 254, 255]);
    assert_eq!(gpu_numa.all_cpus().to_list_string(), "0-15,88-103");

    let sidecache = load("memorysidecaches.xml");
    let total: u64 = 397_816_131_584 + 399_527_780_352 + 399_527_772_160 + 399_526_719_488;
    assert_eq!(sidecache.summary().memory_bytes, total);
    assert_eq!(count(&sidecache, MemoryKind::Dram), 4);

    let zen4 = load("AMD-19h-Zen4-2xEpyc-9654.xml");
    assert_eq!(zen4.summary().memory_bytes, 0);
}

#[test]
fn allowed_offline_and_sparse() {
    let disallowed = load("irregulargroups-disallowed.xml");
    let s = disallowed.summary();
    assert_eq!((s.cpus, s.cpus_allowed, s.cpus_offline), (64, 16, 0));
    assert_eq!(
        disallowed.numa_nodes().iter().filter(|n| n.allowed).count(),
        2
    );
    assert_eq!(disallowed.usable_cpus().len(), 16);

    let offlines = load("16em64t-4s2c2t-offlines.xml");
    let s = offlines.summary();
    assert_eq!(
        (s.cpus, s.cpus_online, s.cpus_offline, s.cpus_allowed),
        (7, 7, 9, 7)
    );
    assert_eq!(offlines.all_cpus().len(), 16);
    let cpu2 = offlines.cpu(2).unwrap_or_else(|| panic!("cpu 2 missing"));
    assert!(!cpu2.online && cpu2.core.is_none());
    assert_eq!(offlines.usable_cpus().to_list_string(), "0-1,3-4,6,12,15");
    // Core 1 of package 0 has two PUs (4 and 12).
    let pkg0 = &offlines.packages()[0];
    assert_eq!(pkg0.cpus.to_list_string(), "0,4,12");

    let v1 = load("48amd64-4pa2n6c-sparse.v1.xml");
    let os: Vec<u32> = v1.numa_nodes().iter().map(|n| n.os_index).collect();
    assert_eq!(os, [0, 1, 2, 33, 34, 45, 72, 73]);
    assert_eq!(v1.source(), "hwloc-xml-1.x");
    assert_eq!(v1.numa_of_cpu(18), v1.numa_by_os(33));
    assert_eq!(v1.caches().len(), 8);
    assert_eq!(
        v1.packages()[0].model.as_deref(),
        Some("AMD Engineering Sample")
    );
}

#[test]
fn distances() {
    let v1 = load("48amd64-4pa2n6c-sparse.v1.xml");
    let d = v1.distances().unwrap_or_else(|| panic!("no distances"));
    assert_eq!(d.size, 8);
    assert_eq!(&d.values[..8], &[10, 16, 16, 22, 16, 22, 16, 22]);

    let arm = load("128arm-2pa2n8cluster4co.xml");
    let d = arm.distances().unwrap_or_else(|| panic!("no distances"));
    assert_eq!(
        d.values,
        [
            10, 16, 32, 33, 16, 10, 25, 32, 32, 25, 10, 16, 33, 32, 16, 10
        ]
    );

    // Indexed by OS number (0, 8, 250...) and stored in dense order.
    let gpu_numa = load("nvidiagpunumanodes-kept.xml");
    let d = gpu_numa
        .distances()
        .unwrap_or_else(|| panic!("no distances"));
    assert_eq!(&d.values[..8], &[10, 40, 80, 80, 80, 80, 80, 80]);
    assert_eq!(d.get(2, 2), 10);

    let uv = load("192em64t-24n8c2t.xml");
    let d = uv.distances().unwrap_or_else(|| panic!("no distances"));
    assert_eq!(d.size, 24);
    assert_eq!(d.get(0, 1), 50);
    let mut distinct: Vec<u32> = d.values.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct, [10, 50, 65, 79]);
}

#[test]
fn caches_and_groups() {
    let zen4 = load("AMD-19h-Zen4-2xEpyc-9654.xml");
    assert_eq!(zen4.caches().len(), 24);
    for (i, cache) in zen4.caches().iter().enumerate() {
        assert_eq!(cache.level, 3);
        assert_eq!(cache.size_bytes, 32 << 20);
        let cores = zen4
            .cores()
            .iter()
            .filter(|c| c.cache == Some(i as u32))
            .count();
        assert_eq!(cores, 8, "L3 {i}");
        assert_eq!(cache.cpus.len(), 16);
    }
    let dies = zen4
        .groups()
        .iter()
        .filter(|g| g.kind == GroupKind::Die)
        .count();
    assert_eq!(dies, 24);
    assert!(zen4.cores().iter().all(|c| c.group.is_some()));

    let arm = load("128arm-2pa2n8cluster4co.xml");
    let clusters = arm
        .groups()
        .iter()
        .filter(|g| g.kind == GroupKind::Cluster)
        .count();
    assert_eq!(clusters, 32);
    assert!(arm.groups().iter().all(|g| g.cpus.len() == 4));

    let small = load("2i386-2c-nohugepage.xml");
    assert!(small.caches().is_empty(), "no L3 on this machine");
    assert_eq!(
        small.packages()[0].model.as_deref(),
        Some("Intel(R) Xeon(R) CPU            5130  @ 2.00GHz")
    );
}

fn device(topo: &Topology, name: &str) -> u32 {
    topo.devices()
        .iter()
        .position(|d| d.name == name)
        .unwrap_or_else(|| panic!("no device {name}")) as u32
}

#[test]
fn devices_locality_and_pci_paths() {
    let t = load("32em64t-2n8c2t-pci-normalio.xml");
    let node0 = t.numa_by_os(0);
    let node1 = t.numa_by_os(1);
    let gpus: Vec<(String, Option<u32>)> = t
        .devices_of(DeviceKind::Gpu)
        .map(|i| {
            let d = &t.devices()[i as usize];
            (d.name.clone(), d.numa)
        })
        .collect();
    assert_eq!(
        gpus,
        [
            ("pci:0000:03:00.0".to_owned(), node0),
            ("pci:0000:83:00.0".to_owned(), node1),
            ("cuda0".to_owned(), node1),
            ("opencl0d1".to_owned(), node1),
        ]
    );
    let cuda0 = device(&t, "cuda0");
    let d = &t.devices()[cuda0 as usize];
    assert_eq!(d.aliases, ["card0"]);
    assert_eq!(d.bus_id.as_deref(), Some("0000:84:00.0"));
    assert_eq!(d.model.as_deref(), Some("Tesla K40m"));
    assert_eq!(d.memory_bytes, Some(11_796_032 * 1024));
    assert_eq!(d.cpus.to_list_string(), "8-15,24-31");
    let ib0 = device(&t, "ib0");
    assert_eq!(t.devices()[ib0 as usize].aliases, ["mlx5_0"]);
    let (eth0, eth1) = (device(&t, "eth0"), device(&t, "eth1"));
    let opencl = device(&t, "opencl0d1");
    let gpu03 = device(&t, "pci:0000:03:00.0");
    let gpu83 = device(&t, "pci:0000:83:00.0");
    assert_eq!(t.link_class(eth0, eth1), Some(LinkClass::Pix));
    assert_eq!(t.link_class(cuda0, opencl), Some(LinkClass::Pix));
    assert_eq!(t.link_class(gpu83, cuda0), Some(LinkClass::Phb));
    assert_eq!(t.link_class(gpu03, cuda0), Some(LinkClass::Sys));

    // The VGA BMC chip (Matrox, class 0300) is neither a GPU nor a NIC.
    assert!(
        t.devices()
            .iter()
            .all(|d| d.bus_id.as_deref() != Some("0000:05:03.0"))
    );

    let uv = load("192em64t-24n8c2t.xml");
    let ib0 = device(&uv, "ib0");
    assert_eq!(uv.devices()[ib0 as usize].aliases, ["mlx4_0"]);

    let mic = load("32em64t-2n8c+dax+nvme+mic+dimms.xml");
    let phi = mic
        .devices_of(DeviceKind::Gpu)
        .next()
        .unwrap_or_else(|| panic!("no GPU"));
    let phi_pci = mic.devices()[phi as usize]
        .pci
        .unwrap_or_else(|| panic!("no PCI"));
    assert_eq!(mic.pci()[phi_pci as usize].class_id, 0x0b40);

    let ve = load("32intel64-2p8co2t+8ve.xml");
    let names: Vec<&str> = ve
        .devices_of(DeviceKind::Gpu)
        .map(|i| ve.devices()[i as usize].name.as_str())
        .collect();
    assert_eq!(
        names,
        ["ve0", "ve1", "ve2", "ve3", "ve4", "ve5", "ve6", "ve7"]
    );
}

#[test]
fn nvswitch_links_on_dgx2() {
    let t = load("nvidiaDGX2.xml");
    let gpus: Vec<u32> = t.devices_of(DeviceKind::Gpu).collect();
    assert_eq!(gpus.len(), 16);
    assert_eq!(t.devices_of(DeviceKind::Switch).count(), 12);
    for (i, &a) in gpus.iter().enumerate() {
        for &b in &gpus[i + 1..] {
            assert_eq!(t.link_class(a, b), Some(LinkClass::NvSwitch), "{a}-{b}");
        }
    }
    assert_eq!(t.links().len(), 16 * 15 / 2);
    assert!(t.links().iter().all(|l| l.count == 6 && l.a < l.b));
    // PCIe locality still known: nvml0 is on NUMA node 0, nvml8 on node 1.
    let nvml0 = device(&t, "nvml0");
    let nvml8 = device(&t, "nvml8");
    assert_eq!(t.devices()[nvml0 as usize].numa, t.numa_by_os(0));
    assert_eq!(t.devices()[nvml8 as usize].numa, t.numa_by_os(1));
    assert_eq!(t.pci_path_class(nvml0, nvml8), Some(LinkClass::Sys));
    assert_eq!(
        t.devices()[nvml0 as usize].model.as_deref(),
        Some("Tesla V100-SXM3-32GB-H")
    );
}

// ---- errors ----

fn parse_error(text: &str, source: &str) -> String {
    match parse(text, source) {
        Err(e @ Error::Topology { .. }) => e.to_string(),
        Err(e) => panic!("wrong error kind: {e}"),
        Ok(_) => panic!("{source}: parsed without error"),
    }
}

const SMALL: &str = "2i386-2c-nohugepage.xml";

#[test]
fn truncated_file() {
    let text = read(SMALL);
    let cut = &text[..text.len() * 2 / 3];
    let m = parse_error(cut, SMALL);
    assert!(m.starts_with("2i386-2c-nohugepage.xml:"), "{m}");
    assert!(m.contains("truncated") || m.contains("malformed"), "{m}");
}

#[test]
fn malformed_xml() {
    let text = read(SMALL).replace("</object>\n    </object>", "</objet>\n    </object>");
    let m = parse_error(&text, SMALL);
    assert!(m.starts_with("2i386-2c-nohugepage.xml:"), "{m}");
    assert!(m.contains("malformed XML"), "{m}");
    let text = read(SMALL).replace(
        "<object type=\"Core\" os_index=\"1\"",
        "<object type=\"Core\" <os_index=\"1\"",
    );
    let m = parse_error(&text, SMALL);
    assert!(m.starts_with("2i386-2c-nohugepage.xml:"), "{m}");
}

#[test]
fn unknown_version() {
    let text = read(SMALL).replace("version=\"3.0\"", "version=\"9.0\"");
    let m = parse_error(&text, SMALL);
    assert!(
        m.starts_with("2i386-2c-nohugepage.xml:3: <topology> version"),
        "{m}"
    );
    assert!(m.contains("9.0"), "{m}");
}

#[test]
fn pu_listed_twice() {
    let text = read(SMALL).replace(
        "<object type=\"PU\" os_index=\"1\"",
        "<object type=\"PU\" os_index=\"0\"",
    );
    let m = parse_error(&text, SMALL);
    assert!(
        m.starts_with("2i386-2c-nohugepage.xml:30: object[type=PU] os_index"),
        "{m}"
    );
    assert!(m.contains("listed twice"), "{m}");
}

#[test]
fn bad_cpuset_and_numbers() {
    let text = read(SMALL).replace("cpuset=\"0x00000002\"", "cpuset=\"0xnothex\"");
    let m = parse_error(&text, SMALL);
    assert!(m.starts_with("2i386-2c-nohugepage.xml:"), "{m}");
    assert!(m.contains("cpuset"), "{m}");
    let text = read(SMALL).replace("local_memory=\"2125238272\"", "local_memory=\"lots\"");
    let m = parse_error(&text, SMALL);
    assert!(
        m.starts_with("2i386-2c-nohugepage.xml:21: object[type=NUMANode] local_memory"),
        "{m}"
    );
    let text = read(SMALL).replace("os_index=\"1\" cpuset", "os_index=\"99999999999\" cpuset");
    let m = parse_error(&text, SMALL);
    assert!(m.contains("os_index"), "{m}");
}

#[test]
fn bad_distances() {
    let name = "32em64t-2n8c2t-pci-normalio.xml";
    let text = read(name).replace(">10 20 20 10 <", ">10 20 20 <");
    let m = parse_error(&text, name);
    assert!(
        m.starts_with("32em64t-2n8c2t-pci-normalio.xml:267: <distances2>"),
        "{m}"
    );
    let text = read(name).replace(
        "<indexes length=\"4\">0 1 </indexes>",
        "<indexes>0 5</indexes>",
    );
    let m = parse_error(&text, name);
    assert!(m.contains("does not exist"), "{m}");
}

// ---- robustness ----

const FUZZ_FILES: &[&str] = &[
    "2i386-2c-nohugepage.xml",
    "16em64t-4s2c2t-offlines.xml",
    "cxlmem+dax.v3.xml",
    "32em64t-2n8c2t-pci-normalio.xml",
    "nvidiaDGX2.xml",
    "nvidiagpunumanodes-kept.xml",
    "48amd64-4pa2n6c-sparse.v1.xml",
];

#[derive(Debug, Clone)]
enum Corruption {
    Truncate(usize),
    DeleteLine(usize),
    DuplicateLine(usize),
    Garbage(usize, String),
}

fn corrupt(text: &str, how: &Corruption) -> String {
    match how {
        Corruption::Truncate(at) => {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text[..at].to_owned()
        }
        Corruption::DeleteLine(n) | Corruption::DuplicateLine(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let n = n % lines.len().max(1);
            let mut out = Vec::with_capacity(lines.len() + 1);
            for (i, line) in lines.iter().enumerate() {
                if i != n || matches!(how, Corruption::DuplicateLine(_)) {
                    out.push(*line);
                }
                if i == n && matches!(how, Corruption::DuplicateLine(_)) {
                    out.push(*line);
                }
            }
            out.join("\n")
        }
        Corruption::Garbage(n, garbage) => {
            let starts: Vec<usize> = text.match_indices("=\"").map(|(i, _)| i + 2).collect();
            let Some(&start) = starts.get(n % starts.len().max(1)) else {
                return text.to_owned();
            };
            let end = text[start..].find('"').map_or(text.len(), |e| start + e);
            format!("{}{garbage}{}", &text[..start], &text[end..])
        }
    }
}

fn corruption() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        any::<usize>().prop_map(Corruption::Truncate),
        any::<usize>().prop_map(Corruption::DeleteLine),
        any::<usize>().prop_map(Corruption::DuplicateLine),
        (
            any::<usize>(),
            "[ -~]{0,12}|[0-9]{15,25}|0x[0-9a-f,]{0,40}|-?[0-9.e+]{1,10}"
        )
            .prop_map(|(n, g)| Corruption::Garbage(n, g)),
    ]
}

proptest! {
    // 192 cases by default; PROPTEST_CASES=N for a longer run.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(192)
    ))]

    #[test]
    fn corrupted_files_never_panic(file in 0..FUZZ_FILES.len(), hows in prop::collection::vec(corruption(), 1..4)) {
        let name = FUZZ_FILES[file];
        let mut text = read(name);
        for how in &hows {
            text = corrupt(&text, how);
        }
        // Ok or Err are both fine; a panic fails the test.
        if let Err(e) = parse(&text, name) {
            let is_topology = matches!(e, Error::Topology { .. });
            prop_assert!(is_topology, "wrong error kind: {}", e);
            prop_assert!(e.to_string().starts_with(name));
        }
    }
}
