//! `<object>` elements and their `<info>` children: packages, groups, NUMA nodes, L3 caches,
//! cores, PUs, and the PCI / OS-device objects.

use super::attrs::{self, AttrScanner, parse_mask, parse_u32, parse_u64, scan_mask, unescape};
use super::io::{Func, OsDevClass, parse_pci_type};
use super::{El, NONE, NumaTmp, Obj, ObjAttrs, Parser, Version};
use crate::error::Result;
use crate::topology::{
    Cache, Core, Cpu, CpuSet, Group, GroupKind, MemoryKind, NumaNode, Package, PciKind, PciNode,
    to_u32,
};

impl<'a> Parser<'a> {
    /// Reads the attributes of an `<object>` tag. For the frequent CPU-side objects (PU, Core,
    /// Package, L1/L2 caches) the scan stops once the attributes we use are read (hwloc writes
    /// `type`, `os_index` and `cpuset` first), which halves the work on large files.
    pub(super) fn read_attrs(&self, tag: &'a str, pos: usize) -> Result<ObjAttrs<'a>> {
        const OS: u8 = 1;
        const CPUSET: u8 = 2;
        let mut a = ObjAttrs::default();
        let mut want = 0u8;
        let mut have = 0u8;
        let mut scan = AttrScanner::new(tag);
        while let Some(attr) = scan.next_attr() {
            let (name, value) = attr.map_err(|m| self.error(pos, "<object>", m.to_owned()))?;
            let slot = match name {
                "type" => {
                    a.type_ = value;
                    if self.seen_root {
                        want = match value {
                            "PU" | "Core" | "Package" => OS | CPUSET,
                            "L1Cache" | "L2Cache" | "L1iCache" | "L2iCache" => CPUSET,
                            _ => 0,
                        };
                    }
                    continue;
                }
                "os_index" => {
                    have |= OS;
                    &mut a.os_index
                }
                "cpuset" => {
                    have |= CPUSET;
                    &mut a.cpuset
                }
                "complete_cpuset" => &mut a.complete_cpuset,
                "online_cpuset" => &mut a.online_cpuset,
                "allowed_cpuset" => &mut a.allowed_cpuset,
                "allowed_nodeset" => &mut a.allowed_nodeset,
                "local_memory" => &mut a.local_memory,
                "cache_size" => &mut a.cache_size,
                "depth" => &mut a.depth,
                "subtype" => &mut a.subtype,
                "gp_index" => &mut a.gp_index,
                "name" => &mut a.name,
                "osdev_type" => &mut a.osdev_type,
                "pci_busid" => &mut a.pci_busid,
                "pci_type" => &mut a.pci_type,
                "bridge_type" => &mut a.bridge_type,
                "bridge_pci" => &mut a.bridge_pci,
                _ => continue,
            };
            *slot = Some(value);
            if want != 0 && have & want == want {
                break;
            }
        }
        Ok(a)
    }

    pub(super) fn mask(
        &self,
        value: &str,
        pos: usize,
        type_: &str,
        attr: &str,
    ) -> Result<attrs::Mask> {
        parse_mask(value).map_err(|e| {
            self.error(
                pos,
                format!("object[type={type_}] {attr}"),
                format!("{value:?} {}", e.describe()),
            )
        })
    }

    pub(super) fn number<T>(
        &self,
        value: Option<&str>,
        parse: fn(&str) -> Option<T>,
        pos: usize,
        type_: &str,
        attr: &str,
    ) -> Result<Option<T>> {
        match value {
            None => Ok(None),
            Some(v) => parse(v).map(Some).ok_or_else(|| {
                self.error(
                    pos,
                    format!("object[type={type_}] {attr}"),
                    format!("{v:?} is not a valid number"),
                )
            }),
        }
    }

    pub(super) fn classify(&self, a: &ObjAttrs<'_>, pos: usize) -> Result<Obj> {
        Ok(match a.type_ {
            "Machine" | "System" => Obj::Machine,
            "Package" | "Socket" => Obj::Package,
            "Die" => Obj::Die,
            "Group" => Obj::Group,
            "NUMANode" | "Node" => Obj::Numa,
            "L3Cache" => Obj::L3,
            "Cache" => {
                let depth = self.number(a.depth, parse_u32, pos, a.type_, "depth")?;
                if depth == Some(3) {
                    Obj::L3
                } else {
                    Obj::Cache
                }
            }
            "L1Cache" | "L2Cache" | "L4Cache" | "L5Cache" | "L1iCache" | "L2iCache"
            | "L3iCache" | "MemCache" => Obj::Cache,
            "Core" => Obj::Core,
            "PU" => Obj::Pu,
            "Bridge" => Obj::Bridge,
            "PCIDev" => Obj::PciDev,
            "OSDev" => Obj::OsDev,
            "Misc" => Obj::Misc,
            "" => {
                return Err(self.error(pos, "<object>", "object without a type attribute"));
            }
            _ => Obj::Other,
        })
    }

    pub(super) fn object(&mut self, tag: &'a str, pos: usize) -> Result<()> {
        let a = self.read_attrs(tag, pos)?;
        let obj = self.classify(&a, pos)?;
        if let Some(cpuset) = a.cpuset {
            if obj != Obj::Numa && obj != Obj::L3 && obj != Obj::Die && obj != Obj::Group {
                if let Err(e) = scan_mask(cpuset, None) {
                    return Err(self.error(
                        pos,
                        format!("object[type={}] cpuset", a.type_),
                        format!("{cpuset:?} {}", e.describe()),
                    ));
                }
            }
        }
        if !self.seen_root {
            self.seen_root = true;
            self.root_sets(&a, pos)?;
        }
        let mut dense = NONE;
        let mut func = NONE;
        match obj {
            Obj::Package => {
                let os = self.number(a.os_index, parse_u32, pos, a.type_, "os_index")?;
                dense = to_u32(self.parts.packages.len());
                self.parts.packages.push(Package {
                    os_index: os.unwrap_or(dense),
                    model: None,
                    cpus: CpuSet::new(),
                });
            }
            Obj::Die | Obj::Group => {
                let os = self.number(a.os_index, parse_u32, pos, a.type_, "os_index")?;
                let cpus = match a.cpuset {
                    Some(c) => self.mask(c, pos, a.type_, "cpuset")?.set,
                    None => CpuSet::new(),
                };
                let kind = if obj == Obj::Die {
                    GroupKind::Die
                } else if a.subtype.is_some_and(|s| s.eq_ignore_ascii_case("cluster")) {
                    GroupKind::Cluster
                } else {
                    GroupKind::Group
                };
                dense = to_u32(self.parts.groups.len());
                self.parts.groups.push(Group {
                    kind,
                    os_index: os,
                    cpus,
                });
            }
            Obj::Numa => self.numa_node(&a, pos)?,
            Obj::L3 => {
                let size = self.number(a.cache_size, parse_u64, pos, a.type_, "cache_size")?;
                let cpus = match a.cpuset {
                    Some(c) => self.mask(c, pos, a.type_, "cpuset")?.set,
                    None => CpuSet::new(),
                };
                dense = to_u32(self.parts.caches.len());
                self.parts.caches.push(Cache {
                    level: 3,
                    size_bytes: size.unwrap_or(0),
                    cpus,
                });
            }
            Obj::Core => {
                let os = self.number(a.os_index, parse_u32, pos, a.type_, "os_index")?;
                dense = self.new_core(os);
            }
            Obj::Pu => self.pu(&a, pos)?,
            Obj::Bridge | Obj::PciDev => {
                let (node, f) = self.pci_object(obj, &a, pos)?;
                dense = node;
                func = f;
            }
            Obj::OsDev => func = self.os_device(&a, pos)?,
            Obj::Machine | Obj::Cache | Obj::Misc | Obj::Other => {}
        }
        self.push(El::Object(obj), pos);
        if let Some(top) = self.stack.last_mut() {
            top.dense = dense;
            top.cpuset = a.cpuset;
            top.func = func;
        }
        Ok(())
    }

    pub(super) fn root_sets(&mut self, a: &ObjAttrs<'_>, pos: usize) -> Result<()> {
        let t = a.type_;
        let finite = |m: attrs::Mask| (!m.infinite).then_some(m.set);
        if let Some(v) = a.complete_cpuset {
            self.root.complete_cpus = finite(self.mask(v, pos, t, "complete_cpuset")?);
        }
        if let Some(v) = a.online_cpuset {
            self.root.online_cpus = finite(self.mask(v, pos, t, "online_cpuset")?);
        }
        if let Some(v) = a.allowed_cpuset {
            self.root.allowed_cpus = finite(self.mask(v, pos, t, "allowed_cpuset")?);
        }
        if let Some(v) = a.allowed_nodeset {
            self.root.allowed_nodes = finite(self.mask(v, pos, t, "allowed_nodeset")?);
        }
        Ok(())
    }

    pub(super) fn numa_node(&mut self, a: &ObjAttrs<'_>, pos: usize) -> Result<()> {
        let t = a.type_;
        let os = self
            .number(a.os_index, parse_u32, pos, t, "os_index")?
            .unwrap_or_else(|| to_u32(self.numa.len()));
        let memory = self
            .number(a.local_memory, parse_u64, pos, t, "local_memory")?
            .unwrap_or(0);
        let gp = self.number(a.gp_index, parse_u64, pos, t, "gp_index")?;
        let cpus = match a.cpuset {
            Some(c) => self.mask(c, pos, t, "cpuset")?.set,
            None => CpuSet::new(),
        };
        let kind = match a.subtype.map(str::trim) {
            None | Some("") => MemoryKind::Dram,
            Some(s) if s.eq_ignore_ascii_case("DRAM") => MemoryKind::Dram,
            Some(s) if s.eq_ignore_ascii_case("HBM") || s.eq_ignore_ascii_case("MCDRAM") => {
                MemoryKind::Hbm
            }
            Some(s) if s.eq_ignore_ascii_case("NVM") => MemoryKind::Nvm,
            Some(s) if s.eq_ignore_ascii_case("GPUMemory") => MemoryKind::GpuMemory,
            Some(s) if s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("CXL")) => MemoryKind::Cxl,
            Some(_) => MemoryKind::Unknown,
        };
        let allowed = self
            .root
            .allowed_nodes
            .as_ref()
            .is_none_or(|s| s.contains(os));
        self.numa.push(NumaTmp {
            node: NumaNode {
                os_index: os,
                kind,
                memory_bytes: memory,
                cpus,
                allowed,
            },
            gp,
        });
        Ok(())
    }

    /// Adds a core inside the innermost package, L3 and group; returns its dense index.
    pub(super) fn new_core(&mut self, os: Option<u32>) -> u32 {
        let package = match self.innermost(Obj::Package) {
            Some(f) => f.dense,
            None => self.implicit_package(),
        };
        let cache = self.innermost(Obj::L3).map(|f| f.dense);
        let group = self
            .stack
            .iter()
            .rev()
            .find(|f| matches!(f.el, El::Object(Obj::Die | Obj::Group)))
            .map(|f| f.dense);
        let dense = to_u32(self.parts.cores.len());
        self.parts.cores.push(Core {
            os_index: os,
            package,
            numa: None,
            cache,
            group,
            cpus: CpuSet::new(),
        });
        dense
    }

    /// A package for cores that the file places outside any package.
    pub(super) fn implicit_package(&mut self) -> u32 {
        if let Some(p) = self.implicit_package {
            return p;
        }
        let p = to_u32(self.parts.packages.len());
        let os = self
            .parts
            .packages
            .iter()
            .map(|p| p.os_index.saturating_add(1))
            .max()
            .unwrap_or(0);
        self.parts.packages.push(Package {
            os_index: os,
            model: None,
            cpus: CpuSet::new(),
        });
        self.implicit_package = Some(p);
        p
    }

    pub(super) fn pu(&mut self, a: &ObjAttrs<'_>, pos: usize) -> Result<()> {
        let Some(os) = self.number(a.os_index, parse_u32, pos, a.type_, "os_index")? else {
            return Err(self.error(pos, "object[type=PU] os_index", "PU without os_index"));
        };
        if os >= crate::topology::MAX_CPU_ID {
            return Err(self.error(
                pos,
                "object[type=PU] os_index",
                format!("{os} is beyond the largest supported CPU id"),
            ));
        }
        if self.listed_cpus.contains(os) {
            return Err(self.error(
                pos,
                "object[type=PU] os_index",
                format!("PU {os} is listed twice"),
            ));
        }
        self.listed_cpus.insert(os);
        // A PU outside any Core is its own core (hwloc omits Core objects when the OS does not
        // report cores).
        let core = match self.innermost(Obj::Core) {
            Some(f) => f.dense,
            None => self.new_core(None),
        };
        let online = self
            .root
            .online_cpus
            .as_ref()
            .is_none_or(|s| s.contains(os));
        let allowed = self
            .root
            .allowed_cpus
            .as_ref()
            .is_none_or(|s| s.contains(os));
        self.parts.cpus.push(Cpu {
            os_index: os,
            core: Some(core),
            online,
            allowed,
        });
        Ok(())
    }

    /// The index into `localities` of the nearest non-I/O object above the new I/O object.
    pub(super) fn locality(&mut self) -> Result<u32> {
        let Some(i) = self
            .stack
            .iter()
            .rposition(|f| matches!(f.el, El::Object(o) if !o.is_io()))
        else {
            let set = self.root.complete_cpus.clone().unwrap_or_default();
            self.localities.push(set);
            return Ok(to_u32(self.localities.len() - 1));
        };
        let frame = &self.stack[i];
        if frame.locality != NONE {
            return Ok(frame.locality);
        }
        let set = match frame.cpuset {
            Some(c) => self.mask(c, frame.pos, "?", "cpuset")?.set,
            None => CpuSet::new(),
        };
        self.localities.push(set);
        let idx = to_u32(self.localities.len() - 1);
        if let Some(f) = self.stack.get_mut(i) {
            f.locality = idx;
        }
        Ok(idx)
    }

    pub(super) fn pci_object(
        &mut self,
        obj: Obj,
        a: &ObjAttrs<'_>,
        pos: usize,
    ) -> Result<(u32, u32)> {
        let t = a.type_;
        let parent = self.parent_object().and_then(|f| match f.el {
            El::Object(Obj::Bridge | Obj::PciDev) if f.dense != NONE => Some(f.dense),
            _ => None,
        });
        let locality = match parent {
            Some(p) => self.pci_locality.get(p as usize).copied().unwrap_or(NONE),
            None => self.locality()?,
        };
        let (class_id, vendor_id, device_id) = match a.pci_type {
            Some(v) => parse_pci_type(v).ok_or_else(|| {
                self.error(
                    pos,
                    format!("object[type={t}] pci_type"),
                    format!("{v:?} is not \"CCCC [VVVV:DDDD] ...\""),
                )
            })?,
            None => (0, 0, 0),
        };
        let host = obj == Obj::Bridge
            && a.bridge_type
                .is_some_and(|b| b.trim_start().starts_with("0-"));
        let address = if host {
            // "0000:[00-05]" -> "0000:00"
            a.bridge_pci
                .map(|b| {
                    let (domain, rest) = b.split_once(':').unwrap_or(("0000", b));
                    let bus = rest.trim_start_matches('[').split('-').next().unwrap_or("");
                    format!("{domain}:{}", bus.trim_end_matches(']'))
                })
                .unwrap_or_default()
        } else {
            a.pci_busid.unwrap_or("").to_owned()
        };
        let kind = match obj {
            Obj::Bridge if host => PciKind::HostBridge,
            Obj::Bridge => PciKind::Bridge,
            _ => PciKind::Function,
        };
        let node = to_u32(self.parts.pci.len());
        self.parts.pci.push(PciNode {
            kind,
            address,
            parent: if host { None } else { parent },
            class_id,
            vendor_id,
            device_id,
            numa: None,
        });
        self.pci_locality.push(locality);
        let gp = self.number(a.gp_index, parse_u64, pos, t, "gp_index")?;
        if let Some(gp) = gp {
            self.gp_to_pci.push((gp, node));
        }
        let mut func = NONE;
        if obj == Obj::PciDev {
            func = to_u32(self.funcs.len());
            self.funcs.push(Func {
                pci: node,
                nvswitch: a
                    .subtype
                    .is_some_and(|s| s.eq_ignore_ascii_case("NVSwitch")),
                ..Func::default()
            });
        }
        Ok((node, func))
    }

    pub(super) fn os_device(&mut self, a: &ObjAttrs<'_>, pos: usize) -> Result<u32> {
        let parent = self
            .parent_object()
            .filter(|f| f.el == El::Object(Obj::PciDev))
            .map(|f| (f.func, f.dense));
        let Some((func, pci)) = parent else {
            return Ok(NONE);
        };
        let t = a.type_;
        let osdev_type = self.number(a.osdev_type, parse_u32, pos, t, "osdev_type")?;
        let class = OsDevClass::from_type(osdev_type, self.version == Version::V3);
        if let Some(gp) = self.number(a.gp_index, parse_u64, pos, t, "gp_index")? {
            self.gp_to_pci.push((gp, pci));
        }
        if let Some(f) = self.funcs.get_mut(func as usize) {
            f.coproc |= class.coproc;
            f.network |= class.network;
            if let Some(name) = a.name {
                f.names.push(unescape(name));
            }
        }
        Ok(func)
    }

    pub(super) fn info(&mut self, tag: &'a str, pos: usize) -> Result<()> {
        let Some(parent) = self.stack.last() else {
            return Ok(());
        };
        let El::Object(obj) = parent.el else {
            return Ok(());
        };
        let (dense, func) = (parent.dense, parent.func);
        let mut name = "";
        let mut value = "";
        let mut scan = AttrScanner::new(tag);
        while let Some(attr) = scan.next_attr() {
            let (n, v) = attr.map_err(|m| self.error(pos, "<info>", m.to_owned()))?;
            match n {
                "name" => name = v,
                "value" => value = v,
                _ => {}
            }
        }
        match obj {
            Obj::Package if name == "CPUModel" => {
                if let Some(p) = self.parts.packages.get_mut(dense as usize) {
                    p.model = Some(unescape(value).trim().to_owned());
                }
            }
            Obj::PciDev | Obj::OsDev => {
                if let Some(f) = self.funcs.get_mut(func as usize) {
                    f.info(obj == Obj::OsDev, name, &unescape(value));
                }
            }
            _ => {}
        }
        Ok(())
    }
}
