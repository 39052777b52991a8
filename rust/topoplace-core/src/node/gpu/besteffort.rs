//! The best-effort policy: an exact branch and bound search for the best split.
//!
//! The objective is `go-gpuallocator`'s: the available GPUs, padded with empty slots to a
//! multiple of `size` (all padding in one group, as upstream only lets a group hold no padding
//! or all of it), are split into groups of `size`; among the splits with one complete group that
//! holds every required GPU, take the highest total score; answer the highest-scoring such
//! group of that split.
//!
//! The search builds a split group by group. Every group starts with the lowest GPU left (so a
//! split is built only once), and its other members are visited in ascending order, a padded
//! group after the complete groups sharing its prefix: that is upstream's visiting order, so the
//! first split found with the best score is the one upstream keeps. Each state (the set of GPUs
//! left) is bounded from above by half the sum, over its GPUs, of each GPU's `size - 1` best
//! pair scores inside the state; states are memoised with their exact value or a proven bound.

use std::collections::BTreeMap;

use super::PairScores;
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

const NEG: i64 = i64::MIN / 4;

#[derive(Debug, Clone, Copy)]
struct Entry {
    value: i64,
    exact: bool,
    first: u128,
}

struct Search<'a> {
    w: &'a PairScores,
    size: usize,
    pad: usize,
    required: u128,
    /// Per GPU, its lower-numbered twins: available GPUs with the same scores to every other
    /// GPU and the same required-ness. A group takes twins lowest first.
    twins_below: Vec<u128>,
    /// Per GPU, its partners by descending score.
    partners: Vec<Vec<(u32, u32)>>,
    memo: BTreeMap<u128, Entry>,
    candidates: u64,
}

/// State of the group being built at one search node.
struct Node {
    mask: u128,
    alpha: i64,
    ub: i64,
    rest: Vec<u32>,
    half2: Vec<i64>,
    total2: i64,
    /// What the padded group's GPUs lose at least, when it is still to be placed.
    deduct: i64,
    pad_open: bool,
    members: Vec<u32>,
    best: i64,
    best_group: u128,
    fail_ub: i64,
    stop: bool,
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
    let partners = (0..n)
        .map(|i| {
            let mut p: Vec<(u32, u32)> = (0..n)
                .filter(|&j| j != i && available >> j & 1 == 1)
                .map(|j| (scores.get(i, j), j as u32))
                .collect();
            p.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            p
        })
        .collect();
    let twins_below = twins(scores, available, required);
    let mut s = Search {
        w: scores,
        twins_below,
        size,
        pad,
        required,
        partners,
        memo: BTreeMap::new(),
        candidates: 0,
    };
    let total = s.solve(available, NEG + 1);
    if total < 0 {
        return Ok(None);
    }
    // Rebuild the split from the memo, then choose its best complete group holding `required`.
    let mut groups = Vec::new();
    let mut mask = available;
    while mask != 0 {
        let Some(e) = s.memo.get(&mask) else { break };
        if !e.exact || e.first == 0 {
            break;
        }
        groups.push(e.first);
        mask &= !e.first;
    }
    let mut pick: Option<(u128, u32)> = None;
    for &g in &groups {
        if g.count_ones() as usize != size || g & required != required {
            continue;
        }
        let sc = s.group_score(g);
        if pick.is_none_or(|(_, b)| sc > b) {
            pick = Some((g, sc));
        }
    }
    Ok(pick.map(|(g, sc)| Selection {
        gpus: super::mask_to_vec(g),
        score: sc,
        split_score: total.unsigned_abs(),
        candidates_scored: s.candidates,
    }))
}

/// Per GPU of `available`, the mask of its lower-numbered twins.
fn twins(w: &PairScores, available: u128, required: u128) -> Vec<u128> {
    let n = w.len();
    let avail = super::mask_to_vec(available);
    let mut out = vec![0u128; n];
    for (a, &j) in avail.iter().enumerate() {
        for &i in &avail[..a] {
            let (i, j) = (i as usize, j as usize);
            let same_req = (required >> i & 1) == (required >> j & 1);
            if same_req
                && avail
                    .iter()
                    .map(|&k| k as usize)
                    .filter(|&k| k != i && k != j)
                    .all(|k| w.get(i, k) == w.get(j, k))
            {
                out[j] |= 1u128 << i;
            }
        }
    }
    out
}

impl Search<'_> {
    fn group_score(&self, g: u128) -> u32 {
        let v = super::mask_to_vec(g);
        let mut s = 0u32;
        for (a, &i) in v.iter().enumerate() {
            for &j in &v[a + 1..] {
                s = s.saturating_add(self.w.get(i as usize, j as usize));
            }
        }
        s
    }

    fn store(&mut self, mask: u128, e: Entry) {
        match self.memo.get(&mask) {
            Some(old) if old.exact => {}
            _ => {
                self.memo.insert(mask, e);
            }
        }
    }

    /// Best total score of splitting `mask`; exact when the result is at least `alpha`,
    /// otherwise an upper bound below `alpha`.
    fn solve(&mut self, mask: u128, alpha: i64) -> i64 {
        if mask == 0 {
            return 0;
        }
        let cnt = mask.count_ones() as usize;
        if self.required & mask != 0 && cnt < self.size {
            return NEG;
        }
        let mut ub = i64::MAX;
        if let Some(e) = self.memo.get(&mask) {
            if e.exact || e.value < alpha {
                return e.value;
            }
            ub = e.value;
        }
        let pad_open = self.pad > 0 && cnt % self.size != 0;
        // GPUs of the padded group get only `size - pad - 1` partners.
        let short = self.size - self.pad - 1;
        let mut half2 = vec![0i64; self.w.len()];
        let mut shortfall = Vec::new();
        let mut total2 = 0i64;
        let mut m = mask;
        while m != 0 {
            let i = m.trailing_zeros() as usize;
            m &= m - 1;
            let mut sum = 0i64;
            let mut short_sum = 0i64;
            let mut taken = 0;
            for &(sc, j) in &self.partners[i] {
                if taken + 1 >= self.size {
                    break;
                }
                if mask >> j & 1 == 1 {
                    sum += i64::from(sc);
                    taken += 1;
                    if taken <= short {
                        short_sum = sum;
                    }
                }
            }
            half2[i] = sum;
            total2 += sum;
            if pad_open {
                shortfall.push(sum - short_sum);
            }
        }
        let mut deduct = 0i64;
        if pad_open {
            shortfall.sort_unstable();
            deduct = shortfall.iter().take(self.size - self.pad).sum();
        }
        ub = ub.min((total2 - deduct) / 2);
        if ub < alpha {
            self.store(
                mask,
                Entry {
                    value: ub,
                    exact: false,
                    first: 0,
                },
            );
            return ub;
        }
        let f = mask.trailing_zeros();
        let mut node = Node {
            mask,
            alpha,
            ub,
            rest: super::mask_to_vec(mask & !(1u128 << f)),
            half2,
            total2,
            deduct,
            pad_open,
            members: vec![f],
            best: NEG,
            best_group: 0,
            fail_ub: NEG,
            stop: false,
        };
        self.extend(&mut node, 0, 1u128 << f, 0);
        if node.best >= alpha {
            self.store(
                mask,
                Entry {
                    value: node.best,
                    exact: true,
                    first: node.best_group,
                },
            );
            node.best
        } else {
            let v = node.best.max(node.fail_ub);
            self.store(
                mask,
                Entry {
                    value: v,
                    exact: false,
                    first: 0,
                },
            );
            v
        }
    }

    /// Visits, in upstream order, the groups extending `group` with members from
    /// `node.rest[from..]`.
    fn extend(&mut self, node: &mut Node, from: usize, group: u128, score: u32) {
        let have = node.members.len();
        let want = self.size;
        let padded_at = want - self.pad;
        for k in from..node.rest.len() {
            let more = if node.pad_open && have < padded_at {
                padded_at - have
            } else {
                want - have
            };
            if node.stop || have >= want || node.rest.len() - k < more {
                break;
            }
            let j = node.rest[k];
            if self.twins_below[j as usize] & node.mask & !group != 0 {
                // A lower twin is still free and not in the group: the same group with that
                // twin instead comes first and scores the same.
                continue;
            }
            let mut s = score;
            for &i in &node.members {
                s = s.saturating_add(self.w.get(i as usize, j as usize));
            }
            node.members.push(j);
            let g = group | 1u128 << j;
            if have + 1 == want {
                self.try_group(node, g, s);
            } else {
                self.extend(node, k + 1, g, s);
            }
            node.members.pop();
        }
        if node.pad_open && have == padded_at && !node.stop {
            self.try_group(node, group, score);
        }
    }

    fn try_group(&mut self, node: &mut Node, g: u128, s: u32) {
        let complete = g.count_ones() as usize == self.size;
        let touches = g & self.required != 0;
        if touches && (!complete || g & self.required != self.required) {
            return;
        }
        self.candidates += 1;
        let s = i64::from(s);
        let mut lost = 0i64;
        let mut m = g;
        while m != 0 {
            lost += node.half2[m.trailing_zeros() as usize];
            m &= m - 1;
        }
        let deduct = if complete { node.deduct } else { 0 };
        let cand_ub = s + (node.total2 - deduct - lost) / 2;
        let need = node.alpha.max(node.best.saturating_add(1));
        if cand_ub < need {
            node.fail_ub = node.fail_ub.max(cand_ub);
            return;
        }
        let rest = node.mask & !g;
        let v = self.solve(rest, need - s);
        let total = s + v;
        if v >= need - s && total > node.best {
            node.best = total;
            node.best_group = g;
            if node.best >= node.ub {
                node.stop = true;
            }
        } else {
            node.fail_ub = node.fail_ub.max(total);
        }
    }
}
