//! Small drawing helpers of the full screen: the spinner and elapsed-time text. The theme and
//! the line helpers are shared with line mode ([`crate::ui::wizard::text`]).

use std::time::Duration;

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/// The spinner frame for `now` (10 frames a second).
pub fn spinner(now: Duration) -> &'static str {
    FRAMES[(now.as_millis() / 100 % FRAMES.len() as u128) as usize]
}

/// `340 ms`, `1.2s`, `1m05s`.
pub fn elapsed(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        crate::engine::time::format_elapsed(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_well() {
        assert_eq!(elapsed(Duration::from_millis(340)), "340 ms");
        assert_eq!(elapsed(Duration::from_millis(1250)), "1.2s");
        assert_eq!(elapsed(Duration::from_secs(65)), "1m05s");
        assert_eq!(spinner(Duration::from_millis(250)), "⠹");
    }
}
