//! CSV cells a spreadsheet would run: the one place that neutralises them on the way out
//! and reads them back on the way in, for every CSV the tool writes (the report, the
//! `users` listing, the `--generated-out` file, `status --format csv`, the hand-out) and
//! every reader of those files.
//!
//! A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to
//! Excel, LibreOffice and Google Sheets (`=HYPERLINK(...)`, `+cmd|' /C calc'!A0`,
//! `@SUM(...)`): user IDs, emails, names and Zoom's messages come from outside, so an
//! admin who opens the file must not run them. As OWASP recommends, such a cell is
//! written with a single quote in front, which a spreadsheet shows as text.
//!
//! Reading back must give the original value exactly, since a generated password may
//! start with `+`, `-`, `=` or `@`, and a resume must send the identical password again.
//! So a cell that already starts with a quote *before* something [`restore`] would strip
//! is quoted once more (`'=x` is written `''=x`): [`neutralise`] and [`restore`] are
//! inverse on every string, whatever it holds. A user ID or email never starts with a
//! quote, so the input reader may strip it from the user column too.

use std::borrow::Cow;

/// The first characters that make a spreadsheet evaluate a cell (OWASP's list).
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The quote a neutralised cell starts with.
const QUOTE: char = '\'';

/// Whether `cell` is written with a quote in front: it starts with a formula character,
/// or with quotes before one (so that reading it back strips exactly the one added).
fn needs_quote(cell: &str) -> bool {
    let rest = cell.trim_start_matches(QUOTE);
    rest.starts_with(FORMULA_START)
}

/// The cell as written to a CSV: with a quote in front when a spreadsheet would evaluate
/// it (see the module's comment), else as it is.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if needs_quote(cell) {
        // Sized once, so a password written this way leaves no copy in a buffer that
        // grew (the caller wipes this one).
        let mut quoted = String::with_capacity(cell.len() + 1);
        quoted.push(QUOTE);
        quoted.push_str(cell);
        Cow::Owned(quoted)
    } else {
        Cow::Borrowed(cell)
    }
}

/// The original value of a cell [`neutralise`] wrote: without the quote it added, else
/// as it is.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix(QUOTE) {
        Some(rest) if needs_quote(rest) => rest,
        _ => cell,
    }
}

/// Every cell of a record, neutralised, as bytes for `csv::Writer::write_record`.
pub fn neutralised<'a, I>(cells: I) -> impl Iterator<Item = Cow<'a, [u8]>>
where
    I: IntoIterator<Item = &'a str>,
{
    cells.into_iter().map(|c| match neutralise(c) {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    })
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn formula_cells_get_a_quote_and_others_stay_as_they_are() {
        let cases = [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'=x", "''=x"),
            ("''@x", "'''@x"),
            ("a@example.com", "a@example.com"),
            ("'quoted'", "'quoted'"),
            ("'", "'"),
            ("", ""),
            ("x=1", "x=1"),
        ];
        for (value, written) in cases {
            assert_eq!(neutralise(value), written, "{value:?}");
            assert_eq!(restore(written), value, "{written:?}");
        }
    }

    #[test]
    fn restore_undoes_neutralise_on_every_string() {
        let alphabet = ['=', '+', '-', '@', '\t', '\r', '\'', 'a', ' '];
        let mut all = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = all
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            all.extend(longer);
        }
        for s in &all {
            let written = neutralise(s);
            assert!(!written.starts_with(FORMULA_START), "{s:?} -> {written:?}");
            assert_eq!(restore(&written), s, "{s:?}");
        }
    }
}
