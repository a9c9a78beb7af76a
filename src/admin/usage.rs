//! `GET /usage?plan=NAME[&startDate=YYYY-MM-DD&endDate=YYYY-MM-DD][&keyId=KEY]`: AWS's GetUsage.
//! Per key of the plan and per UTC day, `[used, remaining]` (remaining: what was left of the
//! quota's period at the end of that day), plus the current period's count per key.
//!
//! Today's figures are requests served: quota this node leased and has not served yet is taken
//! off. Past days count what was leased that day (at most a block per worker more).
//!
//! In fleet mode the per-day counts are the fleet's, read from Redis; when Redis cannot be read,
//! this node's own counts are shown and `source` says so. Without dates: today.

use super::message;
use crate::control::Control;
use crate::throttle::quota::{QuotaCell, period_of};

/// The widest range one query may ask for (AWS keeps 90 days).
const MAX_DAYS: u64 = 90;

type Answer = (u16, &'static str, String);

pub fn usage(control: &Control, query: &str) -> Answer {
    // Form encoding: `+` is a space here.
    let query = query.replace('+', "%20");
    let param = |name: &str| super::query_param(&query, name);
    let Some(plan) = param("plan") else {
        return message(400, "give the usage plan: /usage?plan=NAME[&startDate=YYYY-MM-DD&endDate=YYYY-MM-DD]");
    };
    let now = crate::throttle::wall_s();
    let today = now / 86_400;
    let (start, end) = match (param("startDate"), param("endDate")) {
        (None, None) => (today, today),
        (Some(s), Some(e)) => match (parse_date(&s), parse_date(&e)) {
            (Some(s), Some(e)) if s <= e && e - s < MAX_DAYS => (s, e),
            (Some(_), Some(_)) => {
                return message(400, &format!("endDate must be on or after startDate, at most {MAX_DAYS} days"));
            }
            _ => return message(400, "dates are YYYY-MM-DD"),
        },
        _ => return message(400, "give both startDate and endDate, or neither"),
    };
    let key_filter = param("keyId");
    let cells: Vec<_> = control
        .quotas
        .plan_cells(&plan)
        .into_iter()
        .filter(|c| key_filter.as_ref().is_none_or(|k| *k == c.key))
        .collect();
    if cells.is_empty() {
        return message(404, &format!("no quota counts for usage plan `{plan}`"));
    }
    // Days before `start` in the same period count towards what remained.
    let from = start.saturating_sub(31);
    let mut items = serde_json::Map::new();
    let mut current = Vec::new();
    let fleet_days = match control.fleet.as_ref().map(|f| f.days(&cells, from..=end)) {
        Some(Ok(days)) => Some(days),
        Some(Err(e)) => {
            log::warn!("usage: cannot read the fleet's counts from Redis ({e}); showing this node's");
            None
        }
        None => None,
    };
    let source = if fleet_days.is_some() { "redis" } else { "local" };
    for (i, cell) in cells.iter().enumerate() {
        let per_day = match &fleet_days {
            Some(days) => days[i].clone(),
            None => local_days(cell, from..=end),
        };
        // Leased counts as used where quota is enforced; here only what was served counts, so
        // what this node leased and has not served yet comes off today.
        let unspent = cell.unspent(now);
        let period_of_day = |day: u64| period_of(cell.period, day * 86_400);
        let leased_in_period = |day: u64| -> u64 {
            (from..=day).filter(|d| period_of_day(*d) == period_of_day(day)).map(|d| per_day[(d - from) as usize]).sum()
        };
        let count = cell.count(now);
        // In fleet mode Redis's per-day counts are fresher than the count the node saw at its
        // last refill; they are only read for the days asked for.
        let leased_now =
            if (from..=end).contains(&today) { leased_in_period(today).max(count.used) } else { count.used };
        let used_now = leased_now.saturating_sub(unspent);
        let rows: Vec<[u64; 2]> = (start..=end)
            .map(|day| {
                let leased = per_day[(day - from) as usize];
                if day == today {
                    [leased.saturating_sub(unspent), cell.limit.saturating_sub(used_now)]
                } else {
                    [leased, cell.limit.saturating_sub(leased_in_period(day))]
                }
            })
            .collect();
        items.insert(cell.key.clone(), serde_json::json!(rows));
        current.push(serde_json::json!({
            "key": cell.key,
            "period": format!("{:?}", cell.period).to_uppercase(),
            "limit": cell.limit,
            "used": used_now,
            "remaining": cell.limit.saturating_sub(used_now),
        }));
    }
    let body = serde_json::json!({
        "usagePlanId": plan,
        "startDate": format_date(start),
        "endDate": format_date(end),
        "items": items,
        "current": current,
        "source": source,
    });
    (200, "application/json", body.to_string() + "\n")
}

fn local_days(cell: &QuotaCell, range: std::ops::RangeInclusive<u64>) -> Vec<u64> {
    let days = cell.days();
    range.map(|d| days.iter().find(|(day, _)| *day == d).map_or(0, |(_, n)| *n)).collect()
}

/// `YYYY-MM-DD` → days since 1970-01-01.
fn parse_date(s: &str) -> Option<u64> {
    let mut parts = s.splitn(3, '-');
    let (y, m, d): (u64, u64, u64) =
        (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    // Reject dates like 2026-02-31.
    (crate::request_time::civil(days) == (if m <= 2 { y + 1 } else { y }, m, d)).then_some(days)
}

fn format_date(days: u64) -> String {
    let (y, m, d) = crate::request_time::civil(days);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_bad_ones_are_refused() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-11-25"), Some(1_795_564_800 / 86_400));
        assert_eq!(format_date(parse_date("2024-02-29").unwrap()), "2024-02-29");
        for bad in ["2026-02-31", "2026-13-01", "26-1-1x", "", "1969-12-31"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
