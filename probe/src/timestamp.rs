//! Wall-clock timestamps in OONI's layout (`YYYY-MM-DD HH:MM:SS`, UTC).

use time::{OffsetDateTime, format_description::FormatItem, macros::format_description};

const LAYOUT: &[FormatItem<'static>] = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");

/// Now, UTC, in OONI's layout.
pub fn now() -> String {
    format(OffsetDateTime::now_utc())
}

/// A timestamp in OONI's layout, as UTC.
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(text, LAYOUT).ok().map(time::PrimitiveDateTime::assume_utc)
}

pub fn format(t: OffsetDateTime) -> String {
    t.format(LAYOUT).unwrap_or_else(|_| "1970-01-01 00:00:00".to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout_is_oonis() {
        let t = time::macros::datetime!(2024-02-14 09:06:17 UTC);
        assert_eq!(super::format(t), "2024-02-14 09:06:17");
        assert_eq!(super::now().len(), 19);
        assert_eq!(super::parse("2024-02-14 09:06:17"), Some(t));
        assert_eq!(super::parse("2024-02-14T09:06:17Z"), None);
    }
}
