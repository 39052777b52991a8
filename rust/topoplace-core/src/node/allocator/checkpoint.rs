//! The checkpoint text: one JSON line (format version, topology fingerprint, reserved sets,
//! hugepage pools, the ledger) and a checksum line, `checksum fnv1a64 <16 hex digits>`, the
//! 64-bit FNV-1a of the JSON line's bytes.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::joint::JointScore;
use super::ledger::{Grant, Ledger};
use super::machine::{HugepagePools, Machine, fnv1a};
use super::request::{AlignLevel, Mode};
use super::{NodeAllocator, rebuild};
use crate::error::{Error, Location, Result};
use crate::topology::{CpuSet, Topology};

/// The format name written in every checkpoint.
const FORMAT: &str = "topoplace-node-allocator";
/// The checkpoint format version this code writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;
const CHECKSUM_PREFIX: &str = "checksum fnv1a64 ";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    format: String,
    version: u32,
    topology_fingerprint: String,
    reserved_cpus: String,
    reserved_memory: Vec<u64>,
    hugepages_2m: Vec<u64>,
    hugepages_1g: Vec<u64>,
    grants: Vec<GrantRecord>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantRecord {
    owner: String,
    cpus: String,
    memory: Vec<(u32, u64)>,
    hugepages_2m: Vec<(u32, u64)>,
    hugepages_1g: Vec<(u32, u64)>,
    numa_nodes: Vec<u32>,
    preferred: bool,
    mode: String,
    // Devices (absent in checkpoints of grants without devices, and in those written before
    // joint requests existed, which stay readable).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    gpus: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    nics: Vec<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    nic_gpus: Vec<Option<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    score: Option<JointScore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alignment: Option<String>,
}

impl NodeAllocator {
    /// The checkpoint text of this allocator (see [`Self::from_checkpoint`]).
    #[must_use]
    pub fn to_checkpoint(&self) -> String {
        let m = &self.machine;
        let payload = Payload {
            format: FORMAT.into(),
            version: CHECKPOINT_VERSION,
            topology_fingerprint: format!("{:016x}", m.fingerprint),
            reserved_cpus: m.reserved_cpus.to_list_string(),
            reserved_memory: m.reserved_memory.clone(),
            hugepages_2m: m.hugepages.per_numa_2m.clone(),
            hugepages_1g: m.hugepages.per_numa_1g.clone(),
            grants: self
                .ledger
                .grants
                .iter()
                .map(|(owner, g)| GrantRecord {
                    owner: owner.clone(),
                    cpus: g.cpus.to_list_string(),
                    memory: g.memory.clone(),
                    hugepages_2m: g.hugepages_2m.clone(),
                    hugepages_1g: g.hugepages_1g.clone(),
                    numa_nodes: g.numa_nodes.clone(),
                    preferred: g.preferred,
                    mode: g.mode.as_str().into(),
                    gpus: g.gpus.clone(),
                    nics: g.nics.clone(),
                    nic_gpus: g.nic_gpus.clone(),
                    score: g.score,
                    alignment: g.alignment.map(|a| a.as_str().into()),
                })
                .collect(),
        };
        let mut text = serde_json::to_string(&payload).unwrap_or_default();
        let sum = fnv1a(text.as_bytes());
        let _ = write!(text, "\n{CHECKSUM_PREFIX}{sum:016x}\n");
        text
    }

    /// Reads a checkpoint written by [`Self::to_checkpoint`] for `topology`.
    ///
    /// # Errors
    /// [`Error::Topology`] naming `source` when the text is truncated or corrupted (checksum
    /// missing or wrong, JSON invalid), of an unknown format version, written for another
    /// topology (fingerprint mismatch), or its ledger is inconsistent (a CPU, GPU or NIC held
    /// twice, memory over capacity, an unknown node, device or mode).
    pub fn from_checkpoint(text: &str, topology: Arc<Topology>, source: &str) -> Result<Self> {
        let bad = |msg: String| Error::topology(Location::source(source), msg);
        let body = text.strip_suffix('\n').unwrap_or(text);
        let Some((json, sum_line)) = body.rsplit_once('\n') else {
            return Err(bad(
                "checkpoint is truncated: the checksum line is missing".into()
            ));
        };
        let Some(hex) = sum_line.strip_prefix(CHECKSUM_PREFIX) else {
            return Err(bad(
                "checkpoint is truncated or corrupted: the last line is not a checksum".into(),
            ));
        };
        let expected = u64::from_str_radix(hex.trim(), 16)
            .map_err(|_| bad(format!("checkpoint checksum {hex:?} is not hexadecimal")))?;
        let actual = fnv1a(json.as_bytes());
        if expected != actual {
            return Err(bad(format!(
                "checkpoint is corrupted: checksum {actual:016x} does not match the recorded {expected:016x}"
            )));
        }
        let payload: Payload = serde_json::from_str(json)
            .map_err(|e| bad(format!("checkpoint JSON is invalid: {e}")))?;
        if payload.format != FORMAT {
            return Err(bad(format!(
                "not a node allocator checkpoint (format {:?})",
                payload.format
            )));
        }
        if payload.version != CHECKPOINT_VERSION {
            return Err(bad(format!(
                "unknown checkpoint version {}; this version of topoplace reads version {CHECKPOINT_VERSION}",
                payload.version
            )));
        }
        // The fingerprint comes first: a checkpoint of another machine must say so, not
        // fail on whichever of its sizes differs first.
        let fingerprint = fnv1a(topology.to_json().as_bytes());
        let recorded = &payload.topology_fingerprint;
        if *recorded != format!("{fingerprint:016x}") {
            return Err(bad(format!(
                "checkpoint was written for another topology (fingerprint {recorded}, this machine's is {fingerprint:016x})"
            )));
        }
        let reserved = CpuSet::parse(&payload.reserved_cpus)
            .map_err(|e| bad(format!("reserved_cpus: {e}")))?;
        let machine = Machine::new(
            topology,
            reserved,
            payload.reserved_memory,
            HugepagePools {
                per_numa_2m: payload.hugepages_2m,
                per_numa_1g: payload.hugepages_1g,
            },
        )
        .map_err(|e| bad(format!("checkpoint does not fit the machine: {e}")))?;
        let mut grants = BTreeMap::new();
        for record in payload.grants {
            let owner = record.owner;
            let cpus = CpuSet::parse(&record.cpus)
                .map_err(|e| bad(format!("grant of {owner:?}: cpus: {e}")))?;
            let mode =
                Mode::parse(&record.mode).map_err(|e| bad(format!("grant of {owner:?}: {e}")))?;
            if let Some(os) = record
                .numa_nodes
                .iter()
                .find(|&&os| !machine.os_ids.contains(&os))
            {
                return Err(bad(format!(
                    "grant of {owner:?} names NUMA node {os}, which the machine does not have"
                )));
            }
            let alignment = record
                .alignment
                .as_deref()
                .map(AlignLevel::parse)
                .transpose()
                .map_err(|e| bad(format!("grant of {owner:?}: {e}")))?;
            let grant = Grant {
                cpus,
                memory: record.memory,
                hugepages_2m: record.hugepages_2m,
                hugepages_1g: record.hugepages_1g,
                numa_nodes: record.numa_nodes,
                preferred: record.preferred,
                mode,
                gpus: record.gpus,
                nics: record.nics,
                nic_gpus: record.nic_gpus,
                score: record.score,
                alignment,
            };
            if grants.insert(owner.clone(), grant).is_some() {
                return Err(bad(format!("owner {owner:?} appears twice")));
            }
        }
        let ledger: Ledger = rebuild(&machine, grants)
            .map_err(|e| bad(format!("checkpoint ledger is inconsistent: {e}")))?;
        Ok(Self {
            machine: Arc::new(machine),
            ledger,
        })
    }
}
