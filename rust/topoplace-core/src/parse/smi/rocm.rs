//! `rocm-smi --showtopo`: sections introduced by `==== Title ====` lines; the
//! `Weight`, `Hops` and `Link Type between two GPUs` matrices (header `GPU0 GPU1 ...`, rows
//! `GPUn v v ...`), and `GPU[n] : (Topology) Numa Node: k` lines.

use super::{Matrix, err_at, link};
use crate::error::Result;
use crate::topology::{CpuSet, Device, DeviceKind, LinkClass};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Weight,
    Hops,
    LinkType,
}

/// One GPU-by-GPU table: the column count and the cells by row.
#[derive(Debug, Default)]
struct Grid {
    ncols: usize,
    rows: Vec<Option<Vec<String>>>,
    /// Line of each row, for errors.
    lines: Vec<usize>,
}

fn gpu_index(word: &str) -> Option<usize> {
    let n = word.strip_prefix("GPU")?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) || n.len() > 6 {
        return None;
    }
    n.parse().ok()
}

/// Parses the `rocm-smi --showtopo` output.
pub(super) fn parse(text: &str, source: &str) -> Result<Matrix> {
    let mut table: Option<Table> = None;
    let mut grids: [Grid; 3] = Default::default();
    let mut numa: Vec<(usize, Option<u32>)> = Vec::new();
    let mut max_gpu: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.starts_with('=') {
            let title = line.trim_matches('=').trim();
            table = if title.starts_with("Weight between") {
                Some(Table::Weight)
            } else if title.starts_with("Hops between") {
                Some(Table::Hops)
            } else if title.starts_with("Link Type between") {
                Some(Table::LinkType)
            } else {
                None
            };
            continue;
        }
        if let Some(rest) = line.strip_prefix("GPU[") {
            let (index, tail) = rest.split_once(']').unwrap_or((rest, ""));
            let value = tail.split_once("Numa Node:").map(|(_, v)| v.trim());
            if let Some(value) = value {
                let Some(index) = index.parse::<usize>().ok().filter(|&x| x < 1 << 16) else {
                    return Err(err_at(
                        source,
                        line_no,
                        Some(format!("GPU[{index}]")),
                        "GPU index is not a number".into(),
                    ));
                };
                let node = match value.parse::<i64>() {
                    Ok(-1) => None,
                    Ok(n) => Some(u32::try_from(n).map_err(|_| {
                        err_at(
                            source,
                            line_no,
                            Some(format!("GPU{index} Numa Node")),
                            format!("NUMA id {value:?} is out of range"),
                        )
                    })?),
                    Err(_) => {
                        return Err(err_at(
                            source,
                            line_no,
                            Some(format!("GPU{index} Numa Node")),
                            format!("NUMA id {value:?} is not a number"),
                        ));
                    }
                };
                numa.push((index, node));
                max_gpu = max_gpu.max(Some(index));
            }
            continue;
        }
        let Some(t) = table else { continue };
        let grid = &mut grids[t as usize];
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(first) = words.first() else { continue };
        if grid.ncols == 0 {
            // The header: GPU0 GPU1 ...
            let mut ncols = 0;
            for (k, w) in words.iter().enumerate() {
                if gpu_index(w) != Some(k) {
                    return Err(err_at(
                        source,
                        line_no,
                        Some("header".into()),
                        format!("expected column GPU{k}, found {w:?}"),
                    ));
                }
                ncols += 1;
            }
            grid.ncols = ncols;
            grid.rows = vec![None; ncols];
            grid.lines = vec![0; ncols];
            continue;
        }
        let Some(row) = gpu_index(first).filter(|&r| r < grid.ncols) else {
            return Err(err_at(
                source,
                line_no,
                Some(format!("row {first}")),
                "row label is not a GPU of the header".into(),
            ));
        };
        if words.len() - 1 != grid.ncols {
            return Err(err_at(
                source,
                line_no,
                Some(format!("row {first}")),
                format!(
                    "row has {} values but the header has {} columns",
                    words.len() - 1,
                    grid.ncols
                ),
            ));
        }
        grid.rows[row] = Some(words[1..].iter().map(|w| (*w).to_owned()).collect());
        grid.lines[row] = line_no;
    }

    let ngpus = grids
        .iter()
        .map(|g| g.ncols)
        .max()
        .unwrap_or(0)
        .max(max_gpu.map_or(0, |g| g + 1));
    if ngpus == 0 {
        return Err(err_at(
            source,
            1,
            None,
            "no GPU matrix (Weight / Hops / Link Type between two GPUs) found".into(),
        ));
    }
    let mut m = Matrix::default();
    for g in 0..ngpus {
        m.devices.push(Device {
            kind: DeviceKind::Gpu,
            name: format!("GPU{g}"),
            aliases: Vec::new(),
            pci: None,
            bus_id: None,
            numa: None,
            cpus: CpuSet::new(),
            vendor: Some("AMD".into()),
            model: None,
            memory_bytes: None,
        });
        m.numa_os.push(None);
    }
    for (g, node) in numa {
        m.numa_os[g] = node;
    }

    let cell = |t: Table, a: usize, b: usize| -> Option<(&str, usize)> {
        let grid = &grids[t as usize];
        let row = grid.rows.get(a)?.as_ref()?;
        Some((row.get(b)?.as_str(), grid.lines[a]))
    };
    for a in 0..ngpus {
        for b in a + 1..ngpus {
            let Some((kind, line_no)) = cell(Table::LinkType, a, b) else {
                continue;
            };
            let object = || Some(format!("row GPU{a} column GPU{b}"));
            let hops = match cell(Table::Hops, a, b) {
                Some((word, hop_line)) => word.parse::<u32>().map_err(|_| {
                    err_at(
                        source,
                        hop_line,
                        object(),
                        format!("hop count {word:?} is not a number"),
                    )
                })?,
                None => 0,
            };
            if let Some((word, weight_line)) = cell(Table::Weight, a, b)
                && word.parse::<u64>().is_err()
                && word != "N/A"
            {
                return Err(err_at(
                    source,
                    weight_line,
                    object(),
                    format!("weight {word:?} is not a number"),
                ));
            }
            let class = match kind {
                "XGMI" => LinkClass::Xgmi,
                "PCIE" => match (m.numa_os[a], m.numa_os[b]) {
                    (Some(x), Some(y)) if x == y => LinkClass::Phb,
                    _ => LinkClass::Sys,
                },
                "N/A" => continue,
                _ => {
                    return Err(err_at(
                        source,
                        line_no,
                        object(),
                        format!("unknown link type {kind:?}"),
                    ));
                }
            };
            let count = if class == LinkClass::Xgmi { hops } else { 0 };
            m.links.push(link(a, b, class, count));
        }
    }
    Ok(m)
}
