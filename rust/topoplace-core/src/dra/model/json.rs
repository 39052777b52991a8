//! A read cursor over a `serde_json::Value` that knows which object it is in and the JSON path
//! of the value it points at, so that every error names both.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::dra::value::Quantity;
use crate::error::{Error, Result};

/// A value inside a Kubernetes object, with the object's label and the value's path.
#[derive(Debug, Clone)]
pub(crate) struct At<'a> {
    /// The value itself.
    pub(crate) v: &'a Value,
    /// The object label (`"ResourceClaim default/claim-0"`).
    pub(crate) obj: &'a str,
    /// The JSON path (`"spec.devices.requests[1]"`); empty at the root.
    pub(crate) path: String,
}

/// The JSON type name of a value, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An [`Error::Object`].
pub(crate) fn object_error(obj: &str, path: &str, message: impl Into<String>) -> Error {
    Error::Object {
        object: obj.to_owned(),
        path: if path.is_empty() { "<root>" } else { path }.to_owned(),
        message: message.into(),
    }
}

impl<'a> At<'a> {
    /// The root of an object.
    pub(crate) const fn root(v: &'a Value, obj: &'a str) -> Self {
        Self {
            v,
            obj,
            path: String::new(),
        }
    }

    /// An error at this value's path.
    pub(crate) fn err(&self, message: impl Into<String>) -> Error {
        object_error(self.obj, &self.path, message)
    }

    /// The path of field `key` below this value.
    pub(crate) fn field_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// An error at field `key` below this value.
    pub(crate) fn field_err(&self, key: &str, message: impl Into<String>) -> Error {
        object_error(self.obj, &self.field_path(key), message)
    }

    fn expected(&self, what: &str) -> Error {
        self.err(format!("expected {what}, got {}", kind(self.v)))
    }

    /// This value as a JSON object.
    pub(crate) fn map(&self) -> Result<&'a Map<String, Value>> {
        self.v.as_object().ok_or_else(|| self.expected("an object"))
    }

    /// Field `key`; `None` when it is absent or null (as the API treats omitted fields).
    pub(crate) fn opt(&self, key: &str) -> Result<Option<Self>> {
        Ok(match self.map()?.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(Self {
                v,
                obj: self.obj,
                path: self.field_path(key),
            }),
        })
    }

    /// Field `key`, which must be present.
    pub(crate) fn req(&self, key: &str) -> Result<Self> {
        self.opt(key)?
            .ok_or_else(|| self.field_err(key, "required field is missing"))
    }

    /// This value as a string.
    pub(crate) fn str(&self) -> Result<&'a str> {
        self.v.as_str().ok_or_else(|| self.expected("a string"))
    }

    /// This value as a boolean.
    pub(crate) fn bool(&self) -> Result<bool> {
        self.v.as_bool().ok_or_else(|| self.expected("a boolean"))
    }

    /// This value as a 64-bit integer.
    pub(crate) fn int(&self) -> Result<i64> {
        match self.v {
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| self.err(format!("expected a 64-bit integer, got {n}"))),
            _ => Err(self.expected("an integer")),
        }
    }

    /// This value as a quantity: a string such as `"1Gi"`, or a plain number (YAML gives
    /// numbers for unquoted values such as `64`).
    pub(crate) fn quantity(&self) -> Result<Quantity> {
        let text = match self.v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(self.expected("a quantity string")),
        };
        Quantity::parse(&text).map_err(|e| match e {
            Error::Value(m) => self.err(m),
            other => self.err(other.to_string()),
        })
    }

    /// The elements of this array, each with its `[i]` path.
    pub(crate) fn items(&self) -> Result<Vec<Self>> {
        let items = self.v.as_array().ok_or_else(|| self.expected("an array"))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| Self {
                v,
                obj: self.obj,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    /// The entries of this map, each value with its `[key]` path, in key order.
    pub(crate) fn entries(&self) -> Result<Vec<(&'a str, Self)>> {
        let map = self.map()?;
        let mut out: Vec<_> = map
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    Self {
                        v,
                        obj: self.obj,
                        path: format!("{}[{k}]", self.path),
                    },
                )
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(b.0));
        Ok(out)
    }

    /// Optional string field.
    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>> {
        self.opt(key)?.map(|f| f.str()).transpose()
    }

    /// Optional boolean field.
    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        self.opt(key)?.map(|f| f.bool()).transpose()
    }

    /// Optional integer field.
    pub(crate) fn opt_int(&self, key: &str) -> Result<Option<i64>> {
        self.opt(key)?.map(|f| f.int()).transpose()
    }

    /// Optional array field; empty when absent.
    pub(crate) fn list(&self, key: &str) -> Result<Vec<Self>> {
        Ok(match self.opt(key)? {
            Some(f) => f.items()?,
            None => Vec::new(),
        })
    }

    /// Optional array field with at most `max` items; empty when absent.
    pub(crate) fn list_max(&self, key: &str, max: usize) -> Result<Vec<Self>> {
        let items = self.list(key)?;
        if items.len() > max {
            return Err(self.field_err(
                key,
                format!("must have at most {max} items, got {}", items.len()),
            ));
        }
        Ok(items)
    }

    /// Optional map field; empty when absent.
    pub(crate) fn dict(&self, key: &str) -> Result<Vec<(&'a str, Self)>> {
        Ok(match self.opt(key)? {
            Some(f) => f.entries()?,
            None => Vec::new(),
        })
    }

    /// Optional list of strings; empty when absent.
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>> {
        self.list(key)?
            .iter()
            .map(|f| f.str().map(str::to_owned))
            .collect()
    }

    /// Optional map of quantities; empty when absent.
    pub(crate) fn quantities(&self, key: &str) -> Result<BTreeMap<String, Quantity>> {
        self.dict(key)?
            .into_iter()
            .map(|(k, f)| Ok((k.to_owned(), f.quantity()?)))
            .collect()
    }

    /// This string value, one of `choices` (`(API text, value)`).
    pub(crate) fn one_of<T: Clone>(&self, choices: &[(&str, T)]) -> Result<T> {
        let text = self.str()?;
        choices
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
                self.err(format!(
                    "unsupported value {text:?}: supported values: {}",
                    names.join(", ")
                ))
            })
    }

    /// Checks a name with a validator from [`super::names`], erroring at this value.
    pub(crate) fn name(&self, check: fn(&str) -> Result<(), String>) -> Result<&'a str> {
        let s = self.str()?;
        check(s).map_err(|m| self.err(m))?;
        Ok(s)
    }
}

/// Builds a JSON object, leaving out `None` values and empty arrays / objects, as the API
/// omits empty optional fields.
pub(crate) fn compact(fields: Vec<(&str, Option<Value>)>) -> Value {
    let mut map = Map::new();
    for (k, v) in fields {
        match v {
            None => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(Value::Object(o)) if o.is_empty() => {}
            Some(v) => {
                map.insert(k.to_owned(), v);
            }
        }
    }
    Value::Object(map)
}

/// `strings` as a JSON array.
pub(crate) fn str_array(strings: &[String]) -> Value {
    Value::Array(strings.iter().cloned().map(Value::String).collect())
}

/// A quantity map as a JSON object of quantity strings.
pub(crate) fn quantity_map(map: &BTreeMap<String, Quantity>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, q)| (k.clone(), Value::String(q.to_string())))
            .collect(),
    )
}
