//! Low-level helpers: an attribute scanner over a tag's raw text (values borrow from the input),
//! number parsing, and hexadecimal cpuset masks parsed straight into a [`CpuSet`].

use crate::topology::{CpuSet, MAX_CPU_ID};

/// Iterates the `name="value"` pairs of a start tag's text (after the element name). Works on
/// bytes: every delimiter is ASCII, so the slices it returns are valid `str` slices.
pub(super) struct AttrScanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> AttrScanner<'a> {
    /// `tag` is the whole tag text, `<name attr="v" ...>` or `<name .../>`.
    pub(super) fn new(tag: &'a str) -> Self {
        let bytes = tag.as_bytes();
        let mut at = usize::from(bytes.first() == Some(&b'<'));
        while bytes
            .get(at)
            .is_some_and(|&c| !c.is_ascii_whitespace() && c != b'/' && c != b'>')
        {
            at += 1;
        }
        Self { text: tag, at }
    }

    fn skip_space(&mut self) {
        let bytes = self.text.as_bytes();
        while bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn fail(&mut self, message: &'static str) -> Option<Result<(&'a str, &'a str), &'static str>> {
        self.at = self.text.len();
        Some(Err(message))
    }

    /// The next attribute, `Err` with a description when the syntax is broken.
    pub(super) fn next_attr(&mut self) -> Option<Result<(&'a str, &'a str), &'static str>> {
        let bytes = self.text.as_bytes();
        self.skip_space();
        match bytes.get(self.at) {
            None | Some(b'/' | b'>') => return None,
            Some(_) => {}
        }
        let name_start = self.at;
        while bytes
            .get(self.at)
            .is_some_and(|&c| c != b'=' && !c.is_ascii_whitespace())
        {
            self.at += 1;
        }
        let name_end = self.at;
        let name_ok = bytes.get(name_start..name_end).is_some_and(|name| {
            name.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b':' | b'.'))
        });
        if !name_ok {
            return self.fail("invalid attribute name");
        }
        self.skip_space();
        if bytes.get(self.at) != Some(&b'=') {
            return self.fail("attribute without a value");
        }
        self.at += 1;
        self.skip_space();
        let quote = match bytes.get(self.at) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return self.fail("attribute value is not quoted"),
        };
        let value_start = self.at + 1;
        let Some(len) = bytes
            .get(value_start..)
            .and_then(|rest| rest.iter().position(|&c| c == quote))
        else {
            return self.fail("attribute value is not closed");
        };
        self.at = value_start + len + 1;
        let name = self.text.get(name_start..name_end).unwrap_or("");
        let value = self.text.get(value_start..value_start + len).unwrap_or("");
        Some(Ok((name, value)))
    }
}

/// Replaces the five predefined XML entities and numeric character references.
pub(super) fn unescape(value: &str) -> String {
    if !value.contains('&') {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or(""));
        let tail = rest.get(amp..).unwrap_or("");
        let Some(semi) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = tail.get(1..semi).unwrap_or("");
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity.strip_prefix('#').and_then(|num| {
                let code = match num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                };
                code.and_then(char::from_u32)
            }),
        };
        match ch {
            Some(c) => out.push(c),
            None => out.push_str(tail.get(..=semi).unwrap_or("")),
        }
        rest = tail.get(semi + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Parses a decimal `u64` without sign, whitespace tolerated around it.
pub(super) fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// Parses a decimal `u32`.
pub(super) fn parse_u32(s: &str) -> Option<u32> {
    parse_u64(s).and_then(|v| u32::try_from(v).ok())
}

/// Why a mask was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MaskError {
    /// A word is not hexadecimal.
    Syntax,
    /// A set bit is beyond [`MAX_CPU_ID`].
    TooLarge,
}

impl MaskError {
    pub(super) const fn describe(self) -> &'static str {
        match self {
            Self::Syntax => "is not a hexadecimal mask (0x...,0x...)",
            Self::TooLarge => "sets a bit beyond the largest supported index",
        }
    }
}

/// A parsed mask: the finite bits, and whether hwloc's `0xf...f` (all further bits set) was used.
pub(super) struct Mask {
    pub(super) set: CpuSet,
    pub(super) infinite: bool,
}

/// Parses hwloc's mask syntax (`0x000000ff,0xffffffff`, empty words for zero words,
/// `0xf...f` for an infinite set), filling `out` when given; only validates otherwise.
pub(super) fn scan_mask(text: &str, mut out: Option<&mut CpuSet>) -> Result<bool, MaskError> {
    let bytes = text.trim().as_bytes();
    if bytes.is_empty() {
        return Err(MaskError::Syntax);
    }
    let mut infinite = false;
    let max_words = u64::from(MAX_CPU_ID / 32);
    let mut end = bytes.len();
    let mut pos: u64 = 0;
    loop {
        let head = bytes.get(..end).unwrap_or(&[]);
        let start = head.iter().rposition(|&c| c == b',').map_or(0, |p| p + 1);
        let word = head.get(start..).unwrap_or(&[]).trim_ascii();
        let hex = word
            .strip_prefix(b"0x")
            .or_else(|| word.strip_prefix(b"0X"))
            .unwrap_or(word);
        if hex == b"f...f" {
            infinite = true;
        } else if !hex.is_empty() {
            let mut value: u64 = 0;
            let mut significant = 0;
            for &b in hex {
                let d = match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    b'A'..=b'F' => b - b'A' + 10,
                    _ => return Err(MaskError::Syntax),
                };
                if value != 0 || d != 0 {
                    significant += 1;
                    if significant > 16 {
                        return Err(MaskError::Syntax);
                    }
                }
                value = (value << 4) | u64::from(d);
            }
            if value != 0 {
                if pos > max_words {
                    return Err(MaskError::TooLarge);
                }
                let base = pos * 32;
                let top = base + 63 - u64::from(value.leading_zeros());
                if top >= u64::from(MAX_CPU_ID) {
                    return Err(MaskError::TooLarge);
                }
                if let Some(set) = out.as_deref_mut() {
                    let mut bits = value;
                    while bits != 0 {
                        let bit = u64::from(bits.trailing_zeros());
                        bits &= bits - 1;
                        // `top < MAX_CPU_ID` bounds every id.
                        set.insert(u32::try_from(base + bit).unwrap_or(0));
                    }
                }
            }
        }
        if start == 0 {
            break;
        }
        end = start - 1;
        pos += 1;
    }
    Ok(infinite)
}

/// Parses a mask into a new set.
pub(super) fn parse_mask(text: &str) -> Result<Mask, MaskError> {
    let mut set = CpuSet::new();
    let infinite = scan_mask(text, Some(&mut set))?;
    Ok(Mask { set, infinite })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        let m = parse_mask("0x000000ff,0xff000000,,0x0").unwrap_or_else(|_| unreachable!());
        assert_eq!(m.set.to_list_string(), "88-103");
        assert!(!m.infinite);
        let m = parse_mask("0xf...f,0x00000003").unwrap_or_else(|_| unreachable!());
        assert!(m.infinite);
        assert_eq!(m.set.len(), 2);
        assert_eq!(parse_mask("0xzz").err(), Some(MaskError::Syntax));
        assert_eq!(parse_mask("").err(), Some(MaskError::Syntax));
        assert_eq!(
            parse_mask("0x1,0x0,0x0,0x0,0x0,0x0,0x0,0x0,0x0,0x0,0x0,0x0,0x0,0x0,0x0,0x0").err(),
            None
        );
        assert!(scan_mask("0x123456789abcdef01", None).is_err());
        let long = std::iter::repeat_n("0x0", 40_000)
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            scan_mask(&format!("0x1,{long}"), None),
            Err(MaskError::TooLarge)
        );
    }

    #[test]
    fn attributes_and_entities() {
        let mut s = AttrScanner::new(r#"<object type="PU" os_index = '3' name="a&amp;b"/>"#);
        assert_eq!(s.next_attr(), Some(Ok(("type", "PU"))));
        assert_eq!(s.next_attr(), Some(Ok(("os_index", "3"))));
        assert_eq!(s.next_attr(), Some(Ok(("name", "a&amp;b"))));
        assert_eq!(s.next_attr(), None);
        assert_eq!(unescape("a&amp;b &#65;&#x42; &bogus;"), "a&b AB &bogus;");
        let mut bad = AttrScanner::new(r#"<object type=PU>"#);
        assert!(matches!(bad.next_attr(), Some(Err(_))));
        assert_eq!(parse_u32("4294967296"), None);
        assert_eq!(parse_u32(" 42 "), Some(42));
        assert_eq!(parse_u64("-1"), None);
    }
}
