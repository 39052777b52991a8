//! The Kubernetes additions to CEL that DRA selectors may use: the quantity and semver
//! libraries (the list functions and `cel.bind` are in `lists`).

use std::any::Any;
use std::cmp::Ordering;

use cel::common::types::{
    BOOL_TYPE, CelBool, CelDouble, CelInt, CelString, INT_TYPE, STRING_TYPE, Type,
};
use cel::common::value::{CowVal, StaticVal, Val};
use cel::{DeclarationError, Env, ExecutionError};

use crate::dra::value::Quantity;

const QUANTITY_TYPE: Type = Type::new_unspecified_type("kubernetes.Quantity");
const SEMVER_TYPE: Type = Type::new_unspecified_type("kubernetes.Semver");
// `get_type` hands out `&'static Type`; the consts above feed the overload declarations.
static QUANTITY: Type = QUANTITY_TYPE;
static SEMVER: Type = SEMVER_TYPE;
const NANO: i128 = 1_000_000_000;

type Out<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

/// A quantity as a CEL value (`quantity("1Gi")`, `device.capacity[d].memory`).
#[derive(Debug, Clone, Copy)]
pub(super) struct QuantityVal(pub(super) Quantity);

impl Val for QuantityVal {
    fn get_type(&self) -> &Type {
        &QUANTITY
    }
    fn cel_type() -> &'static Type {
        &QUANTITY
    }
    fn equals(&self, other: &dyn Val) -> bool {
        other.downcast_ref::<Self>().is_some_and(|o| o.0 == self.0)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(*self)
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}
impl StaticVal for QuantityVal {}

/// A semantic version (`semver("1.2.3")`, a `version` attribute). Build metadata is kept but,
/// as in semver, takes no part in comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SemverVal {
    core: [u64; 3],
    pre: Vec<String>,
}

impl SemverVal {
    /// Parses strict semver 2.0.0; with `normalize`, also `v1`, `1.2` and leading zeros.
    pub(super) fn parse(text: &str, normalize: bool) -> Result<Self, String> {
        let bad = |why: &str| format!("{text:?} is not a semantic version: {why}");
        let mut t = text;
        if normalize {
            t = t.strip_prefix('v').unwrap_or(t);
        }
        let (rest, build) = t.split_once('+').map_or((t, None), |(a, b)| (a, Some(b)));
        let (core, pre) = rest
            .split_once('-')
            .map_or((rest, None), |(a, b)| (a, Some(b)));
        let ident_ok =
            |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
        if let Some(b) = build
            && !b.split('.').all(ident_ok)
        {
            return Err(bad("invalid build metadata"));
        }
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() > 3 || (!normalize && parts.len() != 3) {
            return Err(bad("expected MAJOR.MINOR.PATCH"));
        }
        let mut nums = [0u64; 3];
        for (slot, part) in nums.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad("version numbers must be digits"));
            }
            if !normalize && part.len() > 1 && part.starts_with('0') {
                return Err(bad("version numbers must not have leading zeros"));
            }
            *slot = part.parse().map_err(|_| bad("version number too large"))?;
        }
        let pre: Vec<String> = match pre {
            None => Vec::new(),
            Some(p) => p.split('.').map(str::to_owned).collect(),
        };
        for id in &pre {
            let numeric = id.bytes().all(|c| c.is_ascii_digit());
            if !ident_ok(id) || (numeric && id.len() > 1 && id.starts_with('0')) {
                return Err(bad("invalid pre-release identifier"));
            }
        }
        Ok(Self { core: nums, pre })
    }

    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => return Ordering::Equal,
                (true, false) => return Ordering::Greater,
                (false, true) => return Ordering::Less,
                (false, false) => {}
            }
            for (a, b) in self.pre.iter().zip(&other.pre) {
                let ord = match (a.parse::<u64>(), b.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => a.cmp(b),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            self.pre.len().cmp(&other.pre.len())
        })
    }
}

impl Val for SemverVal {
    fn get_type(&self) -> &Type {
        &SEMVER
    }
    fn cel_type() -> &'static Type {
        &SEMVER
    }
    fn equals(&self, other: &dyn Val) -> bool {
        other
            .downcast_ref::<Self>()
            .is_some_and(|o| o.cmp(self) == Ordering::Equal)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}
impl StaticVal for SemverVal {}

fn arg<'b, T: StaticVal>(
    function: &str,
    args: &'b [CowVal<'_, '_>],
    i: usize,
) -> Result<&'b T, ExecutionError> {
    let val = args
        .get(i)
        .ok_or_else(|| ExecutionError::invalid_argument_count(i + 1, args.len()))?;
    val.as_ref().downcast_ref::<T>().ok_or_else(|| {
        ExecutionError::no_such_overload(function, vec![val.get_type().name().to_owned()])
    })
}

fn str_arg<'b>(args: &'b [CowVal<'_, '_>], i: usize) -> Result<&'b str, ExecutionError> {
    args.get(i)
        .and_then(|v| v.as_ref().downcast_ref::<CelString>())
        .map(CelString::inner)
        .ok_or_else(|| ExecutionError::invalid_argument_count(i + 1, args.len()))
}

fn int_arg(args: &[CowVal<'_, '_>], i: usize) -> Option<i64> {
    args.get(i)
        .and_then(|v| v.as_ref().downcast_ref::<CelInt>())
        .map(|x| *x.inner())
}

fn bool_arg(args: &[CowVal<'_, '_>], i: usize) -> bool {
    args.get(i)
        .and_then(|v| v.as_ref().downcast_ref::<CelBool>())
        .is_some_and(|b| *b.inner())
}

fn ordering(o: Ordering) -> i64 {
    match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

fn owned<'b, 'v>(v: impl Val + 'v) -> Out<'b, 'v> {
    Ok(CowVal::owned(v))
}

fn quantity<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    let q = Quantity::parse(str_arg(&a, 0)?)
        .map_err(|e| ExecutionError::function_error("quantity", e))?;
    owned(QuantityVal(q))
}
fn is_quantity<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    owned(CelBool::from(Quantity::parse(str_arg(&a, 0)?).is_ok()))
}
fn q_self(a: &[CowVal<'_, '_>]) -> Result<Quantity, ExecutionError> {
    arg::<QuantityVal>("quantity", a, 0).map(|q| q.0)
}
/// The right operand of `add`/`sub`: a quantity or an int.
fn q_other(a: &[CowVal<'_, '_>]) -> Result<Quantity, ExecutionError> {
    match int_arg(a, 1) {
        Some(i) => Ok(Quantity::from_units(i)),
        None => arg::<QuantityVal>("quantity", a, 1).map(|q| q.0),
    }
}
fn q_sign<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    owned(CelInt::from(ordering(q_self(&a)?.nanos.cmp(&0))))
}
fn q_is_integer<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    let q = q_self(&a)?;
    owned(CelBool::from(
        q.nanos % NANO == 0 && i64::try_from(q.nanos / NANO).is_ok(),
    ))
}
fn q_as_integer<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    let q = q_self(&a)?;
    match i64::try_from(q.nanos / NANO) {
        Ok(i) if q.nanos % NANO == 0 => owned(CelInt::from(i)),
        _ => Err(ExecutionError::function_error(
            "asInteger",
            "cannot convert value to integer",
        )),
    }
}
#[allow(clippy::cast_precision_loss)]
fn q_as_float<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    owned(CelDouble::from(q_self(&a)?.nanos as f64 / 1e9))
}
fn q_add<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    owned(QuantityVal(q_self(&a)?.add(q_other(&a)?)))
}
fn q_sub<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    owned(QuantityVal(q_self(&a)?.sub(q_other(&a)?)))
}
fn q_cmp(a: &[CowVal<'_, '_>]) -> Result<Ordering, ExecutionError> {
    Ok(q_self(a)?.cmp(&arg::<QuantityVal>("compareTo", a, 1)?.0))
}
fn q_gt<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    owned(CelBool::from(q_cmp(&a)? == Ordering::Greater))
}
fn q_lt<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    owned(CelBool::from(q_cmp(&a)? == Ordering::Less))
}
fn q_compare<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    owned(CelInt::from(ordering(q_cmp(&a)?)))
}

fn semver<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    let v = SemverVal::parse(str_arg(&a, 0)?, bool_arg(&a, 1))
        .map_err(|e| ExecutionError::function_error("semver", e))?;
    owned(v)
}
fn is_semver<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    owned(CelBool::from(
        SemverVal::parse(str_arg(&a, 0)?, bool_arg(&a, 1)).is_ok(),
    ))
}
fn v_part<'b, 'v>(a: &[CowVal<'b, 'v>], i: usize) -> Out<'b, 'v> {
    let v = arg::<SemverVal>("semver", a, 0)?;
    let n = i64::try_from(v.core[i]).map_err(|e| ExecutionError::function_error("semver", e))?;
    owned(CelInt::from(n))
}
fn v_major<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    v_part(&a, 0)
}
fn v_minor<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    v_part(&a, 1)
}
fn v_patch<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    v_part(&a, 2)
}
fn v_cmp(a: &[CowVal<'_, '_>]) -> Result<Ordering, ExecutionError> {
    let x = arg::<SemverVal>("semver", a, 0)?;
    Ok(x.cmp(arg::<SemverVal>("compareTo", a, 1)?))
}
fn v_gt<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    owned(CelBool::from(v_cmp(&a)? == Ordering::Greater))
}
fn v_lt<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    owned(CelBool::from(v_cmp(&a)? == Ordering::Less))
}
fn v_compare<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    owned(CelInt::from(ordering(v_cmp(&a)?)))
}

/// Registers the quantity and semver libraries on `env`.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    type F = cel::common::functions::Function;
    let (q, v, s, b) = (
        || QUANTITY_TYPE,
        || SEMVER_TYPE,
        || STRING_TYPE,
        || BOOL_TYPE,
    );
    env.add_overload("quantity", "quantity_string", vec![s()], quantity)?;
    env.add_overload("isQuantity", "isQuantity_string", vec![s()], is_quantity)?;
    env.add_overload("semver", "semver_string", vec![s()], semver)?;
    env.add_overload("semver", "semver_string_bool", vec![s(), b()], semver)?;
    env.add_overload("isSemver", "isSemver_string", vec![s()], is_semver)?;
    env.add_overload(
        "isSemver",
        "isSemver_string_bool",
        vec![s(), b()],
        is_semver,
    )?;
    let members: [(&str, &str, Type, Vec<Type>, F); 17] = [
        ("sign", "quantity_sign", q(), vec![], q_sign),
        ("isInteger", "quantity_isInteger", q(), vec![], q_is_integer),
        ("asInteger", "quantity_asInteger", q(), vec![], q_as_integer),
        (
            "asApproximateFloat",
            "quantity_asFloat",
            q(),
            vec![],
            q_as_float,
        ),
        ("add", "quantity_add", q(), vec![q()], q_add),
        ("add", "quantity_add_int", q(), vec![INT_TYPE], q_add),
        ("sub", "quantity_sub", q(), vec![q()], q_sub),
        ("sub", "quantity_sub_int", q(), vec![INT_TYPE], q_sub),
        ("isGreaterThan", "quantity_gt", q(), vec![q()], q_gt),
        ("isLessThan", "quantity_lt", q(), vec![q()], q_lt),
        ("compareTo", "quantity_compareTo", q(), vec![q()], q_compare),
        ("major", "semver_major", v(), vec![], v_major),
        ("minor", "semver_minor", v(), vec![], v_minor),
        ("patch", "semver_patch", v(), vec![], v_patch),
        ("isGreaterThan", "semver_gt", v(), vec![v()], v_gt),
        ("isLessThan", "semver_lt", v(), vec![v()], v_lt),
        ("compareTo", "semver_compareTo", v(), vec![v()], v_compare),
    ];
    for (name, id, target, args, f) in members {
        env.add_member_overload(name, id, target, args, f)?;
    }
    Ok(())
}
