//! Durations as written in workflow files: `500ms`, `30s`, `10m`, `1h`, `1h30m`.

use std::time::Duration;

/// Parses a duration: one or more whole numbers each followed by a unit
/// (`ms`, `s`, `m`, `h`), largest unit first, such as `1h30m` or `2s500ms`.
///
/// Returns `None` for anything else (no unit, unknown unit, fractions,
/// overflow), so the caller can report the field and line.
///
/// ```
/// use std::time::Duration;
/// use dagflow_cli::spec::parse_duration;
/// assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
/// assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
/// assert_eq!(parse_duration("30"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut total_ms: u64 = 0;
    // Rank of the previous unit, to require largest unit first and no repeats.
    let mut last_rank = u8::MAX;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return None;
        }
        let number: u64 = text[start..i].parse().ok()?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let (rank, factor_ms) = match &text[unit_start..i] {
            "h" => (3, 3_600_000),
            "m" => (2, 60_000),
            "s" => (1, 1_000),
            "ms" => (0, 1),
            _ => return None,
        };
        if rank >= last_rank {
            return None;
        }
        last_rank = rank;
        total_ms = total_ms.checked_add(number.checked_mul(factor_ms)?)?;
    }
    Some(Duration::from_millis(total_ms))
}

/// Formats a duration for people: `850ms`, `12.3s`, `4m05s`, `1h02m`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else if ms < 3_600_000 {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = d.as_secs() / 60;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_unit_and_combinations() {
        let cases = [
            ("500ms", 500),
            ("30s", 30_000),
            ("10m", 600_000),
            ("1h", 3_600_000),
            ("1h30m", 5_400_000),
            ("2s500ms", 2_500),
            (" 0s ", 0),
        ];
        for (text, ms) in cases {
            assert_eq!(
                parse_duration(text),
                Some(Duration::from_millis(ms)),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_missing_or_unknown_units_and_disorder() {
        for text in [
            "",
            "30",
            "s",
            "1.5s",
            "10 s",
            "3d",
            "1m1h",
            "1s1s",
            "-1s",
            "99999999999999999999h",
        ] {
            assert_eq!(parse_duration(text), None, "{text:?} should be rejected");
        }
    }

    #[test]
    fn formats_at_a_readable_precision() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(format_duration(Duration::from_secs(245)), "4m05s");
        assert_eq!(format_duration(Duration::from_secs(3_720)), "1h02m");
    }
}
