//! MIG (Multi-Instance GPU) placement: where on a GPU a new GPU instance may start, and which
//! start (and which GPU) to choose so that large profiles stay placeable.
//!
//! # Model
//!
//! A MIG-capable GPU has `memory_slices` memory slices (8 on A100/H100) and `compute_slices`
//! compute slices (7). A GPU instance *profile* (`1g.5gb`, `3g.20gb`, ...) occupies `size`
//! consecutive memory slices and may only start at one of its allowed first slices (`starts`),
//! as printed by `nvidia-smi mig -lgipp` and listed on the "Supported MIG Profiles" page of the
//! NVIDIA MIG User Guide. Some profiles (`1g.10gb+me`) allow at most `max_instances` instances.
//!
//! A start is **feasible** when it is an allowed start of the profile, every slice of
//! `[start, start + size)` is free, and the profile's instance limit is not reached
//! ([`feasible_starts`]).
//!
//! # Choice rule ([`choose_start`])
//!
//! Among the feasible starts, topoplace picks the one that does the least damage to the profiles
//! that could still be placed afterwards. For every profile of the geometry, taken from the
//! largest to the smallest (by `size`, then the profile with fewer allowed starts first — the
//! more constrained one, e.g. `4g` before `3g` — then by id), it counts how many instances of that
//! profile alone could still be placed on the free slices (the most non-overlapping allowed
//! placements, capped by the remaining `max_instances`). The start whose counts are
//! lexicographically highest wins; ties go to the lowest start.
//!
//! Example (A100-40GB, empty GPU, request `1g.5gb`, allowed starts 0..=6): a `1g.5gb` at slice 0
//! blocks the `4g.20gb` (its only start is 0) and the `3g.20gb` at 0 — which is exactly the state
//! of the conformance case `mig-a100-40gb/mig-placement/1g5gb@0/request-4g20gb`, where the
//! `4g.20gb` is no longer placeable. Starts 4, 5 and 6 keep one `4g.20gb` (at 0) and one
//! `3g.20gb` (at 0) placeable; among them, start 6 also keeps three `2g.10gb` (at 0, 2, 4)
//! where 4 and 5 keep two, so topoplace places the `1g.5gb` at slice 6 (case
//! `1g5gb@6/request-3g20gb`: the `3g.20gb` still fits at 0).
//!
//! # Across GPUs ([`choose_across_gpus`])
//!
//! The same counts are compared as a *loss*: for each profile (same order), how many fewer
//! instances are placeable on that GPU after the placement than before. The smallest loss wins
//! (so a small instance goes to a GPU that is already split rather than breaking a whole one),
//! then the fullest GPU (most occupied memory slices, keeping empty GPUs whole), then the lowest
//! GPU index, then the lowest start. On one GPU, the loss order and the count order are the same.

use crate::error::{Error, Result};
use serde_json::Value;

/// Largest number of memory slices supported (slices are kept in a 64-bit mask).
pub const MAX_MEMORY_SLICES: u32 = 64;

/// One GPU instance profile of a MIG geometry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigProfile {
    /// The GPU instance profile id (`nvidia-smi mig -lgip`), e.g. 19 for `1g.5gb`.
    pub id: u32,
    /// The profile name, e.g. `"1g.5gb"`.
    pub name: String,
    /// Number of memory slices the instance occupies.
    pub size: u32,
    /// The allowed first memory slices.
    pub starts: Vec<u32>,
    /// At most this many instances of the profile on one GPU (`None`: no limit beyond space).
    pub max_instances: Option<u32>,
}

impl MigProfile {
    /// A profile from its parts.
    pub fn new(
        id: u32,
        name: impl Into<String>,
        size: u32,
        starts: Vec<u32>,
        max_instances: Option<u32>,
    ) -> Self {
        Self {
            id,
            name: name.into(),
            size,
            starts,
            max_instances,
        }
    }

    /// The slice mask of an instance of this profile at `start` (`None` when it does not fit in
    /// 64 slices).
    fn mask(&self, start: u32) -> Option<u64> {
        let end = start.checked_add(self.size)?;
        if self.size == 0 || end > MAX_MEMORY_SLICES {
            return None;
        }
        let ones = if self.size == 64 {
            u64::MAX
        } else {
            (1u64 << self.size) - 1
        };
        Some(ones << start)
    }
}

/// The MIG placement table of one GPU model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigGeometry {
    /// Number of memory slices (8 on A100 and H100).
    pub memory_slices: u32,
    /// Number of compute slices (7 on A100 and H100); informational.
    pub compute_slices: u32,
    /// The GPU instance profiles.
    pub profiles: Vec<MigProfile>,
}

/// An existing (or planned) GPU instance: a profile id at a first memory slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instance {
    /// The GPU instance profile id.
    pub profile: u32,
    /// The first memory slice.
    pub start: u32,
}

impl Instance {
    /// An instance of `profile` starting at `start`.
    pub fn new(profile: u32, start: u32) -> Self {
        Self { profile, start }
    }
}

fn value_err(message: impl Into<String>) -> Error {
    Error::Value(message.into())
}

fn json_u32(value: Option<&Value>, what: &str) -> Result<u32> {
    value
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| value_err(format!("{what}: expected a non-negative integer")))
}

impl MigGeometry {
    /// A geometry from its parts, validated.
    ///
    /// # Errors
    /// [`Error::Value`] when the table is inconsistent (see [`MigGeometry::validate`]).
    pub fn new(memory_slices: u32, compute_slices: u32, profiles: Vec<MigProfile>) -> Result<Self> {
        let geom = Self {
            memory_slices,
            compute_slices,
            profiles,
        };
        geom.validate()?;
        Ok(geom)
    }

    /// Reads a geometry from a JSON object with `memory_slices`, `compute_slices` and
    /// `profiles: [{id, name, size, starts, max_instances?}]` (the `mig-geometry` topologies of
    /// the GPU conformance vectors).
    ///
    /// # Errors
    /// [`Error::Value`] naming the missing or bad field, or an inconsistent table.
    pub fn from_json(value: &Value) -> Result<Self> {
        let memory_slices = json_u32(value.get("memory_slices"), "memory_slices")?;
        let compute_slices = json_u32(value.get("compute_slices"), "compute_slices")?;
        let list = value
            .get("profiles")
            .and_then(Value::as_array)
            .ok_or_else(|| value_err("profiles: expected an array"))?;
        let mut profiles = Vec::with_capacity(list.len());
        for (i, p) in list.iter().enumerate() {
            let id = json_u32(p.get("id"), &format!("profiles[{i}].id"))?;
            let name = p
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| value_err(format!("profiles[{i}].name: expected a string")))?;
            let size = json_u32(p.get("size"), &format!("profiles[{i}].size"))?;
            let starts = p
                .get("starts")
                .and_then(Value::as_array)
                .ok_or_else(|| value_err(format!("profiles[{i}].starts: expected an array")))?
                .iter()
                .enumerate()
                .map(|(j, s)| json_u32(Some(s), &format!("profiles[{i}].starts[{j}]")))
                .collect::<Result<Vec<_>>>()?;
            let max_instances = match p.get("max_instances") {
                None | Some(Value::Null) => None,
                Some(v) => Some(json_u32(Some(v), &format!("profiles[{i}].max_instances"))?),
            };
            profiles.push(MigProfile::new(id, name, size, starts, max_instances));
        }
        Self::new(memory_slices, compute_slices, profiles)
    }

    /// A100-SXM4-40GB (the `mig-a100-40gb` table of the conformance vectors): `1g.5gb` (19),
    /// `2g.10gb` (14), `3g.20gb` (9), `4g.20gb` (5), `7g.40gb` (0).
    pub fn a100_40gb() -> Self {
        Self {
            memory_slices: 8,
            compute_slices: 7,
            profiles: vec![
                MigProfile::new(19, "1g.5gb", 1, (0..7).collect(), None),
                MigProfile::new(14, "2g.10gb", 2, vec![0, 2, 4], None),
                MigProfile::new(9, "3g.20gb", 4, vec![0, 4], None),
                MigProfile::new(5, "4g.20gb", 4, vec![0], None),
                MigProfile::new(0, "7g.40gb", 8, vec![0], None),
            ],
        }
    }

    /// A100 80GB with recent drivers (the `mig-80gb-a100-h100` table of the conformance
    /// vectors): `1g.10gb` (19), `1g.10gb+me` (20, one instance), `1g.20gb` (15), `2g.20gb`
    /// (14), `3g.40gb` (9), `4g.40gb` (5), `7g.80gb` (0).
    pub fn a100_80gb() -> Self {
        Self {
            memory_slices: 8,
            compute_slices: 7,
            profiles: vec![
                MigProfile::new(19, "1g.10gb", 1, (0..7).collect(), None),
                MigProfile::new(20, "1g.10gb+me", 1, (0..7).collect(), Some(1)),
                MigProfile::new(15, "1g.20gb", 2, vec![0, 2, 4, 6], None),
                MigProfile::new(14, "2g.20gb", 2, vec![0, 2, 4], None),
                MigProfile::new(9, "3g.40gb", 4, vec![0, 4], None),
                MigProfile::new(5, "4g.40gb", 4, vec![0], None),
                MigProfile::new(0, "7g.80gb", 8, vec![0], None),
            ],
        }
    }

    /// H100 80GB: the same table as [`MigGeometry::a100_80gb`] (the `mig-80gb-a100-h100`
    /// geometry of the conformance vectors).
    pub fn h100_80gb() -> Self {
        Self::a100_80gb()
    }

    /// The profile with id `id`.
    pub fn profile(&self, id: u32) -> Option<&MigProfile> {
        self.profiles.iter().find(|p| p.id == id)
    }

    /// Checks the table: 1 to 64 memory slices, unique profile ids, sizes of at least one slice,
    /// every allowed start fitting inside the memory slices.
    ///
    /// # Errors
    /// [`Error::Value`] saying what is inconsistent.
    pub fn validate(&self) -> Result<()> {
        if self.memory_slices == 0 || self.memory_slices > MAX_MEMORY_SLICES {
            return Err(value_err(format!(
                "MIG geometry: memory_slices must be 1..={MAX_MEMORY_SLICES}, got {}",
                self.memory_slices
            )));
        }
        for (i, p) in self.profiles.iter().enumerate() {
            if self.profiles.iter().take(i).any(|q| q.id == p.id) {
                return Err(value_err(format!(
                    "MIG geometry: profile id {} listed twice",
                    p.id
                )));
            }
            if p.size == 0 {
                return Err(value_err(format!(
                    "MIG geometry: profile {} ({}) has size 0",
                    p.id, p.name
                )));
            }
            for &s in &p.starts {
                if s.checked_add(p.size)
                    .is_none_or(|end| end > self.memory_slices)
                {
                    return Err(value_err(format!(
                        "MIG geometry: profile {} ({}) start {s} + size {} exceeds {} memory slices",
                        p.id, p.name, p.size, self.memory_slices
                    )));
                }
            }
        }
        Ok(())
    }

    /// Profiles from the largest to the smallest: by size, then fewer allowed starts, then id.
    fn largest_first(&self) -> Vec<&MigProfile> {
        let mut order: Vec<&MigProfile> = self.profiles.iter().collect();
        order.sort_by(|a, b| {
            b.size
                .cmp(&a.size)
                .then(a.starts.len().cmp(&b.starts.len()))
                .then(a.id.cmp(&b.id))
        });
        order
    }

    /// The occupied slice mask of `occupied`, checking every instance (known profile, allowed
    /// start, no overlap, instance limits).
    fn occupancy(&self, occupied: &[Instance]) -> Result<u64> {
        let mut used = 0u64;
        for inst in occupied {
            let p = self.profile(inst.profile).ok_or_else(|| {
                value_err(format!(
                    "occupied instance at slice {}: unknown MIG profile {}",
                    inst.start, inst.profile
                ))
            })?;
            if !p.starts.contains(&inst.start) {
                return Err(value_err(format!(
                    "occupied instance of profile {} ({}) at slice {}: not an allowed start {:?}",
                    p.id, p.name, inst.start, p.starts
                )));
            }
            let mask = p.mask(inst.start).ok_or_else(|| {
                value_err(format!(
                    "occupied instance of profile {} at slice {} is out of range",
                    p.id, inst.start
                ))
            })?;
            if used & mask != 0 {
                return Err(value_err(format!(
                    "occupied instance of profile {} ({}) at slice {} overlaps another instance",
                    p.id, p.name, inst.start
                )));
            }
            used |= mask;
        }
        for p in &self.profiles {
            if let Some(max) = p.max_instances {
                let n = count_of(occupied, p.id);
                if n > max as usize {
                    return Err(value_err(format!(
                        "occupied state has {n} instances of profile {} ({}), the limit is {max}",
                        p.id, p.name
                    )));
                }
            }
        }
        Ok(used)
    }

    /// For each profile in `order`, how many instances could still be placed on the free slices.
    fn capacity(&self, order: &[&MigProfile], used: u64, occupied: &[Instance]) -> Vec<usize> {
        order
            .iter()
            .map(|p| {
                let mut free = !used;
                let mut starts = p.starts.clone();
                starts.sort_unstable();
                let mut n = 0usize;
                // Equal-length intervals: taking the earliest start that fits is optimal.
                for s in starts {
                    if let Some(m) = p.mask(s).filter(|m| free & m == *m) {
                        free &= !m;
                        n += 1;
                    }
                }
                match p.max_instances {
                    Some(max) => n.min((max as usize).saturating_sub(count_of(occupied, p.id))),
                    None => n,
                }
            })
            .collect()
    }
}

fn count_of(occupied: &[Instance], profile: u32) -> usize {
    occupied.iter().filter(|i| i.profile == profile).count()
}

/// The feasible starts (ascending) for a new instance of `profile_id` on a GPU holding
/// `occupied`: allowed starts whose slices are all free, while the profile's `max_instances` is
/// not reached. Empty when nothing fits.
///
/// # Errors
/// [`Error::Value`] for an invalid geometry, an unknown profile, or an invalid occupied state
/// (unknown profile, disallowed start, overlapping instances, instance limit exceeded).
pub fn feasible_starts(
    geom: &MigGeometry,
    occupied: &[Instance],
    profile_id: u32,
) -> Result<Vec<u32>> {
    geom.validate()?;
    let used = geom.occupancy(occupied)?;
    let p = geom
        .profile(profile_id)
        .ok_or_else(|| value_err(format!("unknown MIG profile {profile_id}")))?;
    Ok(feasible_with(p, used, occupied))
}

fn feasible_with(p: &MigProfile, used: u64, occupied: &[Instance]) -> Vec<u32> {
    if p.max_instances
        .is_some_and(|max| count_of(occupied, p.id) >= max as usize)
    {
        return Vec::new();
    }
    let mut starts: Vec<u32> = p
        .starts
        .iter()
        .copied()
        .filter(|&s| p.mask(s).is_some_and(|m| used & m == 0))
        .collect();
    starts.sort_unstable();
    starts.dedup();
    starts
}

/// The best placement on one GPU: `(loss, start)` with the smallest loss, then lowest start.
fn best_on_gpu(
    geom: &MigGeometry,
    occupied: &[Instance],
    profile_id: u32,
) -> Result<Option<(Vec<usize>, u32, u32)>> {
    let used = geom.occupancy(occupied)?;
    let p = geom
        .profile(profile_id)
        .ok_or_else(|| value_err(format!("unknown MIG profile {profile_id}")))?;
    let order = geom.largest_first();
    let before = geom.capacity(&order, used, occupied);
    let mut best: Option<(Vec<usize>, u32)> = None;
    let mut after_state = occupied.to_vec();
    for start in feasible_with(p, used, occupied) {
        let Some(mask) = p.mask(start) else { continue };
        after_state.push(Instance::new(profile_id, start));
        let after = geom.capacity(&order, used | mask, &after_state);
        after_state.pop();
        let loss: Vec<usize> = before
            .iter()
            .zip(&after)
            .map(|(b, a)| b.saturating_sub(*a))
            .collect();
        // Starts are ascending, so a strict improvement is needed to replace.
        if best.as_ref().is_none_or(|(l, _)| loss < *l) {
            best = Some((loss, start));
        }
    }
    Ok(best.map(|(loss, start)| (loss, start, used.count_ones())))
}

/// Chooses the start for a new instance of `profile_id` on a GPU holding `occupied`: the
/// feasible start that keeps the largest profiles placeable (see the module documentation for
/// the rule and the blocked `3g`/`4g` example); `None` when no start is feasible.
///
/// # Errors
/// As [`feasible_starts`].
pub fn choose_start(
    geom: &MigGeometry,
    occupied: &[Instance],
    profile_id: u32,
) -> Result<Option<u32>> {
    geom.validate()?;
    Ok(best_on_gpu(geom, occupied, profile_id)?.map(|(_, start, _)| start))
}

/// Chooses a GPU and a start for a new instance of `profile_id` among GPUs of the same
/// geometry (`per_gpu_occupied[g]` is GPU `g`'s instances): the smallest loss of placeable larger
/// profiles, then the fullest GPU, then the lowest GPU index (see the module documentation).
/// `None` when no GPU can take the instance.
///
/// # Errors
/// As [`feasible_starts`], for any GPU's occupied state.
pub fn choose_across_gpus(
    geom: &MigGeometry,
    per_gpu_occupied: &[Vec<Instance>],
    profile_id: u32,
) -> Result<Option<(usize, u32)>> {
    geom.validate()?;
    if geom.profile(profile_id).is_none() {
        return Err(value_err(format!("unknown MIG profile {profile_id}")));
    }
    let mut best: Option<(Vec<usize>, u32, usize, u32)> = None;
    for (gpu, occupied) in per_gpu_occupied.iter().enumerate() {
        let Some((loss, start, used)) = best_on_gpu(geom, occupied, profile_id)? else {
            continue;
        };
        let better = match &best {
            None => true,
            Some((bl, bused, _, _)) => loss < *bl || (loss == *bl && used > *bused),
        };
        if better {
            best = Some((loss, used, gpu, start));
        }
    }
    Ok(best.map(|(_, _, gpu, start)| (gpu, start)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(list: &[(u32, u32)]) -> Vec<Instance> {
        list.iter().map(|&(p, s)| Instance::new(p, s)).collect()
    }

    #[test]
    fn builtins_are_valid() {
        for g in [
            MigGeometry::a100_40gb(),
            MigGeometry::a100_80gb(),
            MigGeometry::h100_80gb(),
        ] {
            assert!(g.validate().is_ok());
        }
    }

    #[test]
    fn from_json_round_trip() {
        let v = serde_json::json!({
            "memory_slices": 8, "compute_slices": 7,
            "profiles": [
                {"id": 19, "name": "1g.10gb", "size": 1, "starts": [0, 1, 2, 3, 4, 5, 6]},
                {"id": 20, "name": "1g.10gb+me", "size": 1, "starts": [0, 1, 2, 3, 4, 5, 6],
                 "max_instances": 1},
                {"id": 15, "name": "1g.20gb", "size": 2, "starts": [0, 2, 4, 6]},
                {"id": 14, "name": "2g.20gb", "size": 2, "starts": [0, 2, 4]},
                {"id": 9, "name": "3g.40gb", "size": 4, "starts": [0, 4]},
                {"id": 5, "name": "4g.40gb", "size": 4, "starts": [0]},
                {"id": 0, "name": "7g.80gb", "size": 8, "starts": [0]}
            ]
        });
        assert_eq!(MigGeometry::from_json(&v), Ok(MigGeometry::h100_80gb()));
    }

    #[test]
    fn from_json_rejects_bad_input() {
        let bad = [
            serde_json::json!({}),
            serde_json::json!({"memory_slices": 8, "compute_slices": 7}),
            serde_json::json!({"memory_slices": 8, "compute_slices": 7,
                "profiles": [{"id": 1, "name": "x", "size": 4, "starts": [6]}]}),
            serde_json::json!({"memory_slices": 0, "compute_slices": 7, "profiles": []}),
            serde_json::json!({"memory_slices": 8, "compute_slices": 7,
                "profiles": [{"id": 1, "name": "x", "size": 0, "starts": [0]}]}),
            serde_json::json!({"memory_slices": 8, "compute_slices": 7,
                "profiles": [{"id": 1, "name": "x", "size": 1, "starts": [0]},
                             {"id": 1, "name": "y", "size": 1, "starts": [1]}]}),
            serde_json::json!({"memory_slices": 8, "compute_slices": 7,
                "profiles": [{"id": -1, "name": "x", "size": 1, "starts": [0]}]}),
        ];
        for v in bad {
            assert!(
                matches!(MigGeometry::from_json(&v), Err(Error::Value(_))),
                "{v}"
            );
        }
    }

    #[test]
    fn feasible_basic() {
        let g = MigGeometry::a100_40gb();
        assert_eq!(feasible_starts(&g, &[], 19), Ok((0..7).collect()));
        assert_eq!(feasible_starts(&g, &inst(&[(19, 0)]), 14), Ok(vec![2, 4]));
        assert_eq!(feasible_starts(&g, &inst(&[(19, 0)]), 5), Ok(vec![]));
        assert_eq!(feasible_starts(&g, &inst(&[(9, 0)]), 19), Ok(vec![4, 5, 6]));
        assert_eq!(
            feasible_starts(&g, &inst(&[(9, 4), (14, 0)]), 9),
            Ok(vec![])
        );
    }

    #[test]
    fn feasible_max_instances() {
        let g = MigGeometry::h100_80gb();
        assert_eq!(feasible_starts(&g, &inst(&[(20, 3)]), 20), Ok(vec![]));
        assert_eq!(
            feasible_starts(&g, &inst(&[(19, 0), (19, 1), (19, 5)]), 20),
            Ok(vec![2, 3, 4, 6])
        );
        assert_eq!(choose_start(&g, &inst(&[(20, 3)]), 20), Ok(None));
    }

    #[test]
    fn errors() {
        let g = MigGeometry::a100_40gb();
        assert!(matches!(feasible_starts(&g, &[], 42), Err(Error::Value(_))));
        // Unknown occupied profile, disallowed start, overlap.
        for occ in [
            inst(&[(42, 0)]),
            inst(&[(9, 2)]),
            inst(&[(9, 0), (19, 3)]),
            inst(&[(19, 1), (19, 1)]),
        ] {
            assert!(
                matches!(feasible_starts(&g, &occ, 19), Err(Error::Value(_))),
                "{occ:?}"
            );
            assert!(matches!(choose_start(&g, &occ, 19), Err(Error::Value(_))));
        }
        let h = MigGeometry::h100_80gb();
        assert!(matches!(
            feasible_starts(&h, &inst(&[(20, 0), (20, 1)]), 19),
            Err(Error::Value(_))
        ));
        assert!(matches!(
            choose_across_gpus(&g, &[vec![]], 42),
            Err(Error::Value(_))
        ));
        assert!(matches!(
            choose_across_gpus(&g, &[vec![], inst(&[(42, 0)])], 19),
            Err(Error::Value(_))
        ));
        let broken = MigGeometry {
            memory_slices: 8,
            compute_slices: 7,
            profiles: vec![MigProfile::new(1, "x", 9, vec![0], None)],
        };
        assert!(matches!(
            feasible_starts(&broken, &[], 1),
            Err(Error::Value(_))
        ));
    }

    #[test]
    fn choose_small_keeps_4g_and_3g() {
        let g = MigGeometry::a100_40gb();
        // The 1g goes to slice 6: 4g.20gb and 3g.20gb stay placeable at 0, and three 2g.10gb.
        assert_eq!(choose_start(&g, &[], 19), Ok(Some(6)));
        let after = inst(&[(19, 6)]);
        assert_eq!(feasible_starts(&g, &after, 5), Ok(vec![0]));
        assert_eq!(feasible_starts(&g, &after, 9), Ok(vec![0]));
        // The lowest start would have blocked the 4g.20gb.
        assert_eq!(feasible_starts(&g, &inst(&[(19, 0)]), 5), Ok(vec![]));
        // Next 1g instances stay out of [0, 4): 4 and 5 both cost the 2g.10gb at 4 (tie: lowest).
        assert_eq!(choose_start(&g, &after, 19), Ok(Some(4)));
        assert_eq!(
            choose_start(&g, &inst(&[(19, 6), (19, 4)]), 19),
            Ok(Some(5))
        );
        // 2g.10gb: 4 keeps the 4g/3g at 0.
        assert_eq!(choose_start(&g, &[], 14), Ok(Some(4)));
        // 3g.20gb on an empty GPU: start 4 keeps the 4g.20gb at 0.
        assert_eq!(choose_start(&g, &[], 9), Ok(Some(4)));
        assert_eq!(choose_start(&g, &[], 0), Ok(Some(0)));
        assert_eq!(choose_start(&g, &inst(&[(19, 0)]), 0), Ok(None));
    }

    #[test]
    fn choose_h100_issue_state() {
        let g = MigGeometry::h100_80gb();
        let occ = inst(&[(19, 0), (19, 1), (19, 5)]);
        // Free: 2, 3, 4, 6, 7. The 1g.10gb+me at 4 keeps the 2g.20gb at 2 and both 1g.20gb
        // (at 2 and 6); at 6 it would cost the 1g.20gb at 6, at 2 or 3 the 2g.20gb.
        assert_eq!(choose_start(&g, &occ, 20), Ok(Some(4)));
        assert_eq!(choose_start(&g, &occ, 14), Ok(Some(2)));
    }

    #[test]
    fn across_gpus_prefers_split_gpu() {
        let g = MigGeometry::a100_40gb();
        let gpus = vec![vec![], inst(&[(9, 0)]), vec![]];
        // Breaking a whole GPU costs its 7g; GPU 1 is already split.
        assert_eq!(choose_across_gpus(&g, &gpus, 19), Ok(Some((1, 6))));
        // Full GPU 1 (4g at 0 + 3g at 4) cannot take a 3g: the first empty GPU does.
        let gpus = vec![vec![], inst(&[(5, 0), (9, 4)])];
        assert_eq!(choose_across_gpus(&g, &gpus, 9), Ok(Some((0, 4))));
        // Equal loss (none): the fuller GPU.
        let gpus = vec![
            inst(&[(19, 6), (19, 4)]),
            inst(&[(19, 6), (19, 4), (14, 0)]),
        ];
        assert_eq!(choose_across_gpus(&g, &gpus, 19), Ok(Some((1, 5))));
        // Equal everything: lowest index.
        let gpus = vec![vec![], vec![]];
        assert_eq!(choose_across_gpus(&g, &gpus, 19), Ok(Some((0, 6))));
        assert_eq!(choose_across_gpus(&g, &[], 19), Ok(None));
        let full = vec![inst(&[(0, 0)]), inst(&[(0, 0)])];
        assert_eq!(choose_across_gpus(&g, &full, 19), Ok(None));
    }

    #[test]
    fn chosen_start_is_feasible_everywhere() {
        // Every reachable state of the A100-40GB built by repeated choices stays valid.
        let g = MigGeometry::a100_40gb();
        for first in [19u32, 14, 9, 5, 0] {
            let mut occ: Vec<Instance> = Vec::new();
            for p in std::iter::once(first).chain([19, 14, 9, 5, 19, 19, 19, 19, 19]) {
                let feasible = feasible_starts(&g, &occ, p).unwrap_or_default();
                match choose_start(&g, &occ, p) {
                    Ok(Some(s)) => {
                        assert!(feasible.contains(&s));
                        occ.push(Instance::new(p, s));
                    }
                    Ok(None) => assert!(feasible.is_empty()),
                    Err(e) => panic!("{e}"),
                }
            }
        }
    }
}
