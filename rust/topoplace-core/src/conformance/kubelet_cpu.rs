//! Kubelet CPU Manager conformance: runs `cpu_assignment.json` and `cpu_accumulator.json`
//! (see `tests/data/conformance/kubelet/README.md`) against [`crate::node::cpu`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::CaseResult;
use crate::error::{Error, Location, Result};
use crate::node::cpu::{
    CpuAccumulator, CpuDetails, CpuInfo, CpuOptions, CpuRequest, DeclaredCounts, Level, PickError,
    PolicyState, SortingStrategy, StaticPolicy, take_by_topology_distributed,
    take_by_topology_packed,
};
use crate::topology::CpuSet;

#[derive(Deserialize)]
struct TopologiesFile {
    topologies: Vec<Fixture>,
}

#[derive(Deserialize)]
struct Fixture {
    name: String,
    #[serde(default)]
    declared: Declared,
    cpus: Vec<FixtureCpu>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Declared {
    num_cpus: usize,
    num_sockets: usize,
    num_cores: usize,
    num_numa_nodes: usize,
    num_uncore_caches: usize,
}

#[derive(Deserialize)]
struct FixtureCpu {
    cpu: u32,
    core: u32,
    socket: u32,
    #[serde(default)]
    numa: u32,
    #[serde(default)]
    uncore_cache: u32,
}

#[derive(Deserialize)]
struct CasesFile<T> {
    cases: Vec<T>,
}

#[derive(Deserialize)]
struct AssignmentCase {
    id: String,
    name: String,
    function: String,
    topology: String,
    #[serde(default)]
    available_cpus: Vec<u32>,
    #[serde(default)]
    request: Request,
    #[serde(default)]
    options: BTreeMap<String, String>,
    cpu_sorting_strategy: Option<String>,
    expected_cpus: Option<Vec<u32>>,
    #[serde(default)]
    expected_error: bool,
    expected_error_message: Option<String>,
    expected_error_kind: Option<String>,
    check: Option<String>,
    expected_uncore_caches: Option<Vec<u32>>,
    state_default_cpuset: Option<Vec<u32>>,
    reserved_cpus: Option<Vec<u32>>,
    numa_affinity_hint: Option<Hint>,
    existing_assignment: Option<Vec<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Request {
    num_cpus: Option<usize>,
    cpu_group_size: Option<usize>,
    cpu_request: Option<String>,
    cpu_limit: Option<String>,
    containers: Option<Vec<ContainerRequest>>,
}

#[derive(Deserialize)]
struct ContainerRequest {
    num_cpus: u64,
}

#[derive(Deserialize)]
struct Hint {
    mask: Option<Vec<u32>>,
}

#[derive(Deserialize)]
struct AccumulatorCase {
    id: String,
    name: String,
    topology: String,
    #[serde(default)]
    available_cpus: Vec<u32>,
    check: String,
    expected: serde_json::Value,
}

/// Runs `cpu_assignment.json` cases.
///
/// # Errors
/// [`Error::Topology`] when a file is not valid JSON of the documented schema (naming the file
/// and line).
pub fn run_assignment(topologies: &str, cases: &str, file: &str) -> Result<Vec<CaseResult>> {
    let cases: CasesFile<AssignmentCase> = parse_json(cases, file)?;
    run_cases(
        topologies,
        file,
        &cases.cases,
        |c| (&c.id, &c.name, &c.topology),
        run_assignment_case,
    )
}

/// Runs `cpu_accumulator.json` cases.
///
/// # Errors
/// [`Error::Topology`] when a file is not valid JSON of the documented schema (naming the file
/// and line).
pub fn run_accumulator(topologies: &str, cases: &str, file: &str) -> Result<Vec<CaseResult>> {
    let cases: CasesFile<AccumulatorCase> = parse_json(cases, file)?;
    run_cases(
        topologies,
        file,
        &cases.cases,
        |c| (&c.id, &c.name, &c.topology),
        run_accumulator_case,
    )
}

/// Runs each case on its fixture; a case naming an unknown fixture fails with that reason.
fn run_cases<C>(
    topologies: &str,
    file: &str,
    cases: &[C],
    key: impl Fn(&C) -> (&String, &String, &String),
    run: impl Fn(&CpuDetails, &C) -> Result<(), String>,
) -> Result<Vec<CaseResult>> {
    let fixtures = load_fixtures(topologies)?;
    Ok(cases
        .iter()
        .map(|case| {
            let (id, name, topology) = key(case);
            let outcome = fixtures
                .get(topology)
                .ok_or_else(|| format!("unknown topology {topology:?}"))
                .and_then(|details| run(details, case));
            result(id, name, file, outcome)
        })
        .collect())
}

fn result(id: &str, name: &str, file: &str, outcome: Result<(), String>) -> CaseResult {
    CaseResult {
        id: id.to_owned(),
        name: name.to_owned(),
        file: file.to_owned(),
        passed: outcome.is_ok(),
        detail: outcome.err().unwrap_or_default(),
    }
}

fn parse_json<T: DeserializeOwned>(text: &str, file: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        Error::topology(
            Location::source(file).at_line(e.line()),
            format!("not a valid kubelet CPU vector file: {e}"),
        )
    })
}

fn load_fixtures(text: &str) -> Result<BTreeMap<String, CpuDetails>> {
    let file = "topologies.json";
    let parsed: TopologiesFile = parse_json(text, file)?;
    let mut out = BTreeMap::new();
    for fixture in parsed.topologies {
        let d = &fixture.declared;
        let counts = DeclaredCounts {
            num_cpus: d.num_cpus,
            num_sockets: d.num_sockets,
            num_cores: d.num_cores,
            num_numa_nodes: d.num_numa_nodes,
            num_uncore_caches: d.num_uncore_caches,
        };
        let cpus = fixture.cpus.iter().map(|c| {
            let info = CpuInfo {
                core: c.core,
                socket: c.socket,
                numa: c.numa,
                uncore: c.uncore_cache,
            };
            (c.cpu, info)
        });
        let details = CpuDetails::new(cpus, counts).map_err(|e| {
            Error::topology(
                Location::source(file).object(format!("topology {}", fixture.name)),
                e.to_string(),
            )
        })?;
        out.insert(fixture.name, details);
    }
    Ok(out)
}

fn set(ids: &[u32]) -> CpuSet {
    CpuSet::from_ids(ids.iter().copied())
}

fn options_of(case: &AssignmentCase) -> Result<CpuOptions, String> {
    let pairs: Vec<(String, String)> = case
        .options
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    CpuOptions::from_kubelet_options(&pairs).map_err(|e| e.to_string())
}

/// What topoplace answered for one case: the CPUs of each container (one for plain picks).
type Answer = Result<Vec<CpuSet>, PickError>;

fn run_assignment_case(details: &CpuDetails, case: &AssignmentCase) -> Result<(), String> {
    let options = options_of(case)?;
    let available = set(&case.available_cpus);
    let num = case.request.num_cpus.unwrap_or(0);
    let mut state = PolicyState::new(set(case.state_default_cpuset.as_deref().unwrap_or(&[])));
    let answer: Answer = match case.function.as_str() {
        "takeByTopologyNUMAPacked" | "takeByTopologyNUMADistributed" => {
            let strategy = match case.cpu_sorting_strategy.as_deref() {
                None | Some("packed") => SortingStrategy::Packed,
                Some("spread") => SortingStrategy::Spread,
                Some(other) => return Err(format!("unknown cpu_sorting_strategy {other:?}")),
            };
            if case.function == "takeByTopologyNUMAPacked" {
                let uncore = options.prefer_align_by_uncore_cache;
                take_by_topology_packed(details, &available, num, strategy, uncore)
            } else {
                let group = case.request.cpu_group_size.unwrap_or(1);
                take_by_topology_distributed(details, &available, num, group, strategy)
            }
            .map(|cpus| vec![cpus])
        }
        "staticPolicy.Allocate" | "staticPolicy.allocateCPUs" => {
            let reserved = set(case.reserved_cpus.as_deref().unwrap_or(&[]));
            let policy = StaticPolicy::new(details, options, reserved);
            let pool = policy.available_cpus(&state);
            if pool != available {
                return Err(format!(
                    "available_cpus {} differ from shared pool minus reserved {}",
                    available.to_list_string(),
                    pool.to_list_string()
                ));
            }
            let hint = case
                .numa_affinity_hint
                .as_ref()
                .and_then(|h| h.mask.as_deref());
            if case.function == "staticPolicy.allocateCPUs" {
                policy
                    .allocate_cpus(&mut state, num, hint)
                    .map(|cpus| vec![cpus])
            } else {
                allocate_pod(&policy, &mut state, case, hint)?
            }
        }
        other => return Err(format!("unknown function {other:?}")),
    };
    check_answer(details, case, &state, answer)
}

fn allocate_pod(
    policy: &StaticPolicy<'_>,
    state: &mut PolicyState,
    case: &AssignmentCase,
    hint: Option<&[u32]>,
) -> Result<Answer, String> {
    if let Some(existing) = &case.existing_assignment {
        let key = ("pod".to_owned(), "container-0".to_owned());
        state.assignments.insert(key, set(existing));
    }
    let requests: Vec<CpuRequest> = match &case.request.containers {
        Some(containers) => containers
            .iter()
            .map(|c| CpuRequest::whole(c.num_cpus))
            .collect(),
        None => {
            let r = &case.request;
            vec![
                CpuRequest::parse(r.cpu_request.as_deref(), r.cpu_limit.as_deref())
                    .map_err(|e| e.to_string())?,
            ]
        }
    };
    let mut out = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        match policy.allocate(state, "pod", &format!("container-{i}"), request, hint) {
            Ok(cpus) => out.push(cpus),
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(out))
}

fn check_answer(
    details: &CpuDetails,
    case: &AssignmentCase,
    state: &PolicyState,
    answer: Answer,
) -> Result<(), String> {
    if case.expected_error {
        return match answer {
            Ok(cpus) => Err(format!(
                "expected an error, got CPUs {}",
                union(&cpus).to_list_string()
            )),
            Err(e) => check_error(case, &e),
        };
    }
    let containers = answer.map_err(|e| format!("expected CPUs, got error: {e}"))?;
    let all = union(&containers);
    let first = containers.first().cloned().unwrap_or_default();
    let expected = case.expected_cpus.as_deref().map(set);
    match case.check.as_deref() {
        None => same(expected.as_ref(), &first),
        Some("no_exclusive_allocation") => {
            let default = set(case.state_default_cpuset.as_deref().unwrap_or(&[]));
            if !all.is_empty() {
                Err(format!(
                    "expected no exclusive CPUs, got {}",
                    all.to_list_string()
                ))
            } else if state.default_cpuset != default {
                Err("the shared pool changed".to_owned())
            } else {
                Ok(())
            }
        }
        Some("existing_assignment_returned") => {
            let existing = case.existing_assignment.as_deref().map(set);
            same(existing.as_ref(), &first)?;
            same(expected.as_ref().or(existing.as_ref()), &first)
        }
        Some("uncore_cache_ids_spanned_by_all_containers") => {
            uncore_check(details, case.expected_uncore_caches.as_deref(), &all)
        }
        Some("first_container_cpus") => {
            same(expected.as_ref(), &first)?;
            match case.expected_uncore_caches.as_deref() {
                Some(ids) => uncore_check(details, Some(ids), &all),
                None => Ok(()),
            }
        }
        Some(other) => Err(format!("unknown check {other:?}")),
    }
}

fn union(sets: &[CpuSet]) -> CpuSet {
    let mut all = CpuSet::new();
    for s in sets {
        all.union_with(s);
    }
    all
}

fn same(expected: Option<&CpuSet>, got: &CpuSet) -> Result<(), String> {
    let expected = expected.ok_or("case has no expected_cpus")?;
    if expected == got {
        Ok(())
    } else {
        Err(format!(
            "expected {} got {}",
            expected.to_list_string(),
            got.to_list_string()
        ))
    }
}

fn uncore_check(
    details: &CpuDetails,
    expected: Option<&[u32]>,
    cpus: &CpuSet,
) -> Result<(), String> {
    let expected = expected.ok_or("case has no expected_uncore_caches")?;
    let got = details.ids_within(Level::Uncore, cpus);
    let mut want = expected.to_vec();
    want.sort_unstable();
    want.dedup();
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "expected uncore caches {want:?} got {got:?} (CPUs {})",
            cpus.to_list_string()
        ))
    }
}

/// The number after `key` in an upstream error message (`"requested=5"`, `"CpusPerCore:2"`).
fn number_after(message: &str, key: &str) -> Option<usize> {
    let start = message.find(key)? + key.len();
    let digits: String = message
        .get(start..)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn check_error(case: &AssignmentCase, err: &PickError) -> Result<(), String> {
    let message = case.expected_error_message.as_deref().unwrap_or("");
    let mismatch = |what: &str| Err(format!("expected {what}, got error: {err}"));
    let want = |key: &str| number_after(message, key);
    match (case.expected_error_kind.as_deref(), err) {
        (
            Some("SMTAlignmentError"),
            PickError::SmtAlignment {
                requested,
                cpus_per_core,
                available_physical_cpus,
            },
        ) => {
            let ok = want("RequestedCPUs:").is_none_or(|v| v == *requested)
                && want("CpusPerCore:").is_none_or(|v| v == *cpus_per_core)
                && want("AvailablePhysicalCPUs:") == *available_physical_cpus;
            if ok { Ok(()) } else { mismatch(message) }
        }
        (Some("SMTAlignmentError"), _) => mismatch("an SMT alignment error"),
        (Some(other), _) => Err(format!("unknown expected_error_kind {other:?}")),
        (
            None,
            PickError::NotEnoughCpus {
                requested,
                available,
            },
        ) => {
            let ok = want("requested=").is_none_or(|v| v == *requested)
                && want("available=").is_none_or(|v| v == *available);
            if ok { Ok(()) } else { mismatch(message) }
        }
        (None, _) if message.is_empty() => Ok(()),
        (None, _) => mismatch(message),
    }
}

fn run_accumulator_case(details: &CpuDetails, case: &AccumulatorCase) -> Result<(), String> {
    let acc = CpuAccumulator::new(
        details,
        &set(&case.available_cpus),
        0,
        SortingStrategy::Packed,
    );
    let ids = |value: &serde_json::Value| -> Result<Vec<u32>, String> {
        serde_json::from_value(value.clone()).map_err(|e| format!("bad expected value: {e}"))
    };
    let compare = |what: &str, want: Vec<u32>, got: Vec<u32>| {
        if want == got {
            Ok(())
        } else {
            Err(format!("{what}: expected {want:?} got {got:?}"))
        }
    };
    match case.check.as_str() {
        "free_sockets_unordered" => {
            let mut want = ids(&case.expected)?;
            let mut got = acc.free_sockets();
            want.sort_unstable();
            got.sort_unstable();
            compare("free sockets", want, got)
        }
        "free_numa_nodes_ordered" => compare(
            "free NUMA nodes",
            ids(&case.expected)?,
            acc.free_numa_nodes(),
        ),
        "free_sockets_and_numa_nodes_ordered" => {
            let null = serde_json::Value::Null;
            let sockets = ids(case.expected.get("sockets").unwrap_or(&null))?;
            let numas = ids(case.expected.get("numa_nodes").unwrap_or(&null))?;
            compare("free sockets", sockets, acc.free_sockets())?;
            compare("free NUMA nodes", numas, acc.free_numa_nodes())
        }
        "free_cores_ordered" => compare("free cores", ids(&case.expected)?, acc.free_cores()),
        "free_cpus_packed_order" => compare("free CPUs", ids(&case.expected)?, acc.sorted_cpus()),
        other => Err(format!("unknown check {other:?}")),
    }
}
