//! The stateful allocator of one machine: a [`Topology`] plus a ledger of what each owner holds.
//!
//! [`NodeAllocator::check`] answers "would this fit, and where?" without changing anything;
//! [`NodeAllocator::allocate`] places a request for an owner, all or nothing;
//! [`NodeAllocator::release`] gives an owner's grant back. "Does not fit" is an
//! [`Outcome::Refused`] with a sentence a person can act on, not an error. The ledger is kept
//! incrementally (free CPUs, whole free cores and cache groups per node, free memory per node
//! and kind) so a placement costs microseconds; [`NodeAllocator::verify`] recomputes it from
//! the grants. [`NodeAllocator::to_checkpoint`] / [`NodeAllocator::from_checkpoint`] write and
//! read a checksummed text form (the caller does the file I/O).
//!
//! # Kubelet mode
//!
//! [`Mode::Kubelet`] does what a kubelet with the static CPU Manager, the static Memory Manager
//! and the request's Topology Manager policy would do:
//!
//! - **CPU hints** (`generateCPUTopologyHints`): a NUMA mask is a hint when its free CPUs (not
//!   reserved; with `full-pcpus-only`, CPUs of wholly free cores) are at least the request; it
//!   is preferred when its width equals the narrowest width of any mask whose *total* CPUs
//!   could hold the request. With `align-by-socket`, socket-aligned hints are preferred too.
//! - **Memory hints** (`calculateHints`, one identical list per requested kind): a mask is a
//!   hint when its allocatable memory (capacity minus reserved, per kind) could hold the
//!   request, its free memory does, and it respects the Memory Manager's group rule: a node
//!   holding single-node memory cannot join a multi-node mask, a node in a multi-node group
//!   only appears in exactly that group, and a node in a group is not a single-node hint.
//!   Preferred at the narrowest allocatable width.
//! - The lists are merged by [`hints::merge`] and admitted by [`hints::admit`]; a refusal is
//!   [`RefusalKind::NotAligned`].
//! - CPUs come from [`StaticPolicy::allocate_cpus`] with the merged mask (inside the mask
//!   first). Memory comes from the merged mask when its free memory holds the request, else
//!   from the narrowest memory hint containing it (the Memory Manager's extended / default
//!   hint), taken node by node in id order; the grant records that mask as its group.
//!
//! The merge is not done by enumerating 2^N masks when it need not be: a preferred merged hint
//! must be a preferred hint of every provider, so only masks of the providers' common minimal
//! width are examined (in the kubelet's order). Only `best-effort` without a preferred hint
//! needs the non-preferred rule: up to 16 NUMA nodes the full lists are built and merged
//! exactly; above that the result is the lowest mask of width `B` (the largest of the
//! providers' narrowest hint widths), which is the kubelet's answer whenever some CPU hint and
//! some memory hint are disjoint (then every mask is reachable as an AND) and an approximation
//! otherwise. `prefer-closest-numa-nodes` is honoured for preferred hints; the approximation
//! ignores it. The kubelet refuses machines with more than `max-allowable-numa-nodes` nodes, and
//! so does this mode (an [`Error::Value`]); its bitmask limits node ids to below 128 here.
//!
//! Simplifications: the Memory Manager's group rule is applied to groups recorded by any
//! grant holding memory (in the default mode the group is the grant's node set); reusable
//! init-container CPUs and memory do not exist here; a request is always Guaranteed with
//! integral CPUs.
//!
//! # Default mode
//!
//! [`Mode::Default`] chooses the NUMA node set by, in order:
//!
//! 1. fewest nodes;
//! 2. smallest total pairwise distance (the topology's matrix), so same-socket nodes win;
//! 3. best fit: fewest CPUs, then bytes, left free in the set, so partly used nodes are filled
//!    and wholly free ones stay whole for large requests;
//! 4. lowest seed node id.
//!
//! Candidate sets are grown from each seed node by repeatedly adding the node nearest to the
//! set (smallest summed distance, then lowest id) among those that add a resource still
//! lacking, until the set holds the request; no subsets are enumerated, so 24-, 64- and
//! 128-node machines cost O(N^2) per request, and there is no 8-node limit. `single-numa-node`
//! allows only one node, `restricted` only sets as narrow as the capacity allows; `best-effort`
//! and `none` allow any. Inside the set CPUs are taken as whole free L3 groups while the rest
//! is at least a group, then from the group that holds the rest most tightly (partly used
//! groups first), inside a group the free siblings of partly used cores first, then whole
//! cores (so even requests take whole cores), then one CPU of a whole core for an odd rest.
//! Memory comes from one node of the set when one holds it, else from the set in growth order.
//!
//! ## Where it beats the kubelet
//!
//! On `epyc-nps4` (2 sockets x 4 NUMA nodes x 16 cores x 2 threads; distances 10 local, 12
//! same socket, 32 across) with nodes 0, 1 and 2 full, a request of 48 CPUs needs two nodes.
//! The kubelet's preferred hints are every pair with 48 free CPUs, and it takes the lowest
//! integer mask, {3,4}: one node on each socket, distance 32. The default mode ranks pairs by
//! distance and takes {4,5}, both on socket 1, distance 12. The test
//! `default_mode_prefers_same_socket` checks this case.

mod checkpoint;
mod common;
mod default_mode;
mod device_table;
pub mod joint;
mod joint_refusal;
mod joint_search;
mod kubelet_mode;
mod kubelet_view;
mod ledger;
mod machine;
mod refusal;
mod request;

use std::sync::Arc;

pub use checkpoint::CHECKPOINT_VERSION;
pub use joint::JointScore;
pub use ledger::Grant;
pub use machine::HugepagePools;
pub use refusal::{Closest, Outcome, Refusal, RefusalKind};
pub use request::{AlignLevel, AllocRequest, DeviceRequest, MemKind, Mode};

use common::{Shortfall, common_refusal, describe, refuse, take_memory};
use ledger::Ledger;
use machine::Machine;

use crate::error::{Error, Result};
#[cfg(doc)]
use crate::node::cpu::StaticPolicy;
#[cfg(doc)]
use crate::node::hints;
use crate::topology::{CpuSet, Topology};

use crate::topology::to_u32;

/// A machine and its ledger. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct NodeAllocator {
    machine: Arc<Machine>,
    ledger: Ledger,
}

impl PartialEq for NodeAllocator {
    fn eq(&self, other: &Self) -> bool {
        self.machine.fingerprint == other.machine.fingerprint
            && self.machine.reserved_cpus == other.machine.reserved_cpus
            && self.machine.reserved_memory == other.machine.reserved_memory
            && self.machine.hugepages == other.machine.hugepages
            && self.ledger == other.ledger
    }
}

impl Eq for NodeAllocator {}

/// Free resources of one NUMA node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFree {
    /// The node's OS id.
    pub numa: u32,
    /// Free CPUs.
    pub cpus: CpuSet,
    /// Free bytes per kind (regular, 2 MiB pages, 1 GiB pages).
    pub bytes: [u64; 3],
}

impl NodeAllocator {
    /// An allocator over `topology` with `reserved_cpus` (never allocated) and, per NUMA node
    /// in dense order, `reserved_memory` bytes (empty: none). No hugepage pools.
    ///
    /// # Errors
    /// [`Error::Value`] when a reserved CPU is not on the machine, the list has the wrong
    /// length, or a node's reservation exceeds its memory.
    pub fn new(
        topology: Arc<Topology>,
        reserved_cpus: CpuSet,
        reserved_memory: Vec<u64>,
    ) -> Result<Self> {
        Self::with_hugepages(
            topology,
            reserved_cpus,
            reserved_memory,
            HugepagePools::default(),
        )
    }

    /// As [`Self::new`], with hugepage pools per NUMA node (taken out of the node's memory).
    ///
    /// # Errors
    /// As [`Self::new`]; also when reserved memory plus pools exceed a node's memory.
    pub fn with_hugepages(
        topology: Arc<Topology>,
        reserved_cpus: CpuSet,
        reserved_memory: Vec<u64>,
        hugepages: HugepagePools,
    ) -> Result<Self> {
        let machine = Machine::new(topology, reserved_cpus, reserved_memory, hugepages)?;
        let ledger = Ledger::new(&machine);
        Ok(Self {
            machine: Arc::new(machine),
            ledger,
        })
    }

    /// The topology.
    #[must_use]
    pub fn topology(&self) -> &Arc<Topology> {
        &self.machine.topo
    }

    /// What `req` would get now, without changing anything. Requests with GPUs or NICs are
    /// placed as [`joint`] describes.
    ///
    /// # Errors
    /// [`Error::Value`] for a request the mode cannot take at all (kubelet mode on a machine
    /// the kubelet refuses, or with devices; an inconsistent device request).
    pub fn check(&self, req: &AllocRequest) -> Result<Outcome> {
        if req.devices.any() {
            return joint::place(&self.machine, &self.ledger, req);
        }
        match req.mode {
            Mode::Kubelet => kubelet_mode::place(&self.machine, &self.ledger, req),
            Mode::Default => Ok(default_mode::place(&self.machine, &self.ledger, req)),
        }
    }

    /// Places `req` for `owner`, all or nothing.
    ///
    /// # Errors
    /// [`Error::Value`] when `owner` already holds a grant, or as [`Self::check`].
    pub fn allocate(&mut self, owner: &str, req: &AllocRequest) -> Result<Outcome> {
        if self.ledger.grants.contains_key(owner) {
            return Err(Error::Value(format!(
                "owner {owner:?} already holds a grant; release it first"
            )));
        }
        let outcome = self.check(req)?;
        if let Outcome::Placed(grant) = &outcome {
            self.ledger
                .can_hold(&self.machine, grant)
                .map_err(|e| Error::Value(format!("internal: placement inconsistent: {e}")))?;
            self.ledger
                .apply(&self.machine, owner.to_owned(), grant.clone());
        }
        Ok(outcome)
    }

    /// Takes `grant` for `owner` as it is: a grant [`Self::check`] gave on this state (or on
    /// a copy of it), applied without searching again.
    ///
    /// # Errors
    /// [`Error::Value`] when `owner` already holds a grant or the grant no longer fits
    /// (something it names is held); nothing changes then.
    pub fn hold(&mut self, owner: &str, grant: Grant) -> Result<()> {
        if self.ledger.grants.contains_key(owner) {
            return Err(Error::Value(format!(
                "owner {owner:?} already holds a grant; release it first"
            )));
        }
        self.ledger
            .can_hold(&self.machine, &grant)
            .map_err(|e| Error::Value(format!("owner {owner:?}: the grant no longer fits: {e}")))?;
        self.ledger.apply(&self.machine, owner.to_owned(), grant);
        Ok(())
    }

    /// Gives `owner`'s grant back; `None` when it holds none.
    pub fn release(&mut self, owner: &str) -> Option<Grant> {
        self.ledger.remove(&self.machine, owner)
    }

    /// The grant `owner` holds.
    #[must_use]
    pub fn grant(&self, owner: &str) -> Option<&Grant> {
        self.ledger.grants.get(owner)
    }

    /// Every grant, in owner order.
    pub fn grants(&self) -> impl Iterator<Item = (&str, &Grant)> + '_ {
        self.ledger.grants.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Free GPUs, by ordinal (the `k`-th GPU of the topology).
    #[must_use]
    pub fn free_gpus(&self) -> Vec<u32> {
        flagged(&self.ledger.gpu_free)
    }

    /// Free NICs, by ordinal (the `k`-th NIC of the topology).
    #[must_use]
    pub fn free_nics(&self) -> Vec<u32> {
        flagged(&self.ledger.nic_free)
    }

    /// Free CPUs (allocatable, not reserved, not held).
    #[must_use]
    pub fn free_cpus(&self) -> &CpuSet {
        &self.ledger.free
    }

    /// Free resources per NUMA node, in dense order.
    #[must_use]
    pub fn free(&self) -> Vec<NodeFree> {
        let m = &self.machine;
        (0..m.n)
            .map(|d| NodeFree {
                numa: m.os_id(to_u32(d)),
                cpus: self
                    .ledger
                    .free
                    .iter()
                    .filter(|&c| m.numa_of(c) == to_u32(d))
                    .collect(),
                bytes: [0, 1, 2].map(|k| self.ledger.mem_free[k].get(d).copied().unwrap_or(0)),
            })
            .collect()
    }

    /// Everything held: CPUs and bytes per kind per NUMA node (dense order).
    #[must_use]
    pub fn used(&self) -> (CpuSet, [Vec<u64>; 3]) {
        let mut cpus = CpuSet::new();
        let mut bytes: [Vec<u64>; 3] = [0, 1, 2].map(|_| vec![0u64; self.machine.n]);
        for grant in self.ledger.grants.values() {
            cpus.union_with(&grant.cpus);
            for kind in MemKind::ALL {
                for &(d, b) in grant.memory_of(kind) {
                    if let Some(slot) = bytes[kind.index()].get_mut(d as usize) {
                        *slot = slot.saturating_add(b);
                    }
                }
            }
        }
        (cpus, bytes)
    }

    /// Allocatable capacity: CPUs (usable, not reserved) and bytes per kind per node.
    #[must_use]
    pub fn capacity(&self) -> (&CpuSet, &[Vec<u64>; 3]) {
        (&self.machine.allocatable, &self.machine.capacity)
    }

    /// Recomputes the ledger from the grants and checks the invariants: no CPU or byte held
    /// twice, nothing over capacity, free + held == capacity.
    ///
    /// # Errors
    /// [`Error::Value`] describing the first inconsistency.
    pub fn verify(&self) -> Result<()> {
        let fresh = rebuild(&self.machine, self.ledger.grants.clone()).map_err(Error::Value)?;
        if fresh != self.ledger {
            return Err(Error::Value(
                "ledger counters differ from the grants".into(),
            ));
        }
        Ok(())
    }
}

/// A ledger built from `grants`, checking each can be held.
fn rebuild(
    m: &Machine,
    grants: std::collections::BTreeMap<String, Grant>,
) -> std::result::Result<Ledger, String> {
    let mut ledger = Ledger::new(m);
    for (owner, grant) in grants {
        ledger
            .can_hold(m, &grant)
            .map_err(|e| format!("grant of {owner:?}: {e}"))?;
        ledger.apply(m, owner, grant);
    }
    Ok(ledger)
}

/// The indexes whose flag is set.
fn flagged(flags: &[bool]) -> Vec<u32> {
    (0..flags.len())
        .filter(|&i| flags[i])
        .map(crate::topology::to_u32)
        .collect()
}
