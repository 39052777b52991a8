//! Turning the search's picks into one [`AllocationResult`] per claim.

use super::AllocInput;
use super::pools::Inventory;
use super::requests::Prepared;
use super::search::Search;
use crate::dra::model::{
    AllocationConfigSource, AllocationResult, DeviceAllocationConfig, DeviceResult, NodeSelection,
    NodeSelector, NodeSelectorTerm,
};
use crate::dra::value::Quantity;

/// A UUID (version 8, RFC 9562: custom) from `parts`: two FNV-1a 64-bit hashes of the parts
/// joined by NUL, with the version and variant bits set.
fn share_uuid(parts: &[&str]) -> String {
    let hash = |seed: u64| {
        let mut h = seed;
        for (i, part) in parts.iter().enumerate() {
            for b in part.bytes().chain((i + 1 < parts.len()).then_some(0)) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    };
    let (hi, lo) = (hash(0xcbf2_9ce4_8422_2325), hash(0x8422_2325_cbf2_9ce4));
    let hi = (hi & !0xf000) | 0x8000; // version 8 in bits 48-51
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62); // variant 10
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// The results of a successful search, in the claims' order.
pub(super) fn build(
    input: &AllocInput<'_>,
    inv: &Inventory<'_>,
    prep: &Prepared<'_>,
    s: &Search<'_, '_>,
) -> Vec<AllocationResult> {
    let f = input.features;
    let mut out = Vec::with_capacity(prep.claims.len());
    for (c, claim) in prep.claims.iter().enumerate() {
        let mut results = Vec::with_capacity(s.picks[c].len());
        for (k, p) in s.picks[c].iter().enumerate() {
            let alt = &prep.alts[p.alt];
            let dev = &inv.devices[p.dev];
            let device = dev.device;
            let driver = &dev.slice.driver;
            let consumed = p.consumed.as_ref().map_or_else(Default::default, |v| {
                device
                    .capacity
                    .iter()
                    .zip(v)
                    .map(|((name, cap), &nanos)| {
                        let key = if name.domain == *driver {
                            name.name.clone()
                        } else {
                            name.to_string()
                        };
                        let format = cap.value.format;
                        (key, Quantity { nanos, format })
                    })
                    .collect()
            });
            let bind = f.binding_conditions;
            results.push(DeviceResult {
                request: alt.result_name.clone(),
                driver: driver.clone(),
                pool: inv.pools[dev.pool].name.to_owned(),
                device: device.name.clone(),
                admin_access: alt.admin.then_some(true),
                tolerations: if f.device_taints && !device.taints.is_empty() {
                    alt.tolerations.to_vec()
                } else {
                    Vec::new()
                },
                binding_conditions: if bind {
                    device.binding_conditions.clone()
                } else {
                    Vec::new()
                },
                binding_failure_conditions: if bind {
                    device.binding_failure_conditions.clone()
                } else {
                    Vec::new()
                },
                // Upstream draws a random UUID. A UUID derived from the claim (its uid, else
                // namespace/name), the result's place and the device keeps answers
                // reproducible and still tells apart the shares of different claims.
                share_id: p.consumed.as_ref().map(|_| {
                    let who = claim.claim.uid.clone().unwrap_or_else(|| {
                        format!(
                            "{}/{}",
                            claim.claim.namespace.as_deref().unwrap_or(""),
                            claim.claim.name
                        )
                    });
                    share_uuid(&[&who, &k.to_string(), driver, &device.name])
                }),
                consumed_capacity: consumed,
            });
        }
        // Class configuration once per class, naming every request (or chosen subrequest)
        // that uses the class; then the claim's own entries that concern a request whose
        // devices were allocated (entries for subrequests not chosen are dropped).
        let mut config: Vec<DeviceAllocationConfig> = Vec::new();
        let mut by_class: Vec<(&str, usize)> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for &ai in &s.chosen[c] {
            let alt = &prep.alts[ai];
            names.extend([alt.req_name, alt.result_name.as_str()]);
            let class = alt.class.name.as_str();
            if let Some(&(_, first)) = by_class.iter().find(|(n, _)| *n == class) {
                for entry in &mut config[first..first + alt.class.config.len()] {
                    entry.requests.push(alt.result_name.clone());
                }
                continue;
            }
            by_class.push((class, config.len()));
            for opaque in &alt.class.config {
                config.push(DeviceAllocationConfig {
                    source: AllocationConfigSource::FromClass,
                    requests: vec![alt.result_name.clone()],
                    opaque: opaque.clone(),
                });
            }
        }
        for cc in &claim.claim.config {
            if cc.requests.is_empty() || cc.requests.iter().any(|r| names.contains(&r.as_str())) {
                config.push(DeviceAllocationConfig {
                    source: AllocationConfigSource::FromClaim,
                    requests: cc.requests.clone(),
                    opaque: cc.opaque.clone(),
                });
            }
        }
        out.push(AllocationResult {
            results,
            config,
            node_selector: node_selector(input, inv, s, c),
            allocation_timestamp: None,
        });
    }
    out
}

/// Where the claim's devices are reachable from: the node itself as soon as one device is
/// local to a node (or binds to it), else the one-term selectors of the devices ANDed into
/// one term, else everywhere (`None`).
fn node_selector(
    input: &AllocInput<'_>,
    inv: &Inventory<'_>,
    s: &Search<'_, '_>,
    c: usize,
) -> Option<NodeSelector> {
    let mut term = NodeSelectorTerm::default();
    for p in &s.picks[c] {
        let dev = &inv.devices[p.dev];
        if input.features.binding_conditions && dev.device.binds_to_node {
            if let Some(node) = input.node {
                return Some(NodeSelector::for_node_name(&node.name));
            }
        }
        match dev.slice.device_node_selection(dev.device) {
            NodeSelection::NodeName(n) => return Some(NodeSelector::for_node_name(n)),
            NodeSelection::NodeSelector(sel) if sel.terms.len() == 1 => {
                for r in &sel.terms[0].match_fields {
                    if !term.match_fields.contains(r) {
                        term.match_fields.push(r.clone());
                    }
                }
                for r in &sel.terms[0].match_expressions {
                    if !term.match_expressions.contains(r) {
                        term.match_expressions.push(r.clone());
                    }
                }
            }
            _ => {}
        }
    }
    (!term.match_fields.is_empty() || !term.match_expressions.is_empty())
        .then(|| NodeSelector { terms: vec![term] })
}

#[cfg(test)]
mod tests {
    use super::share_uuid;

    #[test]
    fn share_ids_are_uuids_that_tell_claims_apart() {
        let a = share_uuid(&["ns/a", "0", "dra.cpu", "cpu-0"]);
        let b = share_uuid(&["ns/b", "0", "dra.cpu", "cpu-0"]);
        assert_ne!(a, b);
        assert_eq!(a, share_uuid(&["ns/a", "0", "dra.cpu", "cpu-0"]));
        // Parts are separated: ("ab", "c") and ("a", "bc") differ.
        assert_ne!(share_uuid(&["ab", "c"]), share_uuid(&["a", "bc"]));
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "8");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }
}
