//! The Go `math/rand` port against values dumped from real Go 1.19 (`tests/data/
//! go_rand_reference.txt`; its header says how it was made).

use topoplace_core::replay::go_rand::GoRand;

const REFERENCE: &str = include_str!("data/go_rand_reference.txt");

/// Polynomial hash the reference uses for long permutations: `h = h * 1000003 + v`.
fn hash(values: &[usize]) -> u64 {
    values.iter().fold(0_u64, |h, &v| {
        h.wrapping_mul(1_000_003).wrapping_add(v as u64)
    })
}

fn ints<T: std::str::FromStr>(values: &[&str]) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    values
        .iter()
        .map(|v| v.parse().expect("number in reference"))
        .collect()
}

/// What our generator gives for the stream named `stream`, as the reference prints it.
fn ours(seed: i64, stream: &str) -> Vec<String> {
    let mut g = GoRand::new(seed);
    let many = |n: usize, f: &mut dyn FnMut() -> String| (0..n).map(|_| f()).collect::<Vec<_>>();
    match stream {
        "int63" => many(50, &mut || g.int63().to_string()),
        "int" => many(20, &mut || g.int().to_string()),
        "int31" => many(20, &mut || g.int31().to_string()),
        "float64" => many(50, &mut || g.float64().to_bits().to_string()),
        "mixed" => {
            let mut out = vec![g.int().to_string()];
            let mut v: Vec<usize> = (0..30).collect();
            g.shuffle(30, |i, j| v.swap(i, j));
            out.extend(v.iter().map(ToString::to_string));
            out.extend((0..5).map(|_| g.intn(30).to_string()));
            out.extend((0..10).map(|_| g.float64().to_bits().to_string()));
            out.extend(g.perm(12).iter().map(ToString::to_string));
            out
        }
        s if s.starts_with("intn") => {
            let n: usize = s[4..].parse().expect("bound");
            many(50, &mut || g.intn(n).to_string())
        }
        s if s.starts_with("int31n") => {
            let n: i32 = s[6..].parse().expect("bound");
            many(50, &mut || g.int31n(n).to_string())
        }
        s if s.starts_with("perm") && s.ends_with("hash") => {
            let n: usize = s[4..s.len() - 4].parse().expect("size");
            let p = g.perm(n);
            vec![hash(&p).to_string(), g.int63().to_string()]
        }
        s if s.starts_with("perm") => {
            let n: usize = s[4..].parse().expect("size");
            g.perm(n).iter().map(ToString::to_string).collect()
        }
        s if s.starts_with("shuffle") => {
            let hashed = s.ends_with("hash");
            let n: usize = s[7..s.len() - if hashed { 4 } else { 0 }]
                .parse()
                .expect("size");
            let mut v: Vec<usize> = (0..n).collect();
            g.shuffle(n, |i, j| v.swap(i, j));
            if hashed {
                vec![hash(&v).to_string(), g.int63().to_string()]
            } else {
                v.iter().map(ToString::to_string).collect()
            }
        }
        other => panic!("unknown stream {other} in the reference"),
    }
}

#[test]
fn matches_go_for_every_reference_stream() {
    let mut checked = 0;
    for line in REFERENCE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let seed: i64 = fields[0].parse().expect("seed");
        let want: Vec<String> = fields[2..].iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            ours(seed, fields[1]),
            want,
            "seed {seed}, stream {}",
            fields[1]
        );
        checked += 1;
    }
    // 5 seeds x 24 streams.
    assert_eq!(checked, 120);
}

#[test]
fn int63_of_seed_42_starts_as_in_go() {
    let want: Vec<i64> = ints(&[
        "3440579354231278675",
        "608747136543856411",
        "5571782338101878760",
    ]);
    let mut g = GoRand::new(42);
    assert_eq!((0..3).map(|_| g.int63()).collect::<Vec<_>>(), want);
}

#[test]
fn seeds_equal_modulo_2_pow_31_minus_1_give_the_same_stream() {
    // Go reduces the seed modulo 2^31 - 1 and maps 0 to a fixed seed.
    let m = (1_i64 << 31) - 1;
    let (mut a, mut b) = (GoRand::new(7), GoRand::new(7 + 3 * m));
    assert_eq!(a.int63(), b.int63());
    let (mut z, mut zm) = (GoRand::new(0), GoRand::new(m));
    assert_eq!(z.int63(), zm.int63());
}

#[test]
fn shuffle_and_perm_of_small_sizes_draw_nothing_or_stay_in_range() {
    let mut g = GoRand::new(1);
    let before = g.clone().int63();
    g.shuffle(1, |_, _| panic!("a single item is never swapped"));
    g.shuffle(0, |_, _| panic!("nothing to swap"));
    assert_eq!(g.int63(), before, "Shuffle of 0 or 1 item takes no draw");
    let p = GoRand::new(5).perm(50);
    let mut sorted = p.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..50).collect::<Vec<_>>());
}
