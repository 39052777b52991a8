//! A direct evaluator for the selectors DeviceClasses are made of, recognised once at compile
//! time: a conjunction (`&&`) of
//!
//! - `device.driver == "<string>"`, and
//! - `device.attributes["<domain>"].<name> == <literal>` (string, int or bool),
//!
//! each with the literal on either side. Evaluating them through the interpreter costs a
//! context, a boxed value per field read and a walk of the attribute map per domain; here each
//! term is one string comparison or one map lookup.
//!
//! The answer must be the interpreter's, errors included, so the fast path only answers when
//! that answer does not depend on anything it does not model. A term is *decided* when it
//! compares values of the same type (the driver with a string; a string, int or bool attribute
//! with a literal of that type). It is *undecided* otherwise: a missing attribute (CEL's `no
//! such key` error), a `version` attribute (a semver, whose parse may fail), or a type
//! mismatch (heterogeneous equality, e.g. an int attribute against a double literal). cel's
//! `&&` returns `false` as soon as either side is `false`, whatever the other side is (value or
//! error), and `true` when both are `true`; so the conjunction is `false` if any decided term is
//! `false`, `true` if every term is decided `true`, and left to the interpreter otherwise.

use std::collections::BTreeMap;

use cel::common::ast::{Expr, IdedExpr, LiteralValue, SelectExpr};

use crate::dra::value::{AttrValue, QualifiedName};

/// A literal the fast path compares with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lit {
    String(String),
    Int(i64),
    Bool(bool),
}

impl Lit {
    fn of(lit: &LiteralValue) -> Option<Self> {
        match lit {
            LiteralValue::String(s) => Some(Self::String(s.inner().to_owned())),
            LiteralValue::Int(i) => Some(Self::Int(*i.inner())),
            LiteralValue::Boolean(b) => Some(Self::Bool(*b.inner())),
            _ => None,
        }
    }

    /// `Some(equal)` when `value` has the literal's type, else `None` (undecided).
    fn equals(&self, value: &AttrValue) -> Option<bool> {
        match (self, value) {
            (Self::String(l), AttrValue::String(v)) => Some(l == v),
            (Self::Int(l), AttrValue::Int(v)) => Some(l == v),
            (Self::Bool(l), AttrValue::Bool(v)) => Some(l == v),
            _ => None,
        }
    }
}

/// One `==` term.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    /// `device.driver == "<driver>"`.
    Driver(String),
    /// `device.attributes["<domain>"].<name> == <literal>`.
    Attr(QualifiedName, Lit),
}

/// A selector the fast path evaluates: the conjunction of its terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fast {
    terms: Vec<Term>,
}

/// `<operand>.<field>` (a plain select, not `has()`).
fn select(e: &IdedExpr) -> Option<(&IdedExpr, &str)> {
    let Expr::Select(SelectExpr {
        operand,
        field,
        test: false,
    }) = &e.expr
    else {
        return None;
    };
    Some((operand, field.as_str()))
}

/// `device.<field>`, as its field name.
fn device_field(e: &IdedExpr) -> Option<&str> {
    let (operand, field) = select(e)?;
    matches!(&operand.expr, Expr::Ident(name) if name == "device").then_some(field)
}

/// `device.attributes["<domain>"].<name>`, as the qualified name.
fn attribute(e: &IdedExpr) -> Option<QualifiedName> {
    let (operand, field) = select(e)?;
    let Expr::Call(index) = &operand.expr else {
        return None;
    };
    if index.func_name != "_[_]" || index.target.is_some() {
        return None;
    }
    let [map, key] = index.args.as_slice() else {
        return None;
    };
    let Expr::Literal(LiteralValue::String(domain)) = &key.expr else {
        return None;
    };
    (device_field(map) == Some("attributes")).then(|| QualifiedName {
        domain: domain.inner().to_owned(),
        name: field.to_owned(),
    })
}

/// One side of `==` against a literal on the other, in either order.
fn term(lhs: &IdedExpr, rhs: &IdedExpr) -> Option<Term> {
    let (operand, lit) = match (&lhs.expr, &rhs.expr) {
        (_, Expr::Literal(lit)) => (lhs, lit),
        (Expr::Literal(lit), _) => (rhs, lit),
        _ => return None,
    };
    let lit = Lit::of(lit)?;
    if device_field(operand) == Some("driver") {
        return match lit {
            Lit::String(s) => Some(Term::Driver(s)),
            Lit::Int(_) | Lit::Bool(_) => None,
        };
    }
    Some(Term::Attr(attribute(operand)?, lit))
}

/// Adds the terms of `e` (a term or a `&&` of them) to `out`; `None` for any other shape.
fn collect(e: &IdedExpr, out: &mut Vec<Term>) -> Option<()> {
    let Expr::Call(call) = &e.expr else {
        return None;
    };
    if call.target.is_some() {
        return None;
    }
    match (call.func_name.as_str(), call.args.as_slice()) {
        ("_&&_", [a, b]) => {
            collect(a, out)?;
            collect(b, out)
        }
        ("_==_", [a, b]) => {
            out.push(term(a, b)?);
            Some(())
        }
        _ => None,
    }
}

impl Fast {
    /// The fast form of `root`, when it has one of the shapes above.
    pub(super) fn compile(root: &IdedExpr) -> Option<Self> {
        let mut terms = Vec::new();
        collect(root, &mut terms)?;
        Some(Self { terms })
    }

    /// `Some(matches)` when the answer is known without the interpreter, `None` when the
    /// caller must interpret (the answer may be an error).
    pub(super) fn eval(
        &self,
        driver: &str,
        attributes: &BTreeMap<QualifiedName, AttrValue>,
    ) -> Option<bool> {
        let mut decided = true;
        for t in &self.terms {
            let hit = match t {
                Term::Driver(d) => Some(d == driver),
                Term::Attr(name, lit) => attributes.get(name).and_then(|v| lit.equals(v)),
            };
            match hit {
                Some(false) => return Some(false),
                Some(true) => {}
                None => decided = false,
            }
        }
        decided.then_some(true)
    }
}

#[cfg(test)]
mod tests;
