//! The `nvidia-smi topo -m` / `rocm-smi --showtopo` parsers on the published matrices in
//! `tests/data/nvidia-smi` (see its README for sources and the expected counts).

use proptest::prelude::*;
use topoplace_core::parse::{parse_any, smi};
use topoplace_core::topology::{DeviceKind, LinkClass};
use topoplace_core::{Error, Topology};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/nvidia-smi");

const FILES: [&str; 6] = [
    "amd-8x-mi308x-xgmi",
    "asus-esc8000a-e12-4x-rtx6000ada-cx7",
    "dgx-1v-nvlink-4nic",
    "dgx-a100-12nic-nps4",
    "hgx-8x-h100-sxm-xeon8480-11nic",
    "server-8x-rtx4090-2nic",
];

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{name}")).unwrap()
}

fn host(stem: &str) -> Option<String> {
    std::fs::read_to_string(format!("{DIR}/{stem}.host.txt")).ok()
}

fn parse(stem: &str, with_host: bool) -> Topology {
    let text = read(&format!("{stem}.txt"));
    let host = if with_host { host(stem) } else { None };
    let source = format!("{stem}.txt");
    let result = if stem.starts_with("amd") {
        smi::parse_rocm(&text, host.as_deref(), &source)
    } else {
        smi::parse_nvidia(&text, host.as_deref(), &source)
    };
    result.unwrap_or_else(|e| panic!("{stem} (host {with_host}): {e}"))
}

fn dev(topo: &Topology, name: &str) -> u32 {
    topo.devices()
        .iter()
        .position(|d| d.name == name)
        .unwrap_or_else(|| panic!("no device {name}")) as u32
}

fn class(topo: &Topology, a: &str, b: &str) -> LinkClass {
    topo.link_class(dev(topo, a), dev(topo, b)).unwrap()
}

fn gpu_numa_ids(topo: &Topology) -> Vec<u32> {
    let mut ids: Vec<u32> = topo
        .devices()
        .iter()
        .filter(|d| d.kind == DeviceKind::Gpu)
        .filter_map(|d| d.numa)
        .map(|n| topo.numa_nodes()[n as usize].os_index)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The README's "Expected counts" table.
#[test]
fn readme_counts() {
    let expected: [(&str, usize, usize, &[u32]); 6] = [
        ("amd-8x-mi308x-xgmi", 8, 0, &[0, 1]),
        ("asus-esc8000a-e12-4x-rtx6000ada-cx7", 4, 4, &[0, 1]),
        ("dgx-1v-nvlink-4nic", 8, 4, &[]),
        ("dgx-a100-12nic-nps4", 8, 12, &[1, 3, 5, 7]),
        ("hgx-8x-h100-sxm-xeon8480-11nic", 8, 11, &[0, 1]),
        ("server-8x-rtx4090-2nic", 8, 2, &[0, 1]),
    ];
    let readme = read("README.md");
    for (stem, gpus, nics, numa) in expected {
        assert!(
            readme.contains(&format!("`{stem}.txt`")),
            "{stem} not in README"
        );
        for with_host in [false, true] {
            let topo = parse(stem, with_host);
            let s = topo.summary();
            assert_eq!((s.gpus, s.nics), (gpus, nics), "{stem}");
            assert_eq!(gpu_numa_ids(&topo), numa, "{stem}");
            // every device pair of an nvidia matrix is stated
            let n = topo.devices().len();
            if !stem.starts_with("amd") {
                assert_eq!(topo.links().len(), n * (n - 1) / 2, "{stem}");
            }
        }
        // format detection sends each file to the right parser
        let text = read(&format!("{stem}.txt"));
        assert_eq!(parse_any(&text, None, stem).unwrap().summary().gpus, gpus);
    }
}

#[test]
fn without_host_there_are_no_cpus() {
    let topo = parse("hgx-8x-h100-sxm-xeon8480-11nic", false);
    let s = topo.summary();
    assert_eq!((s.packages, s.cores, s.cpus), (0, 0, 0));
    assert_eq!(s.numa_nodes, 2);
    // NUMA node CPUs are the union of the GPUs' affinity
    assert_eq!(topo.numa_nodes()[0].cpus.to_list_string(), "0-55,112-167");
    assert_eq!(topo.numa_nodes()[1].cpus.to_list_string(), "56-111,168-223");
    assert!(topo.distances().is_none());
}

#[test]
fn hgx_matrix() {
    let topo = parse("hgx-8x-h100-sxm-xeon8480-11nic", false);
    // GPU7's best NIC is NIC8 at PXB (the PIX NIC of GPU6)
    let gpu7 = dev(&topo, "GPU7");
    let best = topo
        .devices_of(DeviceKind::Nic)
        .map(|nic| (topo.link_class(gpu7, nic).unwrap(), nic))
        .min()
        .unwrap();
    assert_eq!(best.0, LinkClass::Pxb);
    assert_eq!(topo.devices()[best.1 as usize].name, "NIC8");
    assert_eq!(class(&topo, "GPU6", "NIC8"), LinkClass::Pix);
    for g in 0..7 {
        let gpu = dev(&topo, &format!("GPU{g}"));
        let best = topo
            .devices_of(DeviceKind::Nic)
            .map(|nic| topo.link_class(gpu, nic).unwrap())
            .min();
        assert_eq!(best, Some(LinkClass::Pix), "GPU{g}");
    }
    // NIC legend: gaps in the mlx5 numbering
    let nic9 = &topo.devices()[dev(&topo, "NIC9") as usize];
    assert_eq!(nic9.aliases, vec!["mlx5_10".to_owned()]);
    // NVLink NV18 between every GPU pair
    let link = topo
        .links()
        .iter()
        .find(|l| l.a == dev(&topo, "GPU0") && l.b == dev(&topo, "GPU7"))
        .unwrap();
    assert_eq!((link.class, link.count), (LinkClass::NvLink, 18));
    // NICs take the NUMA of the GPUs they are local to; NIC4 is NODE to GPUs of node 0 only
    let numa_os = |name: &str| {
        topo.devices()[dev(&topo, name) as usize]
            .numa
            .map(|n| topo.numa_nodes()[n as usize].os_index)
    };
    assert_eq!(numa_os("NIC0"), Some(0));
    assert_eq!(numa_os("NIC4"), Some(0));
    assert_eq!(numa_os("NIC10"), Some(1));
    let gpu0 = &topo.devices()[dev(&topo, "GPU0") as usize];
    assert_eq!(gpu0.cpus.to_list_string(), "0-55,112-167");
}

#[test]
fn hgx_with_host() {
    let topo = parse("hgx-8x-h100-sxm-xeon8480-11nic", true);
    let s = topo.summary();
    assert_eq!(
        (s.packages, s.numa_nodes, s.cpus, s.cores, s.cpus_online),
        (2, 2, 224, 112, 224)
    );
    assert_eq!(
        topo.packages()[0].model.as_deref(),
        Some("Intel(R) Xeon(R) Platinum 8480+")
    );
    // CPU i and i+112 are SMT siblings; package 0 = node 0
    assert_eq!(topo.cpu(0).unwrap().core, topo.cpu(112).unwrap().core);
    assert_eq!(topo.packages()[0].cpus.to_list_string(), "0-55,112-167");
    assert_eq!(topo.numa_of_cpu(170), Some(1));
    assert_eq!(topo.numa_nodes()[0].memory_bytes, 1_031_078 << 20);
    let d = topo.distances().unwrap();
    assert_eq!((d.get(0, 0), d.get(0, 1)), (10, 21));
    let gpu0 = &topo.devices()[dev(&topo, "GPU0") as usize];
    assert_eq!(gpu0.bus_id.as_deref(), Some("0000:0a:00.0"));
    assert_eq!(gpu0.model.as_deref(), Some("H100 80GB HBM3"));
}

#[test]
fn asus_with_host() {
    let topo = parse("asus-esc8000a-e12-4x-rtx6000ada-cx7", true);
    let s = topo.summary();
    assert_eq!((s.packages, s.numa_nodes, s.cpus, s.cores), (2, 2, 64, 64));
    assert_eq!(s.memory_bytes, (193_129 + 193_477) << 20);
    assert_eq!(
        topo.packages()[1].model.as_deref(),
        Some("AMD EPYC 9374F 32-Core Processor")
    );
    assert_eq!(topo.numa_nodes()[1].cpus.to_list_string(), "32-63");
    assert_eq!(topo.numa_of_cpu(31), Some(0));
    assert_eq!(topo.numa_of_cpu(32), Some(1));
    let d = topo.distances().unwrap();
    assert_eq!(d.values, vec![10, 32, 32, 10]);
    let gpu2 = &topo.devices()[dev(&topo, "GPU2") as usize];
    assert_eq!(gpu2.bus_id.as_deref(), Some("0000:c1:00.0"));
    assert_eq!(gpu2.model.as_deref(), Some("RTX 6000 Ada Gene..."));
    assert_eq!(gpu2.memory_bytes, Some(49_140 << 20));
    assert_eq!(gpu2.numa, Some(1));
    let nic0 = &topo.devices()[dev(&topo, "NIC0") as usize];
    assert_eq!(nic0.aliases, vec!["mlx5_0".to_owned()]);
    assert_eq!(nic0.numa, Some(0));
    // PCIe-only box: NODE inside a socket, SYS across, NIC ports PIX
    assert_eq!(class(&topo, "GPU0", "GPU1"), LinkClass::Node);
    assert_eq!(class(&topo, "GPU0", "GPU2"), LinkClass::Sys);
    assert_eq!(class(&topo, "NIC2", "NIC3"), LinkClass::Pix);
    assert_eq!(class(&topo, "GPU3", "NIC3"), LinkClass::Node);
}

#[test]
fn dgx1v_mixed_nvlink() {
    let topo = parse("dgx-1v-nvlink-4nic", false);
    let counts = |a: &str, b: &str| {
        let (x, y) = (dev(&topo, a), dev(&topo, b));
        let l = topo
            .links()
            .iter()
            .find(|l| l.a == x.min(y) && l.b == x.max(y))
            .unwrap();
        (l.class, l.count)
    };
    assert_eq!(counts("GPU0", "GPU1"), (LinkClass::NvLink, 1));
    assert_eq!(counts("GPU0", "GPU3"), (LinkClass::NvLink, 2));
    assert_eq!(counts("GPU0", "GPU5"), (LinkClass::Sys, 0));
    assert_eq!(class(&topo, "GPU0", "mlx5_0"), LinkClass::Pix);
    assert_eq!(class(&topo, "GPU0", "mlx5_1"), LinkClass::Phb);
    // no NUMA column: no NUMA nodes, affinity still read
    assert!(topo.numa_nodes().is_empty());
    let gpu4 = &topo.devices()[dev(&topo, "GPU4") as usize];
    assert_eq!(gpu4.cpus.to_list_string(), "20-39,60-79");
    // column order kept: mlx5_2 is the 10th device
    assert_eq!(topo.devices()[9].name, "mlx5_2");
}

#[test]
fn dgx_a100_nps4() {
    let topo = parse("dgx-a100-12nic-nps4", false);
    let os: Vec<u32> = topo.numa_nodes().iter().map(|n| n.os_index).collect();
    assert_eq!(os, vec![1, 3, 5, 7]);
    let numa_os = |name: &str| {
        topo.devices()[dev(&topo, name) as usize]
            .numa
            .map(|n| topo.numa_nodes()[n as usize].os_index)
    };
    assert_eq!(numa_os("GPU0"), Some(3));
    assert_eq!(numa_os("mlx5_0"), Some(3));
    assert_eq!(numa_os("mlx5_8"), Some(5));
    assert_eq!(numa_os("mlx5_4"), None); // SYS to every GPU
    assert_eq!(class(&topo, "GPU0", "mlx5_1"), LinkClass::Pxb);
    assert_eq!(class(&topo, "mlx5_10", "mlx5_11"), LinkClass::Pix);
    assert_eq!(class(&topo, "GPU3", "GPU4"), LinkClass::NvLink);
    // host file has only `topo -c`: consistent with the matrix, nothing invented
    let with = parse("dgx-a100-12nic-nps4", true);
    let s = with.summary();
    assert_eq!((s.packages, s.cores, s.cpus, s.numa_nodes), (0, 0, 0, 4));
    let gpu7 = &with.devices()[dev(&with, "GPU7") as usize];
    assert!(gpu7.cpus.contains(222));
}

#[test]
fn rtx4090_all_sys() {
    let topo = parse("server-8x-rtx4090-2nic", false);
    let gpus: Vec<u32> = topo.devices_of(DeviceKind::Gpu).collect();
    for &a in &gpus {
        for &b in &gpus {
            if a != b {
                assert_eq!(topo.link_class(a, b), Some(LinkClass::Sys));
            }
        }
    }
    assert_eq!(class(&topo, "GPU6", "NIC0"), LinkClass::Phb);
    assert_eq!(class(&topo, "NIC0", "NIC1"), LinkClass::Pix);
    let nic1 = &topo.devices()[dev(&topo, "NIC1") as usize];
    assert_eq!(nic1.numa, topo.numa_by_os(1));
}

#[test]
fn amd_rocm() {
    let topo = parse("amd-8x-mi308x-xgmi", true);
    assert_eq!(topo.links().len(), 28);
    assert!(
        topo.links()
            .iter()
            .all(|l| l.class == LinkClass::Xgmi && l.count == 1)
    );
    let gpu5 = &topo.devices()[5];
    assert_eq!(gpu5.numa, topo.numa_by_os(1));
    assert_eq!(gpu5.memory_bytes, Some(206_141_652_992));
    assert_eq!(gpu5.vendor.as_deref(), Some("AMD"));
}

#[test]
fn rocm_pcie_classes() {
    let text = "\
==== Link Type between two GPUs ====
       GPU0   GPU1   GPU2
GPU0   0      PCIE   PCIE
GPU1   PCIE   0      XGMI
GPU2   PCIE   XGMI   0
==== Hops between two GPUs ====
       GPU0   GPU1   GPU2
GPU0   0      2      3
GPU1   2      0      1
GPU2   3      1      0
==== Numa Nodes ====
GPU[0]          : (Topology) Numa Node: 0
GPU[1]          : (Topology) Numa Node: 0
GPU[2]          : (Topology) Numa Node: 1
";
    let topo = smi::parse_rocm(text, None, "x").unwrap();
    assert_eq!(topo.link_class(0, 1), Some(LinkClass::Phb));
    assert_eq!(topo.link_class(0, 2), Some(LinkClass::Sys));
    let l = topo.links().iter().find(|l| l.a == 1 && l.b == 2).unwrap();
    assert_eq!((l.class, l.count), (LinkClass::Xgmi, 1));
    let bad = text.replace("PCIE   0      XGMI", "PCIE   0      NVLINK");
    let err = smi::parse_rocm(&bad, None, "x").unwrap_err();
    assert!(err.to_string().contains("unknown link type"), "{err}");
}

// ---------- errors ----------

const SMALL: &str = "\tGPU0\tGPU1\tNIC0\tCPU Affinity\tNUMA Affinity
GPU0\t X \tNV4\tPIX\t0-7\t0
GPU1\tNV4\t X \tSYS\t8-15\t1
NIC0\tPIX\tSYS\t X
";

fn topology_error(text: &str) -> (Option<usize>, Option<String>, String) {
    match smi::parse_nvidia(text, None, "bad.txt") {
        Err(Error::Topology { location, message }) => {
            assert_eq!(location.source, "bad.txt");
            (location.line, location.object, message)
        }
        other => panic!("expected a topology error, got {other:?}"),
    }
}

#[test]
fn small_matrix_parses() {
    let topo = smi::parse_nvidia(SMALL, None, "small").unwrap();
    assert_eq!(topo.devices()[2].numa, Some(0));
    // spaces instead of tabs, header without leading whitespace, SOC for SYS
    let spaced = SMALL.replace('\t', "   ").replace("SYS", "SOC");
    let topo2 = smi::parse_nvidia(spaced.trim_start(), None, "small").unwrap();
    assert_eq!(topo.links(), topo2.links());
}

#[test]
fn error_wrong_column_count() {
    let (line, object, msg) = topology_error(&SMALL.replace("NV4\t X \tSYS\t8-15\t1", "NV4\t X "));
    assert_eq!(line, Some(3));
    assert_eq!(object.as_deref(), Some("row GPU1"));
    assert!(msg.contains("2 values"), "{msg}");
    let (line, _, msg) = topology_error(&SMALL.replace("\t0-7\t0", "\t0-7\t0\t5\t6"));
    assert_eq!(line, Some(2));
    assert!(msg.contains("columns"), "{msg}");
}

#[test]
fn error_unknown_label() {
    let (line, object, msg) = topology_error(&SMALL.replace("PIX\tSYS\t X", "PIX\tFOO\t X"));
    assert_eq!(line, Some(4));
    assert_eq!(object.as_deref(), Some("row NIC0 column GPU1"));
    assert!(msg.contains("FOO"), "{msg}");
    let (_, object, _) = topology_error(&SMALL.replace("GPU0\t X ", "GPU0\tPIX"));
    assert_eq!(object.as_deref(), Some("row GPU0 column GPU0"));
}

#[test]
fn error_no_gpu_columns() {
    let (line, _, msg) = topology_error("\tNIC0\tNIC1\nNIC0\t X \tPIX\nNIC1\tPIX\t X \n");
    assert_eq!(line, Some(1));
    assert!(msg.contains("no GPU columns"), "{msg}");
    let (line, _, _) = topology_error("hello world\n");
    assert_eq!(line, Some(1));
}

#[test]
fn error_bad_numa_and_cpus() {
    let (line, object, msg) = topology_error(&SMALL.replace("8-15\t1", "8-15\tone"));
    assert_eq!(line, Some(3));
    assert_eq!(object.as_deref(), Some("row GPU1 column NUMA Affinity"));
    assert!(msg.contains("not a number"), "{msg}");
    let (line, object, _) = topology_error(&SMALL.replace("0-7", "7-0"));
    assert_eq!(line, Some(2));
    assert_eq!(object.as_deref(), Some("row GPU0 column CPU Affinity"));
}

#[test]
fn error_missing_row() {
    let (_, object, msg) = topology_error(&SMALL.replace("NIC0\tPIX\tSYS\t X\n", ""));
    assert_eq!(object.as_deref(), Some("row NIC0"));
    assert!(msg.contains("no row"), "{msg}");
}

#[test]
fn error_host_disagrees() {
    let host = "$ numactl --hardware\nnode 0 cpus: 0 1\nnode 0 size: 10 MB\n";
    let err = smi::parse_nvidia(SMALL, Some(host), "small").unwrap_err();
    assert!(err.to_string().contains("NUMA node 1"), "{err}");
    let host = "$ lscpu\nSocket(s): 2\nCore(s) per socket: 4\nThread(s) per core: 2\nCPU(s): 17\n";
    assert!(smi::parse_nvidia(SMALL, Some(host), "small").is_err());
}

// ---------- robustness ----------

fn all_inputs() -> Vec<(String, Option<String>, bool)> {
    FILES
        .iter()
        .map(|s| (read(&format!("{s}.txt")), host(s), s.starts_with("amd")))
        .collect()
}

fn run(text: &str, host: Option<&str>, rocm: bool) {
    let _ = if rocm {
        smi::parse_rocm(text, host, "fuzz")
    } else {
        smi::parse_nvidia(text, host, "fuzz")
    };
    let _ = parse_any(text, host, "fuzz");
}

#[derive(Debug, Clone)]
enum Corruption {
    Truncate(usize),
    DropLine(usize),
    DuplicateLine(usize),
    ReplaceToken(usize, String),
}

fn corruption() -> impl Strategy<Value = Corruption> {
    let token = prop_oneof![
        Just(String::new()),
        Just("X".to_owned()),
        Just("NV".to_owned()),
        Just("NV0".to_owned()),
        Just("NV99999999999".to_owned()),
        Just("-1".to_owned()),
        Just("N/A".to_owned()),
        Just("0-4294967295".to_owned()),
        Just("GPU0".to_owned()),
        Just("$ lscpu".to_owned()),
        Just("\t\t".to_owned()),
        "[ -~]{0,12}",
    ];
    prop_oneof![
        any::<usize>().prop_map(Corruption::Truncate),
        any::<usize>().prop_map(Corruption::DropLine),
        any::<usize>().prop_map(Corruption::DuplicateLine),
        (any::<usize>(), token).prop_map(|(i, t)| Corruption::ReplaceToken(i, t)),
    ]
}

fn corrupt(text: &str, c: &Corruption) -> String {
    let lines: Vec<&str> = text.lines().collect();
    match c {
        Corruption::Truncate(n) => {
            let mut cut = n % (text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text[..cut].to_owned()
        }
        Corruption::DropLine(i) | Corruption::DuplicateLine(i) if !lines.is_empty() => {
            let i = i % lines.len();
            let mut out: Vec<&str> = lines.clone();
            if matches!(c, Corruption::DropLine(_)) {
                out.remove(i);
            } else {
                out.insert(i, lines[i]);
            }
            out.join("\n")
        }
        Corruption::ReplaceToken(i, t) => {
            let spans: Vec<(usize, usize)> = text
                .split_inclusive(char::is_whitespace)
                .scan(0, |pos, piece| {
                    let start = *pos;
                    *pos += piece.len();
                    Some((start, start + piece.trim_end().len()))
                })
                .filter(|(a, b)| b > a)
                .collect();
            if spans.is_empty() {
                return text.to_owned();
            }
            let (a, b) = spans[i % spans.len()];
            format!("{}{}{}", &text[..a], t, &text[b..])
        }
        _ => text.to_owned(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn corrupted_files_never_panic(file in 0usize..6, on_host in any::<bool>(), c in corruption()) {
        let inputs = all_inputs();
        let (text, host, rocm) = &inputs[file];
        if on_host {
            if let Some(h) = host {
                run(text, Some(&corrupt(h, &c)), *rocm);
            }
        } else {
            run(&corrupt(text, &c), host.as_deref(), *rocm);
            run(&corrupt(text, &c), None, *rocm);
        }
    }
}
