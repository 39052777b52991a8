//! Values shared by the DRA object model and selector evaluation: qualified names, device
//! attribute values and Kubernetes quantities.

use std::cmp::Ordering;
use std::fmt;

use crate::error::{Error, Result};

/// A fully qualified attribute or capacity name: `domain/name`. Names without a domain in a
/// ResourceSlice belong to the slice's driver, as in Kubernetes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QualifiedName {
    /// The domain (`gpu.nvidia.com`, `resource.kubernetes.io`).
    pub domain: String,
    /// The name inside the domain (`model`, `pcieRoot`).
    pub name: String,
}

impl QualifiedName {
    /// `text` (`domain/name` or `name`), with `default_domain` for a bare name.
    #[must_use]
    pub fn parse(text: &str, default_domain: &str) -> Self {
        match text.split_once('/') {
            Some((domain, name)) => Self {
                domain: domain.to_owned(),
                name: name.to_owned(),
            },
            None => Self {
                domain: default_domain.to_owned(),
                name: text.to_owned(),
            },
        }
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.name)
    }
}

/// A device attribute value: exactly one of `int`, `bool`, `string`, `version` in the API.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AttrValue {
    /// `int`.
    Int(i64),
    /// `bool`.
    Bool(bool),
    /// `string`.
    String(String),
    /// `version`: a semantic version string (`1.2.3`, `1.0.0-rc.1`).
    Version(String),
}

impl AttrValue {
    /// The API's field name for the value's type.
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::Int(_) => "int",
            Self::Bool(_) => "bool",
            Self::String(_) => "string",
            Self::Version(_) => "version",
        }
    }
}

/// A Kubernetes resource quantity (`"1Gi"`, `"500m"`, `"2"`, `"1e3"`), held exactly in
/// nano-units, with the format of its text kept for printing (`BinarySI` when written with a
/// binary suffix, `DecimalExponent` with an exponent, else `DecimalSI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quantity {
    /// The value times 10^9.
    pub nanos: i128,
    /// How it was written.
    pub format: QuantityFormat,
}

/// How a quantity is printed (as `k8s.io/apimachinery`'s `Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantityFormat {
    /// Powers of 1024 (`Ki`, `Mi`, ...).
    BinarySi,
    /// Powers of 1000 (`m`, `k`, `M`, ...).
    DecimalSi,
    /// `1e3`.
    DecimalExponent,
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

const NANO: i128 = 1_000_000_000;

impl Quantity {
    /// A whole number of units in `DecimalSI`.
    #[must_use]
    pub const fn from_units(units: i64) -> Self {
        Self {
            nanos: units as i128 * NANO,
            format: QuantityFormat::DecimalSi,
        }
    }

    /// Parses a quantity. Precision below a nano-unit rounds up, as in Kubernetes.
    ///
    /// # Errors
    /// [`Error::Value`] naming the text when it is not a quantity or is out of range
    /// (beyond 2^63 units).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::Value(format!("{text:?} is not a quantity: {why}"));
        let t = text.trim();
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'-') => (-1i128, &t[1..]),
            Some(b'+') => (1, &t[1..]),
            _ => (1, t),
        };
        let digits_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(digits_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(bad("expected a number"));
        }
        // (numerator multiplier, power of ten) per suffix.
        let (mult, pow10, format): (i128, i32, QuantityFormat) = match suffix {
            "" => (1, 0, QuantityFormat::DecimalSi),
            "Ki" => (1 << 10, 0, QuantityFormat::BinarySi),
            "Mi" => (1 << 20, 0, QuantityFormat::BinarySi),
            "Gi" => (1 << 30, 0, QuantityFormat::BinarySi),
            "Ti" => (1 << 40, 0, QuantityFormat::BinarySi),
            "Pi" => (1 << 50, 0, QuantityFormat::BinarySi),
            "Ei" => (1 << 60, 0, QuantityFormat::BinarySi),
            "n" => (1, -9, QuantityFormat::DecimalSi),
            "u" => (1, -6, QuantityFormat::DecimalSi),
            "m" => (1, -3, QuantityFormat::DecimalSi),
            "k" => (1, 3, QuantityFormat::DecimalSi),
            "M" => (1, 6, QuantityFormat::DecimalSi),
            "G" => (1, 9, QuantityFormat::DecimalSi),
            "T" => (1, 12, QuantityFormat::DecimalSi),
            "P" => (1, 15, QuantityFormat::DecimalSi),
            "E" => (1, 18, QuantityFormat::DecimalSi),
            s if s.starts_with(['e', 'E']) => {
                let e: i32 = s[1..].parse().map_err(|_| bad("bad exponent"))?;
                if !(-30..=30).contains(&e) {
                    return Err(bad("exponent out of range"));
                }
                (1, e, QuantityFormat::DecimalExponent)
            }
            _ => return Err(bad("unknown suffix")),
        };
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        let frac_part = frac_part.trim_end_matches('0');
        if int_part.len() + frac_part.len() > 30 {
            return Err(bad("too many digits"));
        }
        let digits = format!("{int_part}{frac_part}");
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| bad("expected a number"))?
        };
        // value = mantissa * mult * 10^(pow10 - frac_len); nanos = value * 10^9.
        let exp = pow10 + 9 - i32::try_from(frac_part.len()).unwrap_or(i32::MAX);
        let scaled = mantissa
            .checked_mul(mult)
            .ok_or_else(|| bad("out of range"))?;
        let nanos = if exp >= 0 {
            10i128
                .checked_pow(exp.unsigned_abs())
                .and_then(|p| scaled.checked_mul(p))
                .ok_or_else(|| bad("out of range"))?
        } else {
            let p = 10i128
                .checked_pow(exp.unsigned_abs())
                .ok_or_else(|| bad("out of range"))?;
            // Round up, away from zero's lower side, as Kubernetes does below nano precision.
            (scaled + p - 1) / p
        };
        if nanos / NANO > i128::from(i64::MAX) {
            return Err(bad("out of range"));
        }
        Ok(Self {
            nanos: sign * nanos,
            format,
        })
    }

    /// The sum of two quantities (the format of `self`).
    #[must_use]
    pub const fn add(self, other: Self) -> Self {
        Self {
            nanos: self.nanos.saturating_add(other.nanos),
            format: self.format,
        }
    }

    /// The difference of two quantities (the format of `self`).
    #[must_use]
    pub const fn sub(self, other: Self) -> Self {
        Self {
            nanos: self.nanos.saturating_sub(other.nanos),
            format: self.format,
        }
    }

    /// Whether the value is zero.
    #[must_use]
    pub const fn is_zero(&self) -> bool {
        self.nanos == 0
    }
}

impl fmt::Display for Quantity {
    /// The canonical text: the largest suffix of the quantity's format that keeps the value
    /// whole (`1Gi`, `1500Mi`, `500m`, `2`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.nanos < 0 { "-" } else { "" };
        let n = self.nanos.unsigned_abs();
        let nano = NANO.unsigned_abs();
        if self.format == QuantityFormat::BinarySi && n % nano == 0 {
            let units = n / nano;
            for (suffix, shift) in [
                ("Ei", 60),
                ("Pi", 50),
                ("Ti", 40),
                ("Gi", 30),
                ("Mi", 20),
                ("Ki", 10),
            ] {
                let m = 1u128 << shift;
                if units >= m && units % m == 0 {
                    return write!(f, "{sign}{}{suffix}", units / m);
                }
            }
            if units < 1024 || units % 1000 != 0 {
                return write!(f, "{sign}{units}");
            }
        }
        for (suffix, pow) in [
            ("E", 27),
            ("P", 24),
            ("T", 21),
            ("G", 18),
            ("M", 15),
            ("k", 12),
            ("", 9),
            ("m", 6),
            ("u", 3),
            ("n", 0),
        ] {
            let m = 10u128.pow(pow);
            if n >= m && n % m == 0 {
                return write!(f, "{sign}{}{suffix}", n / m);
            }
        }
        write!(f, "0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        for (text, nanos, out) in [
            ("1Gi", (1i128 << 30) * NANO, "1Gi"),
            ("1536Mi", 1536 * (1i128 << 20) * NANO, "1536Mi"),
            ("500m", 500_000_000, "500m"),
            ("2", 2 * NANO, "2"),
            ("1.5", 1_500_000_000, "1500m"),
            ("1e3", 1000 * NANO, "1k"),
            ("10G", 10_000_000_000 * NANO, "10G"),
            ("0", 0, "0"),
            ("-1k", -1000 * NANO, "-1k"),
            ("1.5n", 2, "2n"),
        ] {
            let q = Quantity::parse(text).unwrap();
            assert_eq!(q.nanos, nanos, "{text}");
            assert_eq!(q.to_string(), out, "{text}");
        }
        assert!(Quantity::parse("1Gi").unwrap() > Quantity::parse("1G").unwrap());
    }

    #[test]
    fn bad_quantities() {
        for text in [
            "",
            "Gi",
            "1.2.3",
            "1Xi",
            "1e",
            "9999999999999999999999999999999",
            "1e99",
        ] {
            assert!(Quantity::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn qualified_names() {
        let q = QualifiedName::parse("model", "gpu.example.com");
        assert_eq!(q.to_string(), "gpu.example.com/model");
        let q = QualifiedName::parse("resource.kubernetes.io/pcieRoot", "gpu.example.com");
        assert_eq!(
            (q.domain.as_str(), q.name.as_str()),
            ("resource.kubernetes.io", "pcieRoot")
        );
    }
}
