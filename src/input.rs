//! Stage 1, input: the CSV, streamed row by row into a bounded channel.
//!
//! The header is read first, on the caller's thread, so a file without a usable user or
//! password column stops the run (exit 2) before anything is sent. The rows are then read
//! on a blocking thread and sent as [`Item`]s through a bounded channel, so memory stays
//! flat whatever the file's size. Every record becomes exactly one item: a [`Job`] to
//! send, or a [`Refusal`] that the report records as `invalid_input` with the line and the
//! reason. The checks a row passes through are in `checks`.

use crate::checks::{Checker, RowError};
use secrecy::SecretString;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use tokio::sync::mpsc;

/// The header names that can hold the user, in the contract's order of preference.
pub const USER_ALIASES: [&str; 4] = ["user_id", "userid", "id", "email"];

/// Items queued between the reader and the workers: enough to keep any rate busy, few
/// enough that a million-row file is never held in memory.
pub const CHANNEL_DEPTH: usize = 1024;

/// A row that passed every check and may be sent.
pub struct Job {
    /// The input line where the row starts (the header is line 1).
    pub line: u64,
    pub user_id: String,
    pub password: SecretString,
}

/// A row refused before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub line: u64,
    pub user_id: String,
    pub reason: String,
}

pub enum Item {
    Send(Job),
    Refused(Refusal),
}

/// Where the user and password are in each record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub user: usize,
    /// `None` with `--generate`.
    pub password: Option<usize>,
    pub width: usize,
}

/// Why the input cannot be read at all (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("{path} is empty: expected a header row (e.g. email,password) and one user a row")]
    Empty { path: String },
    #[error("{path}: the header row is not valid UTF-8")]
    HeaderEncoding { path: String },
    #[error("{path}: no {wanted} column in the header; columns found: {found}")]
    MissingColumn {
        path: String,
        wanted: String,
        found: String,
    },
    #[error("reading {path} at line {line}: {source}")]
    Read {
        path: String,
        line: u64,
        source: csv::Error,
    },
}

/// An open CSV whose header has been read and understood.
pub struct Input {
    reader: csv::Reader<Box<dyn Read + Send>>,
    pub columns: Columns,
    pub name: String,
}

/// Opens `path` (or standard input for `-`) and reads its header.
pub fn open(
    path: &Path,
    user_column: Option<&str>,
    password_column: &str,
    generate: bool,
) -> Result<Input, InputError> {
    let name = path.display().to_string();
    let source: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(io::stdin())
    } else {
        let file = File::open(path).map_err(|source| InputError::Open {
            path: name.clone(),
            source,
        })?;
        warn_if_readable(path, &file);
        Box::new(io::BufReader::with_capacity(64 * 1024, file))
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(source);
    let mut header = csv::ByteRecord::new();
    let got = reader
        .read_byte_record(&mut header)
        .map_err(|source| InputError::Read {
            path: name.clone(),
            line: 1,
            source,
        })?;
    if !got {
        return Err(InputError::Empty { path: name });
    }
    let names: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let f = if i == 0 {
                f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f)
            } else {
                f
            };
            std::str::from_utf8(f).map(|s| s.trim().to_string())
        })
        .collect::<Result<_, _>>()
        .map_err(|_| InputError::HeaderEncoding { path: name.clone() })?;
    let columns =
        find_columns(&names, user_column, password_column, generate).map_err(|wanted| {
            InputError::MissingColumn {
                path: name.clone(),
                wanted,
                found: if names.iter().all(|n| n.is_empty()) {
                    "(none)".to_string()
                } else {
                    names.join(", ")
                },
            }
        })?;
    Ok(Input {
        reader,
        columns,
        name,
    })
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
        Some(c) => find(c).ok_or_else(|| format!("user column {c:?} (input.user_column)"))?,
        None => USER_ALIASES
            .iter()
            .find_map(|a| find(a))
            .ok_or_else(|| "user column (user_id, userId, id or email)".to_string())?,
    };
    let password = if generate {
        None
    } else {
        Some(find(password_column).ok_or_else(|| format!("password column {password_column:?}"))?)
    };
    Ok(Columns {
        user,
        password,
        width: names.len(),
    })
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
    /// returns early, without error, when the receiver is gone (the run was stopped).
    pub fn stream(
        mut self,
        mut checker: Checker,
        tx: mpsc::Sender<Item>,
    ) -> Result<(), InputError> {
        let mut record = csv::ByteRecord::new();
        loop {
            match self.reader.read_byte_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) => {
                    // The csv crate only fails here on I/O: the rest of the stream is gone.
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    return Err(InputError::Read {
                        path: self.name.clone(),
                        line,
                        source: e,
                    });
                }
            }
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            let item = match checker.check(line, &record, &self.columns) {
                Ok(job) => Item::Send(job),
                Err(RowError { user_id, reason }) => Item::Refused(Refusal {
                    line,
                    user_id,
                    reason,
                }),
            };
            if tx.blocking_send(item).is_err() {
                return Ok(());
            }
            // A huge field grew the buffer: give the memory back rather than keep it.
            if record.as_slice().len() > 1 << 20 {
                record = csv::ByteRecord::new();
            }
        }
    }
}
