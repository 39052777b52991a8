//! Readers for the Alibaba GPU trace's node and pod lists (`openb_node_list_*.csv`,
//! `openb_pod_list_*.csv`), from text: the core does no file I/O.
//!
//! Columns are found by header name, so extra columns (`qos`, `pod_phase`, times...) are
//! ignored and the four `multigpu*` files without `gpu_spec` read as unconstrained. The pod
//! rows are converted as the artifact's CSV-to-YAML step does (item 4 of the procedure).
//! Malformed input is an [`Error::Topology`]: the one error kind whose [`Location`] names a
//! file, a line and a column, which is what a user needs to fix a CSV row.

use crate::error::{Error, Location, Result};

/// One node of a node list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Node name (`sn` column).
    pub name: String,
    /// CPU capacity, millicores.
    pub cpu_milli: i64,
    /// Memory capacity, MiB.
    pub memory_mib: i64,
    /// Number of GPUs (`gpu` column), each of 1000 milli-GPU.
    pub gpus: u32,
    /// GPU model (empty for CPU-only nodes).
    pub model: String,
}

/// One pod (task) of a pod list, as the simulator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRow {
    /// Pod name; arrival order starts from the name-sorted list.
    pub name: String,
    /// CPU request, millicores.
    pub cpu_milli: i64,
    /// Memory request, MiB.
    pub memory_mib: i64,
    /// Number of GPUs, all on one node.
    pub num_gpu: u32,
    /// Per-GPU milli-GPU, clamped to 0..=1000; 0 when `num_gpu` is 0 (the converter writes
    /// no GPU annotation for CPU-only pods).
    pub gpu_milli: i64,
    /// Allowed GPU models (`gpu_spec` split on `|`, empty parts dropped; empty = any). Always
    /// empty for CPU-only pods.
    pub gpu_spec: Vec<String>,
}

/// A CSV header with the positions of the named columns.
struct Header<'a> {
    names: Vec<&'a str>,
}

impl<'a> Header<'a> {
    fn column(&self, name: &str, file: &str) -> Result<usize> {
        self.names.iter().position(|n| *n == name).ok_or_else(|| {
            Error::topology(
                Location::source(file).at_line(1).object(name),
                format!(
                    "missing column {name:?} (header has {})",
                    self.names.join(",")
                ),
            )
        })
    }
}

/// Non-empty lines with their 1-based numbers; the first is the header.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
}

fn header<'a>(rows: &mut impl Iterator<Item = (usize, &'a str)>, file: &str) -> Result<Header<'a>> {
    let (_, line) = rows
        .next()
        .ok_or_else(|| Error::topology(Location::source(file), "empty file: no header"))?;
    let names = line.split(',').map(str::trim).collect();
    Ok(Header { names })
}

/// The field at `col` of a split row, or an error naming the column.
fn field<'a>(
    fields: &[&'a str],
    col: usize,
    name: &str,
    file: &str,
    line: usize,
) -> Result<&'a str> {
    fields.get(col).map(|f| f.trim()).ok_or_else(|| {
        Error::topology(
            Location::source(file).at_line(line).object(name),
            format!("row has {} fields, no column {name:?}", fields.len()),
        )
    })
}

fn integer<T: std::str::FromStr>(
    fields: &[&str],
    col: usize,
    name: &str,
    file: &str,
    line: usize,
) -> Result<T> {
    let text = field(fields, col, name, file, line)?;
    text.parse().map_err(|_| {
        Error::topology(
            Location::source(file).at_line(line).object(name),
            format!("not an integer in range: {text:?}"),
        )
    })
}

fn non_negative(value: i64, name: &str, file: &str, line: usize) -> Result<i64> {
    if value < 0 {
        return Err(Error::topology(
            Location::source(file).at_line(line).object(name),
            format!("negative value {value}"),
        ));
    }
    Ok(value)
}

/// Reads a node list (`sn,cpu_milli,memory_mib,gpu,model`).
///
/// # Errors
/// [`Error::Topology`] with `file`, the line and the column when the header lacks a column,
/// a row is short, or a number does not parse or is negative.
pub fn read_nodes(text: &str, file: &str) -> Result<Vec<NodeRow>> {
    let mut rows = lines(text);
    let h = header(&mut rows, file)?;
    let (c_name, c_cpu, c_mem, c_gpu, c_model) = (
        h.column("sn", file)?,
        h.column("cpu_milli", file)?,
        h.column("memory_mib", file)?,
        h.column("gpu", file)?,
        h.column("model", file)?,
    );
    let mut out = Vec::new();
    for (line, row) in rows {
        let f: Vec<&str> = row.split(',').collect();
        out.push(NodeRow {
            name: field(&f, c_name, "sn", file, line)?.to_owned(),
            cpu_milli: non_negative(
                integer(&f, c_cpu, "cpu_milli", file, line)?,
                "cpu_milli",
                file,
                line,
            )?,
            memory_mib: non_negative(
                integer(&f, c_mem, "memory_mib", file, line)?,
                "memory_mib",
                file,
                line,
            )?,
            gpus: integer(&f, c_gpu, "gpu", file, line)?,
            model: field(&f, c_model, "model", file, line)?.to_owned(),
        });
    }
    Ok(out)
}

/// Reads a pod list (`name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,...]`), with the
/// artifact's conversion: `gpu_milli` clamped to 0..=1000, `gpu_spec` split on `|` with empty
/// parts dropped, and no GPU fields for pods with `num_gpu == 0`.
///
/// # Errors
/// [`Error::Topology`] with `file`, the line and the column when the header lacks a column,
/// a row is short, or a number does not parse or is negative (`gpu_milli` may be any
/// integer: it is clamped).
pub fn read_pods(text: &str, file: &str) -> Result<Vec<PodRow>> {
    let mut rows = lines(text);
    let h = header(&mut rows, file)?;
    let (c_name, c_cpu, c_mem, c_num, c_milli) = (
        h.column("name", file)?,
        h.column("cpu_milli", file)?,
        h.column("memory_mib", file)?,
        h.column("num_gpu", file)?,
        h.column("gpu_milli", file)?,
    );
    let c_spec = h.column("gpu_spec", file).ok();
    let mut out = Vec::new();
    for (line, row) in rows {
        let f: Vec<&str> = row.split(',').collect();
        let num_gpu: u32 = integer(&f, c_num, "num_gpu", file, line)?;
        let raw_milli: i64 = integer(&f, c_milli, "gpu_milli", file, line)?;
        let spec_text = match c_spec {
            Some(c) => field(&f, c, "gpu_spec", file, line)?,
            None => "",
        };
        let (gpu_milli, gpu_spec) = if num_gpu == 0 {
            (0, Vec::new())
        } else {
            let spec = spec_text
                .split('|')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            (raw_milli.clamp(0, 1000), spec)
        };
        out.push(PodRow {
            name: field(&f, c_name, "name", file, line)?.to_owned(),
            cpu_milli: non_negative(
                integer(&f, c_cpu, "cpu_milli", file, line)?,
                "cpu_milli",
                file,
                line,
            )?,
            memory_mib: non_negative(
                integer(&f, c_mem, "memory_mib", file, line)?,
                "memory_mib",
                file,
                line,
            )?,
            num_gpu,
            gpu_milli,
            gpu_spec,
        });
    }
    Ok(out)
}
