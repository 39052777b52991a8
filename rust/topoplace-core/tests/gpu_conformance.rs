//! GPU set-selection conformance (`tests/data/conformance/gpu/`) and a brute-force oracle for
//! the best-effort search.
#![allow(clippy::print_stdout)]

use proptest::prelude::*;
use topoplace_core::conformance::{GpuFiles, run_gpu};
use topoplace_core::node::gpu::{PairScores, best_effort, mask_to_vec};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/conformance/gpu"
);

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{name}")).expect("read vector file")
}

fn allocation_case(name: &str, cases: &serde_json::Value) -> Option<bool> {
    let case = cases["cases"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)?;
    let policy = case["policy"].as_str()?;
    Some(policy != "nearest-nic" && policy != "mig-placement")
}

#[test]
fn gpu_conformance() {
    let (topologies, cases, tables) = (
        read("topologies.json"),
        read("cases.json"),
        read("static_tables.json"),
    );
    let parsed: serde_json::Value = serde_json::from_str(&cases).expect("cases json");
    let files = GpuFiles {
        topologies: Some(&topologies),
        cases: Some(&cases),
        static_tables: Some(&tables),
    };
    let loose = run_gpu(&files, false).expect("run");
    assert_eq!(loose.len(), 186);
    let mut passed = 0;
    let mut failed = Vec::new();
    let mut other = (0, 0);
    for r in &loose {
        if allocation_case(&r.name, &parsed) == Some(true) {
            if r.passed {
                passed += 1;
            } else {
                failed.push(format!("{}: {}", r.name, r.detail));
            }
        } else {
            other.0 += usize::from(r.passed);
            other.1 += 1;
        }
    }
    for f in &failed {
        println!("FAIL {f}");
    }
    println!(
        "allocation cases: {passed}/136 pass; nearest-nic/mig: {}/{}",
        other.0, other.1
    );
    assert!(
        failed.is_empty(),
        "{} allocation cases failed",
        failed.len()
    );
    assert_eq!(passed, 136);

    let strict = run_gpu(&files, true).expect("run strict");
    let mut tied = 0;
    let mut tied_match = 0;
    let mut strict_pass = 0;
    for (r, c) in strict
        .iter()
        .zip(parsed["cases"].as_array().expect("cases"))
    {
        if allocation_case(&r.name, &parsed) == Some(true) && r.passed {
            strict_pass += 1;
        }
        if allocation_case(&r.name, &parsed) == Some(true) && c["tie"] == true {
            tied += 1;
            if r.passed {
                tied_match += 1;
            } else {
                println!("STRICT MISMATCH {}: {}", r.name, r.detail);
            }
        }
    }
    println!("strict: {tied_match}/{tied} tied cases give reference_result");
    println!("strict: {strict_pass}/136 allocation cases give reference_result");
    assert_eq!(
        strict_pass, 136,
        "strict mode must reproduce every reference_result"
    );
}

/// The result of enumerating every split the way upstream does.
#[derive(Debug)]
struct Brute {
    /// Best split total.
    best: u64,
    /// Every highest-scoring complete group holding `required` in some best split.
    answers: Vec<u128>,
    /// Upstream's own pick (first best split, first best group); `None` when upstream would
    /// pick a padded group.
    reference: Option<u128>,
}

fn lex_combos(len: usize, k: usize, out: &mut dyn FnMut(&[usize])) {
    let mut comb: Vec<usize> = (0..k).collect();
    if k > len {
        return;
    }
    loop {
        out(&comb);
        let mut i = k;
        loop {
            if i == 0 {
                return;
            }
            i -= 1;
            if comb[i] < len - k + i {
                comb[i] += 1;
                for j in i + 1..k {
                    comb[j] = comb[j - 1] + 1;
                }
                break;
            }
        }
    }
}

/// Upstream's enumeration, written out plainly: the available GPUs then `pad` empty slots; each
/// group is the first element left plus `size - 1` others in lexicographic order, holding no
/// padding or all of it.
fn brute(w: &PairScores, avail: &[u32], required: u128, size: usize) -> Option<Brute> {
    type Split = Vec<Vec<Option<u32>>>;
    fn rec(
        devices: &[Option<u32>],
        size: usize,
        pad: usize,
        acc: &mut Split,
        out: &mut dyn FnMut(&Split),
    ) {
        if devices.len() == size {
            acc.push(devices.to_vec());
            out(acc);
            acc.pop();
            return;
        }
        let others = &devices[1..];
        lex_combos(others.len(), size - 1, &mut |comb| {
            let mut set = vec![devices[0]];
            set.extend(comb.iter().map(|&c| others[c]));
            let p = set.iter().filter(|d| d.is_none()).count();
            if p != 0 && p != pad {
                return;
            }
            let rest: Vec<Option<u32>> = devices
                .iter()
                .copied()
                .filter(|d| !set.contains(d))
                .collect();
            acc.push(set);
            rec(&rest, size, pad, acc, out);
            acc.pop();
        });
    }
    let pad = (size - avail.len() % size) % size;
    let group_score = |g: &[Option<u32>]| -> u32 {
        let real: Vec<u32> = g.iter().flatten().copied().collect();
        let mut s = 0;
        for (a, &i) in real.iter().enumerate() {
            for &j in &real[a + 1..] {
                s += w.get(i as usize, j as usize);
            }
        }
        s
    };
    let mask = |g: &[Option<u32>]| g.iter().flatten().fold(0u128, |m, &i| m | 1 << i);
    let complete = |g: &[Option<u32>]| g.iter().all(Option::is_some);
    let mut best: Option<(u64, Split)> = None;
    let mut answers = Vec::new();
    let mut devices: Vec<Option<u32>> = avail.iter().map(|&g| Some(g)).collect();
    devices.extend(std::iter::repeat_n(None, pad));
    let mut acc = Vec::new();
    rec(&devices, size, pad, &mut acc, &mut |split: &Split| {
        let holds = |g: &Vec<Option<u32>>| complete(g) && mask(g) & required == required;
        if !split.iter().any(holds) {
            return;
        }
        let total: u64 = split.iter().map(|g| u64::from(group_score(g))).sum();
        let top = split
            .iter()
            .filter(|g| holds(g))
            .map(|g| group_score(g))
            .max()
            .unwrap_or(0);
        let hold = split
            .iter()
            .filter(|g| holds(g) && group_score(g) == top)
            .map(|g| mask(g));
        match &best {
            Some((b, _)) if total < *b => {}
            Some((b, _)) if total == *b => answers.extend(hold),
            _ => {
                answers = hold.collect();
                best = Some((total, split.clone()));
            }
        }
    });
    let (total, split) = best?;
    let mut pick: Option<&Vec<Option<u32>>> = None;
    for g in split.iter().filter(|g| mask(g) & required == required) {
        if pick.is_none_or(|p| group_score(g) > group_score(p)) {
            pick = Some(g);
        }
    }
    let reference = pick.filter(|g| complete(g)).map(|g| mask(g));
    Some(Brute {
        best: total,
        answers,
        reference,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    #[test]
    fn best_effort_matches_brute_force(
        n in 1usize..=10,
        raw in proptest::collection::vec(0u32..6, 45),
        avail_bits in any::<u16>(),
        req_bits in any::<u16>(),
        size in 1usize..=5,
        strict in any::<bool>(),
    ) {
        let mut w = PairScores::new(n).unwrap();
        let mut k = 0;
        for i in 0..n {
            for j in i + 1..n {
                w.add(i, j, [0, 10, 20, 50, 100, 200][raw[k] as usize]).unwrap();
                k += 1;
            }
        }
        let available = u128::from(avail_bits) & ((1u128 << n) - 1);
        let mut required = u128::from(req_bits) & available;
        while required.count_ones() > 2 {
            required &= required - 1;
        }
        let got = best_effort(&w, available, required, size, strict).unwrap();
        let avail = mask_to_vec(available);
        let feasible_input = size >= 1 && size <= avail.len() && required.count_ones() as usize <= size;
        let want = if feasible_input { brute(&w, &avail, required, size) } else { None };
        match (got, want) {
            (None, None) => {}
            (Some(sel), Some(want)) => {
                let g = sel.gpus.iter().fold(0u128, |m, &i| m | 1 << i);
                prop_assert_eq!(g & required, required);
                prop_assert_eq!(sel.gpus.len(), size);
                if size > 1 {
                    prop_assert_eq!(sel.split_score, want.best);
                    prop_assert!(want.answers.contains(&g), "got {:?}, best answers {:?}", sel.gpus, want.answers);
                    if strict && let Some(r) = want.reference {
                        prop_assert_eq!(g, r, "strict: got {:?}", sel.gpus);
                    }
                }
            }
            (g, w) => prop_assert!(false, "got {:?}, brute {:?}", g, w),
        }
    }
}
