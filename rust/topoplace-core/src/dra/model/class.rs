//! DeviceClass, and the device selectors and opaque configuration that classes and claims share.

use serde_json::Value;

use super::json::At;
use super::names;
use crate::error::Result;

/// At most this many selectors per class or request.
pub const MAX_SELECTORS: usize = 32;
/// At most this many configuration entries per class or claim.
pub const MAX_CONFIGS: usize = 32;
/// A CEL expression is at most this many bytes.
pub const MAX_CEL_LENGTH: usize = 10 * 1024;

/// A device selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DeviceSelector {
    /// `cel.expression`: a CEL expression over `device`.
    Cel(String),
    /// A selector with no kind this model knows (e.g. `{}`): the allocator refuses it with
    /// upstream's "CEL expression empty (unsupported selector type?)".
    Unknown,
}

impl DeviceSelector {
    fn read(at: &At<'_>) -> Result<Self> {
        at.map()?;
        match at.opt("cel")? {
            None => Ok(Self::Unknown),
            Some(cel) => {
                let e = cel.req("expression")?;
                let text = e.str()?;
                if text.len() > MAX_CEL_LENGTH {
                    return Err(e.err(format!(
                        "must be at most {MAX_CEL_LENGTH} bytes, got {}",
                        text.len()
                    )));
                }
                Ok(Self::Cel(text.to_owned()))
            }
        }
    }

    /// Reads the selector list `key` of `at`.
    pub(crate) fn read_list(at: &At<'_>, key: &str) -> Result<Vec<Self>> {
        at.list_max(key, MAX_SELECTORS)?
            .iter()
            .map(Self::read)
            .collect()
    }
}

/// Opaque, driver-specific configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueConfig {
    /// The driver it is for (a DNS subdomain).
    pub driver: String,
    /// The parameters: any JSON, passed to the driver unchanged.
    pub parameters: Value,
}

impl OpaqueConfig {
    /// Reads the `opaque` field of `at` (required).
    pub(crate) fn read_in(at: &At<'_>) -> Result<Self> {
        let o = at.opt("opaque")?.ok_or_else(|| {
            at.field_err(
                "opaque",
                "required field is missing (the only configuration kind)",
            )
        })?;
        Ok(Self {
            driver: o.req("driver")?.name(names::driver_name)?.to_owned(),
            parameters: o.req("parameters")?.v.clone(),
        })
    }

    /// The API's JSON shape.
    #[must_use]
    pub fn to_json(&self) -> Value {
        serde_json::json!({ "driver": self.driver, "parameters": self.parameters })
    }
}

/// A DeviceClass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceClass {
    /// `metadata.name`.
    pub name: String,
    /// `spec.selectors`: every one must match a device of the class.
    pub selectors: Vec<DeviceSelector>,
    /// `spec.config[].opaque`: configuration for devices allocated through the class.
    pub config: Vec<OpaqueConfig>,
    /// `spec.extendedResourceName`: the extended resource the class serves, if any.
    pub extended_resource_name: Option<String>,
}

impl DeviceClass {
    /// Reads a `resource.k8s.io/v1` DeviceClass.
    ///
    /// # Errors
    /// [`crate::Error::Object`] naming the class and the field's JSON path.
    pub fn from_json(value: &Value) -> Result<Self> {
        let label = super::label("DeviceClass", value);
        let root = At::root(value, &label);
        let name = super::meta_name(&root)?;
        let spec = root.req("spec")?;
        let config = spec
            .list_max("config", MAX_CONFIGS)?
            .iter()
            .map(OpaqueConfig::read_in)
            .collect::<Result<_>>()?;
        let extended_resource_name = spec
            .opt("extendedResourceName")?
            .map(|e| e.name(names::label_key).map(str::to_owned))
            .transpose()?;
        let selectors = DeviceSelector::read_list(&spec, "selectors")?;
        Ok(Self {
            name,
            selectors,
            config,
            extended_resource_name,
        })
    }
}
