//! Filling the end of a vector on all cores, each part of the work straight into its
//! own stretch of the vector's spare room.
//!
//! Why: the parser (the records of its parallel blocks) and the grouping into RRsets
//! (`zone`) both make millions of items whose places are known in advance; collecting
//! them per part and then copying them together cost a single-core copy of hundreds of
//! megabytes at a million delegations, and as much again in page faults (issue #5).
//! The one `unsafe` step (`set_len`) lives here, behind a check that every slot was
//! written.

use rayon::prelude::*;
use std::mem::MaybeUninit;

/// One part's stretch of the vector: exactly as many items must be pushed as it has
/// room for.
pub struct Slots<'a, T> {
    room: &'a mut [MaybeUninit<T>],
    filled: usize,
}

impl<T> Slots<'_, T> {
    /// Writes the next item; panics if the stretch is already full.
    pub fn push(&mut self, item: T) {
        self.room[self.filled].write(item);
        self.filled += 1;
    }
}

/// Appends to `v` what each of `parts` makes, in order: part `i` declares how many
/// items it makes (`parts[i].0`), and `fill` pushes exactly that many into its
/// [`Slots`], the parts on all cores. Returns what each `fill` returned, in order.
///
/// Panics, leaving `v` as it was (items written so far are leaked, never exposed), if a
/// part pushes fewer items than it declared.
pub fn extend_in_parallel<T, P, R>(
    v: &mut Vec<T>,
    parts: Vec<(usize, P)>,
    fill: impl Fn(P, &mut Slots<'_, T>) -> R + Sync,
) -> Vec<R>
where
    T: Send,
    P: Send,
    R: Send,
{
    let total: usize = parts.iter().map(|(n, _)| n).sum();
    let old_len = v.len();
    v.reserve_exact(total);
    let mut spare = &mut v.spare_capacity_mut()[..total];
    let mut work = Vec::with_capacity(parts.len());
    for (n, part) in parts {
        let (room, rest) = spare.split_at_mut(n);
        spare = rest;
        work.push((Slots { room, filled: 0 }, part));
    }
    let results: Vec<(usize, usize, R)> = work
        .into_par_iter()
        .map(|(mut slots, part)| {
            let r = fill(part, &mut slots);
            (slots.filled, slots.room.len(), r)
        })
        .collect();
    assert!(
        results.iter().all(|(filled, room, _)| filled == room),
        "a part made fewer items than it declared"
    );
    // SAFETY: the parts' stretches cover the first `total` spare slots exactly, and
    // every stretch was filled to its end (checked just above).
    unsafe { v.set_len(old_len + total) };
    results.into_iter().map(|(_, _, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_land_in_order_after_what_was_there() {
        let mut v = vec![String::from("head")];
        let parts: Vec<(usize, std::ops::Range<u32>)> =
            vec![(3, 0..3), (0, 3..3), (2, 3..5), (1, 5..6)];
        let sums = extend_in_parallel(&mut v, parts, |range, slots| {
            let mut sum = 0;
            for i in range {
                slots.push(i.to_string());
                sum += i;
            }
            sum
        });
        assert_eq!(v, ["head", "0", "1", "2", "3", "4", "5"]);
        assert_eq!(sums, [3, 0, 7, 5]);
    }

    #[test]
    fn a_part_short_of_its_count_panics_and_leaves_the_vector() {
        let mut v = vec![1u32];
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            extend_in_parallel(&mut v, vec![(2, 1u32)], |n, slots| {
                for i in 0..n {
                    slots.push(i);
                }
            })
        }));
        assert!(r.is_err());
        assert_eq!(v, [1]);
    }
}
