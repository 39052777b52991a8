//! The instances of the study in `cluster_mixed.rs`: a small deterministic generator of random
//! clusters and gangs (2-12 nodes under two label levels, block and rack, uneven trees
//! included; 0-2 NUMA nodes each with random capacity and use; 1-3 groups with required and
//! preferred levels, NUMA alignment and sometimes slices), their JSON, greedy shrinking of a
//! counterexample, and small hand-written clusters.

use serde_json::{Value, json};
use topoplace_core::cluster::Cluster;
use topoplace_core::cluster::json::{cluster_from_json, gang_from_json};

/// Label keys, outermost first.
const LEVELS: [&str; 2] = ["block", "rack"];

/// A small deterministic generator (xorshift64*), so the study needs no dependency.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + usize::try_from(self.next() % (hi - lo + 1) as u64).unwrap_or(0)
    }

    fn amount(&mut self, hi: usize) -> i64 {
        i64::try_from(self.range(0, hi)).unwrap_or(0)
    }

    /// True `pct` percent of the time.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

/// CPUs (cores), memory and GPUs.
pub(crate) type Res = [i64; 3];

/// Resource names, in [`Res`] order.
const RESOURCES: [&str; 3] = ["cpu", "memory", "nvidia.com/gpu"];

fn res_json(r: Res) -> Value {
    RESOURCES
        .iter()
        .zip(r)
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeGen {
    block: Option<usize>,
    rack: Option<usize>,
    /// Per NUMA node: (allocatable, used).
    pub(crate) zones: Vec<(Res, Res)>,
    /// Resources outside the NUMA nodes (not NUMA-local): (allocatable, used).
    extra: (Res, Res),
    pub(crate) single_numa: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupGen {
    pub(crate) count: usize,
    pub(crate) req: Res,
    pub(crate) aligned: Option<bool>,
    pub(crate) required: Option<usize>,
    preferred: Option<usize>,
    /// Slice layers `(size, level)`, outermost first.
    pub(crate) slices: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instance {
    pub(crate) nodes: Vec<NodeGen>,
    pub(crate) groups: Vec<GroupGen>,
}

/// What the placement code under test understands, probed through the parser.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Features {
    /// `slices: [{size, level}]` layers.
    pub(crate) layers: bool,
    /// `strategy: tight | pack | balanced`.
    pub(crate) strategies: bool,
}

impl Features {
    pub(crate) fn probe() -> Self {
        let c = cluster_from_json(&json!({"levels": LEVELS, "nodes": []})).expect("cluster");
        let g = |extra: Value| {
            let mut group = json!({"count": 2, "request": {"cpu": 1}});
            let mut gang = json!({"groups": []});
            for (k, v) in extra.as_object().expect("object") {
                if k == "strategy" {
                    gang[k] = v.clone();
                } else {
                    group[k] = v.clone();
                }
            }
            gang["groups"] = json!([group]);
            gang_from_json(&gang, &c).is_err()
        };
        Self {
            layers: g(json!({"slices": [{"size": 0, "level": "rack"}]})),
            strategies: g(json!({"strategy": "no-such-strategy"})),
        }
    }
}

impl Instance {
    /// A random instance of 2 to `max_nodes` nodes and 1 to `max_pods` pods.
    pub(crate) fn random(rng: &mut Rng, f: Features, max_nodes: usize, max_pods: usize) -> Self {
        let nn = rng.range(2, max_nodes);
        let (blocks, racks) = (rng.range(1, 3), rng.range(1, 3));
        let uneven = rng.chance(30);
        let nodes = (0..nn)
            .map(|_| {
                let block = (!(uneven && rng.chance(15))).then(|| rng.range(0, blocks - 1));
                let rack = (!(uneven && rng.chance(20))).then(|| rng.range(0, racks - 1));
                let nz = if rng.chance(8) { 0 } else { rng.range(1, 2) };
                let mem_local = nz > 0 && rng.chance(50);
                let gpus = rng.chance(60);
                let gpu_local = gpus && nz > 0 && rng.chance(70);
                // Up to `hi[r]` of each resource `r` where `on[r]`, and some of it used.
                let mut amounts = |hi: [usize; 3], on: [bool; 3]| {
                    let cap: Res =
                        std::array::from_fn(|r| if on[r] { rng.amount(hi[r]) } else { 0 });
                    let used: Res = std::array::from_fn(|r| {
                        let cap = usize::try_from(cap[r]).unwrap_or(0);
                        if rng.chance(50) { 0 } else { rng.amount(cap) }
                    });
                    (cap, used)
                };
                let zones = (0..nz)
                    .map(|_| amounts([8, 24, 4], [true, mem_local, gpu_local]))
                    .collect();
                let extra = amounts([16, 48, 8], [nz == 0, !mem_local, gpus && !gpu_local]);
                NodeGen {
                    block,
                    rack,
                    zones,
                    extra,
                    single_numa: rng.chance(70),
                }
            })
            .collect();
        let ng = match rng.next() % 10 {
            0..4 => 1,
            4..7 => 2,
            _ => 3,
        }
        .min(max_pods);
        let total = rng.range(ng, max_pods);
        let mut counts = vec![1; ng];
        for _ in ng..total {
            counts[rng.range(0, ng - 1)] += 1;
        }
        let groups = counts
            .into_iter()
            .map(|count| {
                let level = |rng: &mut Rng| match rng.next() % 3 {
                    0 => None,
                    l => Some(usize::try_from(l).unwrap_or(1) - 1),
                };
                let divisors = |n: usize| (2..=n).filter(move |d| n % d == 0);
                let mut slices = Vec::new();
                if rng.chance(25) {
                    let ds: Vec<usize> = divisors(count).collect();
                    if !ds.is_empty() {
                        let s = ds[rng.range(0, ds.len() - 1)];
                        let inner: Vec<usize> = divisors(s).collect();
                        if f.layers && rng.chance(25) {
                            slices.push((s, 0));
                            slices.push((inner[rng.range(0, inner.len() - 1)], 1));
                        } else {
                            slices.push((s, rng.range(0, 1)));
                        }
                    }
                }
                GroupGen {
                    count,
                    req: [
                        i64::try_from(rng.range(1, 4)).unwrap_or(1),
                        if rng.chance(50) { 0 } else { rng.amount(8) },
                        if rng.chance(50) { 0 } else { rng.amount(2) },
                    ],
                    aligned: match rng.next() % 10 {
                        0 => Some(true),
                        1 => Some(false),
                        _ => None,
                    },
                    required: level(rng),
                    preferred: level(rng),
                    slices,
                }
            })
            .collect();
        Self { nodes, groups }
    }

    pub(crate) fn cluster_json(&self) -> Value {
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut labels = serde_json::Map::new();
                if let Some(b) = n.block {
                    labels.insert("block".into(), json!(format!("b{b}")));
                }
                if let Some(r) = n.rack {
                    labels.insert("rack".into(), json!(format!("r{r}")));
                }
                let total = |side: fn(&(Res, Res)) -> Res| -> Res {
                    let parts = std::iter::once(&n.extra).chain(&n.zones).map(side);
                    parts.fold([0; 3], |a, p| std::array::from_fn(|r| a[r] + p[r]))
                };
                let mut v = json!({
                    "name": format!("n{i}"),
                    "labels": labels,
                    "capacity": res_json(total(|z| z.0)),
                    "used": res_json(total(|z| z.1)),
                });
                if !n.zones.is_empty() {
                    v["numa"] = n.zones.iter().map(|z| res_json(z.0)).collect();
                    v["numa_used"] = n.zones.iter().map(|z| res_json(z.1)).collect();
                }
                if n.single_numa {
                    v["topology_policy"] = json!("single-numa-node");
                }
                v
            })
            .collect();
        json!({"levels": LEVELS, "nodes": nodes})
    }

    pub(crate) fn gang_json(&self, strategy: Option<&str>) -> Value {
        let groups: Vec<Value> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let mut v = json!({"name": format!("g{i}"), "count": g.count,
                                   "request": res_json(g.req)});
                if let Some(a) = g.aligned {
                    v["numa_aligned"] = json!(a);
                }
                if let Some(l) = g.required {
                    v["required_level"] = json!(LEVELS[l]);
                }
                if let Some(l) = g.preferred {
                    v["preferred_level"] = json!(LEVELS[l]);
                }
                match g.slices.as_slice() {
                    [] => {}
                    [(s, l)] => {
                        v["slice_size"] = json!(s);
                        v["slice_level"] = json!(LEVELS[*l]);
                    }
                    layers => {
                        v["slices"] = layers
                            .iter()
                            .map(|&(s, l)| json!({"size": s, "level": LEVELS[l]}))
                            .collect();
                    }
                }
                v
            })
            .collect();
        let mut gang = json!({"name": "mixed", "groups": groups});
        if let Some(s) = strategy {
            gang["strategy"] = json!(s);
        }
        gang
    }

    /// One-step simplifications, for shrinking a counterexample: fewer nodes and groups
    /// first, then fewer constraints, then smaller amounts (to 0, halved, one less).
    fn smaller(&self) -> Vec<Self> {
        let mut out = Vec::new();
        let mut push = |f: &dyn Fn(&mut Self)| {
            let mut x = self.clone();
            f(&mut x);
            out.push(x);
        };
        for i in 0..self.nodes.len() {
            push(&|x| {
                x.nodes.remove(i);
            });
        }
        for i in 0..self.groups.len() {
            if self.groups.len() > 1 {
                push(&|x| {
                    x.groups.remove(i);
                });
            }
        }
        for i in 0..self.groups.len() {
            let g = &self.groups[i];
            let step = g.slices.first().map_or(1, |s| s.0);
            if g.count > step {
                push(&|x| x.groups[i].count = step);
                push(&|x| x.groups[i].count -= step);
            }
            push(&|x| x.groups[i].slices.clear());
            push(&|x| x.groups[i].required = None);
            push(&|x| x.groups[i].preferred = None);
            push(&|x| x.groups[i].aligned = None);
        }
        for i in 0..self.nodes.len() {
            push(&|x| x.nodes[i].block = None);
            push(&|x| x.nodes[i].rack = None);
            push(&|x| x.nodes[i].block = x.nodes[i].block.map(|_| 0));
            push(&|x| x.nodes[i].rack = x.nodes[i].rack.map(|_| 0));
            push(&|x| x.nodes[i].single_numa = false);
            if self.nodes[i].zones.len() > 1 {
                for z in 0..self.nodes[i].zones.len() {
                    push(&|x| {
                        x.nodes[i].zones.remove(z);
                    });
                }
            }
        }
        // Amounts: every (node, NUMA node or outside, allocatable or used, resource), then
        // every (group, resource).
        let mut amounts: Vec<(usize, usize, bool, usize)> = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            for z in 0..=n.zones.len() {
                for used in [true, false] {
                    amounts.extend((0..3).map(|r| (i, z, used, r)));
                }
            }
        }
        for shrink in [|_: i64| 0, |v: i64| v / 2, |v: i64| v - 1] {
            for &(i, z, used, r) in &amounts {
                push(&|x| {
                    let n = &mut x.nodes[i];
                    let pair = if z < n.zones.len() {
                        &mut n.zones[z]
                    } else {
                        &mut n.extra
                    };
                    let res = if used { &mut pair.1 } else { &mut pair.0 };
                    res[r] = shrink(res[r]);
                });
            }
            for i in 0..self.groups.len() {
                for r in 0..3 {
                    push(&|x| x.groups[i].req[r] = shrink(x.groups[i].req[r]));
                }
            }
        }
        out.retain(|x| x.well_formed() && x != self);
        out
    }

    /// Amounts not negative, used within allocatable, CPUs requested, slice sizes dividing
    /// the counts.
    fn well_formed(&self) -> bool {
        let ok = |(c, u): &(Res, Res)| (0..3).all(|r| 0 <= u[r] && u[r] <= c[r]);
        self.nodes
            .iter()
            .all(|n| ok(&n.extra) && n.zones.iter().all(ok))
            && self.groups.iter().all(|g| {
                g.req[0] >= 1
                    && g.req.iter().all(|&v| v >= 0)
                    && g.slices.iter().all(|&(s, _)| g.count % s == 0)
            })
    }
}

/// Greedy shrinking: the next one-step simplification (in [`Instance::smaller`]'s order,
/// resuming where the last one was taken) that keeps property `bad`, until none does.
pub(crate) fn shrink(mut inst: Instance, bad: &dyn Fn(&Instance) -> bool) -> Instance {
    let mut at = 0;
    loop {
        let steps = inst.smaller();
        let len = steps.len();
        let Some(k) = (0..len).map(|o| (at + o) % len).find(|&k| bad(&steps[k])) else {
            return inst;
        };
        at = k;
        inst = steps.into_iter().nth(k).expect("a step");
    }
}

pub(crate) fn show(inst: &Instance) -> String {
    json!({"cluster": inst.cluster_json(), "gang": inst.gang_json(None)}).to_string()
}

/// A hand-written node: name, labels, NUMA nodes of (cpu, memory, gpu), whether its policy
/// is single-numa-node.
pub(crate) type HandNode<'a> = (&'a str, Value, &'a [(i64, i64, i64)], bool);

/// A cluster of hand-written nodes.
pub(crate) fn small_cluster(nodes: &[HandNode<'_>]) -> Cluster {
    let nodes: Vec<Value> = nodes
        .iter()
        .map(|(name, labels, zones, single)| {
            let zone = |&(cpu, mem, gpu): &(i64, i64, i64)| {
                json!({"cpu": cpu, "memory": mem, "nvidia.com/gpu": gpu})
            };
            let total = zones
                .iter()
                .fold((0, 0, 0), |a, z| (a.0 + z.0, a.1 + z.1, a.2 + z.2));
            let mut v = json!({"name": name, "labels": labels, "capacity": zone(&total),
                               "numa": zones.iter().map(zone).collect::<Vec<_>>()});
            if *single {
                v["topology_policy"] = json!("single-numa-node");
            }
            v
        })
        .collect();
    cluster_from_json(&json!({"levels": LEVELS, "nodes": nodes})).expect("cluster")
}
