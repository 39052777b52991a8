//! Unit tests on small inline documents; the real files are tested in `tests/hwloc_files.rs`.

use super::parse;
use crate::error::Error;
use crate::topology::{GroupKind, MemoryKind};

const V2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE topology SYSTEM "hwloc2.dtd">
<topology version="2.0">
  <object type="Machine" os_index="0" cpuset="0x0000000f" complete_cpuset="0x0000003f" allowed_cpuset="0x00000007" nodeset="0x00000001" allowed_nodeset="0x00000001">
    <object type="Package" os_index="0" cpuset="0x0000000f">
      <info name="CPUModel" value="Test &amp; CPU"/>
      <object type="NUMANode" os_index="0" cpuset="0x0000000f" local_memory="1024"/>
      <object type="NUMANode" os_index="1" cpuset="0x0000000f" subtype="HBM" local_memory="2048"/>
      <object type="Die" cpuset="0x0000000f">
        <object type="L3Cache" cpuset="0x0000000f" cache_size="8388608" depth="3">
          <object type="Core" os_index="0" cpuset="0x00000003">
            <object type="PU" os_index="0" cpuset="0x00000001"/>
            <object type="PU" os_index="1" cpuset="0x00000002"/>
          </object>
          <object type="Core" os_index="1" cpuset="0x0000000c">
            <object type="PU" os_index="2" cpuset="0x00000004"/>
            <object type="PU" os_index="3" cpuset="0x00000008"/>
          </object>
        </object>
      </object>
      <object type="Bridge" bridge_type="0-1" depth="0" bridge_pci="0000:[00-01]">
        <object type="PCIDev" pci_busid="0000:01:00.0" pci_type="0200 [8086:1521] [0000:0000] 01 00">
          <object type="OSDev" name="eth0" osdev_type="2"/>
        </object>
      </object>
    </object>
  </object>
  <distances2 type="NUMANode" nbobjs="2" kind="5" name="NUMALatency" indexing="os">
    <indexes length="4">0 1 </indexes>
    <u64values length="12">10 20 20 10 </u64values>
  </distances2>
</topology>
"#;

#[test]
fn small_v2() {
    let topo = parse(V2, "small.xml").unwrap_or_else(|e| panic!("{e}"));
    let s = topo.summary();
    assert_eq!((s.packages, s.numa_nodes, s.cores, s.cpus), (1, 2, 2, 4));
    assert_eq!(
        (s.cpus_offline, s.cpus_allowed, s.nics, s.gpus),
        (2, 3, 1, 0)
    );
    assert!(s.has_distances);
    assert_eq!(topo.packages()[0].model.as_deref(), Some("Test & CPU"));
    assert_eq!(topo.numa_nodes()[1].kind, MemoryKind::Hbm);
    assert_eq!(topo.groups()[0].kind, GroupKind::Die);
    assert_eq!(topo.cores()[1].cache, Some(0));
    assert_eq!(topo.cores()[1].group, Some(0));
    assert_eq!(topo.cores()[1].numa, Some(0));
    assert_eq!(topo.devices()[0].name, "eth0");
    assert_eq!(topo.devices()[0].numa, Some(0));
    assert_eq!(topo.name(), "small");
    assert_eq!(topo.source(), "hwloc-xml-2.0");
}

fn message(text: &str) -> String {
    match parse(text, "t.xml") {
        Err(e @ Error::Topology { .. }) => e.to_string(),
        Err(e) => panic!("wrong error kind {e}"),
        Ok(_) => panic!("parsed"),
    }
}

#[test]
fn errors() {
    let m = message(&V2.replace("version=\"2.0\"", "version=\"4.0\""));
    assert!(m.starts_with("t.xml:3: <topology> version"), "{m}");
    let m = message(&V2.replace("os_index=\"2\"", "os_index=\"x\""));
    assert!(m.starts_with("t.xml:16: object[type=PU] os_index"), "{m}");
    let m = message(&V2.replace("10 20 20 10", "10 20 20"));
    assert!(m.contains("t.xml:28"), "{m}");
    let m = message(&V2.replace("<indexes length=\"4\">0 1", "<indexes length=\"4\">0 7"));
    assert!(m.contains("does not exist"), "{m}");
    let m = message(&V2[..V2.len() / 2]);
    assert!(m.contains("truncated"), "{m}");
    let m = message(&V2.replace(
        "</object>\n      <object type=\"Bridge\"",
        "</objekt>\n      <object type=\"Bridge\"",
    ));
    assert!(m.contains("malformed XML"), "{m}");
    let m = message(&V2.replace("cpuset=\"0x0000000c\"", "cpuset=\"0xg\""));
    assert!(m.contains("object[type=Core] cpuset"), "{m}");
    let m = message(&V2.replace("local_memory=\"1024\"", "local_memory=\"-1\""));
    assert!(m.contains("local_memory"), "{m}");
}

const V1: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE topology SYSTEM "hwloc.dtd">
<topology>
  <object type="Machine" os_index="0" cpuset="0x00000003" complete_cpuset="0x00000003" online_cpuset="0x00000003" allowed_cpuset="0x00000003" nodeset="0x00000005" allowed_nodeset="0x00000005">
    <distances nbobjs="2" relative_depth="2" latency_base="10.000000">
      <latency value="1.000000"/>
      <latency value="2.100000"/>
      <latency value="2.100000"/>
      <latency value="1.000000"/>
    </distances>
    <object type="Socket" os_index="0" cpuset="0x00000003">
      <object type="NUMANode" os_index="2" cpuset="0x00000002" local_memory="4096">
        <object type="Cache" cpuset="0x00000002" cache_size="1048576" depth="3" cache_type="0">
          <object type="Core" os_index="1" cpuset="0x00000002">
            <object type="PU" os_index="1" cpuset="0x00000002"/>
          </object>
        </object>
      </object>
      <object type="NUMANode" os_index="0" cpuset="0x00000001" local_memory="4096">
        <object type="Core" os_index="0" cpuset="0x00000001">
          <object type="PU" os_index="0" cpuset="0x00000001"/>
        </object>
      </object>
    </object>
  </object>
</topology>
"#;

#[test]
fn small_v1() {
    let topo = parse(V1, "v1.xml").unwrap_or_else(|e| panic!("{e}"));
    let s = topo.summary();
    assert_eq!((s.packages, s.numa_nodes, s.cores, s.cpus), (1, 2, 2, 2));
    let os: Vec<u32> = topo.numa_nodes().iter().map(|n| n.os_index).collect();
    assert_eq!(os, [0, 2]);
    let d = topo.distances().unwrap_or_else(|| panic!("no distances"));
    assert_eq!(d.values, [10, 21, 21, 10]);
    assert_eq!(topo.caches().len(), 1);
    assert_eq!(topo.numa_of_cpu(1), Some(1));
    assert_eq!(topo.source(), "hwloc-xml-1.x");
}
