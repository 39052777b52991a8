//! A port of Go's `math/rand` (Go 1.19 and earlier), the random stream of the FGD simulator.
//!
//! The generator is an additive lagged Fibonacci generator, `x[n] = x[n-607] + x[n-273]`
//! (mod 2^64), whose 607 words of state are seeded with a Lehmer (Park–Miller, multiplier
//! 48271) sequence XOR-ed with a fixed table (`RNG_COOKED`, dumped from Go). The
//! derived draws (`Int63n`, `Int31n`, `Intn`, `Float64`, `Perm`, `Shuffle`) reproduce Go's
//! rejection rules draw for draw: a replay that makes the same calls in the same order gets
//! the same numbers as the Go program did. The test reference values come from Go 1.19.8.

use super::go_rand_cooked::RNG_COOKED;

const LEN: usize = 607;
const TAP: usize = 273;
const INT32_MAX: i64 = (1 << 31) - 1;

/// One step of the seeding sequence `x -> 48271 x mod (2^31 - 1)`, with Schrage's method so
/// that the intermediate products stay inside 32 bits as in Go.
fn seed_step(x: i32) -> i32 {
    const A: i32 = 48_271;
    const Q: i32 = 44_488; // (2^31 - 1) / A
    const R: i32 = 3_399; // (2^31 - 1) % A
    let hi = x / Q;
    let lo = x % Q;
    let y = A * lo - R * hi;
    if y < 0 { y + INT32_MAX as i32 } else { y }
}

/// Go's `math/rand.Rand` over its default source, seeded as `rand.Seed(seed)` does.
#[derive(Clone)]
pub struct GoRand {
    vec: Box<[i64; LEN]>,
    tap: usize,
    feed: usize,
}

impl std::fmt::Debug for GoRand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoRand")
            .field("tap", &self.tap)
            .field("feed", &self.feed)
            .finish_non_exhaustive()
    }
}

impl GoRand {
    /// A generator in the state `rand.Seed(seed)` leaves Go's.
    #[must_use]
    pub fn new(seed: i64) -> Self {
        // Go reduces the seed modulo 2^31 - 1 and maps 0 to a fixed non-zero seed, because
        // the Lehmer sequence is stuck at 0.
        let mut s = seed % INT32_MAX;
        if s < 0 {
            s += INT32_MAX;
        }
        if s == 0 {
            s = 89_482_311;
        }
        let mut x = i32::try_from(s).unwrap_or(1);
        let mut vec = Box::new([0_i64; LEN]);
        // The first 20 steps are discarded to move away from small seeds.
        for i in -20_i32..LEN as i32 {
            x = seed_step(x);
            if let Ok(i) = usize::try_from(i) {
                let mut u = i64::from(x) << 40;
                x = seed_step(x);
                u ^= i64::from(x) << 20;
                x = seed_step(x);
                u ^= i64::from(x);
                u ^= RNG_COOKED[i];
                vec[i] = u;
            }
        }
        Self {
            vec,
            tap: 0,
            feed: LEN - TAP,
        }
    }

    /// The next raw 64-bit word (Go's `Uint64` of the source).
    pub fn uint64(&mut self) -> u64 {
        self.tap = if self.tap == 0 { LEN - 1 } else { self.tap - 1 };
        self.feed = if self.feed == 0 {
            LEN - 1
        } else {
            self.feed - 1
        };
        let x = self.vec[self.feed].wrapping_add(self.vec[self.tap]);
        self.vec[self.feed] = x;
        x as u64
    }

    /// A non-negative 63-bit integer (Go's `Int63`).
    pub fn int63(&mut self) -> i64 {
        (self.uint64() & (u64::MAX >> 1)) as i64
    }

    /// A 32-bit unsigned integer from the top bits of [`Self::int63`] (Go's `Uint32`).
    pub fn uint32(&mut self) -> u32 {
        (self.int63() >> 31) as u32
    }

    /// A non-negative 31-bit integer (Go's `Int31`).
    pub fn int31(&mut self) -> i32 {
        (self.int63() >> 32) as i32
    }

    /// A non-negative `int` on a 64-bit platform (Go's `Int`): the same value as `Int63`.
    pub fn int(&mut self) -> i64 {
        self.int63()
    }

    /// Uniform in `[0, n)` by rejection of the biased top range (Go's `Int63n`).
    ///
    /// # Panics
    /// When `n <= 0`, as Go does.
    pub fn int63n(&mut self, n: i64) -> i64 {
        assert!(n > 0, "invalid argument to int63n");
        if n & (n - 1) == 0 {
            return self.int63() & (n - 1);
        }
        let max = i64::MAX - ((1_u64 << 63) % n as u64) as i64;
        let mut v = self.int63();
        while v > max {
            v = self.int63();
        }
        v % n
    }

    /// Uniform in `[0, n)` by rejection (Go's exported `Int31n`, used by `Intn`).
    ///
    /// # Panics
    /// When `n <= 0`, as Go does.
    pub fn int31n(&mut self, n: i32) -> i32 {
        assert!(n > 0, "invalid argument to int31n");
        if n & (n - 1) == 0 {
            return self.int31() & (n - 1);
        }
        let max = i32::MAX - ((1_u32 << 31) % n as u32) as i32;
        let mut v = self.int31();
        while v > max {
            v = self.int31();
        }
        v % n
    }

    /// Uniform in `[0, n)` by Lemire's multiply-shift method: Go's unexported `int31n`, which
    /// `Shuffle` uses. It consumes different draws from [`Self::int31n`].
    pub fn int31n_lemire(&mut self, n: i32) -> i32 {
        let n32 = n as u32;
        let mut prod = u64::from(self.uint32()) * u64::from(n32);
        let mut low = prod as u32;
        if low < n32 {
            let thresh = n32.wrapping_neg() % n32;
            while low < thresh {
                prod = u64::from(self.uint32()) * u64::from(n32);
                low = prod as u32;
            }
        }
        (prod >> 32) as i32
    }

    /// Uniform in `[0, n)` (Go's `Intn`): `Int31n` when `n` fits in 31 bits, else `Int63n`.
    ///
    /// # Panics
    /// When `n == 0`, as Go does.
    pub fn intn(&mut self, n: usize) -> usize {
        assert!(n > 0, "invalid argument to intn");
        if let Ok(n31) = i32::try_from(n) {
            self.int31n(n31) as usize
        } else {
            self.int63n(n as i64) as usize
        }
    }

    /// Uniform in `[0, 1)` (Go's `Float64`): `Int63 / 2^63`, redrawn in the rare case that
    /// rounding gives exactly 1.
    pub fn float64(&mut self) -> f64 {
        loop {
            let f = self.int63() as f64 / 9_223_372_036_854_775_808.0;
            if f < 1.0 {
                return f;
            }
        }
    }

    /// A random permutation of `0..n` (Go's `Perm`, an inside-out Fisher–Yates over `Intn`).
    pub fn perm(&mut self, n: usize) -> Vec<usize> {
        let mut m = vec![0_usize; n];
        for i in 0..n {
            let j = self.intn(i + 1);
            m[i] = m[j];
            m[j] = i;
        }
        m
    }

    /// Shuffles `n` items through `swap(i, j)` (Go's `Shuffle`: Fisher–Yates from the end,
    /// `Int63n` for indexes beyond 31 bits, then the multiply-shift `int31n`).
    pub fn shuffle(&mut self, n: usize, mut swap: impl FnMut(usize, usize)) {
        let mut i = n.saturating_sub(1);
        while i > (i32::MAX - 1) as usize {
            let j = self.int63n(i as i64 + 1) as usize;
            swap(i, j);
            i -= 1;
        }
        while i > 0 {
            let j = self.int31n_lemire(i as i32 + 1) as usize;
            swap(i, j);
            i -= 1;
        }
    }
}
