//! Time for the deploy runtime: a [`Clock`] trait so the monitor and the deployer run on real
//! time in production and on a fake clock in tests (recorded event streams replay exactly as
//! CloudFormation produced them, with no real waiting), plus the few time formats the deploy
//! events and renderers use. Times are milliseconds since the Unix epoch, as CloudFormation
//! reports them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

/// Milliseconds since the Unix epoch.
pub type EpochMs = i64;

#[async_trait]
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> EpochMs;
    async fn sleep(&self, d: Duration);
}

/// Wall-clock time and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now_ms(&self) -> EpochMs {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// `2026-11-23T06:19:44.120Z`.
pub fn rfc3339(ms: EpochMs) -> String {
    let secs = ms.div_euclid(1000);
    let base = crate::engine::time::format_rfc3339(UNIX_EPOCH + Duration::from_secs(secs as u64));
    format!("{}.{:03}Z", base.trim_end_matches('Z'), ms.rem_euclid(1000))
}

/// Parses the RFC 3339 timestamps CloudFormation and the AWS CLI write (`…Z`, with or without
/// fractional seconds, or with an offset).
pub fn parse_rfc3339(s: &str) -> Option<EpochMs> {
    use aws_smithy_types::date_time::{DateTime, Format};
    // The SDK's parser takes `Z` only; the CLI writes `+00:00`.
    let (base, offset_ms) = match s.len().checked_sub(6).map(|i| s.split_at(i)) {
        Some((base, off))
            if (off.starts_with('+') || off.starts_with('-')) && off.as_bytes()[3] == b':' =>
        {
            let h: i64 = off[1..3].parse().ok()?;
            let m: i64 = off[4..6].parse().ok()?;
            let sign = if off.starts_with('-') { -1 } else { 1 };
            (format!("{base}Z"), sign * (h * 60 + m) * 60_000)
        }
        _ => (s.to_string(), 0),
    };
    let dt = DateTime::from_str(&base, Format::DateTime).ok()?;
    Some(dt.to_millis().ok()? - offset_ms)
}

/// Elapsed time between two instants as `12s`, `4m05s`, `1h02m` (never negative).
pub fn elapsed(from: EpochMs, to: EpochMs) -> String {
    crate::engine::time::format_elapsed(Duration::from_millis((to - from).max(0) as u64))
}

/// `01m20s`: Terraform's heartbeat form, fixed width for aligned logs.
pub fn elapsed_padded(from: EpochMs, to: EpochMs) -> String {
    let s = ((to - from).max(0) / 1000) as u64;
    if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60)
    } else {
        format!("{:02}m{:02}s", s / 60, s % 60)
    }
}

/// A duration as people write it on a command line: `90m`, `1h30m`, `45s`, `2h` (units h, m,
/// s; a bare number is minutes). `Err` says what is accepted.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("'{text}' is not a duration; write it like 90m, 1h30m or 45s");
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        return t
            .parse::<u64>()
            .map(|m| Duration::from_secs(m * 60))
            .map_err(|_| bad());
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_written_on_a_command_line() {
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(300)));
        for bad in ["", "m", "10x", "1h30", "0m", "-5m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips_cloudformation_timestamps() {
        let ms = parse_rfc3339("2025-03-04T10:11:12.345Z").unwrap();
        assert_eq!(rfc3339(ms), "2025-03-04T10:11:12.345Z");
        assert_eq!(
            parse_rfc3339("2025-03-04T10:11:12Z").unwrap() % 1000,
            0,
            "whole seconds parse too"
        );
        assert!(parse_rfc3339("yesterday").is_none());
        // The AWS CLI's form.
        assert_eq!(parse_rfc3339("2025-03-04T10:11:12.345000+00:00"), Some(ms));
        assert_eq!(parse_rfc3339("2025-03-04T12:11:12.345+02:00"), Some(ms));
    }

    #[test]
    fn elapsed_forms() {
        assert_eq!(elapsed(0, 65_000), "1m05s");
        assert_eq!(elapsed(10, 0), "0s");
        assert_eq!(elapsed_padded(0, 80_000), "01m20s");
        assert_eq!(elapsed_padded(0, 3_725_000), "1h02m05s");
    }
}
