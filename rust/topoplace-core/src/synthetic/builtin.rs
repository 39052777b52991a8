//! Built-in machines: well-known server shapes, available everywhere as `builtin:NAME` so
//! examples, tests and `topoplace demo` need no files. Shapes follow the vendors' published
//! specifications.

use super::{NvlinkPattern, SyntheticSpec};
use crate::error::{Error, Result};
use crate::topology::Topology;

/// Names accepted by [`builtin`].
pub const BUILTIN_NAMES: [&str; 4] = ["dgx-h100", "epyc-nps4", "dgx-a100", "xeon-2s"];

/// The spec of a built-in machine.
fn spec(name: &str) -> Option<SyntheticSpec> {
    const GIB: u64 = 1 << 30;
    Some(match name {
        // NVIDIA DGX H100: 2 x Xeon Platinum 8480C (56 cores, HT), 2 TiB, 8 x H100 SXM5 80 GB on
        // NVSwitch (18 NVLinks per GPU), 8 ConnectX-7 compute NICs, each on its GPU's PCIe
        // switch.
        "dgx-h100" => SyntheticSpec {
            name: "dgx-h100".into(),
            sockets: 2,
            numa_per_socket: 1,
            cores_per_numa: 56,
            threads_per_core: 2,
            memory_per_numa: 1024 * GIB,
            pcie_roots_per_numa: 4,
            gpus_per_root: 1,
            nics_per_root: 1,
            nvlink: NvlinkPattern::NvSwitch,
            nvlinks: 18,
            gpu_model: Some("H100 80GB HBM3".into()),
            gpu_memory: Some(80 * GIB),
            nic_model: Some("ConnectX-7".into()),
            distance_remote: 21,
            ..Default::default()
        },
        // 2 x AMD EPYC 7763 (64 cores, SMT) in NPS4: 4 NUMA nodes per socket, 8 CCX L3 groups
        // of 8 cores per socket; 512 GiB.
        "epyc-nps4" => SyntheticSpec {
            name: "epyc-nps4".into(),
            sockets: 2,
            numa_per_socket: 4,
            l3_per_numa: 2,
            cores_per_numa: 16,
            threads_per_core: 2,
            memory_per_numa: 64 * GIB,
            ..Default::default()
        },
        // NVIDIA DGX A100: 2 x EPYC 7742 in NPS4 (8 NUMA nodes, 16 L3 groups of 4 cores per
        // socket), 8 x A100 SXM4 80 GB on NVSwitch (12 NVLinks per GPU), 8 compute NICs; the GPUs
        // hang off 4 of the 8 NUMA nodes, two per PCIe root.
        "dgx-a100" => SyntheticSpec {
            name: "dgx-a100".into(),
            sockets: 2,
            numa_per_socket: 4,
            l3_per_numa: 4,
            cores_per_numa: 16,
            threads_per_core: 2,
            memory_per_numa: 128 * GIB,
            pcie_roots_per_numa: 1,
            gpus_per_root: 1,
            nics_per_root: 1,
            nvlink: NvlinkPattern::NvSwitch,
            nvlinks: 12,
            gpu_model: Some("A100-SXM4-80GB".into()),
            gpu_memory: Some(80 * GIB),
            nic_model: Some("ConnectX-6".into()),
            ..Default::default()
        },
        // A plain 2-socket Xeon (2 x Gold 6230, 20 cores, HT), 384 GiB, no accelerators.
        "xeon-2s" => SyntheticSpec {
            name: "xeon-2s".into(),
            sockets: 2,
            numa_per_socket: 1,
            cores_per_numa: 20,
            threads_per_core: 2,
            memory_per_numa: 192 * GIB,
            distance_remote: 21,
            ..Default::default()
        },
        _ => return None,
    })
}

/// A built-in machine by name (with or without the `builtin:` prefix).
///
/// # Errors
/// [`Error::Value`] listing the known names when `name` is not one of them.
pub fn builtin(name: &str) -> Result<Topology> {
    let short = name.strip_prefix("builtin:").unwrap_or(name);
    let spec = spec(short).ok_or_else(|| {
        Error::Value(format!(
            "unknown built-in machine {name:?}; known: {}",
            BUILTIN_NAMES.join(", ")
        ))
    })?;
    let mut topo = spec.build()?;
    topo.set_source(&format!("builtin:{short}"));
    Ok(topo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{DeviceKind, LinkClass};

    #[test]
    fn dgx_h100_shape() {
        let topo = builtin("builtin:dgx-h100").unwrap();
        let s = topo.summary();
        assert_eq!(
            (s.packages, s.numa_nodes, s.cores, s.cpus, s.gpus, s.nics),
            (2, 2, 112, 224, 8, 8)
        );
        let gpus: Vec<u32> = topo.devices_of(DeviceKind::Gpu).collect();
        let nics: Vec<u32> = topo.devices_of(DeviceKind::Nic).collect();
        for (&g, &n) in gpus.iter().zip(&nics) {
            assert_eq!(
                topo.link_class(g, n),
                Some(LinkClass::Pix),
                "each GPU has a PIX NIC"
            );
        }
        assert_eq!(topo.link_class(gpus[0], gpus[7]), Some(LinkClass::NvSwitch));
        assert_eq!(topo.source(), "builtin:dgx-h100");
    }

    #[test]
    fn epyc_nps4_shape() {
        let topo = builtin("epyc-nps4").unwrap();
        assert_eq!(topo.numa_nodes().len(), 8);
        assert_eq!(topo.caches().len(), 16, "8 L3 groups per socket");
        assert!(
            builtin("nope")
                .unwrap_err()
                .to_string()
                .contains("dgx-h100")
        );
    }

    #[test]
    fn all_builtins_build() {
        for name in BUILTIN_NAMES {
            assert!(builtin(name).is_ok(), "{name}");
        }
    }
}
