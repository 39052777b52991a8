//! GPU set selection compatible with NVIDIA's `go-gpuallocator` (the library behind the NVIDIA
//! device plugin's `GetPreferredAllocation`).
//!
//! - [`PairScores`]: the pair score matrix (`NVk` = 100 k, `PIX` 50, ... `SYS` 10), from
//!   conformance labels or from a [`crate::Topology`].
//! - [`best_effort`]: the best-effort policy. It maximises the total score of a split of all
//!   available GPUs into groups of the requested size, with an exact branch and bound search
//!   (over classes of interchangeable GPUs, memoised by the count left in each class) instead of
//!   upstream's enumeration of every split.
//! - [`simple`]: required GPUs, then the lowest free indices.
//! - [`StaticTables`]: the static DGX policies' valid-set tables.
//!
//! GPU sets are `u128` bit masks over GPU indexes `0..128`.

mod besteffort;
mod bound;
mod score;
mod simple;
mod static_dgx;

pub use besteffort::{Selection, best_effort};
pub use score::{PairScores, label_score};
pub use simple::simple;
pub use static_dgx::StaticTables;

/// Largest number of GPUs a selection can address (bit masks are `u128`).
pub const MAX_GPUS: usize = 128;

/// The GPU indexes of `mask`, ascending.
#[must_use]
pub fn mask_to_vec(mask: u128) -> Vec<u32> {
    let mut out = Vec::with_capacity(mask.count_ones() as usize);
    let mut m = mask;
    while m != 0 {
        out.push(m.trailing_zeros());
        m &= m - 1;
    }
    out
}

/// The bit mask of `gpus`.
///
/// # Errors
/// [`crate::Error::Value`] when an index is 128 or more.
pub fn vec_to_mask(gpus: &[u32]) -> crate::Result<u128> {
    let mut mask = 0u128;
    for &g in gpus {
        if g as usize >= MAX_GPUS {
            return Err(crate::Error::Value(format!(
                "GPU index {g} out of range (at most {MAX_GPUS} GPUs)"
            )));
        }
        mask |= 1u128 << g;
    }
    Ok(mask)
}
