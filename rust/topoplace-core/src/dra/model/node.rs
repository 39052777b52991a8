//! `core/v1` Node (name and labels) and NodeSelector, as DRA uses them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::json::{At, compact, str_array};
use super::names;
use crate::error::Result;

/// A Node as the allocator sees it: its name and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
}

impl Node {
    /// Reads a `v1` Node.
    ///
    /// # Errors
    /// [`crate::Error::Object`] naming the field when the object is malformed.
    pub fn from_json(value: &Value) -> Result<Self> {
        let label = super::label("Node", value);
        let root = At::root(value, &label);
        let meta = root.req("metadata")?;
        let name = meta.req("name")?.name(names::dns_subdomain)?.to_owned();
        let mut labels = BTreeMap::new();
        for (k, v) in meta.dict("labels")? {
            names::label_key(k).map_err(|m| v.err(m))?;
            labels.insert(k.to_owned(), v.name(names::label_value)?.to_owned());
        }
        Ok(Self { name, labels })
    }

    /// The value of a field usable in `matchFields` (only `metadata.name`).
    #[must_use]
    pub fn field(&self, key: &str) -> Option<&str> {
        (key == "metadata.name").then_some(self.name.as_str())
    }
}

/// A node selector operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeSelectorOperator {
    /// The value is one of `values`.
    In,
    /// The value is none of `values` (or the label is absent).
    NotIn,
    /// The label exists.
    Exists,
    /// The label does not exist.
    DoesNotExist,
    /// The label, as an integer, is greater than the single value.
    Gt,
    /// The label, as an integer, is less than the single value.
    Lt,
}

impl NodeSelectorOperator {
    const CHOICES: [(&'static str, Self); 6] = [
        ("In", Self::In),
        ("NotIn", Self::NotIn),
        ("Exists", Self::Exists),
        ("DoesNotExist", Self::DoesNotExist),
        ("Gt", Self::Gt),
        ("Lt", Self::Lt),
    ];

    /// The API's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        Self::CHOICES
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("In", |(n, _)| n)
    }
}

/// One requirement: `key operator values`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeSelectorRequirement {
    /// A label key (`matchExpressions`) or field name (`matchFields`: `metadata.name`).
    pub key: String,
    /// The operator.
    pub operator: NodeSelectorOperator,
    /// The values (empty for `Exists` / `DoesNotExist`, one for `Gt` / `Lt`).
    pub values: Vec<String>,
}

/// One term: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NodeSelectorTerm {
    /// Requirements on node labels.
    pub match_expressions: Vec<NodeSelectorRequirement>,
    /// Requirements on node fields.
    pub match_fields: Vec<NodeSelectorRequirement>,
}

/// A `v1` NodeSelector: the terms are ORed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NodeSelector {
    /// `nodeSelectorTerms`.
    pub terms: Vec<NodeSelectorTerm>,
}

fn requirement(at: &At<'_>, field: bool) -> Result<NodeSelectorRequirement> {
    let key_at = at.req("key")?;
    let key = key_at.str()?;
    if field {
        if key != "metadata.name" {
            return Err(key_at.err(format!(
                "unsupported field {key:?}: only \"metadata.name\" can be matched"
            )));
        }
    } else {
        key_at.name(names::label_key)?;
    }
    let op_at = at.req("operator")?;
    let operator = op_at.one_of(&NodeSelectorOperator::CHOICES)?;
    let values = at.strings("values")?;
    let need = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(at.field_err(
                "values",
                format!(
                    "{what} for operator {}, got {}",
                    operator.as_str(),
                    values.len()
                ),
            ))
        }
    };
    use NodeSelectorOperator as Op;
    match operator {
        _ if field && !matches!(operator, Op::In | Op::NotIn) => {
            return Err(op_at.err("matchFields supports only the operators In and NotIn"));
        }
        _ if field => need(values.len() == 1, "must have exactly one value")?,
        Op::In | Op::NotIn => need(!values.is_empty(), "must have at least one value")?,
        Op::Exists | Op::DoesNotExist => need(values.is_empty(), "must have no values")?,
        Op::Gt | Op::Lt => {
            need(values.len() == 1, "must have exactly one value")?;
            if values[0].parse::<i64>().is_err() {
                return Err(at.field_err("values", format!("{:?} is not an integer", values[0])));
            }
        }
    }
    if !field {
        for (i, v) in values.iter().enumerate() {
            names::label_value(v).map_err(|m| at.field_err(&format!("values[{i}]"), m))?;
        }
    }
    Ok(NodeSelectorRequirement {
        key: key.to_owned(),
        operator,
        values,
    })
}

impl NodeSelector {
    /// Reads a node selector at `at`; `one_term` when the API wants exactly one term
    /// (ResourceSlices and devices).
    pub(crate) fn read(at: &At<'_>, one_term: bool) -> Result<Self> {
        let terms_at = at.req("nodeSelectorTerms")?;
        let items = terms_at.items()?;
        if items.is_empty() || (one_term && items.len() != 1) {
            let want = if one_term {
                "exactly one term"
            } else {
                "at least one term"
            };
            return Err(terms_at.err(format!("must have {want}, got {}", items.len())));
        }
        let mut terms = Vec::with_capacity(items.len());
        for t in &items {
            let match_expressions = t
                .list("matchExpressions")?
                .iter()
                .map(|r| requirement(r, false))
                .collect::<Result<_>>()?;
            let match_fields = t
                .list("matchFields")?
                .iter()
                .map(|r| requirement(r, true))
                .collect::<Result<_>>()?;
            terms.push(NodeSelectorTerm {
                match_expressions,
                match_fields,
            });
        }
        Ok(Self { terms })
    }

    /// A selector matching the one node named `name` (what the scheduler writes for node-local
    /// devices).
    #[must_use]
    pub fn for_node_name(name: &str) -> Self {
        Self {
            terms: vec![NodeSelectorTerm {
                match_expressions: Vec::new(),
                match_fields: vec![NodeSelectorRequirement {
                    key: "metadata.name".to_owned(),
                    operator: NodeSelectorOperator::In,
                    values: vec![name.to_owned()],
                }],
            }],
        }
    }

    /// Whether `node` matches: some term whose every requirement holds. A term without
    /// requirements matches nothing, as in Kubernetes.
    #[must_use]
    pub fn matches(&self, node: &Node) -> bool {
        self.terms.iter().any(|t| {
            (!t.match_expressions.is_empty() || !t.match_fields.is_empty())
                && t.match_expressions
                    .iter()
                    .all(|r| r.holds(node.labels.get(&r.key).map(String::as_str)))
                && t.match_fields.iter().all(|r| r.holds(node.field(&r.key)))
        })
    }

    /// The API's JSON shape.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let req = |r: &NodeSelectorRequirement| {
            compact(vec![
                ("key", Some(Value::String(r.key.clone()))),
                (
                    "operator",
                    Some(Value::String(r.operator.as_str().to_owned())),
                ),
                ("values", Some(str_array(&r.values))),
            ])
        };
        let terms = self
            .terms
            .iter()
            .map(|t| {
                compact(vec![
                    (
                        "matchExpressions",
                        Some(Value::Array(t.match_expressions.iter().map(req).collect())),
                    ),
                    (
                        "matchFields",
                        Some(Value::Array(t.match_fields.iter().map(req).collect())),
                    ),
                ])
            })
            .collect();
        serde_json::json!({ "nodeSelectorTerms": Value::Array(terms) })
    }
}

impl NodeSelectorRequirement {
    fn holds(&self, value: Option<&str>) -> bool {
        use NodeSelectorOperator as Op;
        let int = |s: &str| s.parse::<i64>().ok();
        match self.operator {
            Op::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::NotIn => value.is_none_or(|v| self.values.iter().all(|x| x != v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::Gt | Op::Lt => {
                let (Some(v), Some(limit)) = (value.and_then(int), self.values.first()) else {
                    return false;
                };
                let Some(limit) = int(limit) else {
                    return false;
                };
                if self.operator == Op::Gt {
                    v > limit
                } else {
                    v < limit
                }
            }
        }
    }
}
