//! DRA objects read from and written to JSON text, for callers (the Python binding) that hold
//! text rather than a [`serde_json::Value`].
//!
//! Each reader accepts one object, a JSON array of objects, or a Kubernetes list
//! (`{"kind": "...List", "items": [...]}`), so the output of `kubectl get -o json`, a
//! `yaml.safe_load_all` converted to JSON and a single object all read the same way.

use serde_json::Value;

use crate::dra::model::{AllocationResult, DeviceClass, Node, ResourceClaim, ResourceSlice};
use crate::error::{Error, Result};

/// Parses JSON text; a syntax error is an [`Error::Value`] naming `what`.
fn parse(text: &str, what: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| Error::Value(format!("{what}: invalid JSON: {e}")))
}

/// The objects of `value`: its elements (array), its `items` (a list object), or itself.
fn objects(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => {
            // A `...List` as clients and `kubectl get -o json` return it carries `metadata`
            // (resourceVersion) beside `items`; a bare `{items: [...]}` is a list too.
            let is_list = map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List"))
                || !map.contains_key("spec") && !map.contains_key("metadata");
            match map.get("items") {
                Some(Value::Array(items)) if is_list => items.iter().collect(),
                _ => vec![value],
            }
        }
        _ => vec![value],
    }
}

/// Reads every object of `text` with `read`, checking `kind` where the object names one.
fn read_all<T>(text: &str, kind: &str, read: impl Fn(&Value) -> Result<T>) -> Result<Vec<T>> {
    let value = parse(text, kind)?;
    objects(&value)
        .into_iter()
        .map(|obj| {
            if let Some(found) = obj.get("kind").and_then(Value::as_str)
                && found != kind
            {
                return Err(Error::Object {
                    object: format!("{kind} {}", name_of(obj)),
                    path: "kind".to_owned(),
                    message: format!("expected kind {kind}, found {found}"),
                });
            }
            read(obj)
        })
        .collect()
}

fn name_of(obj: &Value) -> &str {
    obj.get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>")
}

/// ResourceSlices from JSON text.
///
/// # Errors
/// [`Error::Value`] for text that is not JSON; [`Error::Object`] for a malformed slice or an
/// object of another kind.
pub fn slices_from_json_str(text: &str) -> Result<Vec<ResourceSlice>> {
    read_all(text, "ResourceSlice", ResourceSlice::from_json)
}

/// DeviceClasses from JSON text.
///
/// # Errors
/// As [`slices_from_json_str`].
pub fn classes_from_json_str(text: &str) -> Result<Vec<DeviceClass>> {
    read_all(text, "DeviceClass", DeviceClass::from_json)
}

/// ResourceClaims from JSON text.
///
/// # Errors
/// As [`slices_from_json_str`].
pub fn claims_from_json_str(text: &str) -> Result<Vec<ResourceClaim>> {
    read_all(text, "ResourceClaim", ResourceClaim::from_json)
}

/// One Node from JSON text.
///
/// # Errors
/// [`Error::Value`] for text that is not JSON; [`Error::Object`] for a malformed Node.
pub fn node_from_json_str(text: &str) -> Result<Node> {
    Node::from_json(&parse(text, "Node")?)
}

/// The results as a JSON array of `status.allocation` objects.
#[must_use]
pub fn results_to_json_string(results: &[AllocationResult]) -> String {
    Value::Array(results.iter().map(AllocationResult::to_json).collect()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_array_and_list() {
        let one = r#"{"metadata": {"name": "n1", "labels": {"a": "b"}}}"#;
        assert_eq!(node_from_json_str(one).unwrap().name, "n1");
        let class = r#"{"kind": "DeviceClass", "metadata": {"name": "c"}, "spec": {}}"#;
        assert_eq!(classes_from_json_str(class).unwrap().len(), 1);
        assert_eq!(
            classes_from_json_str(&format!("[{class},{class}]"))
                .unwrap()
                .len(),
            2
        );
        let list = format!(r#"{{"kind": "DeviceClassList", "items": [{class}]}}"#);
        assert_eq!(classes_from_json_str(&list).unwrap().len(), 1);
        // As a client returns it: with the list's own metadata.
        let listed = format!(
            r#"{{"kind": "DeviceClassList", "metadata": {{"resourceVersion": "7"}},
                 "items": [{class},{class}]}}"#
        );
        assert_eq!(classes_from_json_str(&listed).unwrap().len(), 2);
        assert!(matches!(classes_from_json_str("{"), Err(Error::Value(_))));
        let wrong = r#"{"kind": "Node", "metadata": {"name": "c"}, "spec": {}}"#;
        assert!(matches!(
            classes_from_json_str(wrong),
            Err(Error::Object { path, .. }) if path == "kind"
        ));
        assert_eq!(results_to_json_string(&[]), "[]");
    }
}
