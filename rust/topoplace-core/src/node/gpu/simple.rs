//! The simple policy: the required GPUs, then the lowest-numbered available ones.

/// Picks `size` GPUs of `available` (bit mask): every GPU of `required`, then the lowest
/// available indexes. `None` when `size` is 0, larger than the available count, smaller than the
/// required count, or a required GPU is not available.
#[must_use]
pub fn simple(available: u128, required: u128, size: usize) -> Option<u128> {
    if size == 0
        || size > available.count_ones() as usize
        || required.count_ones() as usize > size
        || required & !available != 0
    {
        return None;
    }
    let mut chosen = required;
    let mut rest = available & !required;
    while (chosen.count_ones() as usize) < size && rest != 0 {
        let low = rest & rest.wrapping_neg();
        chosen |= low;
        rest &= !low;
    }
    Some(chosen)
}
