//! DRA CEL selectors: the expressions of the shared fixtures and the Kubernetes behaviours.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use topoplace_core::dra::cel::{DeviceEnv, Selector, SelectorCache, SelectorErrorKind};
use topoplace_core::dra::value::{AttrValue, QualifiedName, Quantity};

/// A device: driver, attributes (`domain/name` or bare), capacity, allowMultipleAllocations.
struct Dev {
    driver: String,
    attributes: BTreeMap<QualifiedName, AttrValue>,
    capacity: BTreeMap<QualifiedName, Quantity>,
    multi: bool,
}

impl Dev {
    fn new(driver: &str) -> Self {
        Self {
            driver: driver.to_owned(),
            attributes: BTreeMap::new(),
            capacity: BTreeMap::new(),
            multi: false,
        }
    }
    fn attr(mut self, name: &str, value: AttrValue) -> Self {
        let qn = QualifiedName::parse(name, &self.driver);
        self.attributes.insert(qn, value);
        self
    }
    fn s(self, name: &str, value: &str) -> Self {
        self.attr(name, AttrValue::String(value.to_owned()))
    }
    fn cap(mut self, name: &str, value: &str) -> Self {
        let qn = QualifiedName::parse(name, &self.driver);
        self.capacity.insert(qn, Quantity::parse(value).unwrap());
        self
    }
    const fn multi(mut self, multi: bool) -> Self {
        self.multi = multi;
        self
    }
    fn env(&self) -> DeviceEnv<'_> {
        DeviceEnv {
            driver: &self.driver,
            attributes: &self.attributes,
            capacity: &self.capacity,
            allow_multiple_allocations: self.multi,
        }
    }
    fn eval(&self, expr: &str) -> Result<bool, String> {
        let sel = Selector::compile(expr).map_err(|e| e.to_string())?;
        sel.matches(&self.env()).map_err(|e| e.to_string())
    }
}

fn h100() -> Dev {
    Dev::new("gpu.nvidia.com")
        .s("type", "gpu")
        .s("productName", "NVIDIA H100 80GB HBM3")
        .s("architecture", "Hopper")
        .s("profile", "3g.40gb")
        .attr("driverVersion", AttrValue::Version("550.54.15".to_owned()))
        .attr("index", AttrValue::Int(3))
        .cap("memory", "80Gi")
}

#[test]
fn fixture_selectors() {
    let a = Dev::new("driver-a")
        .attr("special", AttrValue::Bool(true))
        .cap("memory", "4Gi");
    let a_multi = Dev::new("driver-a").cap("memory", "8Gi").multi(true);
    let b = Dev::new("driver-b").attr("special", AttrValue::Bool(false));
    let mig = Dev::new("gpu.nvidia.com")
        .s("type", "mig")
        .s("profile", "1g.10gb");
    let net = Dev::new("dra.net").attr("rdma", AttrValue::Bool(true));
    let cpu = Dev::new("dra.cpu");
    let gpu = h100();
    // (expression, device, expected) for every selector of cases.json and k8s/dra/*.yaml.
    let table: &[(&str, &Dev, Result<bool, &str>)] = &[
        (r#"device.attributes["driver-a"].special"#, &a, Ok(true)),
        (
            r#"device.attributes["driver-a"].special"#,
            &b,
            Err("no such key: special"),
        ),
        (
            r#"device.capacity["driver-a"].memory.compareTo(quantity("1Gi")) >= 0"#,
            &a,
            Ok(true),
        ),
        (
            r#"device.capacity["driver-a"].memory.compareTo(quantity("2Gi")) >= 0"#,
            &a,
            Ok(true),
        ),
        (
            r#"device.capacity["driver-a"].memory.compareTo(quantity("4Gi")) >= 0"#,
            &a,
            Ok(true),
        ),
        (
            r#"device.capacity["driver-a"].memory.compareTo(quantity("6Gi")) >= 0"#,
            &a,
            Ok(false),
        ),
        (
            r#"device.capacity["driver-a"].memory.compareTo(quantity("8Gi")) >= 0"#,
            &a_multi,
            Ok(true),
        ),
        (
            r#"device.driver == "driver-a" && device.allowMultipleAllocations == false"#,
            &a,
            Ok(true),
        ),
        (
            r#"device.driver == "driver-a" && device.allowMultipleAllocations == true"#,
            &a_multi,
            Ok(true),
        ),
        (
            r#"device.driver == "driver-a" && device.allowMultipleAllocations == true"#,
            &a,
            Ok(false),
        ),
        (r#"device.driver == "driver-a""#, &a, Ok(true)),
        (r#"device.driver == "driver-b""#, &a, Ok(false)),
        (
            r#"device.attributes["dra.net"].rdma == true"#,
            &net,
            Ok(true),
        ),
        (
            "device.attributes['gpu.nvidia.com'].profile == '1g.10gb'",
            &mig,
            Ok(true),
        ),
        (
            "device.attributes['gpu.nvidia.com'].profile == '3g.40gb'",
            &mig,
            Ok(false),
        ),
        (r#"device.driver == "dra.cpu""#, &cpu, Ok(true)),
        (r#"device.driver == "dra.net""#, &cpu, Ok(false)),
        (
            "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'",
            &gpu,
            Ok(true),
        ),
        (
            "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'mig'",
            &mig,
            Ok(true),
        ),
        (
            "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'mig'",
            &cpu,
            Ok(false),
        ),
        (
            "device.capacity['gpu.nvidia.com'].memory.compareTo(quantity('80G')) >= 0 && \
             device.attributes['gpu.nvidia.com'].architecture == 'Hopper' && \
             device.attributes['gpu.nvidia.com'].productName.startsWith('NVIDIA H100')",
            &gpu,
            Ok(true),
        ),
    ];
    for (expr, dev, want) in table {
        let got = dev.eval(expr);
        match want {
            Ok(w) => assert_eq!(got, Ok(*w), "{expr}"),
            Err(msg) => {
                let e = got.expect_err(expr);
                assert!(e.starts_with("CEL runtime error: "), "{e}");
                assert!(e.contains(msg), "{expr}: {e}");
            }
        }
    }
}

#[test]
fn missing_domain_is_empty_map_missing_attribute_is_error() {
    let gpu = h100();
    let t = |e: &str| gpu.eval(e);
    assert_eq!(t(r#"device.attributes["other.com"].size() == 0"#), Ok(true));
    assert_eq!(t(r#"has(device.attributes["other.com"].model)"#), Ok(false));
    assert_eq!(t(r#""model" in device.attributes["other.com"]"#), Ok(false));
    assert_eq!(
        t(r#"has(device.attributes["gpu.nvidia.com"].type)"#),
        Ok(true)
    );
    assert_eq!(
        t(r#"has(device.attributes["gpu.nvidia.com"].model)"#),
        Ok(false)
    );
    assert_eq!(t(r#""gpu.nvidia.com" in device.attributes"#), Ok(true));
    assert_eq!(t(r#"device.capacity["x"].size() == 0"#), Ok(true));
    let e = t(r#"device.attributes["other.com"].model == "H100""#).unwrap_err();
    assert_eq!(e, "CEL runtime error: no such key: model");
    let e = t(r#"device.attributes["gpu.nvidia.com"].model == "H100""#).unwrap_err();
    assert_eq!(e, "CEL runtime error: no such key: model");
    assert_eq!(
        t(r#"device.attributes["gpu.nvidia.com"].exists(k, k == "architecture")"#),
        Ok(true)
    );
    assert_eq!(
        t(r#"device.attributes.all(d, d == "gpu.nvidia.com")"#),
        Ok(true)
    );
    assert_eq!(
        t(r#"device.attributes["gpu.nvidia.com"].index == 3"#),
        Ok(true)
    );
}

#[test]
fn and_or_absorb_errors() {
    let gpu = h100();
    let missing = r#"device.attributes["gpu.nvidia.com"].model == "H100""#;
    for (expr, want) in [
        (format!("false && {missing}"), Some(false)),
        (format!("{missing} && false"), Some(false)),
        (format!("true || {missing}"), Some(true)),
        (format!("{missing} || true"), Some(true)),
        (format!("true && {missing}"), None),
        (format!("{missing} || false"), None),
    ] {
        match want {
            Some(w) => assert_eq!(gpu.eval(&expr), Ok(w), "{expr}"),
            None => assert!(gpu.eval(&expr).is_err(), "{expr}"),
        }
    }
}

#[test]
fn quantities() {
    let gpu = h100();
    for (expr, want) in [
        ("quantity('1Gi').isGreaterThan(quantity('1G'))", true),
        ("quantity('1000M').compareTo(quantity('1G')) == 0", true),
        ("quantity('1000M') == quantity('1G')", true),
        ("quantity('500m').isLessThan(quantity('1'))", true),
        ("quantity('1k').compareTo(quantity('1Ki')) == -1", true),
        (
            "quantity('1Gi').add(quantity('1Gi')) == quantity('2Gi')",
            true,
        ),
        ("quantity('2').sub(1).asInteger() == 1", true),
        ("quantity('1.5').asApproximateFloat() == 1.5", true),
        ("quantity('1.5').isInteger()", false),
        ("quantity('-3').sign() == -1", true),
        ("isQuantity('1Gi') && !isQuantity('1GiB')", true),
        (
            "device.capacity['gpu.nvidia.com'].memory.isGreaterThan(quantity('80G'))",
            true,
        ),
        (
            "device.capacity['gpu.nvidia.com'].memory.compareTo(quantity('81920Mi')) == 0",
            true,
        ),
    ] {
        assert_eq!(gpu.eval(expr), Ok(want), "{expr}");
    }
    let e = gpu.eval("quantity('1.5').asInteger() == 1").unwrap_err();
    assert!(e.contains("cannot convert value to integer"), "{e}");
    assert!(gpu.eval("quantity('abc') == quantity('1')").is_err());
}

#[test]
fn semvers() {
    let gpu = h100();
    for (expr, want) in [
        ("semver('1.2.3').isLessThan(semver('1.10.0'))", true),
        ("semver('1.0.0-rc.1').isLessThan(semver('1.0.0'))", true),
        (
            "semver('1.0.0-alpha.2').compareTo(semver('1.0.0-alpha.10')) == -1",
            true,
        ),
        (
            "semver('1.0.0-alpha').compareTo(semver('1.0.0-alpha.1')) == -1",
            true,
        ),
        ("semver('1.0.0+build.5') == semver('1.0.0')", true),
        (
            "semver('2.3.4').major() == 2 && semver('2.3.4').minor() == 3",
            true,
        ),
        ("semver('2.3.4').patch() == 4", true),
        ("semver('v1.2', true) == semver('1.2.0')", true),
        (
            "isSemver('1.2.3') && !isSemver('1.2') && isSemver('v1.2', true)",
            true,
        ),
        (
            "device.attributes['gpu.nvidia.com'].driverVersion.isGreaterThan(semver('550.0.0'))",
            true,
        ),
        (
            "device.attributes['gpu.nvidia.com'].driverVersion.compareTo(semver('550.54.15')) == 0",
            true,
        ),
    ] {
        assert_eq!(gpu.eval(expr), Ok(want), "{expr}");
    }
    assert!(gpu.eval("semver('01.2.3').major() == 1").is_err());
}

#[test]
fn strings_lists_bind() {
    let gpu = h100();
    for (expr, want) in [
        ("'NVIDIA H100'.lowerAscii() == 'nvidia h100'", true),
        ("'a,b,c'.split(',').size() == 3", true),
        ("'hello'.substring(1, 3) == 'el'", true),
        ("'  x '.trim() == 'x'", true),
        ("'abcabc'.lastIndexOf('b') == 4", true),
        ("'gpu-0'.replace('-', '_') == 'gpu_0'", true),
        (
            "device.attributes['gpu.nvidia.com'].productName.matches('^NVIDIA H1[0-9]0')",
            true,
        ),
        (
            "device.attributes['gpu.nvidia.com'].productName.contains('80GB')",
            true,
        ),
        (
            "[1, 2, 3].sum() == 6 && [3, 1, 2].min() == 1 && [3, 1, 2].max() == 3",
            true,
        ),
        ("[1, 2, 3].isSorted() && ![2, 1].isSorted()", true),
        (
            "['a', 'b', 'a'].indexOf('a') == 0 && ['a', 'b', 'a'].lastIndexOf('a') == 2",
            true,
        ),
        ("[1, 2].indexOf(5) == -1", true),
        (
            "cel.bind(g, device.attributes['gpu.nvidia.com'], g.type == 'gpu' && g.index > 2)",
            true,
        ),
        ("[1, 2, 3].exists(x, x > 2) && [1, 2].all(x, x < 3)", true),
    ] {
        assert_eq!(gpu.eval(expr), Ok(want), "{expr}");
    }
    assert!(gpu.eval("[].max() == 1").is_err());
}

#[test]
fn compile_errors() {
    for expr in [
        "device.driver ==",
        "device.attributes[\"driver-a\"].",
        "(device.driver == 'a'",
        "device.driver = 'a'",
        "'unterminated",
        "",
        "foo == 1",
        "device.driver == bar",
        "1 + 1",
        "'string'",
        "[true]",
        "{'a': true}",
        "cel.bind(1, 2, true)",
    ] {
        let e = Selector::compile(expr).expect_err(expr);
        assert_eq!(e.kind, SelectorErrorKind::Compile, "{expr}");
        assert!(e.to_string().starts_with("CEL compile error: "), "{e}");
    }
    let e = Selector::compile("foo == 1").unwrap_err();
    assert!(e.message.contains("undeclared reference to 'foo'"), "{e}");
    let e = Selector::compile("42").unwrap_err();
    assert!(e.message.contains("must evaluate to bool"), "{e}");
    // Deep nesting is refused by the parser rather than overflowing the stack.
    for deep in [
        format!("{}true{}", "(".repeat(5000), ")".repeat(5000)),
        format!("{}1{}", "[".repeat(3000), "]".repeat(3000)),
        format!("{} == 1", vec!["1"; 3000].join(" + ")),
        format!("device{} == 1", ".a".repeat(3000)),
        "x".repeat(20_000),
    ] {
        assert!(Selector::compile(&deep).is_err(), "{}", &deep[..20]);
    }
    // The parser folds a run of `!` (as cel-go does), so this one is fine.
    Selector::compile(&format!("{}true", "!".repeat(5000))).unwrap();
    // Comprehension variables are declared inside their macro.
    Selector::compile("[1].all(x, x > 0)").unwrap();
}

#[test]
fn non_bool_result_is_runtime_error() {
    let gpu = h100();
    let e = gpu.eval("device.driver").unwrap_err();
    assert_eq!(
        e,
        "CEL runtime error: CEL result of type string could not be converted to bool"
    );
    let e = gpu
        .eval("device.attributes['gpu.nvidia.com'].index + 1")
        .unwrap_err();
    assert!(e.contains("type int"), "{e}");
    let e = gpu.eval("device.driver > 1").unwrap_err();
    assert!(e.starts_with("CEL runtime error: "), "{e}");
}

#[test]
fn cache() {
    let cache = SelectorCache::new(2);
    let a = cache.get("device.driver == 'a'").unwrap();
    let again = cache.get("device.driver == 'a'").unwrap();
    assert!(Arc::ptr_eq(&a, &again));
    assert!(cache.get("device.driver ==").is_err());
    assert_eq!(cache.len(), 2);
    cache.get("device.driver == 'b'").unwrap();
    assert_eq!(cache.len(), 2);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let sel = cache.get("device.driver == 'a'").unwrap();
                assert_eq!(sel.matches(&Dev::new("a").env()), Ok(true));
            });
        }
    });
}

fn expr_strategy() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "device.driver",
        "device.attributes['gpu.nvidia.com']",
        "device.attributes['x'].y",
        "device.capacity['gpu.nvidia.com'].memory",
        "quantity('1Gi')",
        "semver('1.2.3')",
        "1",
        "'s'",
        "true",
        "[1, 2]",
        "x",
        "(",
        ")",
        ".",
        "==",
        "&&",
        "||",
        "!",
        "+",
        ".compareTo(",
        ".size()",
        ".all(x, ",
        "in",
        ",",
        "[",
        "]",
        "?",
        ":",
    ]);
    prop::collection::vec(atoms, 1..12).prop_map(|v| v.join(" "))
}

proptest! {
    #[test]
    fn random_expressions_never_panic(expr in expr_strategy(), text in "\\PC{0,40}") {
        let gpu = h100();
        for e in [expr.as_str(), text.as_str()] {
            if let Ok(sel) = Selector::compile(e) {
                let _ = sel.matches(&gpu.env());
            }
        }
    }
}
