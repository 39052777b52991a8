//! The expected-instances table behind the MIG choice rule of [`super::mig`]: for every valid
//! state of one GPU of a geometry, `E(state)`, the expected number of further instances the GPU
//! accepts (see the `mig` module documentation for the definition). Built once per geometry by
//! exhaustive enumeration of the states (144 on A100-40GB, 382 on the 80GB table), exactly (as
//! rationals brought to one common denominator), and cached.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::mig::{Instance, MigGeometry, MigProfile, feasible_with};

/// keep(S) of the module documentation: for each single-start profile, largest first, whether
/// it can still be placed on the state `(used, occupied)`.
pub(super) fn keep(geom: &MigGeometry, used: u64, occupied: &[Instance]) -> Vec<u32> {
    let mut single: Vec<&MigProfile> = geom
        .profiles
        .iter()
        .filter(|p| p.starts.len() == 1)
        .collect();
    single.sort_by(|a, b| b.size.cmp(&a.size).then(a.id.cmp(&b.id)));
    single
        .iter()
        .map(|p| u32::from(!feasible_with(p, used, occupied).is_empty()))
        .collect()
}

/// What one GPU offers for the new instance: the across-GPU key of the module documentation
/// (smaller is better), field by field.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Offer {
    pub(super) empty: bool,
    pub(super) keep_loss: Vec<u32>,
    pub(super) expected_loss: i64,
    pub(super) fuller: Reverse<u32>,
}

/// Most states a geometry's table may hold; beyond it no table is built and `E` is taken as 0.
pub(super) const MAX_STATES: usize = 1 << 16;

/// Largest common denominator kept (real tables: 10 on A100-40GB, 15120 on the 80GB table).
const MAX_DENOMINATOR: u128 = 1 << 40;

/// Largest numerator kept (products of two stay far inside `u128`).
const MAX_NUMERATOR: u128 = 1 << 60;

/// Geometries whose tables are kept (most recently built last).
const CACHED_GEOMETRIES: usize = 8;

/// A GPU state: its occupied slice mask and the instance counts of the profiles that have an
/// instance limit (in table order).
type StateKey = (u64, Vec<u32>);

/// `E(state)` of every valid state of a geometry, as integers over one common denominator.
#[derive(Debug)]
pub(super) struct ExpectedTable {
    scaled: BTreeMap<StateKey, u64>,
}

impl ExpectedTable {
    /// `E(state) * denominator` (0 for a state not in the table).
    pub(super) fn scaled(&self, used: u64, limited: &[u32]) -> i64 {
        let v = self.scaled.get(&(used, limited.to_vec())).copied();
        i64::try_from(v.unwrap_or(0)).unwrap_or(i64::MAX)
    }
}

/// An exact non-negative rational, kept reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ratio {
    num: u128,
    den: u128,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    const ZERO: Self = Self { num: 0, den: 1 };

    fn new(num: u128, den: u128) -> Option<Self> {
        let g = gcd(num, den).max(1);
        let r = Self {
            num: num / g,
            den: den / g,
        };
        (r.den <= MAX_DENOMINATOR && r.num <= MAX_NUMERATOR).then_some(r)
    }

    fn add(self, o: Self) -> Option<Self> {
        let num = self
            .num
            .checked_mul(o.den)?
            .checked_add(o.num.checked_mul(self.den)?)?;
        Self::new(num, self.den.checked_mul(o.den)?)
    }

    fn add_int(self, n: u128) -> Option<Self> {
        Self::new(self.num.checked_add(n.checked_mul(self.den)?)?, self.den)
    }

    fn div_int(self, n: u128) -> Option<Self> {
        Self::new(self.num, self.den.checked_mul(n)?)
    }

    fn gt(self, o: Self) -> bool {
        self.num * o.den > o.num * self.den
    }
}

/// The indices (in table order) of the profiles with an instance limit.
pub(super) fn limited_profiles(geom: &MigGeometry) -> Vec<usize> {
    (0..geom.profiles.len())
        .filter(|&i| geom.profiles[i].max_instances.is_some())
        .collect()
}

struct Builder<'g> {
    geom: &'g MigGeometry,
    masks: Vec<Vec<u64>>,
    limited: Vec<usize>,
    memo: BTreeMap<StateKey, Ratio>,
}

impl Builder<'_> {
    /// `E` of the state `(used, counts)`; `None` when the table grows too large or a value
    /// cannot be kept exactly.
    fn value(&mut self, used: u64, counts: &mut Vec<u32>) -> Option<Ratio> {
        if let Some(v) = self.memo.get(&(used, counts.clone())) {
            return Some(*v);
        }
        if self.memo.len() >= MAX_STATES {
            return None;
        }
        let mut sum = Ratio::ZERO;
        let mut fitting = 0u128;
        for pi in 0..self.geom.profiles.len() {
            let slot = self.limited.iter().position(|&l| l == pi);
            let max = self.geom.profiles[pi].max_instances;
            if let (Some(k), Some(max)) = (slot, max) {
                if counts[k] >= max {
                    continue;
                }
            }
            let mut best: Option<Ratio> = None;
            for mi in 0..self.masks[pi].len() {
                let mask = self.masks[pi][mi];
                if used & mask != 0 {
                    continue;
                }
                if let Some(k) = slot {
                    counts[k] += 1;
                }
                let v = self.value(used | mask, counts);
                if let Some(k) = slot {
                    counts[k] -= 1;
                }
                let v = v?;
                if best.is_none_or(|b| v.gt(b)) {
                    best = Some(v);
                }
            }
            if let Some(b) = best {
                fitting += 1;
                sum = sum.add(b.add_int(1)?)?;
            }
        }
        let v = if fitting == 0 {
            Ratio::ZERO
        } else {
            sum.div_int(fitting)?
        };
        self.memo.insert((used, counts.clone()), v);
        Some(v)
    }
}

/// Builds the table of `geom` (validated); `None` when it would exceed [`MAX_STATES`] states or
/// the common denominator would exceed 2^40.
fn build(geom: &MigGeometry) -> Option<ExpectedTable> {
    let masks = geom
        .profiles
        .iter()
        .map(|p| p.starts.iter().filter_map(|&s| p.mask(s)).collect())
        .collect();
    let limited = limited_profiles(geom);
    let mut b = Builder {
        geom,
        masks,
        limited,
        memo: BTreeMap::new(),
    };
    let mut counts = vec![0; b.limited.len()];
    b.value(0, &mut counts)?;
    let mut den = 1u128;
    for v in b.memo.values() {
        den = den / gcd(den, v.den) * v.den;
        if den > MAX_DENOMINATOR {
            return None;
        }
    }
    let scaled = b
        .memo
        .into_iter()
        .map(|(k, v)| Some((k, u64::try_from(v.num * (den / v.den)).ok()?)))
        .collect::<Option<_>>()?;
    Some(ExpectedTable { scaled })
}

static CACHE: Mutex<Vec<(MigGeometry, Arc<Option<ExpectedTable>>)>> = Mutex::new(Vec::new());

/// The table of `geom` (validated), from the cache or built; `None` inside when too large.
pub(super) fn table(geom: &MigGeometry) -> Arc<Option<ExpectedTable>> {
    {
        let cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, t)) = cache.iter().find(|(g, _)| g == geom) {
            return Arc::clone(t);
        }
    }
    let built = Arc::new(build(geom));
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= CACHED_GEOMETRIES {
        cache.remove(0);
    }
    cache.push((geom.clone(), Arc::clone(&built)));
    built
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_tables_are_exact_and_small() {
        let g = MigGeometry::a100_40gb();
        let t = build(&g).unwrap();
        assert_eq!(t.scaled.len(), 144);
        // E(empty) = 17/5 over the common denominator 10; E(1g.5gb@4) = 4, E(1g.5gb@6) = 7/2.
        assert_eq!(t.scaled(0, &[]), 34);
        assert_eq!(t.scaled(1 << 4, &[]), 40);
        assert_eq!(t.scaled(1 << 6, &[]), 35);
        let h = MigGeometry::h100_80gb();
        assert_eq!(build(&h).unwrap().scaled.len(), 382);
    }

    #[test]
    fn too_many_states_builds_no_table() {
        let g = MigGeometry::new(
            40,
            40,
            vec![MigProfile::new(1, "1g", 1, (0..40).collect(), None)],
        )
        .unwrap();
        assert!(table(&g).is_none());
        assert!(table(&MigGeometry::a100_40gb()).is_some());
    }
}
