//! The exact search of a joint placement inside one domain with one CPU/memory home: a branch
//! and bound over GPU sets (ascending index, so among equal scores the lowest indexes win),
//! with NICs chosen optimally for each complete GPU set.
//!
//! Upper bound at a search node with chosen GPUs `P` and `r` GPUs still to choose from the
//! remaining candidates `R`: the links and unary terms of `P`, plus the `r` largest of
//! `sum_{p in P} w(c, p) + u(c) + (r - 1) * maxw(c) / 2` over `c` in `R`, plus the best NIC
//! count part; `u(c)` is the GPU's best possible NICs minus its NUMA penalty, `maxw(c)` its
//! largest pair score. Every term over-estimates its share of any completion, and the
//! fragmentation term only subtracts, so the bound is valid; a branch whose bound does not
//! beat the incumbent is cut (ties keep the first set found).

use super::device_table::DeviceTable;
use super::machine::NONE;

/// A cost no real assignment reaches: marks a forbidden GPU-NIC pair.
const FORBIDDEN: i64 = 1 << 40;

/// Inputs of one search. All indexes are GPU / NIC ordinals.
pub(super) struct Problem<'a> {
    pub(super) table: &'a DeviceTable,
    /// Candidate GPUs, ascending.
    pub(super) gpus: &'a [u32],
    /// Candidate NICs, ascending.
    pub(super) nics: &'a [u32],
    /// GPUs to choose.
    pub(super) k: usize,
    /// NICs per GPU (per-GPU mode).
    pub(super) per_gpu: usize,
    /// NICs in all (count mode).
    pub(super) count: usize,
    /// PCIe-root alignment: NICs under their GPU's root; without NICs, GPUs under one root.
    pub(super) root: bool,
    /// NUMA penalty of a device on each dense node (0 when there is no home).
    pub(super) pen: Vec<i64>,
    /// Per dense node: GPUs in all, and GPUs free before this placement.
    pub(super) numa_gpus: &'a [(u32, u32)],
    /// Per package: GPUs in all, and GPUs free before this placement.
    pub(super) pkg_gpus: &'a [(u32, u32)],
}

/// The score of a placement and its parts. `total = gpu_links + nic_paths - numa_distance -
/// fragmentation`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct JointScore {
    /// Sum of the pair scores among the chosen GPUs (`NVk` = 100 k, then the PCIe class).
    pub gpu_links: i64,
    /// Sum of the path points between each NIC and its GPU (`PIX` 50 ... `SYS` 10).
    pub nic_paths: i64,
    /// Sum over the devices of the NUMA distance from the farthest CPU/memory node to the
    /// device's node, minus the local distance.
    pub numa_distance: i64,
    /// 10 per NUMA node and per socket whose GPUs were all free and are now split.
    pub fragmentation: i64,
    /// The total.
    pub total: i64,
}

/// The best placement found.
#[derive(Debug, Clone, Default)]
pub(super) struct Found {
    pub(super) score: JointScore,
    pub(super) gpus: Vec<u32>,
    pub(super) nics: Vec<u32>,
    pub(super) nic_gpus: Vec<Option<u32>>,
    /// Search nodes visited and complete GPU sets scored.
    pub(super) visited: u64,
    pub(super) scored: u64,
}

struct Search<'a> {
    p: &'a Problem<'a>,
    /// Per candidate position: unary bound term.
    unary: Vec<i64>,
    /// Per candidate position: the largest pair score to another candidate.
    maxw: Vec<i64>,
    /// Per candidate position: pair scores to the chosen GPUs.
    acc: Vec<i64>,
    /// Per candidate position: the nearest lower twin position (see [`twins`]), or `usize::MAX`.
    prev_twin: Vec<usize>,
    /// Per candidate position: chosen.
    in_set: Vec<bool>,
    chosen: Vec<usize>,
    count_bound: i64,
    scratch: Vec<i64>,
    rows: Vec<u32>,
    cols: Vec<u32>,
    ranked: Vec<(i64, u32, Option<u32>, i64)>,
    assign: Assign,
    best: Option<Found>,
    /// A total found elsewhere (another home or domain): only strictly better placements count.
    floor: Option<i64>,
    visited: u64,
    scored: u64,
}

/// The best placement of `p` scoring strictly more than `floor` (when given), or `None` when
/// there is none.
pub(super) fn solve(p: &Problem<'_>, floor: Option<i64>) -> Option<Found> {
    let t = p.table;
    let n = p.gpus.len();
    if n < p.k {
        return None;
    }
    let nic_value = |g: u32, c: u32| -> Option<i64> {
        if p.root && !t.root(g, c) {
            return None;
        }
        Some(i64::from(t.points(g, c)) - p.pen_of(t.nic_numa[c as usize]))
    };
    let mut unary = Vec::with_capacity(n);
    let mut vals: Vec<i64> = Vec::with_capacity(p.nics.len());
    for &g in p.gpus {
        let mut u = -p.pen_of(t.gpu_numa[g as usize]);
        if p.per_gpu > 0 {
            vals.clear();
            vals.extend(p.nics.iter().filter_map(|&c| nic_value(g, c)));
            if vals.len() < p.per_gpu {
                u = i64::MIN / 8; // cannot get its NICs: never chosen
            } else {
                u += top_sum(&mut vals, p.per_gpu);
            }
        }
        unary.push(u);
    }
    let maxw = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| j != i)
                .map(|j| i64::from(t.pair.get(p.gpus[i] as usize, p.gpus[j] as usize)))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let count_bound = if p.count > 0 {
        vals.clear();
        vals.extend(p.nics.iter().map(|&c| {
            let best = if p.k == 0 {
                0
            } else {
                p.gpus.iter().map(|&g| t.points(g, c)).max().unwrap_or(0)
            };
            i64::from(best) - p.pen_of(t.nic_numa[c as usize])
        }));
        if vals.len() < p.count {
            return None;
        }
        top_sum(&mut vals, p.count)
    } else {
        0
    };
    let mut s = Search {
        p,
        unary,
        maxw,
        acc: vec![0; n],
        prev_twin: twins(p),
        in_set: vec![false; n],
        chosen: Vec::with_capacity(p.k),
        count_bound,
        scratch: Vec::with_capacity(n),
        rows: Vec::with_capacity(p.k * p.per_gpu),
        cols: Vec::with_capacity(p.k * p.per_gpu),
        ranked: Vec::with_capacity(p.nics.len()),
        assign: Assign::default(),
        best: None,
        floor,
        visited: 0,
        scored: 0,
    };
    s.dfs(0, 0, 0);
    let (visited, scored) = (s.visited, s.scored);
    s.best.map(|mut f| {
        f.visited = visited;
        f.scored = scored;
        f
    })
}

impl Problem<'_> {
    fn pen_of(&self, numa: u32) -> i64 {
        if numa == NONE {
            return 0;
        }
        self.pen.get(numa as usize).copied().unwrap_or(0)
    }
}

/// Per candidate position, the nearest lower position holding a *twin*: a GPU on the same NUMA
/// node with the same pair scores and PCIe-root relations to every other candidate and the
/// same path to every candidate NIC. Swapping twins changes no part of the score, so a set
/// using a twin while a lower one is unused need not be visited.
fn twins(p: &Problem<'_>) -> Vec<usize> {
    let t = p.table;
    let n = p.gpus.len();
    let same = |i: usize, j: usize| -> bool {
        let (a, b) = (p.gpus[i], p.gpus[j]);
        let (au, bu) = (a as usize, b as usize);
        if t.gpu_numa[au] != t.gpu_numa[bu] {
            return false;
        }
        let peers = |x: u32, y: u32| t.gpu_root_peers[x as usize] & (1u128 << y) != 0;
        let rows = (0..n).filter(|&x| x != i && x != j).all(|x| {
            let g = p.gpus[x];
            t.pair.get(au, g as usize) == t.pair.get(bu, g as usize) && peers(a, g) == peers(b, g)
        });
        rows && p
            .nics
            .iter()
            .all(|&c| t.points(a, c) == t.points(b, c) && t.root(a, c) == t.root(b, c))
    };
    (0..n)
        .map(|j| (0..j).rev().find(|&i| same(i, j)).unwrap_or(usize::MAX))
        .collect()
}

/// Sum of the `r` largest values (reorders `vals`).
fn top_sum(vals: &mut [i64], r: usize) -> i64 {
    if r == 0 || vals.is_empty() {
        return 0;
    }
    let r = r.min(vals.len());
    vals.select_nth_unstable_by(r - 1, |a, b| b.cmp(a));
    vals[..r].iter().sum()
}

impl Search<'_> {
    /// Visits the sets extending `chosen` with candidates from `from` on; `links` and `usum`
    /// are the chosen GPUs' pair scores and unary terms.
    fn dfs(&mut self, from: usize, links: i64, usum: i64) {
        self.visited += 1;
        let k = self.p.k;
        let depth = self.chosen.len();
        if depth == k {
            self.leaf(links);
            return;
        }
        let n = self.p.gpus.len();
        let r = k - depth;
        if n - from < r {
            return;
        }
        if let Some(target) = self.target() {
            // Bound (doubled, to keep the half of the pairs among the rest integral).
            self.scratch.clear();
            for c in from..n {
                if self.allowed(c) {
                    let v = 2 * (self.acc[c] + self.unary[c]) + (r as i64 - 1) * self.maxw[c];
                    self.scratch.push(v);
                }
            }
            if self.scratch.len() < r {
                return;
            }
            let rest = top_sum(&mut self.scratch, r);
            let bound2 = 2 * (links + usum + self.count_bound) + rest;
            if bound2 <= 2 * target {
                return;
            }
        }
        for c in from..=(n - r) {
            if !self.allowed(c) || self.unary[c] <= i64::MIN / 16 {
                continue;
            }
            // Twins are interchangeable: take them lowest first, so each set is visited once
            // in its lexicographically first form (the one the tie rule keeps anyway).
            let twin = self.prev_twin[c];
            if twin != usize::MAX && !self.in_set[twin] {
                continue;
            }
            let add = self.acc[c];
            let gc = self.p.gpus[c] as usize;
            for j in 0..n {
                self.acc[j] += i64::from(self.p.table.pair.get(gc, self.p.gpus[j] as usize));
            }
            self.chosen.push(c);
            self.in_set[c] = true;
            self.dfs(c + 1, links + add, usum + self.unary[c]);
            self.in_set[c] = false;
            self.chosen.pop();
            for j in 0..n {
                self.acc[j] -= i64::from(self.p.table.pair.get(gc, self.p.gpus[j] as usize));
            }
        }
    }

    /// The total a placement must beat: the incumbent's, else the floor.
    fn target(&self) -> Option<i64> {
        self.best.as_ref().map(|b| b.score.total).or(self.floor)
    }

    /// Whether candidate position `c` may join the chosen GPUs (one PCIe root when aligned to
    /// the root without NICs).
    fn allowed(&self, c: usize) -> bool {
        if !(self.p.root && self.p.per_gpu == 0 && self.p.count == 0) {
            return true;
        }
        let peers = self.p.table.gpu_root_peers[self.p.gpus[c] as usize];
        self.chosen
            .iter()
            .all(|&q| peers & (1u128 << self.p.gpus[q]) != 0)
    }

    fn leaf(&mut self, links: i64) {
        self.scored += 1;
        let p = self.p;
        let t = p.table;
        let mut numa_pen: i64 = self
            .chosen
            .iter()
            .map(|&c| p.pen_of(t.gpu_numa[p.gpus[c] as usize]))
            .sum();
        let mut nic_points = 0i64;
        if p.per_gpu > 0 {
            self.rows.clear();
            for &c in &self.chosen {
                self.rows.extend(std::iter::repeat_n(p.gpus[c], p.per_gpu));
            }
            if !self.assign.solve(p, &self.rows, &mut self.cols) {
                return;
            }
            for (&g, &c) in self.rows.iter().zip(&self.cols) {
                nic_points += i64::from(t.points(g, c));
                numa_pen += p.pen_of(t.nic_numa[c as usize]);
            }
            let total = links + nic_points - numa_pen - self.fragmentation();
            if self.target().is_none_or(|t| total > t) {
                let nic_gpus = self.rows.iter().map(|&g| Some(g)).collect();
                let nics = self.cols.clone();
                self.keep(links, nic_points, numa_pen, total, nics, nic_gpus);
            }
            return;
        }
        if p.count > 0 {
            // Each NIC by its best path to a chosen GPU; the best `count`, lowest index on ties.
            self.ranked.clear();
            for &c in p.nics {
                let mut best: Option<(u32, u32)> = None;
                for &q in &self.chosen {
                    let g = p.gpus[q];
                    if p.root && !t.root(g, c) {
                        continue;
                    }
                    let pts = t.points(g, c);
                    if best.is_none_or(|(b, _)| pts > b) {
                        best = Some((pts, g));
                    }
                }
                if p.k > 0 && best.is_none() {
                    continue;
                }
                let pts = i64::from(best.map_or(0, |(b, _)| b));
                let pen = p.pen_of(t.nic_numa[c as usize]);
                self.ranked.push((pts - pen, c, best.map(|(_, g)| g), pen));
            }
            if self.ranked.len() < p.count {
                return;
            }
            self.ranked
                .sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(v, _, _, pen) in self.ranked.iter().take(p.count) {
                nic_points += v + pen;
                numa_pen += pen;
            }
        }
        let total = links + nic_points - numa_pen - self.fragmentation();
        if self.target().is_none_or(|t| total > t) {
            let top = self.ranked.iter().take(p.count);
            let nics = top.clone().map(|r| r.1).collect();
            let nic_gpus = top.map(|r| r.2).collect();
            self.keep(links, nic_points, numa_pen, total, nics, nic_gpus);
        }
    }

    fn keep(
        &mut self,
        links: i64,
        nic_paths: i64,
        numa_distance: i64,
        total: i64,
        nics: Vec<u32>,
        nic_gpus: Vec<Option<u32>>,
    ) {
        let gpus = self.chosen.iter().map(|&c| self.p.gpus[c]).collect();
        self.best = Some(Found {
            score: JointScore {
                gpu_links: links,
                nic_paths,
                numa_distance,
                fragmentation: total_frag(links, nic_paths, numa_distance, total),
                total,
            },
            gpus,
            nics,
            nic_gpus,
            visited: 0,
            scored: 0,
        });
    }

    /// 10 per NUMA node and per package whose GPUs were all free and would now be split.
    fn fragmentation(&self) -> i64 {
        let p = self.p;
        let t = p.table;
        let split = |of: &dyn Fn(u32) -> u32, counts: &[(u32, u32)]| -> i64 {
            let mut n = 0;
            for (i, &q) in self.chosen.iter().enumerate() {
                let dom = of(p.gpus[q]);
                if dom == NONE {
                    continue;
                }
                // Count each domain once, at its first chosen GPU.
                if self.chosen[..i].iter().any(|&e| of(p.gpus[e]) == dom) {
                    continue;
                }
                let taken = self
                    .chosen
                    .iter()
                    .filter(|&&e| of(p.gpus[e]) == dom)
                    .count();
                if let Some(&(total, free)) = counts.get(dom as usize) {
                    if free == total && (taken as u32) < total {
                        n += 10;
                    }
                }
            }
            n
        };
        let numa = |g: u32| t.gpu_numa[g as usize];
        let pkg = |g: u32| t.package_of(t.gpu_numa[g as usize]);
        split(&numa, p.numa_gpus) + split(&pkg, p.pkg_gpus)
    }
}

/// The fragmentation part implied by the other parts and the total.
const fn total_frag(links: i64, nic: i64, numa: i64, total: i64) -> i64 {
    links + nic - numa - total
}

/// Reusable buffers of the assignment of NICs to GPU slots (Hungarian method, rows <= cols).
#[derive(Default)]
struct Assign {
    u: Vec<i64>,
    v: Vec<i64>,
    p: Vec<usize>,
    way: Vec<usize>,
    minv: Vec<i64>,
    used: Vec<bool>,
}

impl Assign {
    /// Writes to `out` the NIC for each row (a GPU slot) maximising the summed path points
    /// minus NUMA penalties; among equal sums, the smallest sum of NIC positions. `false` when
    /// some row can only take a forbidden NIC.
    fn solve(&mut self, p: &Problem<'_>, rows: &[u32], out: &mut Vec<u32>) -> bool {
        let (n, m) = (rows.len(), p.nics.len());
        if n > m {
            return false;
        }
        let t = p.table;
        // Scale so the value always dominates the position tie-break (positions sum < 2^14).
        let cost = |i: usize, j: usize| -> i64 {
            let (g, c) = (rows[i - 1], p.nics[j - 1]);
            if p.root && !t.root(g, c) {
                return FORBIDDEN;
            }
            let value = i64::from(t.points(g, c)) - p.pen_of(t.nic_numa[c as usize]);
            (1000 - value) * (1 << 14) + j as i64
        };
        for buf in [&mut self.u, &mut self.v, &mut self.minv] {
            buf.clear();
        }
        self.u.resize(n + 1, 0);
        self.v.resize(m + 1, 0);
        self.p.clear();
        self.p.resize(m + 1, 0);
        self.way.clear();
        self.way.resize(m + 1, 0);
        for i in 1..=n {
            self.p[0] = i;
            let mut j0 = 0usize;
            self.minv.clear();
            self.minv.resize(m + 1, i64::MAX);
            self.used.clear();
            self.used.resize(m + 1, false);
            loop {
                self.used[j0] = true;
                let i0 = self.p[j0];
                let mut delta = i64::MAX;
                let mut j1 = 0usize;
                for j in 1..=m {
                    if !self.used[j] {
                        let cur = cost(i0, j) - self.u[i0] - self.v[j];
                        if cur < self.minv[j] {
                            self.minv[j] = cur;
                            self.way[j] = j0;
                        }
                        if self.minv[j] < delta {
                            delta = self.minv[j];
                            j1 = j;
                        }
                    }
                }
                for j in 0..=m {
                    if self.used[j] {
                        self.u[self.p[j]] += delta;
                        self.v[j] -= delta;
                    } else {
                        self.minv[j] -= delta;
                    }
                }
                j0 = j1;
                if self.p[j0] == 0 {
                    break;
                }
            }
            loop {
                let j1 = self.way[j0];
                self.p[j0] = self.p[j1];
                j0 = j1;
                if j0 == 0 {
                    break;
                }
            }
        }
        out.clear();
        out.resize(n, 0);
        for j in 1..=m {
            let i = self.p[j];
            if i > 0 {
                if cost(i, j) >= FORBIDDEN {
                    return false;
                }
                out[i - 1] = p.nics[j - 1];
            }
        }
        true
    }
}
