//! The kubelet CPU Manager static-policy options (`--cpu-manager-policy-options`).

use crate::error::{Error, Result};

/// Option names accepted by [`CpuOptions::from_kubelet_options`].
pub const VALID_OPTIONS: [&str; 6] = [
    "full-pcpus-only",
    "distribute-cpus-across-numa",
    "align-by-socket",
    "distribute-cpus-across-cores",
    "strict-cpu-reservation",
    "prefer-align-cpus-by-uncorecache",
];

/// The static policy's options. All default to off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuOptions {
    /// `full-pcpus-only`: allocate whole physical cores only; requests that are not a multiple
    /// of the CPUs per core are rejected with an SMT alignment error.
    pub full_pcpus_only: bool,
    /// `distribute-cpus-across-numa`: spread a request evenly over NUMA nodes.
    pub distribute_cpus_across_numa: bool,
    /// `distribute-cpus-across-cores`: spread single CPUs over cores instead of filling them.
    pub distribute_cpus_across_cores: bool,
    /// `align-by-socket`: widen the NUMA hint to whole sockets before picking.
    pub align_by_socket: bool,
    /// `prefer-align-cpus-by-uncorecache`: prefer CPUs sharing an uncore (last-level) cache.
    pub prefer_align_by_uncore_cache: bool,
    /// `strict-cpu-reservation`: keep reserved CPUs out of the shared pool too (does not
    /// change exclusive picks).
    pub strict_cpu_reservation: bool,
}

impl CpuOptions {
    /// Parses kubelet option pairs such as `("full-pcpus-only", "true")`. Values follow Go's
    /// `strconv.ParseBool` (`1`, `t`, `T`, `TRUE`, `true`, `True` and the `false` forms).
    ///
    /// # Errors
    /// [`Error::Value`] for an unknown option name (listing the valid ones), a value that is not
    /// a boolean, or options the kubelet refuses to combine (`distribute-cpus-across-cores` with
    /// `full-pcpus-only` or `distribute-cpus-across-numa`; `prefer-align-cpus-by-uncorecache`
    /// with either distribute option).
    pub fn from_kubelet_options(pairs: &[(String, String)]) -> Result<Self> {
        let mut opts = Self::default();
        for (name, value) in pairs {
            let on = parse_bool(value).ok_or_else(|| {
                Error::Value(format!(
                    "CPU Manager option {name:?}: {value:?} is not a boolean"
                ))
            })?;
            let field = match name.as_str() {
                "full-pcpus-only" => &mut opts.full_pcpus_only,
                "distribute-cpus-across-numa" => &mut opts.distribute_cpus_across_numa,
                "align-by-socket" => &mut opts.align_by_socket,
                "distribute-cpus-across-cores" => &mut opts.distribute_cpus_across_cores,
                "strict-cpu-reservation" => &mut opts.strict_cpu_reservation,
                "prefer-align-cpus-by-uncorecache" => &mut opts.prefer_align_by_uncore_cache,
                _ => {
                    return Err(Error::Value(format!(
                        "unknown CPU Manager option {name:?}; valid options: {}",
                        VALID_OPTIONS.join(", ")
                    )));
                }
            };
            *field = on;
        }
        let conflicts = [
            (
                opts.full_pcpus_only && opts.distribute_cpus_across_cores,
                "full-pcpus-only",
                "distribute-cpus-across-cores",
            ),
            (
                opts.distribute_cpus_across_numa && opts.distribute_cpus_across_cores,
                "distribute-cpus-across-numa",
                "distribute-cpus-across-cores",
            ),
            (
                opts.prefer_align_by_uncore_cache && opts.distribute_cpus_across_cores,
                "prefer-align-cpus-by-uncorecache",
                "distribute-cpus-across-cores",
            ),
            (
                opts.prefer_align_by_uncore_cache && opts.distribute_cpus_across_numa,
                "prefer-align-cpus-by-uncorecache",
                "distribute-cpus-across-numa",
            ),
        ];
        for (clash, a, b) in conflicts {
            if clash {
                return Err(Error::Value(format!(
                    "CPU Manager options {a} and {b} cannot be used together"
                )));
            }
        }
        Ok(opts)
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn parses_known_options() {
        let opts = CpuOptions::from_kubelet_options(&pairs(&[
            ("full-pcpus-only", "true"),
            ("align-by-socket", "False"),
        ]));
        assert_eq!(
            opts,
            Ok(CpuOptions {
                full_pcpus_only: true,
                ..CpuOptions::default()
            })
        );
    }

    #[test]
    fn rejects_unknown_names_listing_valid_ones() {
        let err = CpuOptions::from_kubelet_options(&pairs(&[("full-pcpu-only", "true")]));
        let Err(Error::Value(msg)) = err else {
            panic!("expected a value error, got {err:?}");
        };
        assert!(msg.contains("prefer-align-cpus-by-uncorecache"), "{msg}");
    }

    #[test]
    fn rejects_bad_values_and_conflicts() {
        assert!(CpuOptions::from_kubelet_options(&pairs(&[("align-by-socket", "yes")])).is_err());
        assert!(
            CpuOptions::from_kubelet_options(&pairs(&[
                ("full-pcpus-only", "true"),
                ("distribute-cpus-across-cores", "true"),
            ]))
            .is_err()
        );
    }
}
