//! Name checks as the Kubernetes API server applies them (DNS labels and subdomains, label
//! keys and values, C identifiers, qualified attribute names). Each returns the message for
//! an [`crate::Error::Object`].

fn is_label_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'
}

fn dns_label_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|&c| is_label_char(c))
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn dns_subdomain_ok(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.split('.').all(dns_label_ok)
}

/// A DNS label (RFC 1123): at most 63 characters `[a-z0-9-]`, alphanumeric at both ends.
pub(crate) fn dns_label(s: &str) -> Result<(), String> {
    if dns_label_ok(s) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a DNS label (at most 63 lower-case alphanumeric characters or '-', \
             starting and ending with an alphanumeric character)"
        ))
    }
}

/// A DNS subdomain (RFC 1123) of at most 253 characters: DNS labels joined by dots.
pub(crate) fn dns_subdomain(s: &str) -> Result<(), String> {
    if dns_subdomain_ok(s, 253) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a DNS subdomain (at most 253 characters: lower-case DNS labels \
             separated by '.')"
        ))
    }
}

/// A driver name: a DNS subdomain of at most 63 characters.
pub(crate) fn driver_name(s: &str) -> Result<(), String> {
    if dns_subdomain_ok(s, 63) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a driver name (a DNS subdomain of at most 63 characters)"
        ))
    }
}

/// A pool name: at most 253 characters, DNS subdomains separated by `/`.
pub(crate) fn pool_name(s: &str) -> Result<(), String> {
    if s.len() <= 253 && s.split('/').all(|p| dns_subdomain_ok(p, 253)) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a pool name (at most 253 characters: DNS subdomains separated by '/')"
        ))
    }
}

/// A request or subrequest name: a DNS label, except that upper-case letters are accepted.
/// The API server wants lower case, but the upstream allocator's own test table uses
/// `subReq-0`, and the allocator matches names exactly, so nothing depends on the case.
pub(crate) fn request_name(s: &str) -> Result<(), String> {
    if dns_label_ok(&s.to_ascii_lowercase()) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a request name (a DNS label: at most 63 alphanumeric characters or \
             '-', starting and ending with an alphanumeric character)"
        ))
    }
}

fn c_identifier_ok(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// The name part of an attribute or capacity name: a C identifier of at most 32 characters.
/// With `allow_dash`, DNS-label style names (`capacity-0`) pass too (see [`capacity_name`]).
fn qualified(s: &str, require_domain: bool, allow_dash: bool) -> Result<(), String> {
    let (domain, name) = match s.split_once('/') {
        Some((d, n)) => (Some(d), n),
        None => (None, s),
    };
    if let Some(d) = domain {
        if !dns_subdomain_ok(d, 63) {
            return Err(format!(
                "{s:?}: the domain {d:?} is not a DNS subdomain of at most 63 characters"
            ));
        }
    } else if require_domain {
        return Err(format!(
            "{s:?} is not fully qualified (expected <domain>/<name>)"
        ));
    }
    let name_ok = c_identifier_ok(name, 32)
        || (allow_dash && name.len() <= 32 && c_identifier_ok(&name.replace('-', "_"), 32));
    if name_ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?}: the name {name:?} is not a C identifier of at most 32 characters"
        ))
    }
}

/// A device attribute name: `[<domain>/]<C identifier>`.
pub(crate) fn attribute_name(s: &str) -> Result<(), String> {
    qualified(s, false, false)
}

/// A fully qualified attribute name `<domain>/<C identifier>` (constraints).
pub(crate) fn full_attribute_name(s: &str) -> Result<(), String> {
    qualified(s, true, false)
}

/// A capacity name: as an attribute name, but `-` is accepted inside the name. The API server
/// wants a C identifier; the upstream allocator's test table uses `capacity-0`.
pub(crate) fn capacity_name(s: &str) -> Result<(), String> {
    qualified(s, false, true)
}

fn label_name_ok(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A label key (also taint and node-selector keys): `[<DNS subdomain>/]<name>`, the name at
/// most 63 characters `[A-Za-z0-9_.-]`, alphanumeric at both ends.
pub(crate) fn label_key(s: &str) -> Result<(), String> {
    let ok = match s.split_once('/') {
        Some((prefix, name)) => dns_subdomain_ok(prefix, 253) && label_name_ok(name),
        None => label_name_ok(s),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a label key ([<DNS subdomain>/]<name>, the name at most 63 \
             alphanumeric characters, '-', '_' or '.', alphanumeric at both ends)"
        ))
    }
}

/// A label value: empty, or like the name part of a label key.
pub(crate) fn label_value(s: &str) -> Result<(), String> {
    if s.is_empty() || label_name_ok(s) {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a label value (at most 63 alphanumeric characters, '-', '_' or '.', \
             alphanumeric at both ends)"
        ))
    }
}

fn numeric_ok(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

fn ident_ok(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

/// A semantic version 2.0.0 (`1.2.3`, `1.0.0-rc.1+build.5`).
pub(crate) fn semver(s: &str) -> Result<(), String> {
    let (rest, build) = s.split_once('+').map_or((s, None), |(a, b)| (a, Some(b)));
    let (core, pre) = rest
        .split_once('-')
        .map_or((rest, None), |(a, b)| (a, Some(b)));
    let core_ok = {
        let parts: Vec<&str> = core.split('.').collect();
        parts.len() == 3 && parts.iter().all(|p| numeric_ok(p))
    };
    let pre_ok = pre.is_none_or(|p| {
        p.split('.')
            .all(|id| ident_ok(id) && (!id.bytes().all(|c| c.is_ascii_digit()) || numeric_ok(id)))
    });
    let build_ok = build.is_none_or(|b| b.split('.').all(ident_ok));
    if core_ok && pre_ok && build_ok && s.len() <= 64 {
        Ok(())
    } else {
        Err(format!(
            "{s:?} is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], at most \
             64 characters)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(dns_label("device-1").is_ok());
        assert!(dns_label("Device").is_err());
        assert!(dns_label("-a").is_err());
        assert!(dns_subdomain("gpu.nvidia.com").is_ok());
        assert!(pool_name("a/b.c").is_ok());
        assert!(pool_name("a//b").is_err());
        assert!(request_name("subReq-0").is_ok());
        assert!(attribute_name("resource.kubernetes.io/pcieRoot").is_ok());
        assert!(attribute_name("copy-engines").is_err());
        assert!(capacity_name("capacity-0").is_ok());
        assert!(full_attribute_name("model").is_err());
        assert!(label_key("kubernetes.io/hostname").is_ok());
        assert!(label_value("").is_ok());
        assert!(semver("1.0.0-rc.1+b.5").is_ok());
        assert!(semver("1.0").is_err());
        assert!(semver("01.0.0").is_err());
    }
}
