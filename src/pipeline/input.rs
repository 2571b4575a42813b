//! Stage 1, input: the CSV, streamed row by row into a bounded channel.
//!
//! The header is read first, on the caller's thread, so a file without a usable user or
//! password column stops the run (exit 2) before anything is sent. The rows are then read
//! on a blocking thread and sent as [`Item`]s through a bounded channel, so memory stays
//! flat whatever the file's size. Every record becomes exactly one item: a [`Job`] to
//! send, or a [`Refusal`] that the report records as `invalid_input` with the line and the
//! reason; only a record of empty cells (Excel's `;;;`, see [`is_blank`]) is skipped, as
//! blank lines are. The checks a row passes through are in `checks`.
//!
//! The csv crate parses; [`Records`] puts a [`Bounded`] filter in front of it, which runs
//! the csv crate's own state machine over the bytes as they go by. It never touches a
//! byte that moves the parser (a quote, a comma, a line end), so the csv crate sees the
//! records the file holds, no more and no fewer; but past `input.max_field_bytes` it drops
//! a field's content, so a 10 MB field costs 4 KiB, not 10 MB. On the way it learns, per
//! record, the line the record starts on and the true length of an oversized field, so
//! a refusal can say exactly where and what.
//!
//! In front of both, `decode` finds the file's encoding (a byte-order mark, or
//! `--encoding`) and delimiter (`--delimiter`, Excel's `sep=` line, or the header's), so
//! Excel's semicolon and UTF-16 files read as they are meant to.
//!
//! Every read goes through the run's [`ReadCut`], so a stop ends the reading whatever the
//! input does (a pipe or a FIFO that sends nothing, `/dev/zero`): see `cut`.

mod bounded;
pub mod cut;
mod decode;

pub use bounded::{count_records, is_blank, Bounded, Records};
pub use cut::{Feed, ReadCut};
pub use decode::{decode, not_utf8, sniff_delimiter, Dialect, InputSource, NotUtf8};

use crate::pipeline::checks::{Checker, RowError};
use crate::vocab::{Columns, Item, Refusal};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use tokio::sync::mpsc;

/// The header names that can hold the user: the first (leftmost) header with any of these
/// names is the user column, as the contract words it.
pub const USER_ALIASES: [&str; 4] = ["user_id", "userid", "id", "email"];

/// Items queued between the reader and the workers: enough to keep any rate busy, few
/// enough that a million-row file is never held in memory.
pub const CHANNEL_DEPTH: usize = 1024;

/// The field bound while the header is read: the largest `input.max_field_bytes` allowed,
/// so no data field the setting admits can be cut before the setting is known.
const HEADER_FIELD_BYTES: usize = 1 << 20;

/// Why the input cannot be read at all (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    // The causes are fields, not `#[source]`s: the message already says them, and `{:#}`
    // would say them twice.
    #[error("cannot read {path}: {error}")]
    Open { path: String, error: io::Error },
    #[error("{path} is empty: expected a header row (e.g. email,password) and one user a row")]
    Empty { path: String },
    #[error("{path}: the header row is not valid UTF-8; {}", decode::LATIN1_HINT)]
    HeaderEncoding { path: String },
    #[error("{path}: {detail}")]
    NotUtf8 { path: String, detail: NotUtf8 },
    #[error("{path}: the header has no {wanted}; columns found: {found}")]
    MissingColumn {
        path: String,
        wanted: String,
        found: String,
    },
    #[error("reading {path} at line {line}: {error}")]
    Read {
        path: String,
        line: u64,
        error: csv::Error,
    },
}

/// An open CSV whose header has been read and understood.
pub struct Input {
    records: Records,
    pub columns: Columns,
    pub name: String,
    /// The data rows, when the encoding check already read the whole file: the plan
    /// then needs no third pass over it ([`count_records`] is the fallback).
    pub counted: Option<u64>,
    /// Cuts the reading short after a stop (see `cut`).
    pub cut: ReadCut,
    /// A regular file (named, or redirected to standard input): it reaches its end by
    /// itself, so after a stop it is read on for the grace; anything else is cut at once.
    pub regular: bool,
}

/// Opens `source` (or standard input for `-`), finds its encoding and delimiter, and
/// reads its header. A file whose bytes are not UTF-8 (and no BOM or `--encoding` says
/// otherwise) is refused here, whole, before anything is sent; standard input can be
/// read once only, so there such a row is refused when it comes. Every read checks
/// `cut` first.
pub fn open(
    source: &InputSource,
    user_column: Option<&str>,
    password_column: &str,
    generate: bool,
    cut: &ReadCut,
) -> Result<Input, InputError> {
    let path: &Path = source;
    let name = path.display().to_string();
    let open_error = |error| InputError::Open {
        path: name.clone(),
        error,
    };
    let (raw, regular) = raw_source(path, generate, cut).map_err(open_error)?;
    let decoded = decode::decode(raw, &source.dialect).map_err(open_error)?;
    let mut records =
        Records::with_delimiter(decoded.reader, HEADER_FIELD_BYTES, decoded.delimiter);
    let mut header = csv::ByteRecord::new();
    let got = records
        .read(&mut header)
        .map_err(|error| InputError::Read {
            path: name.clone(),
            line: 1,
            error,
        })?;
    if got.is_none() {
        return Err(InputError::Empty { path: name });
    }
    if let Some(hint) = header.iter().find_map(not_utf8) {
        let detail = NotUtf8 {
            line: 1,
            what: "the header",
            hint,
            encoding: decoded.encoding,
        };
        return Err(InputError::NotUtf8 { path: name, detail });
    }
    let names: Vec<String> = header
        .iter()
        .map(|f| std::str::from_utf8(f).map(|s| s.trim().to_string()))
        .collect::<Result<_, _>>()
        .map_err(|_| InputError::HeaderEncoding { path: name.clone() })?;
    let columns =
        find_columns(&names, user_column, password_column, generate).map_err(|wanted| {
            InputError::MissingColumn {
                path: name.clone(),
                wanted,
                found: describe_header(&names) + &delimiter_hint(&names, decoded.delimiter),
            }
        })?;
    let mut counted = None;
    if std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        counted = check_encoding(source, decoded.delimiter, &columns).map_err(|detail| {
            InputError::NotUtf8 {
                path: name.clone(),
                detail,
            }
        })?;
    }
    Ok(Input {
        records,
        columns,
        name,
        counted,
        cut: cut.clone(),
        regular,
    })
}

/// The input's bytes (standard input for `-`), every read checking `cut` first, and
/// whether they come from a regular file.
fn raw_source(
    path: &Path,
    generate: bool,
    cut: &ReadCut,
) -> io::Result<(Box<dyn Read + Send>, bool)> {
    if path == Path::new("-") {
        let stdin = io::stdin();
        let regular = regular_stdin(&stdin);
        return Ok((Box::new(cut::Stoppable::new(stdin, cut.clone())), regular));
    }
    let file = File::open(path)?;
    if !generate {
        warn_if_readable(path, &file);
    }
    let regular = file.metadata().is_ok_and(|m| m.is_file());
    let file = cut::Stoppable::new(file, cut.clone());
    Ok((
        Box::new(io::BufReader::with_capacity(64 * 1024, file)),
        regular,
    ))
}

/// Whether standard input is a regular file (`< users.csv`), not a pipe or a terminal.
fn regular_stdin(stdin: &io::Stdin) -> bool {
    use std::os::fd::AsFd;
    stdin
        .as_fd()
        .try_clone_to_owned()
        .map(File::from)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.is_file())
}

/// Reads the whole file once, in bounded memory, for a user or password that is not
/// text in the file's encoding: a file in another encoding is refused whole (exit 2,
/// with the line and what it looks like) rather than row by row, since every non-ASCII
/// row would be refused and the fix is one flag or one re-save. Other columns are
/// ignored, as they are when read. A file that cannot be read again is left to the
/// reading itself to report. Returns the number of data rows when the whole file could
/// be read (the plan's count; rows of empty cells are not rows, see [`is_blank`]).
///
/// A decoded file (UTF-16, `--encoding`) is UTF-8 once decoded: the decoder turns bytes
/// that are no character (a lone UTF-16 surrogate) into U+FFFD. The row checks refuse a
/// user or password holding U+FFFD as that mark anyway, so here it stops the file like
/// any other undecodable bytes, before anything is sent.
fn check_encoding(
    source: &InputSource,
    delimiter: u8,
    columns: &Columns,
) -> Result<Option<u64>, NotUtf8> {
    let Ok(file) = File::open(&source.path) else {
        return Ok(None);
    };
    let file = Box::new(io::BufReader::with_capacity(64 * 1024, file));
    let dialect = Dialect {
        delimiter: Some(delimiter),
        ..source.dialect
    };
    let Ok(decoded) = decode::decode(file, &dialect) else {
        return Ok(None);
    };
    let encoding = decoded.encoding;
    let mut records = Records::with_delimiter(decoded.reader, HEADER_FIELD_BYTES, delimiter);
    let mut record = csv::ByteRecord::new();
    let mut header = true;
    let mut rows = 0u64;
    loop {
        let info = match records.read(&mut record) {
            Ok(Some(info)) => info,
            Ok(None) => return Ok(Some(rows)),
            Err(_) => return Ok(None),
        };
        if std::mem::take(&mut header) || is_blank(&record) {
            continue;
        }
        rows += 1;
        let fields = [
            (Some(columns.user), "the user ID"),
            (columns.password, "the password"),
        ];
        for (col, what) in fields {
            // A field cut at the bound may end inside a character: its row is refused
            // as too long anyway.
            let cut = info.oversized.is_some_and(|(i, _)| Some(i) == col);
            let field = col.and_then(|c| record.get(c)).unwrap_or_default();
            let bad = undecodable(field, decoded.undecoded);
            if let Some(hint) = bad.filter(|_| !cut) {
                return Err(NotUtf8 {
                    line: info.line,
                    what,
                    hint,
                    encoding,
                });
            }
        }
    }
}

/// What is wrong with a user or password field, if anything: bytes that are not UTF-8 in
/// a file read as is (and what they look like), or the decoder's U+FFFD in a decoded one.
fn undecodable(field: &[u8], undecoded: bool) -> Option<&'static str> {
    if undecoded {
        std::str::from_utf8(field)
            .is_err()
            .then(|| not_utf8(field).unwrap_or(decode::LATIN1_HINT))
    } else {
        let fffd = "\u{FFFD}".as_bytes();
        field
            .windows(fffd.len())
            .any(|w| w == fffd)
            .then_some(decode::UNDECODABLE_HINT)
    }
}

/// Finds the user and password columns; on failure, says which column was wanted.
pub fn find_columns(
    names: &[String],
    user_column: Option<&str>,
    password_column: &str,
    generate: bool,
) -> Result<Columns, String> {
    let find = |want: &str| names.iter().position(|n| n.eq_ignore_ascii_case(want));
    let user = match user_column {
        Some(c) => find(c).ok_or_else(|| {
            format!("user column {c:?} (as --user-column or input.user_column names it)")
        })?,
        None => names
            .iter()
            .position(|n| USER_ALIASES.iter().any(|a| n.eq_ignore_ascii_case(a)))
            .ok_or_else(|| {
                "user column (user_id, userId, id or email; name another with --user-column)"
                    .to_string()
            })?,
    };
    let password = if generate {
        None
    } else {
        Some(find(password_column).ok_or_else(|| {
            format!(
                "password column {password_column:?} (name another with --password-column, \
                 or make passwords with --generate)"
            )
        })?)
    };
    Ok(Columns {
        user,
        password,
        login_types: find("login_types"),
        width: names.len(),
    })
}

/// The header's names for an error message. A file without a header has a data row in
/// its place, whose password must not end up in an error: a name that could be a
/// password is shown as `<hidden>`, and a row that looks like data says so.
pub fn describe_header(names: &[String]) -> String {
    if names.iter().all(|n| n.is_empty()) {
        return "(none)".to_string();
    }
    let mut data = false;
    let shown: Vec<String> = names
        .iter()
        .map(|n| {
            if n.contains('@') {
                data = true;
            }
            if looks_like_a_name(n) {
                crate::vocab::printable(n)
            } else {
                data = true;
                "<hidden>".to_string()
            }
        })
        .collect();
    let mut text = shown.join(", ");
    if data {
        text.push_str(
            " (the first row looks like data: is the header row missing? values that could be passwords are not shown)",
        );
    }
    text
}

/// When a header read as one column holds another delimiter, the delimiter is wrong
/// (a `--delimiter` that does not fit the file): say so rather than only "no column".
fn delimiter_hint(names: &[String], delimiter: u8) -> String {
    let [only] = names else {
        return String::new();
    };
    let guess = sniff_delimiter(only.as_bytes());
    if guess == delimiter || !only.as_bytes().contains(&guess) {
        return String::new();
    }
    let name = match guess {
        b';' => "semicolon",
        b'\t' => "tab",
        _ => "comma",
    };
    format!(
        "; the header was read as one column, but it holds {name}s: pass --delimiter {name}, \
         or leave --delimiter out to detect it"
    )
}

/// A column name: short, letters, digits and a little punctuation, and not something
/// Zoom's basic rules would take as a password.
fn looks_like_a_name(n: &str) -> bool {
    n.len() <= 64
        && n.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' ' | '.' | '@'))
        && crate::zoom::rules::check(n, &crate::zoom::rules::PasswordPolicy::default()).is_err()
}

/// A file of new passwords that others can read is worth a warning, not a refusal: the
/// operator may have reasons, but should know.
fn warn_if_readable(path: &Path, file: &File) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = file.metadata() {
        let mode = meta.permissions().mode();
        if meta.is_file() && mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "the input file can be read by group or others; it holds new passwords: chmod 600 it"
            );
        }
    }
}

impl Input {
    /// Reads every row into `tx`, checking each with `checker`. Runs on a blocking thread;
    /// returns early, without error, when the receiver is gone (the run was stopped). Its
    /// end, whatever it is, tells the cut that there is nothing left to cut.
    pub fn stream(self, checker: Checker, tx: mpsc::Sender<Item>) -> Result<(), InputError> {
        let cut = self.cut.clone();
        let read = self.read_rows(checker, tx);
        cut.done();
        read
    }

    fn read_rows(mut self, mut checker: Checker, tx: mpsc::Sender<Item>) -> Result<(), InputError> {
        self.records.set_max_field_bytes(checker.max_field_bytes());
        let mut record = csv::ByteRecord::new();
        loop {
            let info = match self.records.read(&mut record) {
                Ok(None) => return Ok(()),
                Ok(Some(info)) => info,
                Err(e) => {
                    // The csv crate only fails here on I/O: the rest of the stream is gone.
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    return Err(InputError::Read {
                        path: self.name.clone(),
                        line,
                        error: e,
                    });
                }
            };
            if is_blank(&record) {
                continue;
            }
            let item = match checker.check(&info, &record, &self.columns) {
                Ok(job) => Item::Send(job),
                Err(RowError { user_id, reason }) => Item::Refused(Refusal {
                    line: info.line,
                    user_id,
                    reason,
                }),
            };
            if tx.blocking_send(item).is_err() {
                return Ok(());
            }
            // A wide record grew the buffer: give the memory back rather than keep it.
            if record.as_slice().len() > 1 << 20 {
                record = csv::ByteRecord::new();
            }
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    /// (line, fields, oversized) of every record of `bytes` through [`Records`].
    #[test]
    fn header_that_is_data_hides_what_could_be_a_password() {
        let names = vec![
            "alice@example.com".to_string(),
            "Sekret-Canary-42x".to_string(),
        ];
        let d = describe_header(&names);
        assert!(!d.contains("Sekret"), "{d}");
        assert!(d.contains("alice@example.com, <hidden>"), "{d}");
        assert!(d.contains("header row missing"), "{d}");
        let names = vec!["mail".to_string(), "pass".to_string()];
        assert_eq!(describe_header(&names), "mail, pass");
    }

    #[test]
    fn the_user_column_is_the_first_header_with_a_user_name() {
        let names: Vec<String> = ["Email", "name", "ID", "password"]
            .map(String::from)
            .to_vec();
        let c = find_columns(&names, None, "password", false).unwrap();
        assert_eq!((c.user, c.password, c.width), (0, Some(3), 4));
        let c = find_columns(&names, Some("id"), "password", false).unwrap();
        assert_eq!(c.user, 2);
    }
}
