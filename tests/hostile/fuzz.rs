//! Property tests over the reader and the row checks (64 cases each, seconds in all):
//! the bounded reader sees exactly the records and lines the csv crate sees; arbitrary
//! bytes never panic; every record the csv crate sees becomes exactly one report row
//! (but a record of empty cells, which is skipped);
//! any user ID becomes one path segment that decodes back to it.

use super::*;
use ::csv::ByteRecord;
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use std::io::Cursor;
use zoom_rotate::pipeline::input::Records;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Bytes that matter to a CSV parser and to the checks, and any byte at all.
fn csvish(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        6 => Just(b'a'),
        3 => Just(b','),
        3 => Just(b'"'),
        2 => Just(b'\r'),
        3 => Just(b'\n'),
        1 => Just(b' '),
        1 => Just(0u8),
        1 => Just(0xffu8),
        1 => Just(b'@'),
        2 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..max_len)
}

/// 1-based line of byte `at`: LF, CRLF and a lone CR each end a line.
fn line_of(bytes: &[u8], at: usize) -> u64 {
    let mut line = 1;
    for i in 0..at.min(bytes.len()) {
        match bytes[i] {
            b'\n' => line += 1,
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => line += 1,
            _ => {}
        }
    }
    line
}

/// The records the csv crate reads from `bytes` (its default dialect), each with the
/// line its first byte is on.
fn oracle(bytes: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
    oracle_with(bytes, b',')
}

/// [`oracle`] with the fields separated by `delimiter`.
fn oracle_with(bytes: &[u8], delimiter: u8) -> Vec<(u64, Vec<Vec<u8>>)> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let mut record = ByteRecord::new();
    let mut out = Vec::new();
    while reader.read_byte_record(&mut record).unwrap() {
        // The csv crate's position is where the last record ended; blank lines follow.
        let mut at = record.position().unwrap().byte() as usize;
        while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        out.push((
            line_of(bytes, at),
            record.iter().map(<[u8]>::to_vec).collect(),
        ));
    }
    out
}

/// The records a run reports: the header and every record with a cell filled (a record
/// of empty cells is skipped, issue 19).
fn reported(records: Vec<(u64, Vec<Vec<u8>>)>) -> Vec<(u64, Vec<Vec<u8>>)> {
    records
        .into_iter()
        .enumerate()
        .filter(|(i, (_, fields))| *i == 0 || fields.iter().any(|f| !f.is_empty()))
        .map(|(_, r)| r)
        .collect()
}

/// `file` through the reader under test.
fn bounded(file: &[u8], max: usize) -> Vec<(zoom_rotate::vocab::RecordInfo, Vec<Vec<u8>>)> {
    let mut records = Records::new(Box::new(Cursor::new(file.to_vec())), max);
    let mut record = ByteRecord::new();
    let mut out = Vec::new();
    while let Some(info) = records.read(&mut record).unwrap() {
        out.push((info, record.iter().map(<[u8]>::to_vec).collect()));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_bounded_reader_sees_what_the_csv_crate_sees(
        bytes in csvish(400),
        max in 1usize..8,
        bom in any::<bool>(),
    ) {
        let file = if bom { [BOM, &bytes].concat() } else { bytes.clone() };
        let plain = file.strip_prefix(BOM).unwrap_or(&file);
        let expected = oracle(plain);
        let got = bounded(&file, max);
        prop_assert_eq!(got.len(), expected.len());
        for ((info, fields), (line, raw)) in got.iter().zip(&expected) {
            prop_assert_eq!(info.line, *line);
            prop_assert_eq!(fields.len(), raw.len());
            for (f, r) in fields.iter().zip(raw) {
                if r.len() <= max {
                    prop_assert_eq!(f, r);
                } else {
                    // Cut, but still over the bound, and what is kept is the field's start.
                    prop_assert!(f.len() > max && f.len() <= r.len());
                    prop_assert_eq!(&f[..=max], &r[..=max]);
                }
            }
            let first_long = raw
                .iter()
                .position(|r| r.len() > max)
                .map(|i| (i, raw[i].len() as u64));
            prop_assert_eq!(info.oversized, first_long);
        }
    }

    #[test]
    fn any_user_id_is_one_segment_that_decodes_to_itself(id in "\\PC{0,40}") {
        let segment = zoom_rotate::zoom::client::encode_segment(&id);
        prop_assert!(segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        prop_assert_eq!(percent_decode_str(&segment).decode_utf8().unwrap(), id.as_str());
    }
}

/// A dry run of `file` in-process: the result, and the report's (line, outcome) rows in
/// file order.
async fn dry_run(file: &[u8]) -> (anyhow::Result<RunResult>, Vec<(u64, String)>) {
    let dir = util::tmp();
    let input = util::write(dir.path(), "input.csv", file)
        .display()
        .to_string();
    let report = dir.path().join("report.csv");
    let words = [
        input.as_str(),
        "--report",
        report.to_str().unwrap(),
        "--dry-run",
        // The reader and the checks are under test, with no Zoom to ask (issue 19).
        "--offline",
        "--yes",
    ];
    let result = util::run(dir.path(), &words, Default::default()).await;
    let rows = if report.exists() {
        util::rows(&report)
            .into_iter()
            .map(|r| (r.line, r.outcome.as_str().to_string()))
            .collect()
    } else {
        Vec::new()
    };
    (result, rows)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn every_record_becomes_exactly_one_report_row() {
    let rt = runtime();
    proptest!(ProptestConfig { cases: 64, ..ProptestConfig::default() }, |(bytes in csvish(300))| {
        let file = [b"email,password\n".as_slice(), &bytes].concat();
        let (result, rows) = rt.block_on(dry_run(&file));
        let expected = reported(oracle(&file));
        // A user or password that is not UTF-8 refuses the file whole (exit 2), with the
        // line and how to fix it.
        let not_utf8 = expected[1..].iter().any(|(_, fields)| {
            fields.iter().take(2).any(|f| std::str::from_utf8(f).is_err())
        });
        if not_utf8 {
            let e = format!("{:#}", result.unwrap_err());
            prop_assert!(e.contains("is not UTF-8; it looks like"), "{}", e);
            prop_assert!(rows.is_empty());
            return Ok(());
        }
        let result = result.unwrap();
        prop_assert_eq!(rows.len(), expected.len() - 1);
        prop_assert_eq!(result.tally.rows(), rows.len() as u64);
        for ((line, outcome), (expected_line, _)) in rows.iter().zip(&expected[1..]) {
            prop_assert_eq!(line, expected_line);
            prop_assert!(outcome == "dry_run" || outcome == "invalid_input", "{}", outcome);
        }
        let all_pass = rows.iter().all(|(_, o)| o == "dry_run");
        prop_assert_eq!(result.exit_code, if all_pass { 0 } else { 1 });
    });
}

#[test]
fn arbitrary_bytes_never_panic() {
    let rt = runtime();
    let file = prop_oneof![
        csvish(200),
        prop::collection::vec(any::<u8>(), 0..200),
        csvish(200).prop_map(|b| [b"\xEF\xBB\xBFid,Password,x\r\n".as_slice(), &b].concat()),
    ];
    proptest!(ProptestConfig { cases: 64, ..ProptestConfig::default() }, |(file in file)| {
        let (result, rows) = rt.block_on(dry_run(&file));
        match result {
            // A UTF-16 byte-order mark: the rows are the decoded file's, not the bytes'.
            Ok(_) if file.starts_with(b"\xFF\xFE") || file.starts_with(b"\xFE\xFF") => {}
            Ok(r) => {
                let plain = file.strip_prefix(BOM).unwrap_or(&file);
                let delimiter = zoom_rotate::pipeline::input::sniff_delimiter(plain);
                prop_assert_eq!(rows.len(), reported(oracle_with(plain, delimiter)).len() - 1);
                prop_assert_eq!(r.tally.rows(), rows.len() as u64);
            }
            // Exit 2 (no usable header, an empty file), said in words, not a panic.
            Err(e) => {
                let e = format!("{e:#}");
                prop_assert!(!e.contains("panic"), "{}", e);
                prop_assert!(rows.is_empty());
            }
        }
    });
}
