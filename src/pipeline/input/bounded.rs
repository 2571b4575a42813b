//! The bounded reader in front of the csv crate: the csv crate's own state machine, run
//! over the bytes as they go by, so that a field past `input.max_field_bytes` costs its
//! bound and not its size, and each record's start line and oversized field are known.
//!
//! [`Bounded`] never touches a byte that moves the parser (a quote, a comma, a line end):
//! it only drops content bytes where csv-core's NFA loops on itself (inside a field), so
//! the csv crate parses the same records and fields, no more and no fewer. The property
//! tests hold it to that against the csv crate itself.

use crate::vocab::RecordInfo;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::decode::InputSource;

/// Where the csv crate's parser is (csv-core's NFA for the default dialect but for the
/// delimiter: `"` doubled to escape, CR, LF or CRLF ends a record, no comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StartRecord,
    StartField,
    InField,
    InQuoted,
    /// A quote inside a quoted field: the field's end, or the first of a doubled quote.
    QuoteInQuoted,
    /// After a CR ending a record: an LF next belongs to it.
    Crlf,
}

/// A filter in front of the csv crate that bounds every field and notes each record's
/// start line. Content bytes are dropped only where the parser loops on itself (inside
/// a field), so what the csv crate parses has the same records and fields as the file;
/// a field over the bound keeps `max + 1` bytes, enough for the check to see it is long.
pub struct Bounded<R> {
    inner: R,
    max: u64,
    /// The field delimiter the csv crate is given (comma, semicolon, tab, ...).
    delimiter: u8,
    state: State,
    line: u64,
    field: usize,
    field_len: u64,
    current: RecordInfo,
    infos: VecDeque<RecordInfo>,
    /// The last byte was a CR: a line ends there unless an LF follows.
    after_cr: bool,
    /// The first bytes, read ahead to look for a byte-order mark.
    head: Vec<u8>,
    started: bool,
    finished: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl<R: Read> Bounded<R> {
    pub fn new(inner: R, max_field_bytes: usize, delimiter: u8) -> Self {
        Bounded {
            inner,
            max: max_field_bytes as u64,
            delimiter,
            state: State::StartRecord,
            line: 1,
            field: 0,
            field_len: 0,
            current: RecordInfo {
                line: 1,
                oversized: None,
            },
            infos: VecDeque::new(),
            after_cr: false,
            head: Vec::new(),
            started: false,
            finished: false,
        }
    }

    /// Changes the bound for the bytes not read yet.
    pub fn set_max_field_bytes(&mut self, max_field_bytes: usize) {
        self.max = max_field_bytes as u64;
    }

    /// The info of the oldest record whose bytes have all gone by.
    pub fn next_info(&mut self) -> Option<RecordInfo> {
        self.infos.pop_front()
    }

    fn begin_record(&mut self) {
        self.current = RecordInfo {
            line: self.line,
            oversized: None,
        };
        self.field = 0;
        self.field_len = 0;
    }

    fn end_field(&mut self) {
        if let Some((i, len)) = &mut self.current.oversized {
            if *i == self.field {
                *len = self.field_len;
            }
        }
        self.field += 1;
        self.field_len = 0;
    }

    fn end_record(&mut self) {
        self.end_field();
        self.infos.push_back(self.current);
    }

    /// One content byte; `droppable` where the parser loops on itself. Returns whether
    /// the byte is passed on.
    fn content(&mut self, droppable: bool) -> bool {
        self.field_len += 1;
        if self.field_len > self.max && self.current.oversized.is_none() {
            self.current.oversized = Some((self.field, 0));
        }
        !(droppable && self.field_len > self.max + 1)
    }

    /// Feeds one byte through the parser's states; returns whether it is passed on.
    fn feed(&mut self, c: u8) -> bool {
        // Lines as an editor counts them: LF, CRLF or a lone CR ends one.
        if c == b'\n' || self.after_cr {
            self.line += 1;
        }
        self.after_cr = c == b'\r';
        let term = c == b'\r' || c == b'\n';
        loop {
            match self.state {
                State::StartRecord => {
                    if term {
                        return true; // a blank line: no record
                    }
                    // The record starts on the line of this byte (not yet counted if LF).
                    self.begin_record();
                    self.state = State::StartField;
                }
                State::Crlf => {
                    self.state = State::StartRecord;
                    if c == b'\n' {
                        return true;
                    }
                }
                State::StartField | State::InField | State::QuoteInQuoted if term => {
                    self.end_record();
                    self.state = if c == b'\r' {
                        State::Crlf
                    } else {
                        State::StartRecord
                    };
                    return true;
                }
                State::StartField | State::InField | State::QuoteInQuoted
                    if c == self.delimiter =>
                {
                    self.end_field();
                    self.state = State::StartField;
                    return true;
                }
                State::StartField if c == b'"' => {
                    self.state = State::InQuoted;
                    return true;
                }
                State::QuoteInQuoted if c == b'"' => {
                    self.state = State::InQuoted;
                    return self.content(false);
                }
                State::StartField | State::QuoteInQuoted => {
                    self.state = State::InField;
                    return self.content(false);
                }
                State::InField => return self.content(true),
                State::InQuoted if c == b'"' => {
                    self.state = State::QuoteInQuoted;
                    return true;
                }
                State::InQuoted => return self.content(true),
            }
        }
    }

    /// End of input: a record in progress ends here, as the csv crate ends it.
    fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        if !matches!(self.state, State::StartRecord | State::Crlf) {
            self.end_record();
            self.state = State::StartRecord;
        }
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if !self.started {
            self.started = true;
            let mut head = [0u8; 3];
            let mut n = 0;
            while n < head.len() {
                match self.inner.read(&mut head[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if &head[..n] != BOM {
                self.head.extend_from_slice(&head[..n]);
            }
        }
        loop {
            let n = if self.head.is_empty() {
                self.inner.read(out)?
            } else {
                let n = self.head.len().min(out.len());
                out[..n].copy_from_slice(&self.head[..n]);
                self.head.drain(..n);
                n
            };
            if n == 0 {
                self.finish();
                return Ok(0);
            }
            let mut kept = 0;
            for i in 0..n {
                let c = out[i];
                if self.feed(c) {
                    out[kept] = c;
                    kept += 1;
                }
            }
            if kept > 0 {
                return Ok(kept);
            }
            // Every byte was dropped: read on (0 would mean the end of the input).
        }
    }
}

/// CSV records with what [`Bounded`] learnt about each.
pub struct Records {
    reader: csv::Reader<Bounded<Box<dyn Read + Send>>>,
}

impl Records {
    /// Reads comma-separated `source`, keeping at most `max_field_bytes + 1` bytes of
    /// any field.
    pub fn new(source: Box<dyn Read + Send>, max_field_bytes: usize) -> Records {
        Records::with_delimiter(source, max_field_bytes, b',')
    }

    /// Reads `source`, fields separated by `delimiter`, keeping at most
    /// `max_field_bytes + 1` bytes of any field.
    pub fn with_delimiter(
        source: Box<dyn Read + Send>,
        max_field_bytes: usize,
        delimiter: u8,
    ) -> Records {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(Bounded::new(source, max_field_bytes, delimiter));
        Records { reader }
    }

    pub fn set_max_field_bytes(&mut self, max_field_bytes: usize) {
        self.reader.get_mut().set_max_field_bytes(max_field_bytes);
    }

    /// Reads the next record into `record`: its info, or `None` at the end.
    pub fn read(&mut self, record: &mut csv::ByteRecord) -> Result<Option<RecordInfo>, csv::Error> {
        if !self.reader.read_byte_record(record)? {
            return Ok(None);
        }
        // Bounded saw the record's last byte before the parser could end it, so its info
        // is queued; the fallback only guards against a disagreement between the two.
        let info = self.reader.get_mut().next_info().unwrap_or(RecordInfo {
            line: record.position().map(|p| p.line()).unwrap_or(0),
            oversized: None,
        });
        Ok(Some(info))
    }
}

/// Counts the data records of `path` (the header aside), as the reader will see them,
/// in bounded memory: for the plan and the progress bar. `None` for standard input or an
/// unreadable file.
pub fn count_records(source: &InputSource) -> Option<u64> {
    let path: &Path = source;
    if path == Path::new("-") {
        return None;
    }
    let file = File::open(path).ok()?;
    // A pipe or FIFO (`<(gpg -d …)`, /dev/stdin) can be read once only: counting it
    // would eat the rows the run is about to read.
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let file = Box::new(io::BufReader::with_capacity(256 * 1024, file));
    let decoded = super::decode::decode(file, &source.dialect).ok()?;
    let mut records = Records::with_delimiter(decoded.reader, 64, decoded.delimiter);
    let mut record = csv::ByteRecord::new();
    let mut n = 0u64;
    while records.read(&mut record).ok()?.is_some() {
        n += u64::from(n == 0 || !is_blank(&record));
    }
    Some(n.saturating_sub(1))
}

/// A record whose cells are all empty (`;;;`): what Excel writes for a row that once held
/// something, or was formatted. It holds no user and no password, so like a blank line
/// (which the csv crate skips) it is no row at all: neither sent, nor refused, nor
/// reported. A row with any cell filled (a user without a password, say) is a row, and
/// is checked as ever.
pub fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(<[u8]>::is_empty)
}

#[cfg(test)]
mod unit {
    use super::*;

    type Read = (u64, Vec<Vec<u8>>, Option<(usize, u64)>);

    fn read_all(bytes: &[u8], max: usize) -> Vec<Read> {
        let mut r = Records::new(Box::new(io::Cursor::new(bytes.to_vec())), max);
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        while let Some(info) = r.read(&mut rec).unwrap() {
            out.push((
                info.line,
                rec.iter().map(<[u8]>::to_vec).collect(),
                info.oversized,
            ));
        }
        out
    }

    fn f(s: &[&str]) -> Vec<Vec<u8>> {
        s.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn lines_quotes_crlf_and_bom() {
        let got = read_all(
            b"\xEF\xBB\xBF\"email\",password\r\n\r\na@x.com,\"p,\n\"\"q\"\"\"\r\nb@x.com,z\n\n\nc,d",
            64,
        );
        assert_eq!(
            got,
            vec![
                (1, f(&["email", "password"]), None),
                (3, f(&["a@x.com", "p,\n\"q\""]), None),
                (5, f(&["b@x.com", "z"]), None),
                (8, f(&["c", "d"]), None),
            ]
        );
    }

    #[test]
    fn long_fields_are_cut_and_measured() {
        let mut input = b"u,p\n".to_vec();
        input.extend_from_slice(b"a,");
        input.extend(std::iter::repeat_n(b'x', 100_000));
        input.extend_from_slice(b"\n\"");
        input.extend(std::iter::repeat_n(b'y', 5000));
        input.extend_from_slice(b"\",b\nok,fine\n");
        let got = read_all(&input, 10);
        assert_eq!(got.len(), 4);
        assert_eq!(got[1].0, 2);
        assert_eq!(got[1].1[1].len(), 11);
        assert_eq!(got[1].2, Some((1, 100_000)));
        assert_eq!(
            (got[2].0, got[2].1[0].len(), got[2].2),
            (3, 11, Some((0, 5000)))
        );
        assert_eq!(got[3], (4, f(&["ok", "fine"]), None));
    }
}
