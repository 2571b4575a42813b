//! The strict report reader's cases: what spreadsheets do to a report, the rows it
//! cannot read, the tail, and reports of older versions.

use super::*;

const V1: &str = "line,user_id,outcome,http_status,zoom_code,attempts,finished_at,message";

fn csv(text: &str) -> Contents {
    parse(Path::new("r.csv"), text.as_bytes(), 0)
}

/// (line, user, outcome, status, attempts, may_have_applied) of a row.
type Brief = (u64, String, &'static str, Option<u16>, u32, bool);

fn brief(c: &Contents) -> Vec<Brief> {
    c.rows
        .iter()
        .map(|r| {
            let o = r.outcome.as_str();
            (
                r.line,
                r.user_id.clone(),
                o,
                r.http_status,
                r.attempts,
                r.may_have_applied,
            )
        })
        .collect()
}

#[test]
fn what_spreadsheets_do_to_a_report_reads_as_meant() {
    let plain = format!(
        "{CSV_HEADER}\n2,=1+1,changed,204,,1,2026-11-29T03:00:00Z,'=HYPERLINK(\"x\"),false\n3,b@x.com,failed,,,2,2026-11-29T03:00:01Z,gave up,true\n"
    );
    let want = brief(&csv(&plain));
    assert_eq!(want[0].1, "=1+1");
    assert_eq!(csv(&plain).rows[0].message, "=HYPERLINK(\"x\")");
    let excel = "\u{FEFF}sep=;\r\nline;user_id;outcome;http_status;zoom_code;attempts;finished_at;message;may_have_applied\r\n\
                 \"2\";=1+1;Changed;\"204\";;1;2026-11-29 03:00:00;\"'=HYPERLINK(\"\"x\"\")\";FALSE\r\n\
                 ;;;;;;;;\r\n\
                 3;b@x.com;failed;;;2;2026-11-29T03:00:01Z;gave up;True\r\n";
    let c = csv(excel);
    assert_eq!(
        (brief(&c), c.unreadable.clone(), c.line_end),
        (want.clone(), vec![], "\r\n")
    );
    assert_eq!(c.rows[0].message, "=HYPERLINK(\"x\")");
    // A `;` re-save without the sep= line, columns moved, the last line end missing.
    let moved = "outcome\tline\tuser_id\thttp_status\tzoom_code\tattempts\tfinished_at\tmessage\tmay_have_applied\n\
                 changed\t2\t'=1+1\t204\t\t1\t2026-11-29T03:00:00Z\t'=HYPERLINK(\"x\")\tfalse\n\
                 FAILED\t3\tb@x.com\t\t\t2\t2026-11-29T03:00:01Z\tgave up\tTRUE";
    let c = csv(moved);
    assert_eq!((brief(&c), c.tail), (want, Tail::RowWithoutLineEnd));
    assert_eq!(dialect(moved.as_bytes()).delimiter, b'\t');
}

#[test]
fn a_row_that_cannot_be_read_is_named_never_skipped() {
    let text = format!(
        "{CSV_HEADER}\n2,a,changed,204,,1,2026-11-29T03:00:00Z,,false\n\
         2,b,chnaged,204,,1,2026-11-29T03:00:00Z,,false\n\
         3,c,changed,2O4,,x,2026-11-29,,yes\n\
         4,d,changed,204,,1,2026-11-29T03:00:00Z,\n\
         5,e,changed,204,,1,2026-11-29T03:00:00Z,,\n"
    );
    let c = csv(&text);
    assert_eq!(c.rows.len(), 1);
    let lines: Vec<String> = c.unreadable.iter().map(|u| u.to_string()).collect();
    assert_eq!(
        lines,
        [
            "line 3: outcome \"chnaged\" is not an outcome",
            "line 4: http_status \"2O4\" is not a whole number, attempts \"x\" is not a whole number, finished_at \"2026-11-29\" is not a time (RFC 3339, UTC), may_have_applied \"yes\" is not true or false",
            "line 5: the row has 8 cells, the header 9",
            "line 6: may_have_applied \"\" is not true or false",
        ]
    );
    let refused = refusal(Path::new("r.csv"), &c.unreadable[..1], true);
    assert_eq!(refused.code, RefusalCode::ReportUnreadable);
    assert_eq!(
        refused.message,
        format!("--resume refused: the report r.csv has a row the tool cannot read (line 3: outcome \"chnaged\" is not an outcome); a row that cannot be read is never taken to mean \"not attempted\", so nothing was sent: {FIX}")
    );
    // Excel's plain "CSV" save of a non-ASCII user, in Windows-1252.
    let mut latin1 = format!("{CSV_HEADER}\n").into_bytes();
    latin1.extend_from_slice(b"2,j\xF6rg@x.com,changed,204,,1,2026-11-29T03:00:00Z,,false\n");
    let c = parse(Path::new("r.csv"), &latin1, 0);
    assert_eq!((c.rows.len(), c.unreadable.len()), (0, 1));
    assert!(
        c.unreadable[0].why.contains("save it as \"CSV UTF-8\""),
        "{:?}",
        c.unreadable
    );
    // No header: nothing can be read.
    let c = csv("2,a,changed,204,,1,2026-11-29T03:00:00Z,,false\n");
    assert_eq!((c.rows.len(), c.unreadable[0].line), (0, 1));
    assert!(
        c.unreadable[0].why.contains("not a report's header"),
        "{:?}",
        c.unreadable
    );
}

#[test]
fn a_tail_cut_short_is_torn_and_a_whole_row_without_its_line_end_is_a_row() {
    let head = format!("{CSV_HEADER}\n2,a,changed,204,,1,2026-11-29T03:00:00Z,,false\n");
    for (tail, want) in [
        ("", Tail::Whole),
        (
            "3,b,failed,,,1,2026-11-29T03:00:00Z,x,tru",
            Tail::Torn { line: 3 },
        ),
        (
            "3,b,failed,,,1,2026-11-29T03:00:00Z,x,",
            Tail::Torn { line: 3 },
        ),
        (
            "3,b,failed,,,1,2026-11-29T03:00:00Z,\"x\n",
            Tail::Torn { line: 3 },
        ),
        (
            "3,b,failed,,,1,2026-11-29T03:00:00Z,x,true",
            Tail::RowWithoutLineEnd,
        ),
    ] {
        let c = csv(&format!("{head}{tail}"));
        assert_eq!((c.tail, c.unreadable.len()), (want, 0), "{tail:?}");
    }
}

#[test]
fn reports_from_before_the_may_have_applied_column_read_from_their_message() {
    // A resumed old report: its header has eight names, the rows appended since nine.
    let text = format!(
        "{V1}\n2,a@x.com,failed,502,,2,2026-11-29T03:00:00Z,gave up; {MAY_HAVE_APPLIED}\n\
         3,b@x.com,failed,,,0,2026-11-29T03:00:00Z,not sent\n\
         4,c@x.com,failed,,,1,2026-11-29T03:00:00Z,x,true\n"
    );
    let flags: Vec<bool> = csv(&text).rows.iter().map(|r| r.may_have_applied).collect();
    assert_eq!(flags, [true, false, true]);
    let jsonl = format!(
        "{{\"line\":2,\"user_id\":\"a\",\"outcome\":\"failed\",\"http_status\":502,\"zoom_code\":null,\"attempts\":2,\"finished_at\":\"2026-11-29T03:00:00Z\",\"message\":\"{MAY_HAVE_APPLIED}\"}}\n\n\
         {{\"line\":3,\"user_id\":\"b\",\"outcome\":\"FAILED\",\"http_status\":null,\"zoom_code\":null,\"attempts\":0,\"finished_at\":\"2026-11-29T03:00:00Z\",\"message\":\"x\",\"may_have_applied\":\"TRUE\"}}\n\
         {{\"line\":4,\"user_id\":\"c\",\"outcome\":\"chnaged\"}}\n\
         {{\"line\":5,"
    );
    let c = parse(Path::new("r.jsonl"), jsonl.as_bytes(), 0);
    let flags: Vec<bool> = c.rows.iter().map(|r| r.may_have_applied).collect();
    assert_eq!(flags, [true, true]);
    assert_eq!(c.tail, Tail::Torn { line: 5 });
    assert_eq!(c.unreadable.len(), 1);
    assert_eq!(c.unreadable[0].line, 4);
}
