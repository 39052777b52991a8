//! What other claims already hold, read from their `status.allocation` as kube-scheduler
//! gathers it (`foreachAllocatedDevice` of the DynamicResources plugin): the devices
//! allocated to them exclusively, and the capacity their shares consume on
//! multi-allocatable devices.

use super::claim::ResourceClaim;
use crate::dra::allocator::{ConsumedCapacity, DeviceId, Features};

/// Devices and capacity in use by allocated claims, ready for
/// [`AllocInput`](crate::dra::allocator::AllocInput)'s `allocated_devices` and
/// `allocated_capacity`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InUse {
    /// Devices allocated exclusively, one entry per device result.
    pub devices: Vec<DeviceId>,
    /// Capacity consumed by shares of multi-allocatable devices, one entry per share.
    pub capacity: Vec<ConsumedCapacity>,
}

impl InUse {
    /// What `claims` hold (claims without `status.allocation` hold nothing).
    #[must_use]
    pub fn from_claims<'a>(
        claims: impl IntoIterator<Item = &'a ResourceClaim>,
        features: Features,
    ) -> Self {
        let mut out = Self::default();
        for claim in claims {
            out.add(claim, features);
        }
        out
    }

    /// Adds what `claim` holds. Each device result marks its device in use, except:
    /// an `adminAccess` result, which holds nothing (admin access does not take the
    /// device); and, with `DRAConsumableCapacity` on, a share (`shareID` set), which adds
    /// its `consumedCapacity` to the device's consumed capacity instead. With the gate off a
    /// share holds the whole device, as upstream.
    pub fn add(&mut self, claim: &ResourceClaim, features: Features) {
        let Some(allocation) = &claim.allocation else {
            return;
        };
        for r in &allocation.results {
            if r.admin_access == Some(true) {
                continue;
            }
            let device = DeviceId {
                driver: r.driver.clone(),
                pool: r.pool.clone(),
                device: r.device.clone(),
            };
            if features.consumable_capacity && r.share_id.is_some() {
                if !r.consumed_capacity.is_empty() {
                    self.capacity.push(ConsumedCapacity {
                        device,
                        capacity: r.consumed_capacity.clone(),
                    });
                }
            } else {
                self.devices.push(device);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::dra::value::Quantity;

    fn claim(results: &serde_json::Value) -> ResourceClaim {
        ResourceClaim::from_json(&json!({
            "metadata": {"name": "c", "namespace": "ns"},
            "spec": {"devices": {"requests": [
                {"name": "r", "exactly": {"deviceClassName": "class"}}]}},
            "status": {"allocation": {"devices": {"results": results}}}
        }))
        .unwrap()
    }

    #[test]
    fn devices_shares_and_admin_access() {
        let held = claim(&json!([
            {"request": "r", "driver": "d", "pool": "p", "device": "whole"},
            {"request": "r", "driver": "d", "pool": "p", "device": "watched", "adminAccess": true},
            {"request": "r", "driver": "d", "pool": "p", "device": "shared",
             "shareID": "5f0c2d7e-8a1b-4c3d-9e2f-1a2b3c4d5e6f",
             "consumedCapacity": {"d/cpu": "48"}},
        ]));
        let unallocated = ResourceClaim {
            allocation: None,
            ..held.clone()
        };
        let id = |device: &str| DeviceId {
            driver: "d".into(),
            pool: "p".into(),
            device: device.into(),
        };
        let on = Features {
            consumable_capacity: true,
            ..Features::default()
        };
        let got = InUse::from_claims([&held, &unallocated], on);
        assert_eq!(got.devices, vec![id("whole")]);
        assert_eq!(got.capacity.len(), 1);
        assert_eq!(got.capacity[0].device, id("shared"));
        assert_eq!(got.capacity[0].capacity["d/cpu"], Quantity::from_units(48));
        let off = InUse::from_claims([&held], Features::default());
        assert_eq!(off.devices, vec![id("whole"), id("shared")]);
        assert!(off.capacity.is_empty());
    }
}
