//! Common Log Format time (`25/Nov/2026:10:00:00 +0000`), AWS's `$context.requestTime`, always UTC.
//! Civil date from Unix days by Howard Hinnant's algorithm: no allocation, no time zone lookups.

thread_local! {
    /// The last second formatted on this thread: lines come in bursts within one second.
    static LAST: std::cell::Cell<(u64, [u8; 26])> = const { std::cell::Cell::new((u64::MAX, [0; 26])) };
}

pub fn clf(out: &mut Vec<u8>, unix_s: u64) {
    let (second, text) = LAST.get();
    if second == unix_s {
        out.extend_from_slice(&text);
        return;
    }
    let start = out.len();
    format(out, unix_s);
    if let Ok(text) = <[u8; 26]>::try_from(&out[start..]) {
        LAST.set((unix_s, text));
    }
}

fn format(out: &mut Vec<u8>, unix_s: u64) {
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let (year, month, day) = civil(unix_s / 86_400);
    let secs = unix_s % 86_400;
    let two = |out: &mut Vec<u8>, n: u64| out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]);
    two(out, day);
    out.push(b'/');
    out.extend_from_slice(MONTHS[(month - 1) as usize]);
    out.push(b'/');
    out.extend_from_slice(itoa::Buffer::new().format(year).as_bytes());
    out.push(b':');
    two(out, secs / 3600);
    out.push(b':');
    two(out, secs / 60 % 60);
    out.push(b':');
    two(out, secs % 60);
    out.extend_from_slice(b" +0000");
}

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01.
pub(crate) fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a (year ≥ 1970, month 1–12, day 1–31) date; the inverse of
/// [`civil`]. `None` before 1970.
pub(crate) fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 { year.checked_sub(1)? } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    #[test]
    fn days_round_trip() {
        for days in [0, 59, 60, 365, 10_957, 11_016, 20_782, 40_000] {
            let (y, m, d) = super::civil(days);
            assert_eq!(super::days_from_civil(y, m, d), Some(days));
        }
        assert_eq!(super::days_from_civil(1969, 12, 31), None);
    }

    #[test]
    fn formats_known_instants() {
        let cases = [
            (0, "01/Jan/1970:00:00:00 +0000"),
            (951_782_400, "29/Feb/2000:00:00:00 +0000"),
            (1_795_600_799, "25/Nov/2026:09:59:59 +0000"),
        ];
        for (t, want) in cases {
            let mut out = Vec::new();
            super::clf(&mut out, t);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
    }
}
