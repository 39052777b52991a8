//! hwloc XML (formats 1.x, 2.0 and 3.0).
//!
//! One streaming pass over the document with quick-xml's borrowing reader: a stack of open
//! elements gives each object its context (enclosing package, L3, group, core, PCI parent), so
//! no object tree is built. Attribute values borrow from the input; cpuset masks are parsed
//! straight into [`CpuSet`]s and only for the objects that need them (the others are only
//! checked). After the pass, `finish` orders the NUMA nodes by OS index, adds the offline CPUs
//! (root `complete_cpuset` minus the listed PUs), resolves the distance matrix, PCI and device
//! locality and NVLink links, and [`TopologyParts::build`] validates the result.
//!
//! Format differences handled:
//! - 1.x: no `version` attribute; `Socket` type; NUMA nodes are parents in the CPU tree; caches
//!   are `type="Cache"` with a `depth`; `<distances>` with `<latency value=>` children (the
//!   matrix is used when it is attached to the root and covers every NUMA node, in document
//!   order, which is hwloc's logical order).
//! - 2.0: NUMA nodes are memory children; `osdev_type` is an enum; `<distances2>` indexed by
//!   OS or gp index; `<distances2hetero>` with `Type:gp_index` indexes.
//! - 3.0: like 2.0 but `osdev_type` is a bit mask.
//!
//! Modules: `attrs` (attribute scanner, numbers, masks), `objects` (`<object>` and `<info>`),
//! `dist` (distance elements), `io` (GPU/NIC rules, NVLink), `finish` (resolution after the pass).

mod attrs;
mod dist;
mod finish;
mod io;
mod objects;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::error::{Error, Location, Result};
use crate::topology::{CpuSet, NumaNode, Topology, TopologyParts};
use attrs::AttrScanner;
use io::Func;

/// Parses hwloc XML text.
///
/// # Errors
/// [`Error::Topology`] naming `source`, the line and the object.
pub fn parse(text: &str, source: &str) -> Result<Topology> {
    let mut parser = Parser::new(text, source);
    parser.run()?;
    let parts = parser.finish()?;
    parts.build(source)
}

/// The XML format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
    V3,
}

/// The object types we distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Obj {
    Machine,
    Package,
    Die,
    Group,
    Numa,
    L3,
    Cache,
    Core,
    Pu,
    Bridge,
    PciDev,
    OsDev,
    Misc,
    Other,
}

impl Obj {
    const fn is_io(self) -> bool {
        matches!(self, Self::Bridge | Self::PciDev | Self::OsDev | Self::Misc)
    }
}

/// An open element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum El {
    Topology,
    Object(Obj),
    Info,
    Dist1,
    Dist2,
    Hetero,
    Indexes,
    Values,
    Other,
}

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Frame<'a> {
    el: El,
    /// Byte offset of the start tag.
    pos: usize,
    /// Dense index of what the element created (package, group, cache, core, PCI node,
    /// distance matrix...), or [`NONE`].
    dense: u32,
    /// The raw `cpuset` attribute of an object.
    cpuset: Option<&'a str>,
    /// Index into `Parser::localities` once computed for an I/O child.
    locality: u32,
    /// Index into `Parser::funcs` for a PCIDev and the OS devices below it.
    func: u32,
}

/// A NUMA node in document order, before sorting by OS index.
#[derive(Debug, Clone)]
struct NumaTmp {
    node: NumaNode,
    gp: Option<u64>,
}

/// A `<distances2>` matrix (`hetero` for `<distances2hetero>`) or a 1.x `<distances>`.
#[derive(Debug, Clone, Default)]
struct DistRaw {
    pos: usize,
    v1: bool,
    hetero: bool,
    numa_type: bool,
    latency: bool,
    name: String,
    gp_indexing: bool,
    nbobjs: usize,
    /// OS or gp indexes (hetero: gp indexes; the type prefix is dropped).
    indexes: Vec<u64>,
    values: Vec<u64>,
    /// 1.x: relative latencies and their base.
    latencies: Vec<f64>,
    base: f64,
    /// Whether the 1.x matrix is attached to the root object.
    at_root: bool,
}

/// Root-object sets.
#[derive(Debug, Clone, Default)]
struct RootSets {
    complete_cpus: Option<CpuSet>,
    online_cpus: Option<CpuSet>,
    allowed_cpus: Option<CpuSet>,
    allowed_nodes: Option<CpuSet>,
}

/// The attributes of an `<object>` we use.
#[derive(Debug, Default, Clone, Copy)]
struct ObjAttrs<'a> {
    type_: &'a str,
    os_index: Option<&'a str>,
    cpuset: Option<&'a str>,
    complete_cpuset: Option<&'a str>,
    online_cpuset: Option<&'a str>,
    allowed_cpuset: Option<&'a str>,
    allowed_nodeset: Option<&'a str>,
    local_memory: Option<&'a str>,
    cache_size: Option<&'a str>,
    depth: Option<&'a str>,
    subtype: Option<&'a str>,
    gp_index: Option<&'a str>,
    name: Option<&'a str>,
    osdev_type: Option<&'a str>,
    pci_busid: Option<&'a str>,
    pci_type: Option<&'a str>,
    bridge_type: Option<&'a str>,
    bridge_pci: Option<&'a str>,
}

struct Parser<'a> {
    text: &'a str,
    source: &'a str,
    version: Version,
    parts: TopologyParts,
    stack: Vec<Frame<'a>>,
    seen_root: bool,
    root: RootSets,
    numa: Vec<NumaTmp>,
    /// Cpusets of the non-I/O objects that I/O objects hang below.
    localities: Vec<CpuSet>,
    /// Per PCI node: index into `localities`.
    pci_locality: Vec<u32>,
    funcs: Vec<Func>,
    /// gp_index of PCIDev and OS-device objects -> PCI node index, for `distances2hetero`.
    gp_to_pci: Vec<(u64, u32)>,
    dists: Vec<DistRaw>,
    listed_cpus: CpuSet,
    /// Dense index of the package made up for cores outside any package.
    implicit_package: Option<u32>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, source: &'a str) -> Self {
        Self {
            text,
            source,
            version: Version::V2,
            parts: TopologyParts::default(),
            stack: Vec::with_capacity(32),
            seen_root: false,
            root: RootSets::default(),
            numa: Vec::new(),
            localities: Vec::new(),
            pci_locality: Vec::new(),
            funcs: Vec::new(),
            gp_to_pci: Vec::new(),
            dists: Vec::new(),
            listed_cpus: CpuSet::new(),
            implicit_package: None,
        }
    }

    /// 1-based line of byte offset `pos`.
    fn line_of(&self, pos: usize) -> usize {
        let end = pos.min(self.text.len());
        1 + self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    fn error(&self, pos: usize, object: impl Into<String>, message: impl Into<String>) -> Error {
        let object = object.into();
        let mut location = Location::source(self.source).at_line(self.line_of(pos));
        if !object.is_empty() {
            location = location.object(object);
        }
        Error::topology(location, message)
    }

    fn run(&mut self) -> Result<()> {
        let text = self.text;
        let mut reader = Reader::from_str(text);
        let mut seen_topology = false;
        let mut done = false;
        loop {
            let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(e) => {
                    let pos = usize::try_from(reader.error_position()).unwrap_or(0);
                    return Err(self.error(pos, "", format!("malformed XML: {e}")));
                }
            };
            let after = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
            match event {
                Event::Start(_) | Event::Empty(_) => {
                    let empty = matches!(event, Event::Empty(_));
                    let tag = text.get(before..after).unwrap_or("");
                    let name = tag_name(tag);
                    if done {
                        return Err(self.error(before, "", "content after </topology>"));
                    }
                    if !seen_topology {
                        if name != "topology" {
                            return Err(self.error(
                                before,
                                format!("<{name}>"),
                                "not an hwloc topology: the root element must be <topology>",
                            ));
                        }
                        seen_topology = true;
                        self.version = self.read_version(tag, before)?;
                        if empty {
                            done = true;
                        } else {
                            self.push(El::Topology, before);
                        }
                        continue;
                    }
                    self.start(name, tag, before)?;
                    if empty {
                        self.end()?;
                    }
                }
                Event::End(_) => {
                    self.end()?;
                    if self.stack.is_empty() {
                        done = true;
                    }
                }
                Event::Text(t) => {
                    let Some(top) = self.stack.last() else {
                        continue;
                    };
                    if matches!(top.el, El::Indexes | El::Values) {
                        let raw: &[u8] = &t;
                        let s = std::str::from_utf8(raw).unwrap_or("");
                        self.numbers(s, before)?;
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if let Some(open) = self.stack.last() {
            let what = match open.el {
                El::Topology => "<topology>".to_owned(),
                El::Object(_) => "<object>".to_owned(),
                _ => "an element".to_owned(),
            };
            return Err(self.error(
                self.text.len(),
                "",
                format!(
                    "unexpected end of file: {what} opened at line {} is not closed (truncated file?)",
                    self.line_of(open.pos)
                ),
            ));
        }
        if !seen_topology {
            return Err(self.error(0, "", "not an hwloc topology: no <topology> element"));
        }
        Ok(())
    }

    fn read_version(&self, tag: &str, pos: usize) -> Result<Version> {
        let mut scan = AttrScanner::new(tag);
        while let Some(attr) = scan.next_attr() {
            let (name, value) = attr.map_err(|m| self.error(pos, "<topology>", m.to_owned()))?;
            if name == "version" {
                let major = value.trim().split('.').next().unwrap_or("");
                return match major {
                    "1" => Ok(Version::V1),
                    "2" => Ok(Version::V2),
                    "3" => Ok(Version::V3),
                    _ => Err(self.error(
                        pos,
                        "<topology> version",
                        format!(
                            "unsupported hwloc XML format version {value:?} (supported: 1.x, 2.x, 3.x)"
                        ),
                    )),
                };
            }
        }
        Ok(Version::V1)
    }

    fn push(&mut self, el: El, pos: usize) {
        self.stack.push(Frame {
            el,
            pos,
            dense: NONE,
            cpuset: None,
            locality: NONE,
            func: NONE,
        });
    }

    fn end(&mut self) -> Result<()> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        if matches!(frame.el, El::Dist1 | El::Dist2 | El::Hetero) {
            self.check_dist_len(frame.dense)?;
        }
        Ok(())
    }

    /// The innermost open object of type `obj`.
    fn innermost(&self, obj: Obj) -> Option<&Frame<'a>> {
        self.stack.iter().rev().find(|f| f.el == El::Object(obj))
    }

    /// The innermost open object (the parent of a new element).
    fn parent_object(&self) -> Option<&Frame<'a>> {
        self.stack
            .iter()
            .rev()
            .find(|f| matches!(f.el, El::Object(_)))
    }

    fn start(&mut self, name: &str, tag: &'a str, pos: usize) -> Result<()> {
        match name {
            "object" => self.object(tag, pos),
            "info" => {
                self.info(tag, pos)?;
                self.push(El::Info, pos);
                Ok(())
            }
            "distances" => self.distances1(tag, pos),
            "distances2" | "distances2hetero" => {
                self.distances2(name == "distances2hetero", tag, pos)
            }
            "indexes" | "u64values" => {
                let in_dist = self
                    .stack
                    .last()
                    .is_some_and(|f| matches!(f.el, El::Dist2 | El::Hetero));
                let el = match (in_dist, name) {
                    (false, _) => El::Other,
                    (true, "indexes") => El::Indexes,
                    (true, _) => El::Values,
                };
                let dense = self.stack.last().map_or(NONE, |f| f.dense);
                self.push(el, pos);
                if let Some(top) = self.stack.last_mut() {
                    top.dense = dense;
                }
                Ok(())
            }
            "latency" => {
                self.latency(tag, pos)?;
                self.push(El::Other, pos);
                Ok(())
            }
            _ => {
                self.push(El::Other, pos);
                Ok(())
            }
        }
    }
}

/// The element name of a tag text (`<name ...>`).
fn tag_name(tag: &str) -> &str {
    let body = tag.strip_prefix('<').unwrap_or(tag);
    let end = body
        .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
        .unwrap_or(body.len());
    body.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests;
