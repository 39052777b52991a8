//! The machine as a graph: typed vertices (package, NUMA node, cache, core, CPU, device) and
//! edges for containment, NUMA distance and device links. The Python binding turns it into a
//! `networkx.Graph`; the core keeps it free of any graph library.

use super::Topology;

/// A vertex: a stable id (`"numa:1"`, `"device:GPU0"`) and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vertex {
    /// Unique id.
    pub id: String,
    /// `package`, `numa`, `cache`, `core`, `cpu` or `device`.
    pub kind: &'static str,
    /// The OS index or the dense index for ids without one.
    pub index: u32,
}

/// An edge between two vertex ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
    /// `contains`, `distance`, `local` (device to its NUMA node) or `link` (device to device).
    pub kind: &'static str,
    /// Link class label for `link` edges (`"NV"`, `"PIX"`...).
    pub class: Option<&'static str>,
    /// NUMA distance for `distance` edges, link count for `link` edges.
    pub weight: u32,
}

impl Topology {
    /// Vertices and edges of the machine graph.
    #[must_use]
    pub fn graph(&self) -> (Vec<Vertex>, Vec<Edge>) {
        let mut v = Vec::new();
        let mut e = Vec::new();
        let vid = |kind: &str, i: u32| format!("{kind}:{i}");
        for p in self.packages() {
            v.push(Vertex {
                id: vid("package", p.os_index),
                kind: "package",
                index: p.os_index,
            });
        }
        for (n, node) in self.numa_nodes().iter().enumerate() {
            v.push(Vertex {
                id: vid("numa", node.os_index),
                kind: "numa",
                index: node.os_index,
            });
            for p in self.packages() {
                if !node.cpus.is_empty() && node.cpus.is_subset(&p.cpus) {
                    e.push(Edge {
                        a: vid("package", p.os_index),
                        b: vid("numa", node.os_index),
                        kind: "contains",
                        class: None,
                        weight: 0,
                    });
                }
            }
            if let Some(d) = self.distances() {
                for (m, other) in self.numa_nodes().iter().enumerate().skip(n + 1) {
                    e.push(Edge {
                        a: vid("numa", node.os_index),
                        b: vid("numa", other.os_index),
                        kind: "distance",
                        class: None,
                        weight: d.get(n as u32, m as u32),
                    });
                }
            }
        }
        for (i, _) in self.caches().iter().enumerate() {
            v.push(Vertex {
                id: vid("cache", i as u32),
                kind: "cache",
                index: i as u32,
            });
        }
        for (i, core) in self.cores().iter().enumerate() {
            let id = vid("core", i as u32);
            v.push(Vertex {
                id: id.clone(),
                kind: "core",
                index: i as u32,
            });
            let parent = match (core.cache, core.numa) {
                (Some(c), _) => vid("cache", c),
                (None, Some(n)) => vid("numa", self.numa_nodes()[n as usize].os_index),
                _ => vid("package", self.packages()[core.package as usize].os_index),
            };
            e.push(Edge {
                a: parent,
                b: id.clone(),
                kind: "contains",
                class: None,
                weight: 0,
            });
            for cpu in core.cpus.iter() {
                e.push(Edge {
                    a: id.clone(),
                    b: vid("cpu", cpu),
                    kind: "contains",
                    class: None,
                    weight: 0,
                });
            }
        }
        // Caches hang below the NUMA node holding them.
        for (i, cache) in self.caches().iter().enumerate() {
            if let Some(node) = self
                .numa_nodes()
                .iter()
                .find(|n| !cache.cpus.is_empty() && cache.cpus.is_subset(&n.cpus))
            {
                e.push(Edge {
                    a: vid("numa", node.os_index),
                    b: vid("cache", i as u32),
                    kind: "contains",
                    class: None,
                    weight: 0,
                });
            }
        }
        for cpu in self.cpus() {
            v.push(Vertex {
                id: vid("cpu", cpu.os_index),
                kind: "cpu",
                index: cpu.os_index,
            });
        }
        for (i, dev) in self.devices().iter().enumerate() {
            let id = format!("device:{}", dev.name);
            v.push(Vertex {
                id: id.clone(),
                kind: "device",
                index: i as u32,
            });
            if let Some(node) = dev.numa.and_then(|n| self.numa_nodes().get(n as usize)) {
                e.push(Edge {
                    a: vid("numa", node.os_index),
                    b: id.clone(),
                    kind: "local",
                    class: None,
                    weight: 0,
                });
            }
            for (j, other) in self.devices().iter().enumerate().skip(i + 1) {
                if let Some(class) = self.link_class(i as u32, j as u32) {
                    let count = self
                        .links()
                        .iter()
                        .find(|l| l.a == i as u32 && l.b == j as u32 && l.class == class)
                        .map_or(0, |l| l.count);
                    e.push(Edge {
                        a: id.clone(),
                        b: format!("device:{}", other.name),
                        kind: "link",
                        class: Some(class.as_str()),
                        weight: count,
                    });
                }
            }
        }
        (v, e)
    }
}
