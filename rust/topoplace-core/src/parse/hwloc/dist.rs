//! Distance matrices: 1.x `<distances>` with `<latency>` children, 2.x `<distances2>` and
//! `<distances2hetero>` with `<indexes>` and `<u64values>` text.

use super::attrs::{AttrScanner, parse_u32, parse_u64, unescape};
use super::{DistRaw, El, Parser};
use crate::error::Result;
use crate::topology::to_u32;

impl<'a> Parser<'a> {
    pub(super) fn distances1(&mut self, tag: &'a str, pos: usize) -> Result<()> {
        let mut d = DistRaw {
            pos,
            v1: true,
            numa_type: true,
            latency: true,
            base: 1.0,
            ..DistRaw::default()
        };
        let mut scan = AttrScanner::new(tag);
        while let Some(attr) = scan.next_attr() {
            let (n, v) = attr.map_err(|m| self.error(pos, "<distances>", m.to_owned()))?;
            match n {
                "nbobjs" => d.nbobjs = self.dist_count(v, pos, "<distances> nbobjs")?,
                "latency_base" => {
                    d.base = v
                        .trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|b| b.is_finite() && *b > 0.0)
                        .ok_or_else(|| {
                            self.error(
                                pos,
                                "<distances> latency_base",
                                format!("{v:?} is not a positive number"),
                            )
                        })?;
                }
                _ => {}
            }
        }
        // Attached to the root object (the only object open, besides <topology>).
        let objects = self
            .stack
            .iter()
            .filter(|f| matches!(f.el, El::Object(_)))
            .count();
        d.at_root = objects == 1;
        let idx = to_u32(self.dists.len());
        self.dists.push(d);
        self.push(El::Dist1, pos);
        if let Some(top) = self.stack.last_mut() {
            top.dense = idx;
        }
        Ok(())
    }

    pub(super) fn dist_count(&self, v: &str, pos: usize, object: &str) -> Result<usize> {
        parse_u32(v)
            .filter(|&n| n as usize <= crate::topology::MAX_PCI_NODES)
            .map(|n| n as usize)
            .ok_or_else(|| self.error(pos, object, format!("{v:?} is not a valid object count")))
    }

    pub(super) fn latency(&mut self, tag: &'a str, pos: usize) -> Result<()> {
        let Some(top) = self.stack.last().filter(|f| f.el == El::Dist1) else {
            return Ok(());
        };
        let idx = top.dense as usize;
        let mut scan = AttrScanner::new(tag);
        while let Some(attr) = scan.next_attr() {
            let (n, v) = attr.map_err(|m| self.error(pos, "<latency>", m.to_owned()))?;
            if n == "value" {
                let value = v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| {
                        self.error(pos, "<latency> value", format!("{v:?} is not a number"))
                    })?;
                let Some(d) = self.dists.get(idx) else {
                    return Ok(());
                };
                if d.latencies.len() >= d.nbobjs * d.nbobjs {
                    return Err(self.error(
                        pos,
                        "<distances>",
                        format!("more than {0}x{0} latency values", d.nbobjs),
                    ));
                }
                if let Some(d) = self.dists.get_mut(idx) {
                    d.latencies.push(value);
                }
            }
        }
        Ok(())
    }

    pub(super) fn distances2(&mut self, hetero: bool, tag: &'a str, pos: usize) -> Result<()> {
        let what = if hetero {
            "<distances2hetero>"
        } else {
            "<distances2>"
        };
        let mut d = DistRaw {
            pos,
            hetero,
            ..DistRaw::default()
        };
        let mut kind = 0u64;
        let mut scan = AttrScanner::new(tag);
        while let Some(attr) = scan.next_attr() {
            let (n, v) = attr.map_err(|m| self.error(pos, what, m.to_owned()))?;
            match n {
                "type" => d.numa_type = v == "NUMANode" || v == "Node",
                "nbobjs" => d.nbobjs = self.dist_count(v, pos, &format!("{what} nbobjs"))?,
                "kind" => {
                    kind = parse_u64(v).ok_or_else(|| {
                        self.error(
                            pos,
                            format!("{what} kind"),
                            format!("{v:?} is not a number"),
                        )
                    })?;
                }
                "name" => d.name = unescape(v),
                "indexing" => d.gp_indexing = v == "gp",
                _ => {}
            }
        }
        // kind bits: 4 = means latency, 8 = means bandwidth; neither: assume latency.
        d.latency = kind & 4 != 0 || kind & 8 == 0;
        let idx = to_u32(self.dists.len());
        self.dists.push(d);
        self.push(if hetero { El::Hetero } else { El::Dist2 }, pos);
        if let Some(top) = self.stack.last_mut() {
            top.dense = idx;
        }
        Ok(())
    }

    /// Text of `<indexes>` / `<u64values>`.
    pub(super) fn numbers(&mut self, s: &str, pos: usize) -> Result<()> {
        let Some(top) = self.stack.last() else {
            return Ok(());
        };
        let values = top.el == El::Values;
        let Some(d) = self.dists.get(top.dense as usize) else {
            return Ok(());
        };
        let limit = if values {
            d.nbobjs * d.nbobjs
        } else {
            d.nbobjs
        };
        let (hetero, object) = (d.hetero, if values { "u64values" } else { "indexes" });
        let mut parsed = Vec::new();
        let mut bad = None;
        for token in s.split_ascii_whitespace() {
            let number = if hetero && !values {
                // "OSDev:802": type, then gp_index.
                token.rsplit(':').next().and_then(parse_u64)
            } else {
                parse_u64(token)
            };
            match number {
                Some(n) => parsed.push(n),
                None => {
                    bad = Some(token);
                    break;
                }
            }
        }
        if let Some(token) = bad {
            return Err(self.error(
                pos,
                format!("<{object}>"),
                format!("{token:?} is not a number"),
            ));
        }
        let Some(d) = self.dists.get_mut(top.dense as usize) else {
            return Ok(());
        };
        let list = if values {
            &mut d.values
        } else {
            &mut d.indexes
        };
        if list.len() + parsed.len() > limit {
            let nbobjs = d.nbobjs;
            return Err(self.error(
                pos,
                format!("<{object}>"),
                format!("more {object} than nbobjs={nbobjs} allows"),
            ));
        }
        list.extend(parsed);
        Ok(())
    }

    pub(super) fn check_dist_len(&self, idx: u32) -> Result<()> {
        let Some(d) = self.dists.get(idx as usize) else {
            return Ok(());
        };
        let n = d.nbobjs;
        let (got, want, what) = if d.v1 {
            (d.latencies.len(), n * n, "latency values")
        } else if d.indexes.len() != n {
            (d.indexes.len(), n, "indexes")
        } else {
            (d.values.len(), n * n, "values")
        };
        if got != want {
            return Err(self.error(
                d.pos,
                if d.v1 { "<distances>" } else { "<distances2>" },
                format!("{got} {what} for nbobjs={n} (expected {want})"),
            ));
        }
        Ok(())
    }
}
