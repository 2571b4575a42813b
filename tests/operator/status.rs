//! `zoom-rotate status REPORT` (issue 12, item 1): a report after a resume has several
//! rows per user; status shows each user's latest state in input order, the counts, what
//! remains and why, when a 24-hour-limited user may be tried again, and how to continue.

use super::*;

/// A report after one resume, rows in completion order: a failed-then-changed user, a
/// user still under the 24-hour limit (until 2099), one whose limit has passed, a
/// duplicate refused on the resume (which must not hide the user's `changed`), a
/// rate-limited one and a final `user_not_found`.
const RESUMED: &str = "\
line,user_id,outcome,http_status,zoom_code,attempts,finished_at,message,may_have_applied
3,b@example.com,change_limit_24h,400,300,1,2099-01-01T00:00:00Z,You have changed your password the maximum number of times,false
2,a@example.com,failed,,,5,2026-12-01T10:00:00Z,\"no answer after 5 attempts; the change may have been applied\",true
4,c@example.com,not_attempted,,,0,2026-12-01T10:00:01Z,not sent: the run was interrupted,false
5,d@example.com,changed,204,,1,2026-12-01T10:00:01Z,,false
7,f@example.com,user_not_found,404,1001,1,2026-12-01T10:00:02Z,User does not exist: f@example.com.,false
2,a@example.com,changed,204,,1,2026-12-02T10:00:00Z,,false
8,D@example.com,invalid_input,,,0,2026-12-02T10:00:00Z,duplicate user (first on line 5),false
4,c@example.com,change_limit_24h,400,300,1,2020-01-01T00:00:00Z,You have changed your password the maximum number of times,false
6,e@example.com,rate_limited,429,,6,2026-12-02T10:00:03Z,rate limited after 6 attempts,false
";

const LIMIT: &str = "You have changed your password the maximum number of times";

/// `zoom-rotate status <words>` in `dir`: (exit code, stdout, stderr).
async fn status(dir: &Path, words: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = bin();
    cmd.current_dir(dir).arg("status").args(words);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    (out.status.code(), stdout, stderr)
}

#[tokio::test]
async fn status_text_shows_each_users_latest_state_in_input_order() {
    let dir = util::tmp();
    util::write(dir.path(), "r.csv", RESUMED);
    let (code, stdout, stderr) = status(dir.path(), &["r.csv"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    let expected = format!(
        "\
report r.csv: 6 users, 9 rows
line  user_id        outcome           note
2     a@example.com  changed
3     b@example.com  change_limit_24h  retryable from 2099-01-02T00:00:00Z; {LIMIT}
4     c@example.com  change_limit_24h  retryable now; {LIMIT}
5     d@example.com  changed
6     e@example.com  rate_limited      rate limited after 6 attempts
7     f@example.com  user_not_found
counts:
  changed           2
  change_limit_24h  2
  user_not_found    1
  rate_limited      1
3 users remain; to continue:
  zoom-rotate run <INPUT> --resume --report {}
",
        // The report by its absolute path: the command works from any directory.
        p(&dir.path().join("r.csv"))
    );
    assert_eq!(stdout, expected);
    assert_eq!(stderr, "");
}

#[tokio::test]
async fn status_csv_and_json_list_the_remaining_users_for_scripts() {
    let dir = util::tmp();
    util::write(dir.path(), "r.csv", RESUMED);
    let (code, stdout, _) = status(
        dir.path(),
        &["r.csv", "--only", "remaining", "--format", "csv"],
    )
    .await;
    assert_eq!(code, Some(1));
    assert_eq!(
        stdout,
        format!(
            "\
line,user_id,outcome,http_status,zoom_code,attempts,finished_at,message,may_have_applied,remaining,retryable_at
3,b@example.com,change_limit_24h,400,300,1,2099-01-01T00:00:00Z,{LIMIT},false,true,2099-01-02T00:00:00Z
4,c@example.com,change_limit_24h,400,300,1,2020-01-01T00:00:00Z,{LIMIT},false,true,2020-01-02T00:00:00Z
6,e@example.com,rate_limited,429,,6,2026-12-02T10:00:03Z,rate limited after 6 attempts,false,true,
"
        )
    );

    // The same report as JSON Lines reads the same.
    let jsonl: String = util::rows(&util::write(dir.path(), "copy.csv", RESUMED))
        .iter()
        .map(|r| {
            json!({
                "line": r.line, "user_id": r.user_id, "outcome": r.outcome.as_str(),
                "http_status": r.http_status, "zoom_code": r.zoom_code, "attempts": r.attempts,
                "finished_at": humantime::format_rfc3339_seconds(r.finished_at).to_string(),
                "message": r.message, "may_have_applied": r.may_have_applied,
            })
            .to_string()
                + "\n"
        })
        .collect();
    util::write(dir.path(), "r.jsonl", jsonl);
    let (code, stdout, _) = status(dir.path(), &["r.jsonl", "--format", "json"]).await;
    assert_eq!(code, Some(1));
    let v: Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(stdout.lines().count(), 1);
    let user = |line: u64, id: &str, outcome: &str, retry: Value, remaining: bool| {
        (line, id.to_string(), outcome.to_string(), retry, remaining)
    };
    let latest: Vec<_> = v["latest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            user(
                u["line"].as_u64().unwrap(),
                u["user_id"].as_str().unwrap(),
                u["outcome"].as_str().unwrap(),
                u["retryable_at"].clone(),
                u["remaining"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        latest,
        [
            user(2, "a@example.com", "changed", Value::Null, false),
            user(
                3,
                "b@example.com",
                "change_limit_24h",
                json!("2099-01-02T00:00:00Z"),
                true
            ),
            user(
                4,
                "c@example.com",
                "change_limit_24h",
                json!("2020-01-02T00:00:00Z"),
                true
            ),
            user(5, "d@example.com", "changed", Value::Null, false),
            user(6, "e@example.com", "rate_limited", Value::Null, true),
            user(7, "f@example.com", "user_not_found", Value::Null, false),
        ]
    );
    assert_eq!(
        v["counts"],
        json!({"changed": 2, "sso_revoked": 0, "same_as_old": 0, "change_limit_24h": 2, "user_not_found": 1,
               "policy_rejected": 0, "rejected": 0, "auth_failed": 0, "rate_limited": 1,
               "failed": 0, "invalid_input": 0, "not_attempted": 0, "dry_run": 0})
    );
    assert_eq!(
        (
            &v["rows"],
            &v["users"],
            &v["remaining"],
            &v["exit_code"],
            &v["report"]
        ),
        (
            &json!(9),
            &json!(6),
            &json!(3),
            &json!(1),
            &json!("r.jsonl")
        )
    );
    assert_eq!(
        v["resume_command"],
        format!(
            "zoom-rotate run <INPUT> --resume --report {}",
            p(&dir.path().join("r.jsonl"))
        )
    );
}

#[tokio::test]
async fn status_exits_0_when_every_user_changed_and_2_when_the_report_is_unreadable() {
    let dir = util::tmp();
    util::write(
        dir.path(),
        "done.csv",
        "line,user_id,outcome,http_status,zoom_code,attempts,finished_at,message,may_have_applied\n\
         2,a@example.com,failed,,,5,2026-12-01T10:00:00Z,no answer,true\n\
         2,a@example.com,changed,204,,1,2026-12-02T10:00:00Z,,false\n",
    );
    let (code, stdout, _) = status(dir.path(), &["done.csv", "--only", "remaining"]).await;
    assert_eq!(code, Some(0));
    assert_eq!(
        stdout,
        "report done.csv: 1 user, 2 rows\ncounts:\n  changed           1\nevery user is changed\n"
    );
    let (code, stdout, stderr) = status(dir.path(), &["missing.csv"]).await;
    assert_eq!((code, stdout.as_str()), (Some(2), ""));
    assert_eq!(
        stderr,
        "zoom-rotate: error: cannot read report missing.csv: it does not exist\n"
    );
}
