//! Conformance suites: run the test vectors transcribed from upstream projects (the kubelet's CPU
//! and Topology Manager tests, ...) against topoplace's compatible modes.
//!
//! Runners take the vector files' text (the core does no I/O) and return one [`CaseResult`] per
//! case; a case that cannot be run (unknown function, bad fixture) is a failure with the reason.

pub mod dra;
pub mod gpu;
pub mod gpu_mig_nic;
pub mod kubelet_cpu;
pub mod kubelet_tm;

use crate::error::Result;

/// The outcome of one conformance case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// The case's stable id (`cpu-d091ff9ff8`).
    pub id: String,
    /// The case's name (the upstream test's description).
    pub name: String,
    /// The vector file the case comes from.
    pub file: String,
    /// Whether topoplace gave the expected answer.
    pub passed: bool,
    /// What differed (empty when passed): `expected CPUs 0-3, got 0-1,4-5`.
    pub detail: String,
}

/// The vector files of the kubelet suite, as text. A missing file is skipped.
#[derive(Debug, Clone, Copy, Default)]
pub struct KubeletFiles<'a> {
    /// `topologies.json`: the CPU topology fixtures (needed by the CPU files).
    pub topologies: Option<&'a str>,
    /// `cpu_assignment.json`.
    pub cpu_assignment: Option<&'a str>,
    /// `cpu_accumulator.json`.
    pub cpu_accumulator: Option<&'a str>,
    /// `topology_manager.json`.
    pub topology_manager: Option<&'a str>,
}

/// Runs every case of the kubelet suite's files.
///
/// # Errors
/// [`crate::Error::Topology`] when a file is not valid JSON of the documented schema (naming the
/// file and the line).
pub fn run_kubelet(files: &KubeletFiles<'_>) -> Result<Vec<CaseResult>> {
    let mut results = Vec::new();
    if let Some(cases) = files.cpu_assignment {
        results.extend(kubelet_cpu::run_assignment(
            files.topologies.unwrap_or("[]"),
            cases,
            "cpu_assignment.json",
        )?);
    }
    if let Some(cases) = files.cpu_accumulator {
        results.extend(kubelet_cpu::run_accumulator(
            files.topologies.unwrap_or("[]"),
            cases,
            "cpu_accumulator.json",
        )?);
    }
    if let Some(cases) = files.topology_manager {
        results.extend(kubelet_tm::run(cases, "topology_manager.json")?);
    }
    Ok(results)
}

/// The vector files of the GPU suite, as text.
#[derive(Debug, Clone, Copy, Default)]
pub struct GpuFiles<'a> {
    /// `topologies.json`.
    pub topologies: Option<&'a str>,
    /// `cases.json`.
    pub cases: Option<&'a str>,
    /// `static_tables.json`.
    pub static_tables: Option<&'a str>,
}

/// Runs every case of the GPU suite. With `strict`, tied cases must give go-gpuallocator's own
/// `reference_result`; otherwise any answer in `expected` passes.
///
/// # Errors
/// [`crate::Error::Topology`] when a file is not valid JSON of the documented schema.
pub fn run_gpu(files: &GpuFiles<'_>, strict: bool) -> Result<Vec<CaseResult>> {
    match (files.cases, files.topologies) {
        (Some(cases), Some(topologies)) => gpu::run(
            topologies,
            cases,
            files.static_tables.unwrap_or("{}"),
            strict,
        ),
        _ => Ok(Vec::new()),
    }
}

/// Runs every case of the DRA allocator suite (`cases.json`, as text).
///
/// # Errors
/// [`crate::Error::Topology`] when the file is not valid JSON of the documented schema.
pub fn run_dra(cases: &str) -> Result<Vec<CaseResult>> {
    dra::run(cases, "cases.json")
}

/// [`run_dra`] with the allocator in `mode`.
///
/// # Errors
/// As [`run_dra`].
pub fn run_dra_in(cases: &str, mode: crate::dra::allocator::Mode) -> Result<Vec<CaseResult>> {
    dra::run_in(cases, "cases.json", mode)
}
