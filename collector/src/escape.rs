//! CSV output: the one writer of every CSV the collector serves or prints, and the one escape of
//! its cells against formula injection (the XML escape is `vigil_dashboard::xml::text`).

use std::borrow::Cow;

/// A cell neutralised for spreadsheets (OWASP "CSV injection"): a cell that starts with `=`,
/// `+`, `-`, `@`, TAB or CR gets a leading `'`, so that no spreadsheet takes it for a formula.
/// A cell that is exactly a decimal number (`-1.5`, `+3`, `-2e-3`) is kept as it is, in every
/// column: a number is never a formula, and numeric columns (negative differences in seconds)
/// stay numeric.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if !is_number(s) => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

/// `[+-]digits[.digits][(e|E)[+-]digits]`, with at least one digit before the exponent.
fn is_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let from = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - from
    };
    let mut mantissa = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// A CSV document (RFC 4180, CRLF line ends): the header, then the rows, every cell through
/// [`csv_cell`] and quoted where needed.
pub fn csv<R, C>(header: &[&str], rows: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = C>,
    C: AsRef<str>,
{
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    // Writing into memory cannot fail.
    let _ = w.write_record(header.iter().map(|h| csv_cell(h).into_owned()));
    for row in rows {
        let _ = w.write_record(row.into_iter().map(|c| csv_cell(c.as_ref()).into_owned()));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        for (cell, out) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
            ("+1+2", "'+1+2"),
            ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-", "'-"),
            ("-inf", "'-inf"),
            ("-1e", "'-1e"),
            ("-.", "'-."),
            ("-1.5", "-1.5"),
            ("-3600", "-3600"),
            ("+3", "+3"),
            ("-2e-3", "-2e-3"),
            ("-.5", "-.5"),
            ("0.250", "0.250"),
            ("telegram", "telegram"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(csv_cell(cell), out, "{cell:?}");
        }
    }

    #[test]
    fn the_writer_quotes_and_escapes_every_cell() {
        let text = csv(&["a", "b"], [vec!["=1+1", "x,\"y\""], vec!["-1", "ok"]]);
        assert_eq!(text, "a,b\r\n'=1+1,\"x,\"\"y\"\"\"\r\n-1,ok\r\n");
    }
}
