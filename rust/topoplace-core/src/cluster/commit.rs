//! Committing a placement (all or nothing: counts, NUMA rows and the grants of nodes with a
//! topology) and releasing it.

use super::gang::{GangSpec, Placement};
use super::model::Cluster;
use super::node_alloc::pod_owner;
use crate::error::{Error, Result};
use crate::node::allocator::NodeAllocator;

impl Cluster {
    /// Applies a placement from [`Self::place`]: the pods' requests are taken, all or
    /// nothing.
    ///
    /// # Errors
    /// [`Error::Value`] when the placement no longer fits (the cluster changed since it was
    /// computed) or names a node or group that does not exist; nothing is taken then.
    pub fn commit(&mut self, gang: &GangSpec, placement: &Placement) -> Result<()> {
        let nr = self.resources.len();
        for p in &placement.pods {
            if p.group >= gang.groups.len() {
                return Err(Error::Value(format!(
                    "gang {}: placement names group #{}",
                    gang.name, p.group
                )));
            }
            if p.node >= self.nodes.len() {
                return Err(Error::Value(format!(
                    "gang {}: placement names node #{}",
                    gang.name, p.node
                )));
            }
        }
        // Node by node, the pods' requests against the node's rows (no copy of the rest).
        let pods = &placement.pods;
        let mut order: Vec<usize> = (0..pods.len()).collect();
        order.sort_unstable_by_key(|&i| (pods[i].node, i));
        let mut rows = Vec::new();
        let mut current = usize::MAX;
        for i in order {
            let p = &pods[i];
            let g = &gang.groups[p.group];
            let (first, zones) = self.numa_slots[p.node];
            if p.node != current {
                current = p.node;
                rows.clear();
                rows.extend_from_slice(&self.free[p.node * nr..(p.node + 1) * nr]);
                rows.extend_from_slice(&self.numa_free[first * nr..(first + zones) * nr]);
            }
            for (r, &want) in g.request.iter().enumerate().take(nr) {
                rows[r] -= want;
                let mut short = rows[r] < 0;
                if let Some(z) = p.numa.filter(|&z| z < zones) {
                    if self.numa_local[p.node * nr + r] {
                        rows[(1 + z) * nr + r] -= want;
                        short |= rows[(1 + z) * nr + r] < 0;
                    }
                }
                if short {
                    return Err(Error::Value(format!(
                        "gang {}: the placement no longer fits: node {} lacks {} for pod {}/{} \
                         (the cluster changed since it was placed)",
                        gang.name,
                        self.nodes[p.node].name,
                        self.resources.name(r),
                        g.name,
                        p.index
                    )));
                }
            }
        }
        let held = self.hold_grants(gang, placement)?;
        for p in &placement.pods {
            self.apply(p.node, p.numa, &gang.groups[p.group].request, 1);
        }
        for (n, alloc) in held {
            self.allocators[n] = Some(alloc);
            self.sync_numa_rows(n);
        }
        Ok(())
    }

    /// The allocators of the placement's nodes with its grants held, on copies (all or
    /// nothing: the cluster is unchanged until the caller installs them).
    fn hold_grants(
        &self,
        gang: &GangSpec,
        placement: &Placement,
    ) -> Result<Vec<(usize, NodeAllocator)>> {
        if !placement.grants.is_empty() && placement.grants.len() != placement.pods.len() {
            return Err(Error::Value(format!(
                "gang {}: placement has {} grants for {} pods",
                gang.name,
                placement.grants.len(),
                placement.pods.len()
            )));
        }
        let mut held: Vec<(usize, NodeAllocator)> = Vec::new();
        for (p, grant) in placement.pods.iter().zip(&placement.grants) {
            let Some(grant) = grant else { continue };
            let node = &self.nodes[p.node].name;
            let Some(base) = self.allocators[p.node].as_ref() else {
                return Err(Error::Value(format!(
                    "gang {}: placement holds CPUs and devices on node {node}, which has no \
                     topology",
                    gang.name
                )));
            };
            let i = match held.iter().position(|(n, _)| *n == p.node) {
                Some(i) => i,
                None => {
                    held.push((p.node, base.clone()));
                    held.len() - 1
                }
            };
            let owner = pod_owner(placement.id, p.group, p.index);
            held[i].1.hold(&owner, grant.clone()).map_err(|e| {
                Error::Value(format!(
                    "gang {}: the placement no longer fits: node {node}: {e} (the cluster \
                     changed since it was placed)",
                    gang.name
                ))
            })?;
        }
        Ok(held)
    }

    /// Gives a committed placement back.
    pub fn release(&mut self, gang: &GangSpec, placement: &Placement) {
        let mut touched = Vec::new();
        for (i, p) in placement.pods.iter().enumerate() {
            if let Some(g) = gang
                .groups
                .get(p.group)
                .filter(|_| p.node < self.nodes.len())
            {
                self.apply(p.node, p.numa, &g.request, -1);
                if let (Some(Some(_)), Some(alloc)) =
                    (placement.grants.get(i), self.allocators[p.node].as_mut())
                {
                    alloc.release(&pod_owner(placement.id, p.group, p.index));
                    touched.push(p.node);
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for n in touched {
            self.sync_numa_rows(n);
        }
    }
}
