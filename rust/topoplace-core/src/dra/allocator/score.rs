//! The scored mode: among the feasible allocations, the best aligned one.
//!
//! Per claim, with each device's place from [`super::Alignment`] (a device with no value at
//! a level is not counted there), a score compared in this order, lower is better:
//! 1. the level reached, as in the one-machine device alignment: 0 `pcie-root` (one NUMA
//!    node, and every PCIe root holding a device of one pairing request also holds one of
//!    another, e.g. each GPU with its NIC; without two pairing requests, one PCIe root),
//!    1 `numa` (one NUMA node), 2 `socket` (one socket), 3 none;
//! 2. PCIe roots left unpaired (pairing requests: those whose every candidate device has a
//!    PCIe root, when a claim has at least two);
//! 3. NUMA nodes spanned, 4. sockets spanned, 5. PCIe roots spanned.
//!
//! Claims' scores add up component by component. The search is the pruned one, continued
//! after each solution; a branch whose lower bound (spans only grow; at most one root gets
//! paired per device still to pick) cannot beat the best so far is dropped, so the first
//! solution of the best score in the scheduler's order wins, and when every solution
//! scores the same the answer is the scheduler's. The search gives up after a budget of
//! device visits once it holds a solution, keeping the best found.

use super::facts::{Facts, NONE};
use super::requests::Prepared;
use super::search::{Pick, Search};

/// A claim set's alignment score; lower is better, compared field by field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Score {
    /// Sum of the claims' levels (0 pcie-root, 1 numa, 2 socket, 3 none).
    pub level: u32,
    /// PCIe roots holding devices of only one pairing request.
    pub unpaired: u32,
    /// NUMA nodes spanned.
    pub numa: u32,
    /// Sockets spanned.
    pub sockets: u32,
    /// PCIe roots spanned.
    pub pcie_roots: u32,
}

/// A solution: its score, the picks and the alternatives chosen per claim.
type Solution = (Score, Vec<Vec<Pick>>, Vec<Vec<usize>>);

/// The scored search's state.
pub(super) struct Scoring {
    best: Option<Solution>,
    visits_left: usize,
    /// Per alternative: its request's index in its claim.
    alt_req: Vec<usize>,
    /// Per alternative: whether its request pairs (every candidate has a PCIe root).
    pairing: Vec<bool>,
    /// Per claim: whether it has two pairing requests.
    pairs: Vec<bool>,
}

impl Scoring {
    pub(super) fn new(facts: &Facts, prep: &Prepared<'_>, ndev: usize, visits: usize) -> Self {
        let mut alt_req = vec![0; prep.alts.len()];
        let mut pairing = vec![false; prep.alts.len()];
        let mut pairs = Vec::with_capacity(prep.claims.len());
        for claim in &prep.claims {
            let mut n = 0;
            for (ri, req) in claim.reqs.iter().enumerate() {
                let p = req.alts.clone().all(|a| {
                    let mut any = false;
                    let all = (0..ndev).filter(|&d| facts.usable(a, d)).all(|d| {
                        any = true;
                        facts.places.pcie[d] != NONE
                    });
                    any && all
                });
                for a in req.alts.clone() {
                    alt_req[a] = ri;
                    pairing[a] = p;
                }
                n += usize::from(p);
            }
            pairs.push(n >= 2);
        }
        Self {
            best: None,
            visits_left: visits,
            alt_req,
            pairing,
            pairs,
        }
    }

    pub(super) const fn stopped(&self) -> bool {
        self.visits_left == 0 && self.best.is_some()
    }

    pub(super) const fn visit(&mut self) {
        self.visits_left = self.visits_left.saturating_sub(1);
    }

    /// The best score found, if any.
    pub(super) fn best(&self) -> Option<Score> {
        self.best.as_ref().map(|b| b.0)
    }
}

fn distinct(ids: impl Iterator<Item = u32> + Clone) -> u32 {
    let mut n = 0;
    for (i, x) in ids.clone().enumerate() {
        if x != NONE && !ids.clone().take(i).any(|y| y == x) {
            n += 1;
        }
    }
    n
}

impl Search<'_, '_> {
    /// Claim `c`'s score; when `open` is `Some(r)` (request `r` in progress), a lower bound.
    fn claim_score(&self, facts: &Facts, sc: &Scoring, c: usize, open: Option<usize>) -> Score {
        let picks = &self.picks[c];
        let places = &facts.places;
        let numa = distinct(picks.iter().map(|p| places.numa[p.dev]));
        let sockets = distinct(picks.iter().map(|p| places.socket[p.dev]));
        let pcie_roots = distinct(picks.iter().map(|p| places.pcie[p.dev]));
        let mut unpaired = 0;
        if sc.pairs[c] {
            let pairing = picks.iter().filter(|p| sc.pairing[p.alt]);
            for (i, p) in pairing.clone().enumerate() {
                let root = places.pcie[p.dev];
                let first = !pairing.clone().take(i).any(|q| places.pcie[q.dev] == root);
                let alone = pairing
                    .clone()
                    .all(|q| places.pcie[q.dev] != root || sc.alt_req[q.alt] == sc.alt_req[p.alt]);
                unpaired += u32::from(first && alone);
            }
            if let Some(r) = open {
                // Each device still to pick for a pairing request pairs at most one root.
                let claim = &self.prep.claims[c];
                let mut left = 0usize;
                for (ri, req) in claim.reqs.iter().enumerate().skip(r) {
                    let a = self.chosen[c][ri];
                    let count = if ri == r {
                        self.prep.alts[a].count
                    } else {
                        req.alts
                            .clone()
                            .map(|x| self.prep.alts[x].count)
                            .max()
                            .unwrap_or(0)
                    };
                    if sc.pairing[if ri == r { a } else { req.alts.start }] {
                        let got = picks.iter().filter(|p| sc.alt_req[p.alt] == ri).count();
                        left += count.saturating_sub(got);
                    }
                }
                unpaired = unpaired.saturating_sub(u32::try_from(left).unwrap_or(u32::MAX));
            }
        }
        let unpaired_root = if sc.pairs[c] {
            unpaired > 0
        } else {
            pcie_roots > 1
        };
        let level = if numa > 1 {
            if sockets > 1 { 3 } else { 2 }
        } else {
            u32::from(unpaired_root)
        };
        Score {
            level,
            unpaired,
            numa,
            sockets,
            pcie_roots,
        }
    }

    /// The score of every claim up to `c` (claim `c` open at request `open`, if given).
    fn total_score(&self, facts: &Facts, sc: &Scoring, last: usize, open: Option<usize>) -> Score {
        let mut total = Score::default();
        if self.picks.is_empty() {
            return total;
        }
        for c in 0..=last.min(self.picks.len().saturating_sub(1)) {
            let s = self.claim_score(facts, sc, c, if c == last { open } else { None });
            total.level += s.level;
            total.unpaired += s.unpaired;
            total.numa += s.numa;
            total.sockets += s.sockets;
            total.pcie_roots += s.pcie_roots;
        }
        total
    }

    /// Whether the branch after the latest pick of claim `c`, request `r`, cannot beat the
    /// best solution so far.
    pub(super) fn score_prunes(&self, c: usize, r: usize) -> bool {
        let (Some(sc), Some(facts)) = (&self.scoring, self.facts) else {
            return false;
        };
        sc.best()
            .is_some_and(|best| self.total_score(facts, sc, c, Some(r)) >= best)
    }

    /// Keeps the current solution if it beats the best.
    pub(super) fn record_solution(&mut self) {
        let (Some(sc), Some(facts)) = (&self.scoring, self.facts) else {
            return;
        };
        let last = self.picks.len().saturating_sub(1);
        let score = self.total_score(facts, sc, last, None);
        if sc.best().is_none_or(|b| score < b) {
            let best = (score, self.picks.clone(), self.chosen.clone());
            if let Some(sc) = &mut self.scoring {
                sc.best = Some(best);
            }
        }
    }

    /// Puts the best solution back as the search's picks; its score, `None` when there is
    /// no solution.
    pub(super) fn restore_best(&mut self) -> Option<Score> {
        let (score, picks, chosen) = self.scoring.as_mut().and_then(|s| s.best.take())?;
        self.picks = picks;
        self.chosen = chosen;
        Some(score)
    }
}
