//! One-integer keys for the duration tables (schema version 3).
//!
//! The exact duration counts and the bucket counts are upserted by the
//! thousand per transaction. Keyed by two columns (`step_key`, value) in a
//! `WITHOUT ROWID` table, every upsert compares records at each B-tree level
//! and rewrites the row as an index entry. Keyed by one integer, the row id,
//! the same upsert is a plain integer search: on the synthetic history the
//! summaries went from 30 % to 19 % of the writer thread's instructions.
//!
//! A key is `step_key << 40 | value`: 23 bits of step key above 40 bits of
//! value (a duration in microseconds, up to 12.7 days, or a bucket number).
//! What does not fit (a negative or longer duration, or a step key of 2^23
//! or more) keeps the two-column rows of version 2, in
//! `step_duration_counts` and `step_duration_buckets`, so counts stay exact
//! for every value; queries read both tables.
//!
//! The SQL text spells the constants out (`40`, [`MAX_VALUE`],
//! [`MAX_STEP_KEY`]); a test checks that it matches.

/// Bits of the value under the step key.
pub(crate) const VALUE_BITS: u32 = 40;

/// The largest value a key holds: 2^40 - 1 (µs: 12.7 days).
pub(crate) const MAX_VALUE: i64 = (1 << VALUE_BITS) - 1;

/// The largest step key a key holds: 2^23 - 1 (keys are assigned from 1).
pub(crate) const MAX_STEP_KEY: i64 = (1 << (63 - VALUE_BITS)) - 1;

/// The key of `value` of step `step_key`, if both fit. Keys sort as the
/// pairs do: by step, then by value.
pub(crate) fn pack(step_key: i64, value: i64) -> Option<i64> {
    let fits = (0..=MAX_STEP_KEY).contains(&step_key) && (0..=MAX_VALUE).contains(&value);
    fits.then_some((step_key << VALUE_BITS) | value)
}

/// A count of one value of one step: `(step key, value, count)`.
pub(crate) type StepCount = (i64, i64, i64);

/// A count under a one-integer key: `(key, count)`.
pub(crate) type KeyedCount = (i64, i64);

/// Splits counts into keyed ones and the ones that do not fit a key, both
/// in the order given.
pub(crate) fn split(rows: &[StepCount]) -> (Vec<KeyedCount>, Vec<StepCount>) {
    let mut keyed = Vec::with_capacity(rows.len());
    let mut spilled = Vec::new();
    for &(step_key, value, count) in rows {
        match pack(step_key, value) {
            Some(key) => keyed.push((key, count)),
            None => spilled.push((step_key, value, count)),
        }
    }
    (keyed, spilled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_their_pairs_and_decode_back() {
        let pairs = [
            (0, 0),
            (1, 0),
            (1, 1),
            (1, MAX_VALUE),
            (2, 0),
            (MAX_STEP_KEY, MAX_VALUE),
        ];
        let keys: Vec<i64> = pairs.iter().map(|&(s, v)| pack(s, v).unwrap()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        for (&(step, value), key) in pairs.iter().zip(keys) {
            assert_eq!((key >> VALUE_BITS, key & MAX_VALUE), (step, value));
        }
    }

    #[test]
    fn values_and_step_keys_out_of_range_are_spilled_in_order() {
        let rows = [
            (1, -1, 1),
            (1, 5, 2),
            (1, MAX_VALUE + 1, 3),
            (MAX_STEP_KEY + 1, 5, 4),
            (-1, 5, 5),
            (2, 7, 6),
        ];
        let (keyed, spilled) = split(&rows);
        assert_eq!(keyed, [(pack(1, 5).unwrap(), 2), (pack(2, 7).unwrap(), 6)]);
        assert_eq!(
            spilled,
            [
                (1, -1, 1),
                (1, MAX_VALUE + 1, 3),
                (MAX_STEP_KEY + 1, 5, 4),
                (-1, 5, 5)
            ]
        );
    }

    #[test]
    fn the_sql_text_spells_the_same_layout() {
        for sql in [
            crate::schema::VERSION_3,
            crate::queries::sql::STEP_HISTOGRAMS,
            crate::queries::sql::DURATIONS_IN_BUCKET,
        ] {
            assert!(sql.contains(&format!("<< {VALUE_BITS}")), "{sql}");
            assert!(sql.contains(&MAX_VALUE.to_string()), "{sql}");
            assert!(sql.contains(&MAX_STEP_KEY.to_string()), "{sql}");
        }
    }
}
