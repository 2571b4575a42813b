//! Defect 15: a report cut inside a quoted field (ENOSPC, power loss) must not swallow
//! the rows a resume appends after it. The torn tail is moved, byte for byte, into
//! `<report>.torn`; the journal knows its row was in flight, so that user is sent again
//! as an unanswered attempt (the same password), and the resume after that sends nothing.

use super::*;

/// 2025-11-29T03:00:00Z, long past: the dead run's requests are over.
const LONG_AGO_MS: u64 = 1_764_385_200_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_torn_inside_a_quoted_message_is_set_aside_and_the_next_resume_sends_nothing() {
    let server = ok_server().await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 3);
    let report = dir.path().join("r.csv");
    // What a crash mid-write leaves: u1's row whole, u2's cut inside its quoted message
    // (right after a newline in it), u3 in flight with no row at all.
    let head = format!("{CSV_HEADER}\n");
    let whole = "2,u1,changed,204,,1,2025-11-29T03:00:00Z,password changed,false\n";
    let torn = "3,u2,failed,502,,1,2025-11-29T03:00:00Z,\"Bad Gateway, says the proxy\n";
    std::fs::write(&report, format!("{head}{whole}{torn}")).unwrap();
    std::fs::write(
        zoom_rotate::ledger::side::journal(&report),
        format!(
            "E {} 1000 {LONG_AGO_MS}\nS 2 u1 {LONG_AGO_MS}\nS 3 u2 {LONG_AGO_MS}\nS 4 u3 {LONG_AGO_MS}\n",
            head.len()
        ),
    )
    .unwrap();

    let first = run(dir.path(), &server, &input, &report, &["--resume"])
        .await
        .unwrap();
    assert_eq!((first.exit_code.code(), first.skipped), (0, 1));
    assert_eq!(puts(&server).await, vec![put(2), put(3)]);
    let after = "password changed (after an unanswered attempt with the same password)";
    let rows: Vec<(u64, String, String, String)> = util::rows(&report)
        .into_iter()
        .map(|r| (r.line, r.user_id, r.outcome.to_string(), r.message))
        .collect();
    let row = |l: u64, u: &str, o: &str, m: &str| (l, u.to_string(), o.to_string(), m.to_string());
    assert_eq!(
        rows,
        vec![
            row(2, "u1", "changed", "password changed"),
            row(3, "u2", "changed", after),
            row(4, "u3", "changed", after),
        ]
    );

    let second = run(dir.path(), &server, &input, &report, &["--resume"])
        .await
        .unwrap();
    assert_eq!((second.exit_code.code(), second.skipped), (0, 3));
    assert_eq!(puts(&server).await.len(), 2, "nothing sent the second time");

    let mut torn_path = report.clone().into_os_string();
    torn_path.push(".torn");
    assert_eq!(std::fs::read_to_string(&torn_path).unwrap(), torn);
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        text.starts_with(&format!("{head}{whole}3,u2,changed,")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jsonl_report_cut_mid_line_is_set_aside_too() {
    let server = ok_server().await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 2);
    let report = dir.path().join("r.jsonl");
    let whole = "{\"line\":2,\"user_id\":\"u1\",\"outcome\":\"changed\",\"http_status\":204,\"zoom_code\":null,\"attempts\":1,\"finished_at\":\"2025-11-29T03:00:00Z\",\"message\":\"password changed\",\"may_have_applied\":false}\n";
    let torn = "{\"line\":3,\"user_id\":\"u2\",\"outcome\":\"fai";
    std::fs::write(&report, format!("{whole}{torn}")).unwrap();
    std::fs::write(
        zoom_rotate::ledger::side::journal(&report),
        format!("E 0 1000 {LONG_AGO_MS}\nS 2 u1 {LONG_AGO_MS}\nS 3 u2 {LONG_AGO_MS}\n"),
    )
    .unwrap();
    let first = run(dir.path(), &server, &input, &report, &["--resume"])
        .await
        .unwrap();
    assert_eq!((first.exit_code.code(), first.skipped), (0, 1));
    assert_eq!(puts(&server).await, vec![put(2)]);
    let mut torn_path = report.clone().into_os_string();
    torn_path.push(".torn");
    assert_eq!(std::fs::read_to_string(&torn_path).unwrap(), torn);
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.starts_with(whole), "{text}");
    let rows: Vec<(u64, String)> = util::rows(&report)
        .into_iter()
        .map(|r| (r.line, r.outcome.to_string()))
        .collect();
    assert_eq!(rows, vec![(2, "changed".into()), (3, "changed".into())]);
}
