//! The `nvidia-smi topo -m` matrix.
//!
//! Columns are separated by tabs or runs of spaces; the header may or may not start with a tab.
//! Device columns (`GPUn`, `NICn`, or NIC device names such as `mlx5_0` in older drivers) are
//! followed by optional `CPU Affinity`, `NUMA Affinity` and `GPU NUMA ID` columns. Values are
//! read as whitespace-separated words, so the empty alignment fields some drivers print between
//! `NUMA Affinity` and `GPU NUMA ID` do not shift columns. The matrix ends at the first blank
//! line or line that is not a device row (the legend); a `NIC Legend` maps `NICn` to OS names.

use super::{Matrix, err_at, link, parse_cpus};
use crate::error::Result;
use crate::topology::{CpuSet, Device, DeviceKind, LinkClass};

/// The extra (non-device) columns of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extra {
    CpuAffinity,
    NumaAffinity,
    GpuNumaId,
}

/// Whether `word` can name a device column: a letter, then letters, digits or `_`, ending in a
/// digit (`GPU0`, `NIC10`, `mlx5_3`).
fn is_column_name(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.last().is_some_and(u8::is_ascii_digit)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

fn is_gpu_name(word: &str) -> bool {
    word.strip_prefix("GPU")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A matrix cell: `None` for `X`, else the class and NVLink count.
type Cell = Option<(LinkClass, u32)>;

/// Parses a cell; `None` for an unknown label.
fn parse_cell(word: &str) -> Option<Cell> {
    Some(Some(match word {
        "X" => return Some(None),
        "PIX" => (LinkClass::Pix, 0),
        "PXB" => (LinkClass::Pxb, 0),
        "PHB" => (LinkClass::Phb, 0),
        "NODE" => (LinkClass::Node, 0),
        "SYS" | "SOC" => (LinkClass::Sys, 0),
        _ => {
            let count: u32 = word.strip_prefix("NV")?.parse().ok()?;
            if count == 0 {
                return None;
            }
            (LinkClass::NvLink, count)
        }
    }))
}

/// Reads the extra columns from the header words after the device columns.
fn parse_extras(words: &[&str]) -> Option<Vec<Extra>> {
    let mut extras = Vec::new();
    let mut rest = words;
    while !rest.is_empty() {
        let (extra, used) = match rest {
            ["CPU", "Affinity", ..] => (Extra::CpuAffinity, 2),
            ["NUMA", "Affinity", ..] => (Extra::NumaAffinity, 2),
            ["GPU", "NUMA", "ID", ..] => (Extra::GpuNumaId, 3),
            _ => return None,
        };
        extras.push(extra);
        rest = &rest[used..];
    }
    Some(extras)
}

/// Parses the matrix.
pub(super) fn parse(text: &str, source: &str) -> Result<Matrix> {
    let lines: Vec<&str> = text.lines().collect();
    // The header: the first line whose first word can name a device column.
    let Some(header_at) = lines.iter().position(|l| {
        l.split_whitespace()
            .next()
            .is_some_and(|w| is_column_name(w) && !w.ends_with(':'))
    }) else {
        return Err(err_at(
            source,
            1,
            None,
            "no `nvidia-smi topo -m` header line (GPU0 GPU1 ...) found".into(),
        ));
    };
    let header_line = header_at + 1;
    let words: Vec<&str> = lines[header_at].split_whitespace().collect();
    let ncols = words.iter().take_while(|w| is_column_name(w)).count();
    let columns: Vec<&str> = words[..ncols].to_vec();
    let Some(extras) = parse_extras(&words[ncols..]) else {
        return Err(err_at(
            source,
            header_line,
            Some("header".into()),
            format!(
                "unknown header column in {:?}: expected CPU Affinity, NUMA Affinity, GPU NUMA ID",
                words[ncols..].join(" ")
            ),
        ));
    };
    if !columns.iter().any(|c| is_gpu_name(c)) {
        return Err(err_at(
            source,
            header_line,
            Some("header".into()),
            "the header has no GPU columns".into(),
        ));
    }
    for (i, c) in columns.iter().enumerate() {
        if columns[..i].contains(c) {
            return Err(err_at(
                source,
                header_line,
                Some(format!("column {c}")),
                "column listed twice in the header".into(),
            ));
        }
    }

    let n = columns.len();
    let mut m = Matrix::default();
    for c in &columns {
        m.devices.push(Device {
            kind: if is_gpu_name(c) {
                DeviceKind::Gpu
            } else {
                DeviceKind::Nic
            },
            name: (*c).to_owned(),
            aliases: Vec::new(),
            pci: None,
            bus_id: None,
            numa: None,
            cpus: CpuSet::new(),
            vendor: is_gpu_name(c).then(|| "NVIDIA".to_owned()),
            model: None,
            memory_bytes: None,
        });
        m.numa_os.push(None);
    }

    // Rows.
    let mut cells: Vec<Option<Vec<Cell>>> = vec![None; n];
    let mut end = lines.len();
    for (offset, line) in lines[header_at + 1..].iter().enumerate() {
        let line_no = header_line + 1 + offset;
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(label) = words.first() else {
            if cells.iter().any(Option::is_some) {
                end = line_no - 1;
                break;
            }
            continue;
        };
        let Some(row) = columns.iter().position(|c| c == label) else {
            end = line_no - 1;
            break;
        };
        if cells[row].is_some() {
            return Err(err_at(
                source,
                line_no,
                Some(format!("row {label}")),
                "row listed twice".into(),
            ));
        }
        let values = &words[1..];
        if values.len() < n {
            return Err(err_at(
                source,
                line_no,
                Some(format!("row {label}")),
                format!(
                    "row has {} values but the header has {n} device columns",
                    values.len()
                ),
            ));
        }
        let mut row_cells = Vec::with_capacity(n);
        for (col, word) in values[..n].iter().enumerate() {
            let object = || Some(format!("row {label} column {}", columns[col]));
            let Some(cell) = parse_cell(word) else {
                return Err(err_at(
                    source,
                    line_no,
                    object(),
                    format!("unknown cell label {word:?}"),
                ));
            };
            if cell.is_none() != (col == row) {
                let message = if col == row {
                    format!("the diagonal must be X, not {word:?}")
                } else {
                    "X off the diagonal".to_owned()
                };
                return Err(err_at(source, line_no, object(), message));
            }
            row_cells.push(cell);
        }
        let rest = &values[n..];
        if rest.len() > extras.len() {
            return Err(err_at(
                source,
                line_no,
                Some(format!("row {label}")),
                format!(
                    "row has {} values but the header has {} columns",
                    values.len(),
                    n + extras.len()
                ),
            ));
        }
        for (extra, word) in extras.iter().zip(rest) {
            match extra {
                Extra::CpuAffinity => {
                    if *word != "N/A" {
                        m.devices[row].cpus = parse_cpus(
                            word,
                            source,
                            line_no,
                            &format!("row {label} column CPU Affinity"),
                        )?;
                    }
                }
                Extra::NumaAffinity | Extra::GpuNumaId => {
                    if *word == "N/A" {
                        continue;
                    }
                    let column = if *extra == Extra::NumaAffinity {
                        "NUMA Affinity"
                    } else {
                        "GPU NUMA ID"
                    };
                    let Ok(id) = word.parse::<u32>() else {
                        return Err(err_at(
                            source,
                            line_no,
                            Some(format!("row {label} column {column}")),
                            format!("NUMA id {word:?} is not a number"),
                        ));
                    };
                    if *extra == Extra::NumaAffinity {
                        m.numa_os[row] = Some(id);
                    } else if !m.gpu_memory_numa.contains(&id) {
                        m.gpu_memory_numa.push(id);
                    }
                }
            }
        }
        cells[row] = Some(row_cells);
    }
    let mut full = Vec::with_capacity(n);
    for (i, row) in cells.into_iter().enumerate() {
        let Some(row) = row else {
            return Err(err_at(
                source,
                end.max(header_line),
                Some(format!("row {}", columns[i])),
                format!("the matrix has no row for {}", columns[i]),
            ));
        };
        full.push(row);
    }
    for (a, row) in full.iter().enumerate() {
        for (b, cell) in row.iter().enumerate().skip(a + 1) {
            if let Some((class, count)) = *cell {
                m.links.push(link(a, b, class, count));
            }
        }
    }

    // NIC legend: `  NIC0: mlx5_0`.
    for line in &lines[end.min(lines.len())..] {
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        let value = value.trim();
        if let Some(i) = columns.iter().position(|c| *c == key.trim())
            && m.devices[i].kind == DeviceKind::Nic
            && !value.is_empty()
        {
            let alias = value.to_owned();
            if !m.devices[i].aliases.contains(&alias) && alias != m.devices[i].name {
                m.devices[i].aliases.push(alias);
            }
        }
    }
    Ok(m)
}
