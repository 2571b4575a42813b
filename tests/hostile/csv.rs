//! Malformed CSV, row by row: each bad row (short, long, empty, NUL bytes, invalid UTF-8,
//! fields over the size limit, case-insensitive duplicates) is `invalid_input` with its
//! line and a precise reason and is never sent; the rows around it go through; a huge
//! field costs little memory; and non-ASCII passwords are sent byte for byte.

use super::*;

const CHANGED: &str = "password changed";

/// The requests `server` received, sorted by path (the pool sends in any order).
async fn sent_sorted(server: &MockServer) -> Vec<(String, Value)> {
    let mut s = sent(server).await;
    s.sort_by(|a, b| a.0.cmp(&b.0));
    s
}

#[tokio::test]
async fn bom_crlf_and_quoted_fields_with_commas_and_newlines() {
    let server = ok_server().await;
    let dir = util::tmp();
    let mut csv: Vec<u8> = b"\xEF\xBB\xBF\"email\",\"password\"\r\n".to_vec(); // 1
    csv.extend_from_slice(b"a@x.com,Zoom1357Rx\r\n"); // 2
    csv.extend_from_slice(b"\"d,2@x.com\",\"Comma,9Pass\"\r\n"); // 3
    csv.extend_from_slice(b"\"b@x.com\",\"Pw,with\r\nnewline9A\"\r\n"); // 4-5
    csv.extend_from_slice(b"c@x.com,\"Quo\"\"ted9Ab\"\r\n"); // 6
    csv.extend_from_slice(b"\r\n"); // 7: blank, no record
    csv.extend_from_slice(b"e@x.com,Zoom1357Re"); // 8, no line end
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", &[]).await;
    assert_eq!(result.unwrap().exit_code, 1);
    assert_rows(
        &report,
        &[
            (2, "a@x.com", "changed", 1, CHANGED),
            (3, "d,2@x.com", "changed", 1, CHANGED),
            (
                4,
                "b@x.com",
                "invalid_input",
                0,
                "line 4: the password contains a control character",
            ),
            (6, "c@x.com", "changed", 1, CHANGED),
            (8, "e@x.com", "changed", 1, CHANGED),
        ],
    );
    assert_eq!(
        sent_sorted(&server).await,
        [
            put("a%40x.com", "Zoom1357Rx"),
            put("c%40x.com", "Quo\"ted9Ab"),
            put("d%2C2%40x.com", "Comma,9Pass"),
            put("e%40x.com", "Zoom1357Re"),
        ]
    );
}

#[tokio::test]
async fn short_long_empty_and_whitespace_rows() {
    let server = ok_server().await;
    let dir = util::tmp();
    let csv = "email,password,name\n\
               a@x.com,Zoom1357Ra,A\n\
               b@x.com,Zoom1357Rb\n\
               c@x.com,Zoom1357Rc,C,extra\n\
               ,Zoom1357Rd,D\n\
               \x20\x20 ,Zoom1357Re,E\n\
               g@x.com,   ,G\n\
               h@x.com,,H\n\
               ,,\n\
               \x20 i@x.com  ,  Zoom1357Ri  ,I\n\
               j@x.com\n";
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", &[]).await;
    assert_eq!(result.unwrap().exit_code, 1);
    assert_rows(
        &report,
        &[
            (2, "a@x.com", "changed", 1, CHANGED),
            (
                3,
                "b@x.com",
                "invalid_input",
                0,
                "line 3: the row has 2 fields, the header has 3",
            ),
            (
                4,
                "c@x.com",
                "invalid_input",
                0,
                "line 4: the row has 4 fields, the header has 3",
            ),
            (5, "", "invalid_input", 0, "line 5: missing user ID"),
            (6, "", "invalid_input", 0, "line 6: missing user ID"),
            (7, "g@x.com", "invalid_input", 0, "line 7: missing password"),
            (8, "h@x.com", "invalid_input", 0, "line 8: missing password"),
            // Line 9, `,,`, is a row of empty cells: no row at all (issue 19, as Excel
            // writes a row that once held something), skipped like a blank line.
            // The user ID is trimmed (the contract says so); the password never is.
            (
                10,
                "i@x.com",
                "invalid_input",
                0,
                "line 10: the password begins or ends with a blank (space, tab or other \
                 whitespace); it was not sent, and is never trimmed: fix the cell so it holds \
                 exactly the password",
            ),
            (
                11,
                "j@x.com",
                "invalid_input",
                0,
                "line 11: the row has 1 field, the header has 3",
            ),
        ],
    );
    assert_eq!(sent_sorted(&server).await, [put("a%40x.com", "Zoom1357Ra")]);
}

#[tokio::test]
async fn nul_bytes_and_invalid_utf8_refuse_only_their_row() {
    let server = ok_server().await;
    let dir = util::tmp();
    let mut csv: Vec<u8> = b"email,password,note\n".to_vec(); // 1
    csv.extend_from_slice(b"a\0b@x.com,Zoom1357Ra,\n"); // 2
    csv.extend_from_slice(b"c@x.com,Zoo\0m1357Rc,\n"); // 3
    csv.extend_from_slice(b"d@x.com,Zo\x01om1357Rd,\n"); // 4
    csv.extend_from_slice(b"e\x01@x.com,Zoom1357Re,\n"); // 5
    csv.extend_from_slice(b"\0,\0,\0\n"); // 6
    csv.extend_from_slice(b"f@x.com,Zoom1357Rf,\n"); // 7
    csv.extend_from_slice(b"g@x.com,Zoom1357Rg,\0\xff ignored\n"); // 8
    csv.extend_from_slice(b"u\x7f@x.com,Zoom1357Rh,\n"); // 9
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", &[]).await;
    assert_eq!(result.unwrap().exit_code, 1);
    assert_rows(
        &report,
        &[
            (
                2,
                "a\\u{0}b@x.com",
                "invalid_input",
                0,
                "line 2: the user ID contains a control character",
            ),
            (
                3,
                "c@x.com",
                "invalid_input",
                0,
                "line 3: the password contains a control character",
            ),
            (
                4,
                "d@x.com",
                "invalid_input",
                0,
                "line 4: the password contains a control character",
            ),
            (
                5,
                "e\\u{1}@x.com",
                "invalid_input",
                0,
                "line 5: the user ID contains a control character",
            ),
            (
                6,
                "\\u{0}",
                "invalid_input",
                0,
                "line 6: the user ID contains a control character",
            ),
            (7, "f@x.com", "changed", 1, CHANGED),
            (8, "g@x.com", "changed", 1, CHANGED),
            (
                9,
                "u\\u{7f}@x.com",
                "invalid_input",
                0,
                "line 9: the user ID contains a control character",
            ),
        ],
    );
    assert_eq!(
        sent_sorted(&server).await,
        [
            put("f%40x.com", "Zoom1357Rf"),
            put("g%40x.com", "Zoom1357Rg")
        ]
    );
}

#[tokio::test]
async fn fields_over_the_limit_are_refused_with_their_true_size() {
    let server = ok_server().await;
    let dir = util::tmp();
    let ten_mb = 10 * 1024 * 1024;
    let mut csv: Vec<u8> = b"email,password\n".to_vec(); // 1
    csv.extend_from_slice(b"ok1@x.com,Zoom1357Ra\n"); // 2
    csv.extend_from_slice(b"big@x.com,\"");
    csv.extend(std::iter::repeat_n(b'A', ten_mb));
    csv.extend_from_slice(b"\"\n"); // 3
    csv.extend(std::iter::repeat_n(b'U', ten_mb));
    csv.extend_from_slice(b",Zoom1357Rb\n"); // 4
    csv.extend_from_slice(b"exact@x.com,");
    csv.extend(std::iter::repeat_n(b'a', 4096));
    csv.extend_from_slice(b"\n"); // 5
    csv.extend_from_slice(b"over@x.com,");
    csv.extend(std::iter::repeat_n(b'a', 4097));
    csv.extend_from_slice(b"\n"); // 6
    csv.extend_from_slice(b"ok2@x.com,Zoom1357Rc\n"); // 7
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", &[]).await;
    assert_eq!(result.unwrap().exit_code, 1);
    let shown_user = format!("{}…", "U".repeat(200));
    assert_rows(
        &report,
        &[
            (2, "ok1@x.com", "changed", 1, CHANGED),
            (3, "big@x.com", "invalid_input", 0, "line 3: field 2 is 10485760 bytes, more than the 4096-byte limit (input.max_field_bytes)"),
            (4, &shown_user, "invalid_input", 0, "line 4: field 1 is 10485760 bytes, more than the 4096-byte limit (input.max_field_bytes)"),
            (5, "exact@x.com", "invalid_input", 0, "line 5: the password breaks Zoom's password rules (code 300): Password must be at most 32 characters"),
            (6, "over@x.com", "invalid_input", 0, "line 6: field 2 is 4097 bytes, more than the 4096-byte limit (input.max_field_bytes)"),
            (7, "ok2@x.com", "changed", 1, CHANGED),
        ],
    );
    assert_eq!(
        sent_sorted(&server).await,
        [
            put("ok1%40x.com", "Zoom1357Ra"),
            put("ok2%40x.com", "Zoom1357Rc")
        ]
    );
}

/// Runs `cmd` to completion: its exit code, the peak resident memory of the program it
/// executed (KiB, `VmHWM` polled from /proc while it runs: the rusage of a child also
/// counts the test process it was forked from), and its stderr.
fn run_measured(mut cmd: Command, dir: &Path) -> (Option<i32>, u64, String) {
    let err_path = dir.join("stderr.txt");
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().expect("binary runs");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        let hwm = std::fs::read_to_string(&status_path)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            })
            .unwrap_or(0);
        peak = peak.max(hwm);
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    (
        status.code(),
        peak,
        std::fs::read_to_string(err_path).unwrap(),
    )
}

#[tokio::test]
async fn a_huge_field_costs_little_memory() {
    let dir = util::tmp();
    let field = 64 * 1024 * 1024;
    let mut csv: Vec<u8> = b"email,password\nok1@x.com,Zoom1357Ra\nbig@x.com,\"".to_vec();
    csv.extend(std::iter::repeat_n(b'A', field));
    csv.extend_from_slice(b"\"\nok2@x.com,Zoom1357Rc\n");
    let input = util::write(dir.path(), "input.csv", &csv);
    drop(csv);
    let report = dir.path().join("report.csv");
    let mut cmd = util::bin();
    // The reader's memory is measured, not Zoom's answers (issue 19: --offline).
    cmd.args(["run", "--dry-run", "--offline", "--yes", "--report"])
        .arg(&report)
        .arg("--config")
        .arg(util::empty_config(dir.path()))
        .arg(&input);
    let path = dir.path().to_path_buf();
    let (code, max_rss_kib, stderr) = tokio::task::spawn_blocking(move || run_measured(cmd, &path))
        .await
        .unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(
        util::summary(&report)
            .iter()
            .map(|r| (r.0, r.2.as_str()))
            .collect::<Vec<_>>(),
        [(2, "dry_run"), (3, "invalid_input"), (4, "dry_run")]
    );
    // A 64 MiB field read whole would cost at least 64 MiB; bounded, the process stays
    // near its baseline (about 20 MiB for a debug build).
    assert!(
        max_rss_kib < 40 * 1024,
        "peak RSS {max_rss_kib} KiB reading a 64 MiB field"
    );
}

#[tokio::test]
async fn duplicates_differing_only_in_case_are_sent_once() {
    let server = ok_server().await;
    let dir = util::tmp();
    let csv = "email,password\n\
               Bob@Example.com,Zoom1357Ra\n\
               bob@example.COM,Zoom1357Rb\n\
               KdYKjnimT4KPd8FFgQt9FQ,Zoom1357Rc\n\
               kdykjnimt4kpd8ffgqt9fq,Zoom1357Rd\n\
               \x20BOB@EXAMPLE.COM ,Zoom1357Re\n\
               Émile@example.com,Zoom1357Rf\n\
               émile@EXAMPLE.com,Zoom1357Rg\n";
    let (result, report) = rotate(dir.path(), &v2(&server), TOKEN, csv, "", &[]).await;
    assert_eq!(result.unwrap().exit_code, 1);
    let dup = |line, user, first| {
        (
            line,
            user,
            "invalid_input",
            0,
            format!("line {line}: duplicate of line {first} (user IDs and emails compare case-insensitively)"),
        )
    };
    let expected = [
        (2, "Bob@Example.com", "changed", 1, CHANGED.to_string()),
        dup(3, "bob@example.COM", 2),
        (
            4,
            "KdYKjnimT4KPd8FFgQt9FQ",
            "changed",
            1,
            CHANGED.to_string(),
        ),
        dup(5, "kdykjnimt4kpd8ffgqt9fq", 4),
        dup(6, "BOB@EXAMPLE.COM", 2),
        (7, "Émile@example.com", "changed", 1, CHANGED.to_string()),
        dup(8, "émile@EXAMPLE.com", 7),
    ];
    let expected: Vec<Expected> = expected
        .iter()
        .map(|(l, u, o, a, m)| (*l, *u, *o, *a, m.as_str()))
        .collect();
    assert_rows(&report, &expected);
    assert_eq!(
        sent_sorted(&server).await,
        [
            put("%C3%89mile%40example.com", "Zoom1357Rf"),
            put("Bob%40Example.com", "Zoom1357Ra"),
            put("KdYKjnimT4KPd8FFgQt9FQ", "Zoom1357Rc"),
        ]
    );
}

/// Passwords with accents, CJK, an emoji and a combining mark (not normalised).
const NON_ASCII: [(&str, &str); 4] = [
    ("u1@x.com", "Ünïcödé-Päss9"),
    ("u2@x.com", "密码Passw0rd-x"),
    ("u3@x.com", "Emoji😀Pass9a"),
    ("u4@x.com", "Cafe\u{301}-Pass9x"),
];

fn non_ascii_csv() -> String {
    let mut csv = "email,password\n".to_string();
    for (u, p) in NON_ASCII {
        csv.push_str(&format!("{u},{p}\n"));
    }
    csv
}

#[tokio::test]
async fn non_ascii_passwords_are_sent_byte_for_byte_as_json() {
    let server = ok_server().await;
    let dir = util::tmp();
    let (result, _) = rotate(dir.path(), &v2(&server), TOKEN, non_ascii_csv(), "", &[]).await;
    assert_eq!(result.unwrap().exit_code, 0);
    let mut bodies: Vec<(String, Vec<u8>)> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| (r.url.path().to_string(), r.body.clone()))
        .collect();
    bodies.sort();
    let expected: Vec<(String, Vec<u8>)> = NON_ASCII
        .iter()
        .map(|(u, p)| {
            (
                format!("/v2/users/{}/password", u.replace('@', "%40")),
                format!("{{\"password\":\"{p}\"}}").into_bytes(),
            )
        })
        .collect();
    assert_eq!(bodies, expected);
}

#[tokio::test]
async fn non_ascii_passwords_are_sent_byte_for_byte_as_multipart() {
    let server = ok_server().await;
    let dir = util::tmp();
    let (result, _) = rotate(
        dir.path(),
        &v2(&server),
        TOKEN,
        non_ascii_csv(),
        "",
        &["--body", "multipart"],
    )
    .await;
    assert_eq!(result.unwrap().exit_code, 0);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), NON_ASCII.len());
    for r in requests {
        let (user, password) = NON_ASCII
            .iter()
            .find(|(u, _)| r.url.path() == format!("/v2/users/{}/password", u.replace('@', "%40")))
            .expect("a user of the input");
        let body = &r.body;
        let field = b"Content-Disposition: form-data; name=\"password\"\r\n\r\n";
        let start = body
            .windows(field.len())
            .position(|w| w == field)
            .unwrap_or_else(|| panic!("{user}: no password field"))
            + field.len();
        let end = start
            + body[start..]
                .windows(4)
                .position(|w| w == b"\r\n--")
                .expect("the part ends");
        assert_eq!(&body[start..end], password.as_bytes(), "{user}");
    }
}
