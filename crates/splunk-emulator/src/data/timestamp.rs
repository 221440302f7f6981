//! Fast ISO 8601 rendering of epoch milliseconds.
//!
//! Rendering `_time` happens once per result row, and chrono's `format` re-parses its pattern
//! every call; a direct civil-date conversion keeps a million-row export cheap.

use std::fmt::Write;

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// Works in 400-year eras starting on March 1st, so leap days fall at the end of each year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-11-20T10:00:00.123` followed by `zone` (`+00:00` or `Z`), in UTC.
pub(crate) fn iso_millis(epoch_millis: i64, zone: &str) -> String {
    let seconds = epoch_millis.div_euclid(1000);
    let millis = epoch_millis.rem_euclid(1000);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let second_of_day = seconds.rem_euclid(86_400);
    let mut text = String::with_capacity(29);
    // Writing into a String cannot fail.
    let _ = write!(
        text,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}{zone}",
        second_of_day / 3_600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    text
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    #[test]
    fn agrees_with_chrono() {
        let mut millis = -86_400_000 * 800;
        // Steps of ~3.7 days with odd milliseconds cover leap years, month ends and centuries.
        while millis < 4_200_000_000_000 {
            let expected = Utc
                .timestamp_millis_opt(millis)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.3f+00:00")
                .to_string();
            assert_eq!(iso_millis(millis, "+00:00"), expected);
            millis += 321_234_567;
        }
        assert_eq!(iso_millis(951_782_400_000, "Z"), "2000-02-29T00:00:00.000Z");
    }
}
