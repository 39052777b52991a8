//! The backtracking search: claims in order, requests in order, an alternative per request
//! (first that works), devices first-fit in pool and slice order, undoing the latest choice
//! when what follows cannot be satisfied. This is upstream's search order, so the first
//! solution found is upstream's.
//!
//! With [`Facts`] the same search is pruned without changing its first solution:
//! - the devices of one alternative are picked in increasing order. Upstream's first solution
//!   always is: the checks are order-free (a constraint compares values, counters and
//!   capacity only ever decrease), so the sorted sequence is feasible too and comes first;
//! - at each position, one device per symmetry class is tried: if a device fails there, an
//!   identical later one fails too (swap them in any solution);
//! - before each position, counting bounds ([`super::bounds`]) prove that some later request
//!   cannot be met, and the branch is dropped without enumerating it.
//!
//! None of this removes a branch holding a solution, so the first solution found is the same.

use super::AllocInput;
use super::facts::Facts;
use super::pools::{Dev, Inventory};
use super::requests::{Alt, MAX_DEVICES_PER_CLAIM, Matcher, Prepared};
use super::score::Scoring;
use crate::dra::model::{DeviceTaint, TaintEffect, Toleration, TolerationOperator};
use crate::dra::value::{AttrValue, QualifiedName};
use crate::error::{Error, Result};

/// One device given to one alternative.
#[derive(Clone)]
pub(super) struct Pick {
    pub alt: usize,
    pub dev: usize,
    /// Capacity consumed (per device capacity), for a share of a multi-allocatable device.
    pub consumed: Option<Vec<i128>>,
    /// Constraints (claim-local bit) that recorded this device's value.
    pub constrained: u64,
    /// Whether the device was marked taken.
    took: bool,
}

/// The search state.
pub(super) struct Search<'i, 'a> {
    pub input: &'i AllocInput<'a>,
    pub inv: &'i Inventory<'a>,
    pub prep: &'i Prepared<'a>,
    matcher: Matcher,
    pub taken: Vec<bool>,
    counters: Vec<i128>,
    cap_used: Vec<Vec<i128>>,
    /// Per claim, per constraint: the values recorded so far (a stack).
    values: Vec<Vec<Vec<&'a AttrValue>>>,
    /// Per claim: the devices picked, in order.
    pub picks: Vec<Vec<Pick>>,
    /// Per claim, per request: the alternative chosen.
    pub chosen: Vec<Vec<usize>>,
    /// The pruned search's facts; `None` runs the plain search.
    pub facts: Option<&'i Facts>,
    /// Plain search: device visits left before it gives up (`exhausted`).
    budget: usize,
    /// The plain search ran out of `budget`; its answer means nothing.
    pub exhausted: bool,
    /// Pruned search: per depth (devices picked so far), the classes tried there.
    tried: Vec<Vec<u32>>,
    /// Scratch buffers for the bounds, kept to avoid allocating per node.
    pub scratch: Vec<u32>,
    pub scratch_reqs: Vec<(usize, usize, usize)>,
    /// The scored mode's best solution so far.
    pub scoring: Option<Scoring>,
}

/// What a taint-tolerating request must match.
pub(super) fn tolerates(t: &Toleration, taint: &DeviceTaint) -> bool {
    (t.key.is_empty() || t.key == taint.key)
        && t.effect.is_none_or(|e| e == taint.effect)
        && match t.operator {
            TolerationOperator::Exists => true,
            TolerationOperator::Equal => t.value == taint.value.as_deref().unwrap_or(""),
        }
}

/// What `alt` would consume of each capacity of the shared device `dev` given `used`, or
/// `None` when some capacity has no room, the request names a capacity the device lacks, or
/// the amount breaks the capacity's request policy. An amount the request does not name is
/// the policy's default, or the whole capacity without one.
pub(super) fn consume(dev: &Dev<'_>, alt: &Alt<'_>, used: &[i128]) -> Option<Vec<i128>> {
    let driver = &dev.slice.driver;
    let caps = &dev.device.capacity;
    let mut requested = Vec::with_capacity(alt.capacity.len());
    for (k, q) in alt.capacity {
        let name = QualifiedName::parse(k, driver);
        caps.get(&name)?;
        requested.push((name, q.nanos));
    }
    let mut out = Vec::with_capacity(caps.len());
    for (i, (name, cap)) in caps.iter().enumerate() {
        let asked = requested.iter().find(|(n, _)| n == name).map(|&(_, v)| v);
        let policy = cap.request_policy.as_ref();
        let amount = match (asked, policy) {
            (None, Some(p)) => p.default.map_or(cap.value.nanos, |d| d.nanos),
            (None, None) => cap.value.nanos,
            (Some(v), None) => v,
            (Some(v), Some(p)) => {
                if !p.valid_values.is_empty() {
                    p.valid_values.iter().map(|q| q.nanos).find(|&x| x >= v)?
                } else if let Some(r) = &p.valid_range {
                    let min = r.min.nanos;
                    let mut x = v.max(min);
                    if let Some(step) = r.step.map(|s| s.nanos).filter(|&s| s > 0) {
                        x = min + (x - min + step - 1) / step * step;
                    }
                    if r.max.is_some_and(|m| x > m.nanos) {
                        return None;
                    }
                    x
                } else {
                    v
                }
            }
        };
        if used[i] + amount > cap.value.nanos {
            return None;
        }
        out.push(amount);
    }
    Some(out)
}

impl<'i, 'a> Search<'i, 'a> {
    /// A search; `matcher` caches selector results (the plain search evaluates lazily).
    pub(super) fn new(
        input: &'i AllocInput<'a>,
        inv: &'i Inventory<'a>,
        prep: &'i Prepared<'a>,
        matcher: Matcher,
        facts: Option<&'i Facts>,
        budget: usize,
    ) -> Self {
        Self {
            input,
            inv,
            prep,
            matcher,
            taken: vec![false; inv.devices.len()],
            counters: inv.counters_left.clone(),
            cap_used: inv.devices.iter().map(|d| d.cap_used.clone()).collect(),
            values: prep
                .claims
                .iter()
                .map(|c| vec![Vec::new(); c.constraints.len()])
                .collect(),
            picks: prep.claims.iter().map(|_| Vec::new()).collect(),
            chosen: prep.claims.iter().map(|c| vec![0; c.reqs.len()]).collect(),
            facts,
            budget,
            exhausted: false,
            tried: Vec::new(),
            scratch: Vec::new(),
            scratch_reqs: Vec::new(),
            scoring: None,
        }
    }

    /// The selector cache, for the next search.
    pub(super) fn into_matcher(self) -> Matcher {
        self.matcher
    }

    /// Runs the search; `Ok(true)` when every claim is satisfied.
    pub(super) fn run(&mut self) -> Result<bool> {
        self.step(0, 0)
    }

    /// Satisfies request `r` of claim `c` and everything after it.
    fn step(&mut self, c: usize, r: usize) -> Result<bool> {
        let prep = self.prep;
        let Some(claim) = prep.claims.get(c) else {
            if self.scoring.is_some() {
                self.record_solution();
                return Ok(false);
            }
            return Ok(true);
        };
        let Some(req) = claim.reqs.get(r) else {
            return self.step(c + 1, 0);
        };
        for ai in req.alts.clone() {
            let alt = &prep.alts[ai];
            if req.first_available
                && self.picks[c].len() + alt.count + claim.exact_after[r] > MAX_DEVICES_PER_CLAIM
            {
                continue;
            }
            self.chosen[c][r] = ai;
            if self.fill(c, r, ai, 0)? {
                return Ok(true);
            }
            if self.exhausted || self.scoring.as_ref().is_some_and(Scoring::stopped) {
                return Ok(false);
            }
        }
        Ok(false)
    }

    /// Picks device `k` of alternative `ai`, then the rest.
    fn fill(&mut self, c: usize, r: usize, ai: usize, k: usize) -> Result<bool> {
        let prep = self.prep;
        let alt = &prep.alts[ai];
        if alt.all {
            if alt.all_devices.is_empty() {
                return Ok(false);
            }
            let Some(&d) = alt.all_devices.get(k) else {
                return self.step(c, r + 1);
            };
            if self.take(c, ai, d) {
                if !self.score_prunes(c, r) && self.fill(c, r, ai, k + 1)? {
                    return Ok(true);
                }
                self.undo(c);
            }
            return Ok(false);
        }
        if k == alt.count {
            return self.step(c, r + 1);
        }
        if let Some(facts) = self.facts {
            return self.fill_pruned(facts, c, r, ai, k);
        }
        let inv = self.inv;
        for pool in &inv.pools {
            if let Some(why) = &pool.invalid {
                return Err(Error::Value(format!(
                    "pool {} is invalid: {why}",
                    pool.name
                )));
            }
            for d in pool.devices.clone() {
                let dev = &inv.devices[d];
                let shared = self.shared(dev);
                if !alt.admin && !shared && (dev.in_use || self.taken[d]) {
                    continue;
                }
                if self.picks[c].iter().any(|p| p.alt == ai && p.dev == d) {
                    continue;
                }
                if self.budget == 0 {
                    self.exhausted = true;
                    return Ok(false);
                }
                self.budget -= 1;
                let label = &prep.claims[c].label;
                if !self.matcher.check(self.input, inv, label, alt, ai, d)? {
                    continue;
                }
                if self.take(c, ai, d) {
                    if self.fill(c, r, ai, k + 1)? {
                        return Ok(true);
                    }
                    self.undo(c);
                }
            }
        }
        Ok(false)
    }

    /// [`Self::fill`] of the pruned search: increasing devices, one per class, bounded.
    fn fill_pruned(
        &mut self,
        facts: &Facts,
        c: usize,
        r: usize,
        ai: usize,
        k: usize,
    ) -> Result<bool> {
        let start = if k > 0 {
            self.picks[c].last().map_or(0, |p| p.dev + 1)
        } else {
            0
        };
        if !self.bounds_hold(facts, c, r, ai, k, start) {
            return Ok(false);
        }
        let alt = &self.prep.alts[ai];
        let depth: usize = self.picks.iter().map(Vec::len).sum();
        if self.tried.len() <= depth {
            self.tried.resize_with(depth + 1, Vec::new);
        }
        self.tried[depth].clear();
        for d in start..self.inv.devices.len() {
            if !facts.usable(ai, d) {
                continue;
            }
            if !alt.admin && !facts.shared[d] && (self.inv.devices[d].in_use || self.taken[d]) {
                continue;
            }
            let class = facts.class[d];
            if self.tried[depth].contains(&class) {
                continue;
            }
            self.tried[depth].push(class);
            if self.take(c, ai, d) {
                if let Some(s) = &mut self.scoring {
                    s.visit();
                }
                if !self.score_prunes(c, r) && self.fill(c, r, ai, k + 1)? {
                    return Ok(true);
                }
                self.undo(c);
            }
            if self.scoring.as_ref().is_some_and(Scoring::stopped) {
                return Ok(false);
            }
        }
        Ok(false)
    }

    fn shared(&self, dev: &Dev<'_>) -> bool {
        self.input.features.consumable_capacity && dev.device.allow_multiple_allocations
    }

    /// Gives device `d` to alternative `ai` of claim `c` if every per-device check passes.
    fn take(&mut self, c: usize, ai: usize, d: usize) -> bool {
        let f = self.input.features;
        let prep = self.prep;
        let alt = &prep.alts[ai];
        let dev = &self.inv.devices[d];
        let device = dev.device;
        let shared = self.shared(dev);
        if !alt.admin && !shared && (dev.in_use || self.taken[d]) {
            return false;
        }
        if !device.consumes_counters.is_empty() {
            let Some(cs) = dev.counters.as_ref().filter(|_| f.partitionable_devices) else {
                return false;
            };
            if cs.iter().any(|&(i, n)| self.counters[i] < n) {
                return false;
            }
        }
        if f.device_taints
            && device.taints.iter().any(|t| {
                t.effect != TaintEffect::None && !alt.tolerations.iter().any(|tl| tolerates(tl, t))
            })
        {
            return false;
        }
        if !f.binding_conditions && (!device.binding_conditions.is_empty() || device.binds_to_node)
        {
            return false;
        }
        let consumed = if shared {
            if dev.in_use {
                return false;
            }
            match consume(dev, alt, &self.cap_used[d]) {
                Some(v) => Some(v),
                None => return false,
            }
        } else {
            if f.consumable_capacity {
                for (k, q) in alt.capacity {
                    let name = QualifiedName::parse(k, &dev.slice.driver);
                    if device.capacity.get(&name).is_none_or(|cap| cap.value < *q) {
                        return false;
                    }
                }
            }
            None
        };
        let mut constrained = 0u64;
        for (ci, con) in prep.claims[c].constraints.iter().enumerate() {
            if !con.applies(alt) {
                continue;
            }
            let stack = &self.values[c][ci];
            let ok = device.attributes.get(con.attr).filter(|v| {
                if con.distinct {
                    !stack.contains(v)
                } else {
                    stack.first().is_none_or(|first| first == v)
                }
            });
            let Some(v) = ok else {
                self.pop_constraints(c, constrained);
                return false;
            };
            self.values[c][ci].push(v);
            constrained |= 1 << ci;
        }
        if let Some(cs) = &dev.counters {
            for &(i, n) in cs {
                self.counters[i] -= n;
            }
        }
        if let Some(v) = &consumed {
            for (u, x) in self.cap_used[d].iter_mut().zip(v) {
                *u += x;
            }
        }
        let took = !alt.admin && !shared;
        if took {
            self.taken[d] = true;
        }
        self.picks[c].push(Pick {
            alt: ai,
            dev: d,
            consumed,
            constrained,
            took,
        });
        true
    }

    fn pop_constraints(&mut self, c: usize, mask: u64) {
        for (ci, stack) in self.values[c].iter_mut().enumerate() {
            if mask & (1 << ci) != 0 {
                stack.pop();
            }
        }
    }

    /// Undoes the latest [`Self::take`] of claim `c`.
    fn undo(&mut self, c: usize) {
        let Some(p) = self.picks[c].pop() else {
            return;
        };
        self.pop_constraints(c, p.constrained);
        let dev = &self.inv.devices[p.dev];
        if let Some(cs) = &dev.counters {
            for &(i, n) in cs {
                self.counters[i] += n;
            }
        }
        if let Some(v) = &p.consumed {
            for (u, x) in self.cap_used[p.dev].iter_mut().zip(v) {
                *u -= x;
            }
        }
        if p.took {
            self.taken[p.dev] = false;
        }
    }
}
