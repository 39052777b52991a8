//! DRA device selectors in CEL (`DeviceSelector.cel.expression`), evaluated with the `cel`
//! crate (cel-rust) plus the Kubernetes additions selectors use, following the scheduler's
//! `k8s.io/dynamic-resource-allocation/cel` package:
//!
//! - `device.driver`, `device.allowMultipleAllocations`, and the map-of-maps
//!   `device.attributes["domain"].name` / `device.capacity["domain"].name`. A domain the device
//!   lacks is an empty map (`has()` and `in` are false); a missing name inside a domain is a
//!   runtime error `no such key: name`.
//! - `quantity()` with `isGreaterThan`, `isLessThan`, `compareTo`, `add`, `sub`, `asInteger`,
//!   `asApproximateFloat`, `isInteger`, `sign`, `isQuantity()`; `semver()` (and
//!   `semver(s, true)` to normalize) with `major`, `minor`, `patch`, `isGreaterThan`,
//!   `isLessThan`, `compareTo`, `isSemver()`; `version` attributes are semvers.
//! - The strings extension library, the list functions `sum`, `min`, `max`, `indexOf`,
//!   `lastIndexOf`, `isSorted`, and `cel.bind`.
//! - `&&` and `||` absorb errors as CEL specifies: `false && error` is `false`, `true || error`
//!   is `true` (in either order).
//!
//! Speed: the selectors DeviceClasses are made of (`device.driver == "..."` and
//! `device.attributes["domain"].name == <literal>`, joined by `&&`) are recognised at compile
//! time and evaluated directly (`fast`), with the interpreter's answer; anything the direct
//! evaluation cannot decide exactly (a missing attribute, a type mismatch) is interpreted.
//!
//! Errors: [`SelectorError`] prints as the scheduler's allocator words them after the claim or
//! class and selector index (`CEL compile error: compilation failed: ...`, `CEL runtime error:
//! no such key: model`). Upstream, **any** selector error, compile or runtime, fails the whole
//! allocation attempt; it does not merely skip the device. A callers should do the same.
//!
//! Not done (see the module's tests for what is): the cost limits (cel-rust has no cost
//! estimator nor runtime cost tracking), full static type checking (only an undeclared
//! identifier and an obviously non-bool result are compile errors; other type errors surface at
//! run time), and the Kubernetes URL, IP/CIDR, regex `find`/`findAll` and format libraries.

mod device;
mod fast;
mod k8s;
mod lists;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue};
use cel::common::types::CelBool;
use cel::common::value::CowVal;
use cel::context::VariableResolver;
use cel::{Context, Env, ExecutionError, Program, Value};

use crate::dra::value::{AttrValue, QualifiedName, Quantity};
use device::DeviceVal;
use fast::Fast;

/// What a selector sees of a device: the `device` variable.
#[derive(Debug, Clone, Copy)]
pub struct DeviceEnv<'a> {
    /// `device.driver`.
    pub driver: &'a str,
    /// `device.attributes`, by fully qualified name (bare names already in the driver's domain).
    pub attributes: &'a BTreeMap<QualifiedName, AttrValue>,
    /// `device.capacity`, by fully qualified name.
    pub capacity: &'a BTreeMap<QualifiedName, Quantity>,
    /// `device.allowMultipleAllocations`.
    pub allow_multiple_allocations: bool,
}

/// Whether a selector failed to compile or to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectorErrorKind {
    /// Invalid CEL, an undeclared identifier or a result that cannot be a bool.
    Compile,
    /// An error while evaluating against a device.
    Runtime,
}

impl fmt::Display for SelectorErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Compile => "compile",
            Self::Runtime => "runtime",
        })
    }
}

/// A selector error, printed `CEL compile error: ...` or `CEL runtime error: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CEL {kind} error: {message}")]
pub struct SelectorError {
    /// Compile or runtime.
    pub kind: SelectorErrorKind,
    /// What went wrong, in upstream's words where they are known.
    pub message: String,
}

impl SelectorError {
    fn compile(message: impl Into<String>) -> Self {
        Self {
            kind: SelectorErrorKind::Compile,
            message: message.into(),
        }
    }

    fn runtime(message: impl Into<String>) -> Self {
        Self {
            kind: SelectorErrorKind::Runtime,
            message: message.into(),
        }
    }
}

impl From<SelectorError> for crate::Error {
    fn from(e: SelectorError) -> Self {
        Self::Value(e.to_string())
    }
}

/// The environment every selector compiles and runs in, built once.
fn env() -> &'static Arc<Env> {
    static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
        let mut env = Env::stdlib();
        // Both only fail on a duplicate declaration, which would be a bug here.
        env.add_extension(cel::extensions::strings)
            .expect("strings extension declares no duplicate");
        k8s::register(&mut env).expect("Kubernetes libraries declare no duplicate");
        lists::register(&mut env).expect("list library declares no duplicate");
        Arc::new(env)
    });
    &ENV
}

/// The longest expression accepted (the API's limit for a selector).
const MAX_EXPRESSION_LEN: usize = 10 * 1024;
/// The deepest expression tree accepted, so that evaluating and dropping one stays shallow.
const MAX_DEPTH: usize = 64;
/// The stack of the thread that parses.
const COMPILE_STACK: usize = 64 << 20;

/// The depth of an expression tree.
fn depth(e: &IdedExpr) -> usize {
    let children: Vec<&IdedExpr> = match &e.expr {
        Expr::Select(s) => vec![&s.operand],
        Expr::Call(c) => c.target.iter().map(AsRef::as_ref).chain(&c.args).collect(),
        Expr::List(l) => l.elements.iter().collect(),
        Expr::Map(m) => m.entries.iter().flat_map(entry_children).collect(),
        Expr::Struct(s) => s.entries.iter().flat_map(entry_children).collect(),
        Expr::Comprehension(c) => vec![
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    };
    1 + children.into_iter().map(depth).max().unwrap_or(0)
}

fn entry_children(entry: &cel::common::ast::IdedEntryExpr) -> Vec<&IdedExpr> {
    match &entry.expr {
        EntryExpr::MapEntry(me) => vec![&me.key, &me.value],
        EntryExpr::StructField(f) => vec![&f.value],
    }
}

/// Identifiers an expression may use besides `device` and comprehension variables.
const TYPE_NAMES: &[&str] = &[
    "bool",
    "bytes",
    "double",
    "dyn",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "type",
    "uint",
];

/// The first identifier that is neither `device`, a type name, nor bound by a comprehension.
fn undeclared<'e>(e: &'e IdedExpr, scope: &mut Vec<&'e str>) -> Option<(u64, &'e str)> {
    match &e.expr {
        Expr::Ident(name) => {
            let known = name == "device"
                || TYPE_NAMES.contains(&name.as_str())
                || scope.contains(&name.as_str());
            (!known).then_some((e.id, name.as_str()))
        }
        Expr::Select(s) => undeclared(&s.operand, scope),
        Expr::Call(c) => c
            .target
            .iter()
            .map(AsRef::as_ref)
            .chain(&c.args)
            .find_map(|a| undeclared(a, scope)),
        Expr::List(l) => l.elements.iter().find_map(|a| undeclared(a, scope)),
        Expr::Map(m) => m.entries.iter().find_map(|entry| match &entry.expr {
            EntryExpr::MapEntry(me) => {
                undeclared(&me.key, scope).or_else(|| undeclared(&me.value, scope))
            }
            EntryExpr::StructField(f) => undeclared(&f.value, scope),
        }),
        Expr::Struct(s) => s.entries.iter().find_map(|entry| match &entry.expr {
            EntryExpr::MapEntry(me) => undeclared(&me.value, scope),
            EntryExpr::StructField(f) => undeclared(&f.value, scope),
        }),
        Expr::Comprehension(c) => {
            if let Some(hit) =
                undeclared(&c.iter_range, scope).or_else(|| undeclared(&c.accu_init, scope))
            {
                return Some(hit);
            }
            let depth = scope.len();
            scope.push(&c.iter_var);
            scope.extend(c.iter_var2.as_deref());
            scope.push(&c.accu_var);
            let hit = [&c.loop_cond, &c.loop_step, &c.result]
                .into_iter()
                .find_map(|a| undeclared(a, scope));
            scope.truncate(depth);
            hit
        }
        Expr::Literal(_) | Expr::Unspecified => None,
    }
}

/// The type of an expression when it is known without evaluating (literals, operators over
/// them, and functions of a fixed result type); `None` for anything depending on `device`.
fn static_type(e: &IdedExpr) -> Option<&'static str> {
    match &e.expr {
        Expr::Literal(lit) => Some(match lit {
            LiteralValue::Boolean(_) => "bool",
            LiteralValue::Int(_) => "int",
            LiteralValue::UInt(_) => "uint",
            LiteralValue::Double(_) => "double",
            LiteralValue::String(_) => "string",
            LiteralValue::Bytes(_) => "bytes",
            LiteralValue::Null => "null_type",
        }),
        Expr::List(_) => Some("list(dyn)"),
        Expr::Map(_) => Some("map(dyn, dyn)"),
        Expr::Call(c) => match c.func_name.as_str() {
            "_==_" | "_!=_" | "_<_" | "_<=_" | "_>_" | "_>=_" | "_&&_" | "_||_" | "!_" | "@in"
            | "startsWith" | "endsWith" | "contains" | "matches" | "isQuantity" | "isSemver"
            | "isGreaterThan" | "isLessThan" => Some("bool"),
            "size" | "compareTo" | "major" | "minor" | "patch" | "int" => Some("int"),
            "string" | "lowerAscii" | "upperAscii" | "trim" => Some("string"),
            "quantity" => Some("kubernetes.Quantity"),
            "semver" => Some("kubernetes.Semver"),
            "_+_" | "_-_" | "_*_" | "_/_" | "_%_" | "-_" | "_?_:_" => {
                let mut types = c.args.iter().skip(usize::from(c.func_name == "_?_:_"));
                let first = static_type(types.next()?)?;
                types
                    .all(|a| static_type(a) == Some(first))
                    .then_some(first)
            }
            _ => None,
        },
        _ => None,
    }
}

/// A compiled selector expression.
#[derive(Debug)]
pub struct Selector {
    expression: String,
    program: Program,
    /// The direct evaluator, when the expression has one of its shapes.
    fast: Option<Fast>,
}

/// Hands out the `device` variable, borrowed: no map is built per evaluation.
struct Resolver<'a>(DeviceVal<'a>);

impl VariableResolver for Resolver<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        (variable == "device").then_some(CowVal::Borrowed(&self.0))
    }
}

/// Upstream's (cel-go's) wording of an evaluation error, where it differs from cel-rust's.
fn runtime_message(e: ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(key) => format!("no such key: {key}"),
        ExecutionError::FunctionError { message, .. } => message,
        ExecutionError::DivisionByZero(_) => "division by zero".to_owned(),
        ExecutionError::RemainderByZero(_) => "modulus by zero".to_owned(),
        ExecutionError::UndeclaredReference(name) => format!("undeclared reference to '{name}'"),
        other => other.to_string(),
    }
}

impl Selector {
    /// Compiles `expression`.
    ///
    /// # Errors
    /// A compile [`SelectorError`] for invalid CEL, an undeclared identifier, or a result that
    /// is known not to be a bool.
    pub fn compile(expression: &str) -> Result<Self, SelectorError> {
        if expression.len() > MAX_EXPRESSION_LEN {
            return Err(SelectorError::compile(format!(
                "compilation failed: expression longer than {MAX_EXPRESSION_LEN} bytes"
            )));
        }
        // The ANTLR parser recurses deeply (over 100 KiB of stack per nesting level in a debug
        // build, up to its limit of 96 levels): parse on a thread with a stack large enough for
        // that, so that no input can overflow the caller's stack.
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("cel-compile".to_owned())
                .stack_size(COMPILE_STACK)
                .spawn_scoped(scope, || Self::compile_here(expression))
                .map_err(|e| SelectorError::compile(format!("compilation failed: {e}")))?
                .join()
                .unwrap_or_else(|_| Err(SelectorError::compile("compilation failed: panic")))
        })
    }

    fn compile_here(expression: &str) -> Result<Self, SelectorError> {
        let program = env()
            .compile(expression)
            .map_err(|e| SelectorError::compile(format!("compilation failed: {e}")))?;
        let root = program.expression();
        let at = |id| {
            let (line, col) = program.source_info().offset_for(id).unwrap_or((1, 0));
            format!("ERROR: <input>:{line}:{col}")
        };
        if let Some((id, name)) = undeclared(root, &mut Vec::new()) {
            return Err(SelectorError::compile(format!(
                "compilation failed: {}: undeclared reference to '{name}' (in container '')",
                at(id)
            )));
        }
        if depth(root) > MAX_DEPTH {
            return Err(SelectorError::compile(format!(
                "compilation failed: expression nested deeper than {MAX_DEPTH}"
            )));
        }
        if let Some(ty) = static_type(root).filter(|t| *t != "bool") {
            return Err(SelectorError::compile(format!(
                "must evaluate to bool or the unknown type, not {ty}"
            )));
        }
        Ok(Self {
            expression: expression.to_owned(),
            fast: Fast::compile(root),
            program,
        })
    }

    /// The expression text.
    #[must_use]
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Whether `device` matches.
    ///
    /// # Errors
    /// A runtime [`SelectorError`]: a missing attribute (`no such key: name`), a type error,
    /// a failing function, or a result that is not a bool.
    pub fn matches(&self, device: &DeviceEnv<'_>) -> Result<bool, SelectorError> {
        match self.try_fast(device.driver, device.attributes) {
            Some(hit) => Ok(hit),
            None => self.interpret(device),
        }
    }

    /// [`Self::matches`] when it can be answered from the driver and attributes alone, without
    /// the interpreter and without an error: selectors made of `device.driver == "..."` and
    /// `device.attributes["domain"].name == <literal>` terms joined by `&&`, for devices that
    /// have the attributes with the literals' types. `None` when [`Self::matches`] is needed.
    #[must_use]
    pub fn try_fast(
        &self,
        driver: &str,
        attributes: &BTreeMap<QualifiedName, AttrValue>,
    ) -> Option<bool> {
        self.fast.as_ref()?.eval(driver, attributes)
    }

    /// Whether the selector has a fast form ([`Self::try_fast`] can answer).
    #[must_use]
    pub const fn has_fast_path(&self) -> bool {
        self.fast.is_some()
    }

    /// [`Self::matches`] through the interpreter only.
    fn interpret(&self, device: &DeviceEnv<'_>) -> Result<bool, SelectorError> {
        let resolver = Resolver(DeviceVal::new(device));
        // What the crate forces per evaluation: a root `Context` (an `Arc` clone of the
        // environment and two empty `BTreeMap`s, which do not allocate).
        let mut ctx = Context::with_env(Arc::clone(env()));
        ctx.set_variable_resolver(&resolver);
        let out = Value::resolve_val(self.program.expression(), &ctx)
            .map_err(|e| SelectorError::runtime(runtime_message(e)))?;
        out.downcast_ref::<CelBool>()
            .map(|b| *b.inner())
            .ok_or_else(|| {
                SelectorError::runtime(format!(
                    "CEL result of type {} could not be converted to bool",
                    out.get_type().name()
                ))
            })
    }
}

/// A thread-safe cache of compiled selectors by expression text (compile errors included, as
/// upstream), holding at most `capacity` entries and evicting the least recently used.
#[derive(Debug)]
pub struct SelectorCache {
    capacity: usize,
    inner: Mutex<CacheInner>,
}

type Compiled = Result<Arc<Selector>, SelectorError>;

#[derive(Debug, Default)]
struct CacheInner {
    tick: u64,
    entries: BTreeMap<String, (Compiled, u64)>,
}

impl SelectorCache {
    /// A cache of at most `capacity` (at least 1) selectors.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(CacheInner::default()),
        }
    }

    /// The compiled `expression`, compiling it on a miss.
    ///
    /// # Errors
    /// The expression's compile error (cached too).
    pub fn get(&self, expression: &str) -> Result<Arc<Selector>, SelectorError> {
        {
            let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            inner.tick += 1;
            let tick = inner.tick;
            if let Some((hit, used)) = inner.entries.get_mut(expression) {
                *used = tick;
                return hit.clone();
            }
        }
        // Compile outside the lock; a concurrent miss on the same text compiles twice.
        let compiled = Selector::compile(expression).map(Arc::new);
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.entries.len() >= self.capacity
            && let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
        {
            inner.entries.remove(&oldest);
        }
        let tick = inner.tick;
        inner
            .entries
            .insert(expression.to_owned(), (compiled.clone(), tick));
        compiled
    }

    /// How many selectors are cached.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }

    /// Whether the cache is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for SelectorCache {
    /// Room for 1024 selectors.
    fn default() -> Self {
        Self::new(1024)
    }
}
