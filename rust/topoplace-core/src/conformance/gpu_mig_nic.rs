//! Nearest-NIC and MIG placement conformance cases of the GPU suite
//! (`tests/data/conformance/gpu/cases.json`, policies `nearest-nic` and `mig-placement`).

use crate::node::mig::{self, Instance, MigGeometry};
use serde_json::Value;
use std::collections::BTreeSet;

/// PCIe relations from the closest to the farthest, as `nvidia-smi topo -m` prints them.
const NIC_LINK_ORDER: [&str; 5] = ["PIX", "PXB", "PHB", "NODE", "SYS"];

fn link_rank(label: &str) -> Option<usize> {
    NIC_LINK_ORDER.iter().position(|l| *l == label)
}

fn field_u32(case: &Value, name: &str) -> std::result::Result<u32, String> {
    case.get(name)
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("case field `{name}`: expected a non-negative integer"))
}

/// The NICs with the closest PCIe relation to `gpu` in a parsed topology's `nic_links`
/// (`[[gpu_index, nic_name, label], ...]`), with that relation's label; `None` when the GPU has
/// no NIC link.
///
/// # Errors
/// A description of a malformed `nic_links` entry or an unknown label.
pub fn nearest_nics(
    topology: &Value,
    gpu: u32,
) -> std::result::Result<Option<(BTreeSet<String>, &'static str)>, String> {
    let links = topology
        .get("nic_links")
        .and_then(Value::as_array)
        .ok_or("topology has no `nic_links` array")?;
    let mut best: Option<(usize, BTreeSet<String>)> = None;
    for (i, link) in links.iter().enumerate() {
        let entry = link
            .as_array()
            .filter(|e| e.len() == 3)
            .ok_or_else(|| format!("nic_links[{i}]: expected [gpu, nic, label]"))?;
        let (Some(g), Some(nic), Some(label)) = (
            entry.first().and_then(Value::as_u64),
            entry.get(1).and_then(Value::as_str),
            entry.get(2).and_then(Value::as_str),
        ) else {
            return Err(format!("nic_links[{i}]: expected [gpu, nic, label]"));
        };
        if g != u64::from(gpu) {
            continue;
        }
        let rank = link_rank(label)
            .ok_or_else(|| format!("nic_links[{i}]: unknown GPU-NIC label `{label}`"))?;
        match &mut best {
            Some((r, names)) if *r == rank => {
                names.insert(nic.to_string());
            }
            Some((r, _)) if *r < rank => {}
            _ => best = Some((rank, BTreeSet::from([nic.to_string()]))),
        }
    }
    Ok(best.and_then(|(rank, names)| NIC_LINK_ORDER.get(rank).map(|l| (names, *l))))
}

/// Checks one `nearest-nic` case against its topology; `Err` says what differed.
///
/// # Errors
/// A description of the difference, or why the case cannot be run.
pub fn run_nearest_nic(case: &Value, topology: &Value) -> std::result::Result<(), String> {
    let gpu = field_u32(case, "gpu")?;
    let expected: BTreeSet<String> = case
        .get("expected")
        .and_then(Value::as_array)
        .ok_or("case field `expected`: expected an array of NIC names")?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or("case field `expected`: expected an array of NIC names")?;
    let expected_link = case
        .get("expected_link")
        .and_then(Value::as_str)
        .ok_or("case field `expected_link`: expected a string")?;
    let (names, link) = nearest_nics(topology, gpu)?
        .ok_or_else(|| format!("GPU {gpu} has no NIC link in the topology"))?;
    if names != expected || link != expected_link {
        return Err(format!(
            "GPU {gpu}: expected {expected:?} ({expected_link}), got {names:?} ({link})"
        ));
    }
    Ok(())
}

fn parse_occupied(case: &Value) -> std::result::Result<Vec<Instance>, String> {
    let list = case
        .get("occupied")
        .and_then(Value::as_array)
        .ok_or("case field `occupied`: expected an array")?;
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            let pair = e.as_array().filter(|p| p.len() == 2);
            let num = |j: usize| {
                pair.and_then(|p| p.get(j))
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok())
            };
            match (num(0), num(1)) {
                (Some(profile), Some(start)) => Ok(Instance::new(profile, start)),
                _ => Err(format!("occupied[{i}]: expected [profile_id, start]")),
            }
        })
        .collect()
}

/// Checks one `mig-placement` case against its geometry; `Err` says what differed.
///
/// # Errors
/// A description of the difference, or why the case cannot be run.
pub fn run_mig(case: &Value, topology: &Value) -> std::result::Result<(), String> {
    let geom = MigGeometry::from_json(topology).map_err(|e| e.to_string())?;
    let occupied = parse_occupied(case)?;
    let profile = field_u32(case, "profile")?;
    let expected: BTreeSet<u32> = case
        .get("expected")
        .and_then(Value::as_array)
        .ok_or("case field `expected`: expected an array of starts")?
        .iter()
        .map(|v| v.as_u64().and_then(|v| u32::try_from(v).ok()))
        .collect::<Option<_>>()
        .ok_or("case field `expected`: expected an array of starts")?;
    let feasible = case
        .get("feasible")
        .and_then(Value::as_bool)
        .ok_or("case field `feasible`: expected a boolean")?;
    let starts = mig::feasible_starts(&geom, &occupied, profile).map_err(|e| e.to_string())?;
    let got: BTreeSet<u32> = starts.iter().copied().collect();
    if got != expected {
        return Err(format!(
            "profile {profile}: expected starts {expected:?}, got {got:?}"
        ));
    }
    if got.is_empty() == feasible {
        return Err(format!(
            "profile {profile}: feasible is {feasible} but {} starts were found",
            got.len()
        ));
    }
    match mig::choose_start(&geom, &occupied, profile).map_err(|e| e.to_string())? {
        Some(s) if !got.contains(&s) => Err(format!(
            "profile {profile}: chose start {s}, not one of {got:?}"
        )),
        None if feasible => Err(format!(
            "profile {profile}: chose no start, expected one of {got:?}"
        )),
        Some(s) if !feasible => Err(format!(
            "profile {profile}: chose start {s} for an infeasible request"
        )),
        _ => Ok(()),
    }
}
