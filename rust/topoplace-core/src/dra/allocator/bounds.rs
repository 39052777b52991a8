//! Counting bounds of the pruned search: necessary conditions for the requests still to be
//! met, checked before each position is filled. They only look at what can never change
//! the answer (a device that can serve a request, is free, and carries the value a
//! constraint already fixed), so a failed bound proves the branch has no solution.
//!
//! - Per request still open (this claim's and every later claim's): enough devices left.
//! - Per `matchAttribute` constraint whose value is not fixed yet: some value has, for each
//!   request it covers, enough devices left, and enough distinct devices for all of them
//!   together (when no device is shared).

use super::facts::{Facts, NONE};
use super::search::Search;

impl Search<'_, '_> {
    /// Whether the open requests can still be met, for the search about to fill position
    /// `k` of alternative `ai` of request `r` of claim `c`, from device `start` on.
    pub(super) fn bounds_hold(
        &mut self,
        facts: &Facts,
        c: usize,
        r: usize,
        ai: usize,
        k: usize,
        start: usize,
    ) -> bool {
        let prep = self.prep;
        for c2 in c..prep.claims.len() {
            let claim = &prep.claims[c2];
            let r0 = if c2 == c { r } else { 0 };
            for (ri, req) in claim.reqs.iter().enumerate().skip(r0) {
                let current = c2 == c && ri == r;
                let (alts, from, done) = if current {
                    (ai..ai + 1, start, k)
                } else {
                    (req.alts.clone(), 0, 0)
                };
                let met = alts.into_iter().any(|a| {
                    let alt = &prep.alts[a];
                    alt.all || {
                        let need = alt.count.saturating_sub(done);
                        self.available(facts, c2, a, from, need, None) >= need
                    }
                });
                if !met {
                    return false;
                }
            }
            if !self.groups_hold(
                facts,
                c2,
                if c2 == c {
                    Some((r, ai, k, start))
                } else {
                    None
                },
            ) {
                return false;
            }
        }
        true
    }

    /// The value id constraint `ci` of claim `c` has fixed, if any device recorded one.
    fn fixed(&self, facts: &Facts, c: usize, ci: usize) -> Option<u32> {
        let g = &facts.groups[facts.constraint_base[c] + ci];
        self.picks[c]
            .iter()
            .find(|p| p.constrained & (1 << ci) != 0)
            .map(|p| g[p.dev])
    }

    /// Whether device `d` may still go to alternative `a` of claim `c`: it can serve it, is
    /// free for it, and agrees with every constraint of the claim covering it (except
    /// `skip`, the one being examined by the caller).
    fn open_for(&self, facts: &Facts, c: usize, a: usize, d: usize, skip: Option<usize>) -> bool {
        let prep = self.prep;
        let alt = &prep.alts[a];
        if !facts.usable(a, d)
            || (!alt.admin && !facts.shared[d] && (self.inv.devices[d].in_use || self.taken[d]))
        {
            return false;
        }
        let base = facts.constraint_base[c];
        for (ci, con) in prep.claims[c].constraints.iter().enumerate() {
            if Some(ci) == skip || !con.applies(alt) {
                continue;
            }
            let g = facts.groups[base + ci][d];
            if g == NONE {
                return false;
            }
            let recorded = self.picks[c]
                .iter()
                .filter(|p| p.constrained & (1 << ci) != 0)
                .map(|p| facts.groups[base + ci][p.dev]);
            if con.distinct {
                if recorded.into_iter().any(|x| x == g) {
                    return false;
                }
            } else if recorded.into_iter().next().is_some_and(|x| x != g) {
                return false;
            }
        }
        true
    }

    /// How many devices from `from` on are open for alternative `a`, counting up to `need`.
    fn available(
        &self,
        facts: &Facts,
        c: usize,
        a: usize,
        from: usize,
        need: usize,
        skip: Option<usize>,
    ) -> usize {
        let mut n = 0;
        for d in from..self.inv.devices.len() {
            if n >= need {
                break;
            }
            if self.open_for(facts, c, a, d, skip) {
                n += 1;
            }
        }
        n
    }

    /// The `matchAttribute` bound of claim `c`: every constraint whose value is still open
    /// has a value with room for all the requests it covers. `current` is the position being
    /// filled when `c` is the claim in progress.
    fn groups_hold(
        &mut self,
        facts: &Facts,
        c: usize,
        current: Option<(usize, usize, usize, usize)>,
    ) -> bool {
        let prep = self.prep;
        let claim = &prep.claims[c];
        let ndev = self.inv.devices.len();
        let mut reqs = std::mem::take(&mut self.scratch_reqs);
        let mut counts = std::mem::take(&mut self.scratch);
        let mut ok = true;
        for (ci, con) in claim.constraints.iter().enumerate() {
            if con.distinct || self.fixed(facts, c, ci).is_some() {
                continue;
            }
            // (alternative, first device, need) of each open single-alternative request the
            // constraint covers.
            reqs.clear();
            let r0 = current.map_or(0, |(r, ..)| r);
            for (ri, req) in claim.reqs.iter().enumerate().skip(r0) {
                let (a, from, need) = match current {
                    Some((r, ai, k, start)) if ri == r => (ai, start, prep.alts[ai].count - k),
                    _ if req.alts.len() == 1 => {
                        (req.alts.start, 0, prep.alts[req.alts.start].count)
                    }
                    _ => continue,
                };
                let alt = &prep.alts[a];
                if !alt.all && need > 0 && con.applies(alt) {
                    reqs.push((a, from, need));
                }
            }
            if reqs.is_empty() {
                continue;
            }
            let m = reqs.len();
            let ng = facts.ngroups[facts.constraint_base[c] + ci];
            counts.clear();
            counts.resize(ng * (m + 1), 0);
            let union_valid =
                reqs.iter().all(|&(a, ..)| !prep.alts[a].admin) && !facts.shared.iter().any(|&s| s);
            let groups = &facts.groups[facts.constraint_base[c] + ci];
            for (d, &g) in groups.iter().enumerate().take(ndev) {
                if g == NONE {
                    continue;
                }
                let row = g as usize * (m + 1);
                let mut any = false;
                for (j, &(a, from, _)) in reqs.iter().enumerate() {
                    if d >= from && self.open_for(facts, c, a, d, Some(ci)) {
                        counts[row + j] += 1;
                        any = true;
                    }
                }
                if any {
                    counts[row + m] += 1;
                }
            }
            let total: usize = reqs.iter().map(|&(.., need)| need).sum();
            let fits = (0..ng).any(|g| {
                let row = &counts[g * (m + 1)..(g + 1) * (m + 1)];
                reqs.iter()
                    .enumerate()
                    .all(|(j, &(.., need))| row[j] as usize >= need)
                    && (!union_valid || row[m] as usize >= total)
            });
            if !fits {
                ok = false;
                break;
            }
        }
        self.scratch_reqs = reqs;
        self.scratch = counts;
        ok
    }
}
