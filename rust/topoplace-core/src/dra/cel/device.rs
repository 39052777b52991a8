//! The `device` variable as CEL values that look straight into the caller's maps.
//!
//! Upstream builds a `map[string]any` of maps for every evaluation (and notes a proxy would be
//! cheaper); here `device`, `device.attributes`, `device.capacity` and each per-domain map are
//! small views over the [`DeviceEnv`] borrowed for the evaluation. A lookup walks the
//! (domain, name)-sorted map; a value is boxed only when it is read. What the `cel` crate forces:
//! each value handed out by an index is a `CowVal::Owned(Box<dyn Val>)` (one small allocation per
//! field read), and iteration must hand out references, so the key list of a map is built (once
//! per view) only when an expression iterates over it.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use cel::ExecutionError;
use cel::common::traits::{Container, Indexer, Iterable, Iterator as CelIterator, Sizer};
use cel::common::types::{CelBool, CelInt, CelString, MAP_TYPE, Type};
use cel::common::value::{CowVal, Val};

use super::DeviceEnv;
use super::k8s::{QuantityVal, SemverVal};
use crate::dra::value::{AttrValue, QualifiedName, Quantity};

static DEVICE_TYPE: Type = Type::new_unspecified_type("kubernetes.DRADevice");

/// The string behind an index, or the error CEL reports for a key of the wrong type.
fn key_str(idx: &dyn Val) -> Result<&str, ExecutionError> {
    idx.downcast_ref::<CelString>()
        .map(CelString::inner)
        .ok_or_else(|| ExecutionError::UnexpectedType {
            got: idx.get_type().name().to_owned(),
            want: "string".to_owned(),
        })
}

/// `device`: a struct with `driver`, `attributes`, `capacity`, `allowMultipleAllocations`.
#[derive(Debug, Clone, Copy)]
pub(super) struct DeviceVal<'a> {
    pub(super) driver: &'a str,
    pub(super) attributes: &'a BTreeMap<QualifiedName, AttrValue>,
    pub(super) capacity: &'a BTreeMap<QualifiedName, Quantity>,
    pub(super) allow_multiple_allocations: bool,
}

impl<'a> DeviceVal<'a> {
    pub(super) const fn new(env: &DeviceEnv<'a>) -> Self {
        Self {
            driver: env.driver,
            attributes: env.attributes,
            capacity: env.capacity,
            allow_multiple_allocations: env.allow_multiple_allocations,
        }
    }
}

impl Val for DeviceVal<'_> {
    fn get_type(&self) -> &Type {
        &DEVICE_TYPE
    }
    fn cel_type() -> &'static Type {
        &DEVICE_TYPE
    }
    fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
    where
        Self: 'v,
    {
        Some(self)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
    where
        Self: 'v,
    {
        Box::new(*self)
    }
}

impl Indexer for DeviceVal<'_> {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        match key_str(idx)? {
            "driver" => Ok(CowVal::owned(CelString::from(self.driver))),
            "allowMultipleAllocations" => Ok(CowVal::owned(CelBool::from(
                self.allow_multiple_allocations,
            ))),
            "attributes" => Ok(CowVal::owned(Domains::new(self.attributes))),
            "capacity" => Ok(CowVal::owned(Domains::new(self.capacity))),
            other => Err(ExecutionError::no_such_key(other)),
        }
    }
    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

/// How a stored value becomes a CEL value.
pub(super) trait ToCel: std::fmt::Debug + Sync {
    fn to_cel<'v>(&'v self, name: &QualifiedName) -> Result<Box<dyn Val + 'v>, ExecutionError>;
}

impl ToCel for AttrValue {
    fn to_cel<'v>(&'v self, name: &QualifiedName) -> Result<Box<dyn Val + 'v>, ExecutionError> {
        Ok(match self {
            Self::Int(i) => Box::new(CelInt::from(*i)),
            Self::Bool(b) => Box::new(CelBool::from(*b)),
            Self::String(s) => Box::new(CelString::from(s.as_str())),
            Self::Version(v) => Box::new(SemverVal::parse(v, false).map_err(|e| {
                ExecutionError::function_error(
                    "attribute",
                    format!("attribute {name}: parse semantic version: {e}"),
                )
            })?),
        })
    }
}

impl ToCel for Quantity {
    fn to_cel<'v>(&'v self, _: &QualifiedName) -> Result<Box<dyn Val + 'v>, ExecutionError> {
        Ok(Box::new(QuantityVal(*self)))
    }
}

/// Iterates over keys built on demand.
struct KeyIter<'b, 'a>(std::slice::Iter<'b, CelString<'a>>);

impl<'b, 'v, 'a: 'v> CelIterator<'b, 'v> for KeyIter<'b, 'a> {
    fn next(&mut self) -> Option<&'b (dyn Val + 'v)> {
        self.0.next().map(|k| k as &dyn Val)
    }
}

/// `device.attributes` / `device.capacity`: domain -> map of names. A missing domain is an
/// empty map, as upstream.
#[derive(Debug)]
pub(super) struct Domains<'a, V> {
    map: &'a BTreeMap<QualifiedName, V>,
    keys: OnceLock<Vec<CelString<'a>>>,
}

impl<'a, V> Domains<'a, V> {
    const fn new(map: &'a BTreeMap<QualifiedName, V>) -> Self {
        Self {
            map,
            keys: OnceLock::new(),
        }
    }
    fn domains(&self) -> &[CelString<'a>] {
        self.keys.get_or_init(|| {
            let mut out: Vec<CelString<'a>> = Vec::new();
            for qn in self.map.keys() {
                if out.last().is_none_or(|d| d.inner() != qn.domain) {
                    out.push(CelString::from(qn.domain.as_str()));
                }
            }
            out
        })
    }
}

/// The `Val` of a map-like view: a CEL map that indexes, contains, iterates over its keys and
/// has a size; `$clone` rebuilds the view (its key cache starts empty).
macro_rules! map_view_val {
    ($view:ident, |$s:ident| $clone:expr) => {
        impl<V: ToCel> Val for $view<'_, V> {
            fn get_type(&self) -> &Type {
                &MAP_TYPE
            }
            fn cel_type() -> &'static Type {
                &MAP_TYPE
            }
            fn as_indexer<'b, 'v>(&'b self) -> Option<&'b (dyn Indexer + 'v)>
            where
                Self: 'v,
            {
                Some(self)
            }
            fn as_container(&self) -> Option<&dyn Container> {
                Some(self)
            }
            fn as_iterable<'b, 'v>(&'b self) -> Option<&'b (dyn Iterable + 'v)>
            where
                Self: 'v,
            {
                Some(self)
            }
            fn as_sizer(&self) -> Option<&dyn Sizer> {
                Some(self)
            }
            fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v>
            where
                Self: 'v,
            {
                let $s = self;
                Box::new($clone)
            }
            fn as_any(&self) -> Option<&dyn Any> {
                None
            }
        }
    };
}

map_view_val!(Domains, |s| Domains::new(s.map));
map_view_val!(DomainView, |s| DomainView {
    map: s.map,
    domain: s.domain,
    keys: OnceLock::new(),
});

impl<V: ToCel> Indexer for Domains<'_, V> {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let key = key_str(idx)?;
        let domain = self
            .map
            .keys()
            .find(|qn| qn.domain == key)
            .map(|qn| qn.domain.as_str());
        Ok(CowVal::owned(DomainView {
            map: self.map,
            domain,
            keys: OnceLock::new(),
        }))
    }
    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

impl<V: ToCel> Container for Domains<'_, V> {
    fn contains(&self, key: &dyn Val) -> Result<bool, ExecutionError> {
        let key = key_str(key)?;
        Ok(self.map.keys().any(|qn| qn.domain == key))
    }
}

impl<V: ToCel> Iterable for Domains<'_, V> {
    fn iter<'b, 'v>(&'b self) -> Box<dyn CelIterator<'b, 'v> + 'b>
    where
        Self: 'v,
    {
        Box::new(KeyIter(self.domains().iter()))
    }
}

impl<V: ToCel> Sizer for Domains<'_, V> {
    fn size(&self) -> CelInt {
        CelInt::from(i64::try_from(self.domains().len()).unwrap_or(i64::MAX))
    }
}

/// `device.attributes["domain"]`: the names of one domain (`None`: a domain the device lacks).
#[derive(Debug)]
pub(super) struct DomainView<'a, V> {
    map: &'a BTreeMap<QualifiedName, V>,
    domain: Option<&'a str>,
    keys: OnceLock<Vec<CelString<'a>>>,
}

impl<'a, V> DomainView<'a, V> {
    fn entries(&self) -> impl Iterator<Item = (&'a QualifiedName, &'a V)> + use<'a, V> {
        let domain = self.domain;
        let map: &'a BTreeMap<QualifiedName, V> = self.map;
        map.iter()
            .filter(move |(qn, _)| domain.is_some_and(|d| qn.domain == d))
    }
    fn names(&self) -> &[CelString<'a>] {
        self.keys.get_or_init(|| {
            self.entries()
                .map(|(qn, _)| CelString::from(qn.name.as_str()))
                .collect()
        })
    }
}

impl<V: ToCel> Indexer for DomainView<'_, V> {
    fn get<'b, 'v>(&'b self, idx: &dyn Val) -> Result<CowVal<'b, 'v>, ExecutionError>
    where
        Self: 'v,
    {
        let key = key_str(idx)?;
        match self.entries().find(|(qn, _)| qn.name == key) {
            Some((qn, value)) => value.to_cel(qn).map(CowVal::Owned),
            None => Err(ExecutionError::no_such_key(key)),
        }
    }
    fn steal<'v>(self: Box<Self>, idx: &dyn Val) -> Result<Box<dyn Val + 'v>, ExecutionError>
    where
        Self: 'v,
    {
        self.get(idx).map(CowVal::into_owned)
    }
}

impl<V: ToCel> Container for DomainView<'_, V> {
    fn contains(&self, key: &dyn Val) -> Result<bool, ExecutionError> {
        let key = key_str(key)?;
        Ok(self.entries().any(|(qn, _)| qn.name == key))
    }
}

impl<V: ToCel> Iterable for DomainView<'_, V> {
    fn iter<'b, 'v>(&'b self) -> Box<dyn CelIterator<'b, 'v> + 'b>
    where
        Self: 'v,
    {
        Box::new(KeyIter(self.names().iter()))
    }
}

impl<V: ToCel> Sizer for DomainView<'_, V> {
    fn size(&self) -> CelInt {
        CelInt::from(i64::try_from(self.entries().count()).unwrap_or(i64::MAX))
    }
}
