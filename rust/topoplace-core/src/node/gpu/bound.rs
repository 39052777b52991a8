//! The value side of the best-effort search: the best split score of a set of GPUs, by branch
//! and bound over counts of interchangeable GPUs rather than over GPU sets.
//!
//! Twins (available GPUs with the same score to every other available GPU and the same
//! required-ness) form a class, and a split's score only depends on how many GPUs each group
//! takes from each class. Classes that are interchangeable as wholes (same size, same score
//! inside, same score to every other class: the PCIe switches of one socket on an NVSwitch
//! machine) form a segment. A state is the count left per class with every segment sorted in
//! descending order, so states that differ by swapping such classes share one memo entry; and
//! inside a state, classes of a segment with equal counts are still interchangeable, so a group
//! takes non-increasing counts along them. That collapses the symmetric splits an NVSwitch
//! machine has in the millions into a few hundred states.
//!
//! Bounds: each GPU gets half its `size - 1` best partner scores among the GPUs left (less what
//! the GPUs of a padded group still to place must lose); a candidate group is checked against
//! its parent's per-class sums before its child state is built, and candidates are explored
//! best bound first so the best split is met early and the rest is cut.

use std::collections::BTreeMap;

/// Below every reachable score: "no valid split".
pub(super) const NEG: i64 = i64::MIN / 4;

#[derive(Debug, Clone, Copy)]
struct Entry {
    value: i64,
    exact: bool,
}

/// A group found at a search node: its bound, its score and where its counts are in `xs`.
#[derive(Debug, Clone, Copy)]
struct Cand {
    qb: i64,
    s: i64,
    at: u32,
}

/// The class model of one request (built by `Model::new` in the `besteffort` module).
pub(super) struct Model {
    pub(super) size: usize,
    pub(super) pad: usize,
    /// Number of classes; the required ones come first.
    pub(super) k: usize,
    pub(super) req: usize,
    /// Per class, its GPUs.
    pub(super) masks: Vec<u128>,
    /// Per GPU index, its class (`u16::MAX` when not available).
    pub(super) class_of: Vec<u16>,
    /// Class-by-class pair scores; the diagonal holds the score inside a class.
    pub(super) w: Vec<i64>,
    /// Per class, every class by descending score to it (itself included).
    pub(super) order: Vec<u16>,
    /// Segments as `(start, end)` class ranges.
    pub(super) segs: Vec<(u16, u16)>,
    /// Per class, the first class of its segment.
    pub(super) seg_start: Vec<u16>,
    /// Per class, where its count sits in a memo key.
    pub(super) shift: Vec<u32>,
}

impl Model {
    /// Per-class partner sums of the GPUs left in `c` (each GPU's `size - 1` best partner
    /// scores, into `sums`), and what the padded group's GPUs lose at least when it is still
    /// to be placed. Returns `(total of sums over GPUs, that loss)`.
    fn partner_sums(&self, c: &[u8], sums: &mut [i64], short: &mut Vec<(i64, u8)>) -> (i64, i64) {
        let k = self.k;
        let want = self.size - 1;
        let keep = self.size - self.pad - 1;
        let pad_open = self.pad_open(c);
        short.clear();
        let mut total2 = 0i64;
        for x in 0..k {
            if c[x] == 0 {
                continue;
            }
            let (mut left, mut taken, mut sum, mut kept) = (want, 0usize, 0i64, 0i64);
            for &y in &self.order[x * k..(x + 1) * k] {
                let y = usize::from(y);
                let avail = usize::from(c[y]) - usize::from(x == y);
                if avail == 0 {
                    continue;
                }
                let t = avail.min(left);
                let wy = self.w[x * k + y];
                sum += t as i64 * wy;
                if taken < keep {
                    kept += (t.min(keep - taken)) as i64 * wy;
                }
                taken += t;
                left -= t;
                if left == 0 {
                    break;
                }
            }
            sums[x] = sum;
            total2 += i64::from(c[x]) * sum;
            if pad_open {
                short.push((sum - kept, c[x]));
            }
        }
        let mut deduct = 0i64;
        if pad_open {
            short.sort_unstable();
            let mut need = self.size - self.pad;
            for &(loss, n) in short.iter() {
                let t = usize::from(n).min(need);
                deduct += t as i64 * loss;
                need -= t;
                if need == 0 {
                    break;
                }
            }
        }
        (total2, deduct)
    }

    fn pad_open(&self, c: &[u8]) -> bool {
        let n: usize = c.iter().map(|&v| usize::from(v)).sum();
        self.pad > 0 && n % self.size != 0
    }

    fn canonical(&self, c: &mut [u8]) {
        for &(a, b) in &self.segs {
            let seg = &mut c[usize::from(a)..usize::from(b)];
            for i in 1..seg.len() {
                let mut j = i;
                while j > 0 && seg[j - 1] < seg[j] {
                    seg.swap(j - 1, j);
                    j -= 1;
                }
            }
        }
    }

    fn key(&self, c: &[u8]) -> u128 {
        c.iter()
            .zip(&self.shift)
            .fold(0u128, |acc, (&v, &s)| acc | u128::from(v) << s)
    }
}

/// The class-space search: memo, per-depth states and the candidate stack, all reused.
pub(super) struct Values {
    pub(super) m: Model,
    memo: BTreeMap<u128, Entry>,
    /// States by depth, `k` counts each; depth 0 is the caller's.
    states: Vec<u8>,
    cands: Vec<Cand>,
    /// Group counts of the candidates on `cands`, `k` each.
    xs: Vec<u8>,
    x: Vec<u8>,
    /// The classes with a non-zero count in `x`, ascending.
    picked: Vec<u16>,
    sums: Vec<i64>,
    short: Vec<(i64, u8)>,
    suffix: Vec<usize>,
    pub(super) candidates: u64,
}

/// The node whose groups are being listed.
struct Gen {
    alpha: i64,
    total2: i64,
    deduct: i64,
    pad_open: bool,
    with_req: bool,
    fail_ub: i64,
}

impl Values {
    pub(super) fn new(m: Model, gpus: usize) -> Self {
        let k = m.k;
        let depth = gpus / m.size + 3;
        Self {
            memo: BTreeMap::new(),
            states: vec![0; depth * k],
            cands: Vec::with_capacity(64),
            xs: Vec::with_capacity(64 * k),
            x: vec![0; k],
            picked: Vec::with_capacity(m.size),
            sums: vec![0; k],
            short: Vec::with_capacity(k),
            suffix: vec![0; k + 1],
            candidates: 0,
            m,
        }
    }

    /// Per-class GPU counts of `mask`.
    pub(super) fn counts(&self, mask: u128, out: &mut [u8]) {
        for (o, &cm) in out.iter_mut().zip(&self.m.masks) {
            *o = (cm & mask).count_ones() as u8;
        }
    }

    /// Partner sums of the GPUs of `counts` (see [`Model::partner_sums`]), left in
    /// [`Values::sums`].
    pub(super) fn bound_parts(&mut self, counts: &[u8]) -> (i64, i64) {
        let Self { m, sums, short, .. } = self;
        m.partner_sums(counts, sums, short)
    }

    pub(super) fn sums(&self) -> &[i64] {
        &self.sums
    }

    /// Best split score of the GPUs counted by `counts`: exact when at least `alpha`,
    /// otherwise an upper bound below `alpha`.
    pub(super) fn value(&mut self, counts: &[u8], alpha: i64) -> i64 {
        let k = self.m.k;
        self.states[..k].copy_from_slice(counts);
        self.m.canonical(&mut self.states[..k]);
        self.solve(0, alpha)
    }

    fn store(&mut self, key: u128, e: Entry) {
        match self.memo.get(&key) {
            Some(old) if old.exact => {}
            _ => {
                self.memo.insert(key, e);
            }
        }
    }

    fn solve(&mut self, depth: usize, alpha: i64) -> i64 {
        let k = self.m.k;
        let size = self.m.size;
        let here = depth * k;
        let c = &self.states[here..here + k];
        let cnt: usize = c.iter().map(|&v| usize::from(v)).sum();
        if cnt == 0 {
            return 0;
        }
        let with_req = c[..self.m.req].iter().any(|&v| v != 0);
        if with_req && cnt < size {
            return NEG;
        }
        let key = self.m.key(c);
        let mut ub = i64::MAX;
        if let Some(e) = self.memo.get(&key) {
            if e.exact || e.value < alpha {
                return e.value;
            }
            ub = e.value;
        }
        let (total2, deduct) = {
            let Self {
                m,
                states,
                sums,
                short,
                ..
            } = self;
            m.partner_sums(&states[here..here + k], sums, short)
        };
        ub = ub.min((total2 - deduct) / 2);
        if ub < alpha {
            self.store(
                key,
                Entry {
                    value: ub,
                    exact: false,
                },
            );
            return ub;
        }
        let base = self.cands.len();
        let xs_base = self.xs.len();
        let mut g = Gen {
            alpha,
            total2,
            deduct,
            pad_open: self.m.pad_open(&self.states[here..here + k]),
            with_req,
            fail_ub: NEG,
        };
        self.list_groups(here, &mut g);
        let end = self.cands.len();
        self.cands[base..end].sort_unstable_by(|a, b| b.qb.cmp(&a.qb).then(a.at.cmp(&b.at)));
        let mut best = NEG;
        for i in base..end {
            let cd = self.cands[i];
            let need = alpha.max(best.saturating_add(1));
            if cd.qb < need {
                g.fail_ub = g.fail_ub.max(cd.qb);
                break;
            }
            let next = here + k;
            let at = cd.at as usize * k;
            for x in 0..k {
                self.states[next + x] = self.states[here + x] - self.xs[at + x];
            }
            self.m.canonical(&mut self.states[next..next + k]);
            let v = self.solve(depth + 1, need - cd.s);
            let total = cd.s + v;
            if v >= need - cd.s && total > best {
                best = total;
                if best >= ub {
                    break;
                }
            } else {
                g.fail_ub = g.fail_ub.max(total);
            }
        }
        self.cands.truncate(base);
        self.xs.truncate(xs_base);
        if best >= alpha {
            self.store(
                key,
                Entry {
                    value: best,
                    exact: true,
                },
            );
            best
        } else {
            let v = best.max(g.fail_ub);
            self.store(
                key,
                Entry {
                    value: v,
                    exact: false,
                },
            );
            v
        }
    }

    /// Pushes onto `cands` every group of the state at `here` (one per class-count vector, up
    /// to the symmetries above) whose bound reaches `g.alpha`.
    fn list_groups(&mut self, here: usize, g: &mut Gen) {
        let k = self.m.k;
        self.x.fill(0);
        self.picked.clear();
        self.suffix[k] = 0;
        for x in (0..k).rev() {
            self.suffix[x] = self.suffix[x + 1] + usize::from(self.states[here + x]);
        }
        if g.with_req {
            // The group holding the required GPUs holds all of them and is complete.
            let (mut n, mut s, mut lost) = (0usize, 0i64, 0i64);
            for x in 0..self.m.req {
                let v = self.states[here + x];
                if v != 0 {
                    let (cross, inner) = self.gain(x);
                    let v64 = i64::from(v);
                    s += v64 * cross + v64 * (v64 - 1) / 2 * inner;
                    self.x[x] = v;
                    self.picked.push(x as u16);
                    n += usize::from(v);
                    lost += i64::from(v) * self.sums[x];
                }
            }
            if n == self.m.size {
                self.emit(g, s, lost, true);
            } else {
                self.extend(here, g, self.m.req, n, s, lost);
            }
            return;
        }
        // Every split has a group holding a GPU of the first non-empty class: list those.
        let Some(first) = (0..k).find(|&x| self.states[here + x] != 0) else {
            return;
        };
        self.take(here, g, first, 0, 0, 0);
        self.x[first] = 0;
    }

    /// Lists groups extending `self.x` (of `n` GPUs, score `s`) with classes from `from` on.
    fn extend(&mut self, here: usize, g: &mut Gen, from: usize, n: usize, s: i64, lost: i64) {
        let low = if g.pad_open && !g.with_req {
            self.m.size - self.m.pad
        } else {
            self.m.size
        };
        if n + self.suffix[from] < low {
            return;
        }
        for y in from..self.m.k {
            let st = usize::from(self.m.seg_start[y]);
            // Along a run of equal counts in a segment, counts taken do not increase.
            if y > st && self.states[here + y] == self.states[here + y - 1] && self.x[y - 1] == 0 {
                continue;
            }
            self.take(here, g, y, n, s, lost);
            self.x[y] = 0;
        }
    }

    /// Lists groups adding 1, 2, ... GPUs of class `y` to `self.x`.
    fn take(&mut self, here: usize, g: &mut Gen, y: usize, n: usize, s: i64, lost: i64) {
        let size = self.m.size;
        let st = usize::from(self.m.seg_start[y]);
        let mut hi = usize::from(self.states[here + y]).min(size - n);
        if y > st && self.states[here + y] == self.states[here + y - 1] {
            hi = hi.min(usize::from(self.x[y - 1]));
        }
        if hi == 0 {
            return;
        }
        let (cross, inner) = self.gain(y);
        self.picked.push(y as u16);
        for v in 1..=hi {
            self.x[y] = v as u8;
            let v64 = v as i64;
            let s2 = s + v64 * cross + v64 * (v64 - 1) / 2 * inner;
            let lost2 = lost + v64 * self.sums[y];
            let n2 = n + v;
            if n2 == size {
                self.emit(g, s2, lost2, true);
            } else {
                if g.pad_open && !g.with_req && n2 == size - self.m.pad {
                    self.emit(g, s2, lost2, false);
                }
                self.extend(here, g, y + 1, n2, s2, lost2);
            }
        }
        self.picked.pop();
    }

    /// Score one GPU of class `y` adds to the classes picked so far, and the score inside `y`.
    fn gain(&self, y: usize) -> (i64, i64) {
        let k = self.m.k;
        let row = &self.m.w[y * k..(y + 1) * k];
        let cross = self
            .picked
            .iter()
            .map(|&p| i64::from(self.x[usize::from(p)]) * row[usize::from(p)])
            .sum();
        (cross, row[y])
    }

    fn emit(&mut self, g: &mut Gen, s: i64, lost: i64, complete: bool) {
        self.candidates += 1;
        let deduct = if complete && g.pad_open { g.deduct } else { 0 };
        let qb = s + (g.total2 - lost - deduct) / 2;
        if qb < g.alpha {
            g.fail_ub = g.fail_ub.max(qb);
            return;
        }
        let at = (self.xs.len() / self.m.k) as u32;
        self.xs.extend_from_slice(&self.x);
        self.cands.push(Cand { qb, s, at });
    }
}
