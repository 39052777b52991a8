//! The fast path against the interpreter: the same answer, errors included, on every pair of
//! a selector and a device below, and the fast path answering where it should.

use std::collections::BTreeMap;

use super::super::{DeviceEnv, Selector};
use crate::dra::value::{AttrValue, QualifiedName, Quantity};

struct Dev {
    driver: &'static str,
    attributes: BTreeMap<QualifiedName, AttrValue>,
    capacity: BTreeMap<QualifiedName, Quantity>,
}

impl Dev {
    fn new(driver: &'static str, attrs: &[(&str, AttrValue)]) -> Self {
        Self {
            driver,
            attributes: attrs
                .iter()
                .map(|(n, v)| (QualifiedName::parse(n, driver), v.clone()))
                .collect(),
            capacity: BTreeMap::from([(
                QualifiedName::parse("memory", driver),
                Quantity::from_units(8),
            )]),
        }
    }

    fn env(&self) -> DeviceEnv<'_> {
        DeviceEnv {
            driver: self.driver,
            attributes: &self.attributes,
            capacity: &self.capacity,
            allow_multiple_allocations: false,
        }
    }
}

fn s(v: &str) -> AttrValue {
    AttrValue::String(v.to_owned())
}

fn devices() -> Vec<Dev> {
    use AttrValue::{Bool, Int, Version};
    vec![
        Dev::new("gpu.nvidia.com", &[("type", s("gpu")), ("index", Int(3))]),
        Dev::new("gpu.nvidia.com", &[("type", s("mig")), ("index", Int(0))]),
        // Missing attribute: `no such key` in CEL.
        Dev::new("gpu.nvidia.com", &[("index", Int(3))]),
        // Wrong types: heterogeneous equality, and a semver.
        Dev::new("gpu.nvidia.com", &[("type", Int(1)), ("index", s("3"))]),
        Dev::new(
            "gpu.nvidia.com",
            &[("type", Bool(true)), ("index", Bool(false))],
        ),
        Dev::new("gpu.nvidia.com", &[("type", Version("1.2.3".into()))]),
        Dev::new("gpu.nvidia.com", &[("type", Version("not-semver".into()))]),
        Dev::new("dra.net", &[("rdma", Bool(true)), ("mtu", Int(8896))]),
        Dev::new("dra.net", &[("rdma", Bool(false))]),
        Dev::new("dra.net", &[("rdma", s("true"))]),
        Dev::new("dra.net", &[]),
        // An attribute of another domain, and the domain without the attribute.
        Dev::new(
            "dra.cpu",
            &[("dra.net/rdma", Bool(true)), ("dra.net/other", Int(1))],
        ),
        Dev::new("", &[("", s(""))]),
    ]
}

/// Selectors with a fast form.
const FAST: &[&str] = &[
    "device.driver == 'gpu.nvidia.com'",
    "'gpu.nvidia.com' == device.driver",
    r#"device.driver == "dra.net""#,
    "device.driver == ''",
    "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'",
    "device.attributes['gpu.nvidia.com'].type == 'gpu' && device.driver == 'gpu.nvidia.com'",
    "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'mig'",
    "'gpu' == device.attributes['gpu.nvidia.com'].type",
    "device.attributes['gpu.nvidia.com'].index == 3",
    "device.attributes['gpu.nvidia.com'].index == 3 && device.attributes['gpu.nvidia.com'].type == 'gpu'",
    r#"device.attributes["dra.net"].rdma == true"#,
    r#"device.attributes["dra.net"].rdma == false"#,
    r#"device.attributes["dra.net"].rdma == true && device.driver == "dra.net""#,
    r#"device.driver == "dra.net" && device.attributes["dra.net"].rdma == true && device.attributes["dra.net"].mtu == 8896"#,
    r#"(device.driver == "dra.net" && device.attributes["dra.net"].mtu == 8896) && device.attributes["dra.net"].rdma == true"#,
    r#"device.attributes["dra.net"].rdma == true && device.attributes["dra.net"].mtu == 8896"#,
    r#"device.attributes["no.such"].x == 1 && device.driver == "dra.net""#,
    "device.attributes[''].x == ''",
];

/// Selectors the fast path leaves to the interpreter entirely.
const SLOW: &[&str] = &[
    "device.driver != 'gpu.nvidia.com'",
    "device.driver == 'a' || device.driver == 'gpu.nvidia.com'",
    "device.driver == 1",
    "device.attributes['gpu.nvidia.com'].index == 3.0",
    "device.attributes['gpu.nvidia.com'].index == 3u",
    "device.attributes['gpu.nvidia.com']['type'] == 'gpu'",
    r#"device.attributes[""][""] == """#,
    "device.attributes['gpu.nvidia.com'].type == device.attributes['gpu.nvidia.com'].type",
    "has(device.attributes['gpu.nvidia.com'].type)",
    "device.attributes['gpu.nvidia.com'].type.startsWith('g')",
    "device.capacity['gpu.nvidia.com'].memory.compareTo(quantity('4')) >= 0",
    "device.driver == 'gpu.nvidia.com' && has(device.attributes['gpu.nvidia.com'].type)",
    "!(device.driver == 'gpu.nvidia.com')",
    "true",
    "device.allowMultipleAllocations == false",
];

#[test]
fn shapes_recognised() {
    for expr in FAST {
        let sel = Selector::compile(expr).unwrap();
        assert!(sel.has_fast_path(), "{expr}");
    }
    for expr in SLOW {
        let sel = Selector::compile(expr).unwrap();
        assert!(!sel.has_fast_path(), "{expr}");
    }
}

#[test]
fn same_answer_as_the_interpreter() {
    let devices = devices();
    let mut decided = 0;
    for expr in FAST.iter().chain(SLOW) {
        let sel = Selector::compile(expr).unwrap();
        for dev in &devices {
            let env = dev.env();
            let interpreted = sel.interpret(&env);
            assert_eq!(
                sel.matches(&env),
                interpreted,
                "{expr} on {:?}",
                dev.attributes
            );
            if let Some(hit) = sel.try_fast(env.driver, env.attributes) {
                decided += 1;
                assert_eq!(Ok(hit), interpreted, "{expr} on {:?}", dev.attributes);
            }
        }
    }
    assert!(decided > 100, "the fast path decided only {decided} cases");
}

/// `(expression, device index, fast answer, interpreter answer)`.
type Case<'a> = (&'a str, usize, Option<bool>, Result<bool, &'a str>);

#[test]
fn hits_misses_and_errors() {
    let devices = devices();
    let gpu_class =
        "device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'";
    let rdma = r#"device.attributes["dra.net"].rdma == true"#;
    let cases: &[Case<'_>] = &[
        (gpu_class, 0, Some(true), Ok(true)),
        (gpu_class, 1, Some(false), Ok(false)),
        (gpu_class, 7, Some(false), Ok(false)),
        (
            gpu_class,
            2,
            None,
            Err("CEL runtime error: no such key: type"),
        ),
        (gpu_class, 3, None, Ok(false)),
        (gpu_class, 4, None, Ok(false)),
        (gpu_class, 5, None, Ok(false)),
        (
            gpu_class,
            6,
            None,
            Err(
                "CEL runtime error: attribute gpu.nvidia.com/type: parse semantic version: \
                 \"not-semver\" is not a semantic version: expected MAJOR.MINOR.PATCH",
            ),
        ),
        (rdma, 7, Some(true), Ok(true)),
        (rdma, 8, Some(false), Ok(false)),
        (rdma, 9, None, Ok(false)),
        (rdma, 10, None, Err("CEL runtime error: no such key: rdma")),
        (rdma, 0, None, Err("CEL runtime error: no such key: rdma")),
        (rdma, 11, Some(true), Ok(true)),
    ];
    for &(expr, d, fast, want) in cases {
        let sel = Selector::compile(expr).unwrap();
        let env = devices[d].env();
        assert_eq!(
            sel.try_fast(env.driver, env.attributes),
            fast,
            "{expr} on #{d}"
        );
        let got = sel.matches(&env).map_err(|e| e.to_string());
        let interpreted = sel.interpret(&env).map_err(|e| e.to_string());
        assert_eq!(got, interpreted, "{expr} on #{d}");
        assert_eq!(got, want.map_err(str::to_owned), "{expr} on #{d}");
    }
}
