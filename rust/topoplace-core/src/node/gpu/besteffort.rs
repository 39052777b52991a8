//! The best-effort policy: an exact branch and bound search for the best split.
//!
//! The objective is `go-gpuallocator`'s: the available GPUs, padded with empty slots to a
//! multiple of `size` (all padding in one group, as upstream only lets a group hold no padding
//! or all of it), are split into groups of `size`; among the splits with one complete group that
//! holds every required GPU, take the highest total score; answer the highest-scoring such
//! group of that split.
//!
//! Two phases. The value of a set of GPUs (its best split score) comes from a branch and bound
//! over counts of interchangeable GPUs ([`super::bound`]), where the symmetric splits of an
//! NVSwitch machine collapse. The split itself is then rebuilt in upstream's visiting order:
//! every group starts with the lowest GPU left (so a split is built only once), its other
//! members are visited in ascending order, a padded group after the complete groups sharing its
//! prefix, and a GPU is skipped while a lower twin of it is free (the group with the twin comes
//! first and scores the same). The first group whose score plus the value of the GPUs it leaves
//! reaches the value of the GPUs before it starts the first best split in upstream's order,
//! which is the one upstream keeps.

use super::PairScores;
use super::bound::{Model, NEG, Values};
use crate::error::{Error, Result};

/// A chosen GPU set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The chosen GPU indexes, ascending.
    pub gpus: Vec<u32>,
    /// The chosen group's score (sum of its pair scores).
    pub score: u32,
    /// The best split's total score.
    pub split_score: u64,
    /// Candidate groups whose score the search computed.
    pub candidates_scored: u64,
}

/// Picks `size` GPUs of `available` (bit mask) holding all of `required`, by the best-effort
/// objective. `Ok(None)` when no allocation is possible (`size` 0 or above the available count,
/// more required GPUs than `size`, a required GPU not available). `strict` is accepted for API
/// stability: the search always keeps upstream's tie-breaking (ascending GPU index).
///
/// # Errors
/// [`Error::Value`] when a GPU of `available` is outside the score matrix.
pub fn best_effort(
    scores: &PairScores,
    available: u128,
    required: u128,
    size: usize,
    strict: bool,
) -> Result<Option<Selection>> {
    let _ = strict;
    let n = scores.len();
    if n < 128 && available >> n != 0 {
        return Err(Error::Value(format!(
            "available GPUs beyond the {n} scored ones"
        )));
    }
    let count = available.count_ones() as usize;
    if size == 0
        || size > count
        || required.count_ones() as usize > size
        || required & !available != 0
    {
        return Ok(None);
    }
    if size == 1 {
        let pick = if required != 0 {
            required
        } else {
            available & available.wrapping_neg()
        };
        return Ok(Some(Selection {
            gpus: super::mask_to_vec(pick),
            score: 0,
            split_score: 0,
            candidates_scored: 0,
        }));
    }
    let pad = (size - count % size) % size;
    let mut values = Values::new(Model::new(scores, available, required, size, pad), count);
    let k = values.m.k;
    let mut counts = vec![0u8; k];
    values.counts(available, &mut counts);
    let total = values.value(&counts, NEG + 1);
    if total < 0 {
        return Ok(None);
    }
    let mut walk = Walk {
        w: scores,
        size,
        pad,
        required,
        values,
        counts,
        sums: Vec::with_capacity(k),
        members: Vec::with_capacity(size),
        rest: Vec::with_capacity(count),
        mask: 0,
        target: 0,
        total2: 0,
        deduct: 0,
        pad_open: false,
        found: None,
    };
    let mut groups = Vec::new();
    let mut mask = available;
    let mut target = total;
    while mask != 0 {
        let Some((g, s)) = walk.first_best(mask, target) else {
            break;
        };
        groups.push(g);
        mask &= !g;
        target -= s;
    }
    let mut pick: Option<(u128, u32)> = None;
    for &g in &groups {
        if g.count_ones() as usize != size || g & required != required {
            continue;
        }
        let sc = group_score(scores, g);
        if pick.is_none_or(|(_, b)| sc > b) {
            pick = Some((g, sc));
        }
    }
    Ok(pick.map(|(g, sc)| Selection {
        gpus: super::mask_to_vec(g),
        score: sc,
        split_score: total.unsigned_abs(),
        candidates_scored: walk.values.candidates,
    }))
}

fn group_score(w: &PairScores, g: u128) -> u32 {
    let mut s = 0u32;
    let mut a = g;
    while a != 0 {
        let i = a.trailing_zeros() as usize;
        a &= a - 1;
        let mut b = a;
        while b != 0 {
            s = s.saturating_add(w.get(i, b.trailing_zeros() as usize));
            b &= b - 1;
        }
    }
    s
}

/// Rebuilds the first best split in upstream's order, one group at a time.
struct Walk<'a> {
    w: &'a PairScores,
    size: usize,
    pad: usize,
    required: u128,
    values: Values,
    /// Scratch class counts.
    counts: Vec<u8>,
    /// Per class, the partner sums at the GPUs left (see [`Values::bound_parts`]).
    sums: Vec<i64>,
    members: Vec<u32>,
    rest: Vec<u32>,
    /// The GPUs left and the value they must reach.
    mask: u128,
    target: i64,
    total2: i64,
    deduct: i64,
    pad_open: bool,
    found: Option<(u128, i64)>,
}

impl Walk<'_> {
    /// The first group of `mask`, in upstream order, that starts a split worth `target`.
    fn first_best(&mut self, mask: u128, target: i64) -> Option<(u128, i64)> {
        self.mask = mask;
        self.target = target;
        self.found = None;
        self.values.counts(mask, &mut self.counts);
        (self.total2, self.deduct) = self.values.bound_parts(&self.counts);
        // Searches below overwrite the values' scratch sums: keep this level's.
        self.sums.clear();
        self.sums.extend_from_slice(self.values.sums());
        self.pad_open = self.pad > 0 && mask.count_ones() as usize % self.size != 0;
        let f = mask.trailing_zeros();
        self.rest.clear();
        let mut m = mask & !(1u128 << f);
        while m != 0 {
            self.rest.push(m.trailing_zeros());
            m &= m - 1;
        }
        self.members.clear();
        self.members.push(f);
        self.extend(0, 1u128 << f, 0);
        self.found
    }

    /// Visits, in upstream order, the groups extending `group` with members from
    /// `self.rest[from..]`, until one starts a best split.
    fn extend(&mut self, from: usize, group: u128, score: i64) {
        let have = self.members.len();
        let want = self.size;
        let padded_at = want - self.pad;
        for k in from..self.rest.len() {
            let more = if self.pad_open && have < padded_at {
                padded_at - have
            } else {
                want - have
            };
            if self.found.is_some() || have >= want || self.rest.len() - k < more {
                break;
            }
            let j = self.rest[k];
            let class = usize::from(self.values.m.class_of[j as usize]);
            let below = self.values.m.masks[class] & ((1u128 << j) - 1);
            if below & self.mask & !group != 0 {
                // A lower twin is still free and not in the group: the same group with that
                // twin instead comes first and scores the same.
                continue;
            }
            let mut s = score;
            for &i in &self.members {
                s += i64::from(self.w.get(i as usize, j as usize));
            }
            self.members.push(j);
            let g = group | 1u128 << j;
            if have + 1 == want {
                self.try_group(g, s);
            } else {
                self.extend(k + 1, g, s);
            }
            self.members.pop();
        }
        if self.pad_open && have == padded_at && self.found.is_none() {
            self.try_group(group, score);
        }
    }

    fn try_group(&mut self, g: u128, s: i64) {
        let complete = g.count_ones() as usize == self.size;
        let touches = g & self.required != 0;
        if touches && (!complete || g & self.required != self.required) {
            return;
        }
        self.values.candidates += 1;
        let mut lost = 0i64;
        let mut m = g;
        while m != 0 {
            let class = self.values.m.class_of[m.trailing_zeros() as usize];
            lost += self.sums[usize::from(class)];
            m &= m - 1;
        }
        let deduct = if complete && self.pad_open {
            self.deduct
        } else {
            0
        };
        let need = self.target - s;
        if (self.total2 - deduct - lost) / 2 < need {
            return;
        }
        self.values.counts(self.mask & !g, &mut self.counts);
        if self.values.value(&self.counts, need) >= need {
            self.found = Some((g, s));
        }
    }
}

/// Classes and segments (see [`super::bound`]) of one request.
impl Model {
    /// Twins of `available` into classes (required ones first), interchangeable classes into
    /// segments, and the per-class tables the search reads.
    pub(super) fn new(
        scores: &PairScores,
        available: u128,
        required: u128,
        size: usize,
        pad: usize,
    ) -> Self {
        let gpus = super::mask_to_vec(available);
        let m = gpus.len();
        let mut lw = vec![0u32; m * m];
        let mut rowsum = vec![0u64; m];
        for a in 0..m {
            for b in 0..m {
                let v = scores.get(gpus[a] as usize, gpus[b] as usize);
                lw[a * m + b] = v;
                rowsum[a] += u64::from(v);
            }
        }
        let is_req = |a: usize| required >> gpus[a] & 1 == 1;
        // Twins by comparison with each class's first GPU (twinship is an equivalence); equal
        // row sums are necessary, which skips most comparisons.
        let mut reps: Vec<usize> = Vec::with_capacity(m);
        let mut cls_of = vec![0usize; m];
        for a in 0..m {
            let found = reps.iter().position(|&r| {
                is_req(r) == is_req(a)
                    && rowsum[r] == rowsum[a]
                    && (0..m).all(|t| t == a || t == r || lw[a * m + t] == lw[r * m + t])
            });
            cls_of[a] = found.unwrap_or_else(|| {
                reps.push(a);
                reps.len() - 1
            });
        }
        let k0 = reps.len();
        // Per class: GPUs, how many, score inside.
        let mut info0 = vec![(0u128, 0usize, 0u32); k0];
        for a in 0..m {
            let c = cls_of[a];
            if info0[c].0 != 0 {
                info0[c].2 = lw[reps[c] * m + a];
            }
            info0[c].0 |= 1u128 << gpus[a];
            info0[c].1 += 1;
        }
        let (cap0, inner0) = (|c: usize| info0[c].1, |c: usize| info0[c].2);
        let w0 = |x: usize, y: usize| {
            if x == y {
                inner0(x)
            } else {
                lw[reps[x] * m + reps[y]]
            }
        };
        // Segments: required classes alone and first (a required group is placed first), then
        // classes interchangeable with a segment's first class (also an equivalence).
        let mut seg_of = vec![0usize; k0];
        let mut seg_rep: Vec<usize> = Vec::with_capacity(k0);
        for c in (0..k0).filter(|&c| is_req(reps[c])) {
            seg_of[c] = seg_rep.len();
            seg_rep.push(c);
        }
        let first_free = seg_rep.len();
        for c in (0..k0).filter(|&c| !is_req(reps[c])) {
            // Two interchangeable single GPUs would be twins, hence one class: only classes of
            // two or more GPUs can share a segment.
            let found = seg_rep[first_free..].iter().position(|&r| {
                cap0(c) > 1
                    && cap0(r) == cap0(c)
                    && inner0(r) == inner0(c)
                    && (0..k0).all(|d| d == r || d == c || w0(r, d) == w0(c, d))
            });
            seg_of[c] = match found {
                Some(i) => first_free + i,
                None => {
                    seg_rep.push(c);
                    seg_rep.len() - 1
                }
            };
        }
        let mut perm: Vec<usize> = (0..k0).collect();
        perm.sort_unstable_by_key(|&c| (seg_of[c], c));
        let k = k0;
        let mut segs = Vec::with_capacity(seg_rep.len());
        let mut seg_start = vec![0u16; k];
        for x in 0..k {
            if x == 0 || seg_of[perm[x]] != seg_of[perm[x - 1]] {
                segs.push((x as u16, x as u16));
            }
            let last = segs.len() - 1;
            segs[last].1 = x as u16 + 1;
            seg_start[x] = segs[last].0;
        }
        let mut w = vec![0i64; k * k];
        for x in 0..k {
            for y in 0..k {
                w[x * k + y] = i64::from(w0(perm[x], perm[y]));
            }
        }
        // Partners by descending score, then ascending class: one sortable key per entry.
        let mut keys = vec![0u64; k];
        let mut order = Vec::with_capacity(k * k);
        for x in 0..k {
            for (y, key) in keys.iter_mut().enumerate() {
                let rank = u64::from(u32::MAX) - w[x * k + y].unsigned_abs();
                *key = rank << 16 | y as u64;
            }
            keys.sort_unstable();
            order.extend(keys.iter().map(|&key| (key & 0xffff) as u16));
        }
        let mut class_of = vec![u16::MAX; scores.len()];
        let mut shift = Vec::with_capacity(k);
        let mut bits = 0u32;
        let masks: Vec<u128> = perm.iter().map(|&c| info0[c].0).collect();
        for (x, &mask) in masks.iter().enumerate() {
            let mut mm = mask;
            while mm != 0 {
                class_of[mm.trailing_zeros() as usize] = x as u16;
                mm &= mm - 1;
            }
            // A count up to `n` needs the bit length of `n`, at most `n`: keys fit 128 bits.
            shift.push(bits);
            bits += u128::BITS - u128::from(mask.count_ones()).leading_zeros();
        }
        Self {
            size,
            pad,
            k,
            req: first_free,
            masks,
            class_of,
            w,
            order,
            segs,
            seg_start,
            shift,
        }
    }
}
