//! The list functions of the Kubernetes lists library (`sum`, `min`, `max`, `indexOf`,
//! `lastIndexOf`, `isSorted`) and the `cel.bind` macro.

use std::cmp::Ordering;

use cel::common::ast::{ComprehensionExpr, Expr, IdedExpr, ListExpr, LiteralValue};
use cel::common::types::{CelBool, CelInt, DYN_TYPE, LIST_TYPE};
use cel::common::value::{CowVal, Val};
use cel::parser::{Macro, MacroExprHelper, ParseError};
use cel::{DeclarationError, Env, ExecutionError};

type Out<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn owned<'b, 'v>(v: impl Val + 'v) -> Out<'b, 'v> {
    Ok(CowVal::owned(v))
}

/// The elements of the list receiver, cloned.
fn elements<'v>(a: &[CowVal<'_, 'v>]) -> Result<Vec<Box<dyn Val + 'v>>, ExecutionError> {
    let list = a
        .first()
        .and_then(|l| l.as_iterable())
        .ok_or_else(|| ExecutionError::invalid_argument_count(1, 0))?;
    let mut it = list.iter();
    let mut out = Vec::new();
    while let Some(v) = it.next() {
        out.push(v.clone_as_boxed());
    }
    Ok(out)
}
fn compare(x: &dyn Val, y: &dyn Val, f: &str) -> Result<Ordering, ExecutionError> {
    let types = || {
        vec![
            x.get_type().name().to_owned(),
            y.get_type().name().to_owned(),
        ]
    };
    x.as_comparer()
        .ok_or_else(|| ExecutionError::no_such_overload(f, types()))?
        .compare(y)
        .map_err(|_| ExecutionError::no_such_overload(f, types()))
}
fn extreme<'b, 'v>(a: &[CowVal<'b, 'v>], f: &str, keep: Ordering) -> Out<'b, 'v> {
    let mut best: Option<Box<dyn Val + 'v>> = None;
    for v in elements(a)? {
        best = match best {
            Some(b) if compare(v.as_ref(), b.as_ref(), f)? != keep => Some(b),
            _ => Some(v),
        };
    }
    best.map(CowVal::Owned)
        .ok_or_else(|| ExecutionError::function_error(f, format!("{f} called on empty list")))
}
fn l_min<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    extreme(&a, "min", Ordering::Less)
}
fn l_max<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    extreme(&a, "max", Ordering::Greater)
}
fn l_sum<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    let mut acc: Box<dyn Val + 'v> = Box::new(CelInt::from(0));
    for (i, v) in elements(&a)?.into_iter().enumerate() {
        acc = if i == 0 {
            v
        } else {
            let adder = acc.as_adder().ok_or_else(|| {
                ExecutionError::no_such_overload("sum", vec![acc.get_type().name().to_owned()])
            })?;
            adder.add(v.as_ref())?.into_owned()
        };
    }
    Ok(CowVal::Owned(acc))
}
fn index_where<'b, 'v>(a: &[CowVal<'b, 'v>], last: bool) -> Out<'b, 'v> {
    let needle = a
        .get(1)
        .ok_or_else(|| ExecutionError::invalid_argument_count(2, a.len()))?;
    let items = elements(a)?;
    let mut hits = items.iter().map(|v| v.equals(needle.as_ref()));
    let pos = if last {
        hits.rposition(|h| h)
    } else {
        hits.position(|h| h)
    };
    owned(CelInt::from(
        pos.and_then(|p| i64::try_from(p).ok()).unwrap_or(-1),
    ))
}
fn l_index_of<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    index_where(&a, false)
}
fn l_last_index_of<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    index_where(&a, true)
}
fn l_is_sorted<'b, 'v>(a: Vec<CowVal<'b, 'v>>) -> Out<'b, 'v> {
    let items = elements(&a)?;
    for w in items.windows(2) {
        if compare(w[0].as_ref(), w[1].as_ref(), "isSorted")? == Ordering::Greater {
            return owned(CelBool::from(false));
        }
    }
    owned(CelBool::from(true))
}

/// `cel.bind(name, init, expr)`: `expr` with `name` bound to `init`, as a comprehension over
/// an empty list whose accumulator is the binding (how cel-go expands it).
fn bind_macro(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<Option<IdedExpr>, ParseError> {
    if !matches!(target.as_ref().map(|t| &t.expr), Some(Expr::Ident(n)) if n == "cel") {
        return Ok(None);
    }
    let (Some(result), Some(init), Some(var)) = (args.pop(), args.pop(), args.pop()) else {
        return Ok(None);
    };
    let Expr::Ident(name) = var.expr else {
        return Err(helper.new_error(
            var.id,
            "cel.bind() variable names must be simple identifiers",
        ));
    };
    let step = helper.next_expr(Expr::Ident(name.clone()));
    let bind = ComprehensionExpr {
        iter_range: helper.next_expr(Expr::List(ListExpr::new(Vec::new()))),
        iter_var: "#unused".to_owned(),
        iter_var2: None,
        accu_var: name,
        accu_init: init,
        loop_cond: helper.next_expr(Expr::Literal(LiteralValue::Boolean(false.into()))),
        loop_step: step,
        result,
    };
    Ok(Some(helper.next_expr(Expr::Comprehension(Box::new(bind)))))
}

/// Registers the list functions and `cel.bind` on `env`.
pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    type F = cel::common::functions::Function;
    let members: [(&str, &str, F); 4] = [
        ("min", "list_min", l_min),
        ("max", "list_max", l_max),
        ("sum", "list_sum", l_sum),
        ("isSorted", "list_isSorted", l_is_sorted),
    ];
    for (name, id, f) in members {
        env.add_member_overload(name, id, LIST_TYPE, vec![], f)?;
    }
    env.add_member_overload(
        "indexOf",
        "list_indexOf",
        LIST_TYPE,
        vec![DYN_TYPE],
        l_index_of,
    )?;
    env.add_member_overload(
        "lastIndexOf",
        "list_lastIndexOf",
        LIST_TYPE,
        vec![DYN_TYPE],
        l_last_index_of,
    )?;
    env.add_macro(Macro::receiver("bind", 3, bind_macro))?;
    Ok(())
}
