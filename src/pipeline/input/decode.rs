//! The input's bytes as the CSV they hold: its encoding and its delimiter, for files as
//! Excel and other tools save them.
//!
//! Excel's "Unicode text" is UTF-16 with a byte-order mark, its CSV in many locales is
//! separated by semicolons, and older tools write Latin-1/Windows-1252. A BOM decides
//! the encoding (UTF-8, UTF-16 LE or BE), else `--encoding`, else the bytes must be
//! UTF-8; anything but UTF-8 is decoded by encoding_rs as the bytes stream by, so memory
//! stays flat. The delimiter is `--delimiter`, else whichever of comma, semicolon and tab
//! the header row holds most of (outside quotes). Bytes that are not UTF-8 stop the run
//! before anything is sent, with the line and what the bytes look like.
//!
//! Excel also understands a first line `sep=;` (any one character after `sep=`): it
//! names the delimiter and is not part of the table, so Excel shows the header as its
//! first row. It is read the same way here and taken out of the stream, so the header is
//! line 1 as it is in Excel (and in the contract's `line`), and a file re-saved by Excel,
//! which drops that line, keeps its line numbers. `--delimiter` still outranks it.

use encoding_rs::Encoding;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// How the input is read: `None` means detect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dialect {
    /// `--delimiter`; else detected from the header.
    pub delimiter: Option<u8>,
    /// `--encoding`; a byte-order mark outranks it. `None`: UTF-8.
    pub encoding: Option<&'static Encoding>,
}

/// The input file (or `-`) and how to read it. Derefs to the path, which is what most
/// code wants of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSource {
    pub path: PathBuf,
    pub dialect: Dialect,
}

impl std::ops::Deref for InputSource {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for InputSource {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The delimiters detected (the first wins a tie): Excel's CSV, its CSV in locales whose
/// decimal separator is a comma, and "tab-separated" exports.
const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];

/// The most of the header that delimiter detection reads ahead.
const SNIFF_BYTES: usize = 64 * 1024;

/// The input, decoded to UTF-8 (or passed on as is), and its delimiter.
pub struct Decoded {
    pub reader: Box<dyn Read + Send>,
    pub delimiter: u8,
    /// The bytes are passed on undecoded, so they must be UTF-8: no BOM but UTF-8's, and
    /// no `--encoding` but UTF-8.
    pub undecoded: bool,
    /// The encoding the file is read in (UTF-8 when undecoded).
    pub encoding: &'static Encoding,
}

/// Reads `source`'s byte-order mark and first record (an Excel `sep=` line, taken out,
/// or the header), and returns the stream the CSV parser reads: decoded when a BOM or
/// `dialect.encoding` says so.
pub fn decode(mut source: Box<dyn Read + Send>, dialect: &Dialect) -> io::Result<Decoded> {
    let head = read_up_to(&mut source, 3)?;
    let bom = Encoding::for_bom(&head).map(|(e, _)| e);
    let encoding = bom.or(dialect.encoding).unwrap_or(encoding_rs::UTF_8);
    let rest = io::Cursor::new(head).chain(source);
    let mut reader: Box<dyn Read + Send> = if encoding == encoding_rs::UTF_8 {
        // Undecoded: invalid bytes must be refused, not replaced; `Bounded` drops the BOM.
        Box::new(rest)
    } else {
        Box::new(
            encoding_rs_io::DecodeReaderBytesBuilder::new()
                .encoding(Some(encoding))
                .bom_override(true)
                .strip_bom(true)
                .build(rest),
        )
    };
    let head = read_header(&mut reader)?;
    let (delimiter, header) = match excel_sep_line(&head) {
        Some((sep, len)) => (dialect.delimiter.unwrap_or(sep), head[len..].to_vec()),
        None => (
            dialect.delimiter.unwrap_or_else(|| sniff_delimiter(&head)),
            head,
        ),
    };
    Ok(Decoded {
        reader: Box::new(io::Cursor::new(header).chain(reader)),
        delimiter,
        undecoded: encoding == encoding_rs::UTF_8,
        encoding,
    })
}

/// Excel's first line `sep=X` (also quoted, `"sep=X"`; `sep` in any case), after a UTF-8
/// byte-order mark if any: the delimiter it names and how many bytes the line takes,
/// its line end included. `None` when the first line is anything else, or names a
/// character that cannot be a delimiter (a quote, a line end, a control character).
fn excel_sep_line(head: &[u8]) -> Option<(u8, usize)> {
    let start = if head.starts_with(UTF8_BOM) { 3 } else { 0 };
    let line = first_record(&head[start..]);
    let inner = line
        .strip_prefix(b"\"")
        .and_then(|l| l.strip_suffix(b"\""))
        .unwrap_or(line);
    let &[s, e, p, b'=', d] = inner else {
        return None;
    };
    if ![s, e, p].eq_ignore_ascii_case(b"sep") {
        return None;
    }
    if !(d.is_ascii_graphic() && d != b'"' || d == b'\t' || d == b' ') {
        return None;
    }
    let end = start + line.len();
    let ending = match &head[end..] {
        [b'\r', b'\n', ..] => 2,
        [] => 0,
        _ => 1,
    };
    Some((d, end + ending))
}

/// Up to `n` bytes (fewer only at the end of the input).
fn read_up_to(r: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The bytes up to the end of the first record (a line end outside quotes), at most
/// [`SNIFF_BYTES`].
fn read_header(r: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while head.len() < SNIFF_BYTES {
        let n = match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        head.extend_from_slice(&chunk[..n]);
        // A record's end is known once a line end follows it; a CR last may have its LF
        // still to come (a `sep=` line is taken out with its whole line end).
        let first = first_record(&head).len();
        if first < head.len() && !(first + 1 == head.len() && head[first] == b'\r') {
            break;
        }
    }
    Ok(head)
}

/// The first record's bytes: up to the first CR or LF outside double quotes.
fn first_record(bytes: &[u8]) -> &[u8] {
    let mut quoted = false;
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b'\r' | b'\n' if !quoted => return &bytes[..i],
            _ => {}
        }
    }
    bytes
}

/// The candidate delimiter the header holds most of outside quotes; a comma when it
/// holds none (a one-column file).
pub fn sniff_delimiter(header: &[u8]) -> u8 {
    let record = first_record(header);
    let mut counts = [0usize; CANDIDATES.len()];
    let mut quoted = false;
    for &c in record {
        if c == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some(i) = CANDIDATES.iter().position(|d| *d == c) {
                counts[i] += 1;
            }
        }
    }
    let mut best = 0;
    for i in 1..CANDIDATES.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    CANDIDATES[best]
}

/// Where bytes that should be text in the file's encoding are not, and what they look
/// like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUtf8 {
    /// The line the record starts on (the header is 1).
    pub line: u64,
    /// "the header", "the user ID", "the password".
    pub what: &'static str,
    pub hint: &'static str,
    /// The encoding the bytes were read in: UTF-8, or the BOM's or `--encoding`'s.
    pub encoding: &'static Encoding,
}

impl std::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (line, what, hint) = (self.line, self.what, self.hint);
        if self.encoding == encoding_rs::UTF_8 {
            write!(f, "line {line}: {what} is not UTF-8; {hint}")
        } else {
            let name = self.encoding.name();
            write!(f, "line {line}: {what} is not valid {name}; {hint}")
        }
    }
}

pub const LATIN1_HINT: &str =
    "it looks like Latin-1/Windows-1252: re-save the file as UTF-8 (Excel: \"CSV UTF-8\") or pass --encoding windows-1252";
/// What a decoded file's bad bytes are: the decoder made U+FFFD of them.
pub const UNDECODABLE_HINT: &str =
    "a byte sequence there is no character (in UTF-16, a lone surrogate) and would be read as U+FFFD: correct that cell, or re-save the file as UTF-8 (Excel: \"CSV UTF-8\")";
pub const UTF16_HINT: &str =
    "it looks like UTF-16 without a byte-order mark: re-save the file as UTF-8 or pass --encoding utf-16le (or utf-16be)";

/// `Some(hint)` when `field` is not UTF-8 text: UTF-16 read as bytes has NUL bytes
/// (valid UTF-8, but no text a person wrote); anything else is most likely Latin-1 or
/// Windows-1252, what Excel and older tools write outside Unicode.
pub fn not_utf8(field: &[u8]) -> Option<&'static str> {
    if field.contains(&0) {
        Some(UTF16_HINT)
    } else if std::str::from_utf8(field).is_err() {
        Some(LATIN1_HINT)
    } else {
        None
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn decoded(bytes: &[u8], dialect: Dialect) -> (String, u8, bool) {
        let d = decode(Box::new(io::Cursor::new(bytes.to_vec())), &dialect).unwrap();
        let mut out = Vec::new();
        let (delimiter, undecoded) = (d.delimiter, d.undecoded);
        let mut r = d.reader;
        r.read_to_end(&mut out).unwrap();
        (String::from_utf8(out).unwrap(), delimiter, undecoded)
    }

    #[test]
    fn the_header_decides_the_delimiter_outside_quotes() {
        assert_eq!(sniff_delimiter(b"email;password\na,b,c,d\n"), b';');
        assert_eq!(sniff_delimiter(b"email\tpassword\r\n"), b'\t');
        assert_eq!(sniff_delimiter(b"\"a;b;c\",email,password\n"), b',');
        assert_eq!(sniff_delimiter(b"user_id\n"), b',');
        assert_eq!(sniff_delimiter(b"a;b,c\n"), b',');
    }

    #[test]
    fn utf16_with_a_bom_is_decoded_and_latin1_only_when_asked() {
        let text = "email;password\né@x;Pässwort-1\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(decoded(&le, Dialect::default()), (text.into(), b';', false));
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(|u| u.to_be_bytes()));
        assert_eq!(decoded(&be, Dialect::default()), (text.into(), b';', false));
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        let dialect = Dialect {
            encoding: Encoding::for_label(b"latin1"),
            ..Dialect::default()
        };
        assert_eq!(decoded(&latin1, dialect), (text.into(), b';', false));
        let dialect = Dialect {
            delimiter: Some(b','),
            ..Dialect::default()
        };
        assert_eq!(decoded(text.as_bytes(), dialect), (text.into(), b',', true));
    }

    #[test]
    fn an_excel_sep_line_names_the_delimiter_and_is_taken_out() {
        let d = Dialect::default();
        let body = "email,password\r\na@x;b\r\n";
        for first in ["sep=,", "SEP=,", "\"sep=,\""] {
            let file = format!("{first}\r\n{body}");
            assert_eq!(
                decoded(file.as_bytes(), d),
                (body.into(), b',', true),
                "{first}"
            );
        }
        // After a UTF-8 BOM, with LF or a lone CR; a tab; the flag outranks the line.
        let file = "\u{FEFF}sep=;\nemail;password\n";
        assert_eq!(
            decoded(file.as_bytes(), d),
            ("email;password\n".into(), b';', true)
        );
        let file = "sep=\t\remail\tpassword\r";
        assert_eq!(
            decoded(file.as_bytes(), d),
            ("email\tpassword\r".into(), b'\t', true)
        );
        let comma = Dialect {
            delimiter: Some(b','),
            ..d
        };
        let file = "sep=;\nemail;password\n";
        assert_eq!(
            decoded(file.as_bytes(), comma),
            ("email;password\n".into(), b',', true)
        );
        // UTF-16 with a BOM: the line is read in the decoded text.
        let mut le = vec![0xFF, 0xFE];
        le.extend(
            "sep=;\r\nemail;pw\r\n"
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes()),
        );
        assert_eq!(decoded(&le, d), ("email;pw\r\n".into(), b';', false));
        // Anything else is the header.
        for first in ["sep=", "sep=;;", "sep=\"", "xsep=;", "sep = ;"] {
            let file = format!("{first}\nemail,password\n");
            assert_eq!(decoded(file.as_bytes(), d).0, file, "{first}");
        }
    }

    #[test]
    fn what_bytes_that_are_not_utf8_look_like() {
        assert_eq!(not_utf8("é@x".as_bytes()), None);
        assert_eq!(not_utf8(b"\xE9@x"), Some(LATIN1_HINT));
        assert_eq!(not_utf8(b"u\0s\0"), Some(UTF16_HINT));
    }
}
