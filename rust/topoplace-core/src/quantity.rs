//! Kubernetes resource quantities for byte counts: `"64Gi"`, `"512Mi"`, `"1G"`, `"1.5Gi"`,
//! `"1e9"`, plain integers. The suffixes follow `k8s.io/apimachinery` quantities: binary
//! `Ki Mi Gi Ti Pi Ei` (powers of 1024) and decimal `k M G T P E` (powers of 1000).

use crate::error::{Error, Result};

/// Parses a byte quantity. Fractions are allowed when the result is a whole number of bytes.
///
/// # Errors
/// [`Error::Value`] naming the text when it is not a quantity, is negative, is not a whole
/// number of bytes, or overflows 64 bits.
pub fn parse_bytes(text: &str) -> Result<u64> {
    let bad = |why: &str| Error::Value(format!("{text:?} is not a byte quantity: {why}"));
    let t = text.trim();
    let (number, multiplier): (&str, u128) = [
        ("Ki", 1u128 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("Pi", 1 << 50),
        ("Ei", 1 << 60),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
        ("P", 1_000_000_000_000_000),
        ("E", 1_000_000_000_000_000_000),
    ]
    .iter()
    .find_map(|&(suffix, m)| t.strip_suffix(suffix).map(|n| (n, m)))
    .unwrap_or((t, 1));
    if number.is_empty() || number.starts_with('-') || number.starts_with('+') {
        return Err(bad(
            "expected a non-negative number with an optional unit such as Gi",
        ));
    }
    // Exponent form (`1e9`) only without a unit, as in Kubernetes.
    let (mantissa, exponent) = match number.split_once(['e', 'E']) {
        Some((m, e)) if multiplier == 1 => (m, e.parse::<u32>().map_err(|_| bad("bad exponent"))?),
        Some(_) => return Err(bad("an exponent cannot follow a unit")),
        None => (number, 0),
    };
    let (whole, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 18
        || exponent > 30
    {
        return Err(bad("expected digits"));
    }
    let digits: u128 = format!("{whole}{frac}")
        .parse()
        .map_err(|_| bad("too large"))?;
    let scale = 10u128.pow(u32::try_from(frac.len()).unwrap_or(0));
    let numerator = digits
        .checked_mul(multiplier)
        .and_then(|v| v.checked_mul(10u128.pow(exponent)))
        .ok_or_else(|| bad("too large"))?;
    if numerator % scale != 0 {
        return Err(bad("not a whole number of bytes"));
    }
    u64::try_from(numerator / scale).map_err(|_| bad("too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn units() {
        assert_eq!(parse_bytes("64Gi").unwrap(), 64 << 30);
        assert_eq!(parse_bytes("1.5Gi").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("1G").unwrap(), 1_000_000_000);
        assert_eq!(parse_bytes("1e9").unwrap(), 1_000_000_000);
        assert_eq!(parse_bytes(" 4096 ").unwrap(), 4096);
        assert_eq!(parse_bytes("0").unwrap(), 0);
    }

    #[test]
    fn bad_quantities() {
        for bad in [
            "",
            "-1Gi",
            "Gi",
            "1.5",
            "abc",
            "1x",
            "99999999999Ei",
            "1e3Gi",
            "1..2",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
