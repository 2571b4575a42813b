//! Defect 9: `--resume` reads whether an earlier attempt may have applied the change from
//! the report's typed `may_have_applied` column, never from the free-text message, which
//! also carries whatever the server said.

use super::*;
use wiremock::ResponseTemplate;

const SAME_AS_OLD: &str =
    r#"{"code":300,"message":"Your new password can not match the old password."}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_trusts_the_typed_column_not_words_in_the_message() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(SAME_AS_OLD, "application/json"))
        .mount(&server)
        .await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 2);
    let report = dir.path().join("r.csv");
    // u1: a server's message that happens to contain the phrase, with nothing unanswered;
    // u2: an unanswered attempt, said only by the column.
    std::fs::write(
        &report,
        format!(
            "{CSV_HEADER}\n\
             2,u1,failed,503,,1,2026-12-01T00:00:00Z,\"HTTP 503: upstream: the change may have been applied; gave up after 1 tries; the change was not applied\",false\n\
             3,u2,failed,,,1,2026-12-01T00:00:00Z,\"sent, no answer\",true\n"
        ),
    )
    .unwrap();
    let r = run(dir.path(), &server, &input, &report, &["--resume"])
        .await
        .unwrap();
    assert_eq!(r.exit_code, 1);
    assert_eq!(puts(&server).await, vec![put(1), put(2)]);
    let rows = zoom_rotate::ledger::report::read(&report).unwrap();
    let mut latest: Vec<(&str, &str, bool)> = rows[2..]
        .iter()
        .map(|r| (r.user_id.as_str(), r.outcome.as_str(), r.may_have_applied))
        .collect();
    latest.sort();
    assert_eq!(
        latest,
        [("u1", "same_as_old", false), ("u2", "changed", false)],
        "u1's same-as-old is its own answer; u2's confirms the unanswered attempt"
    );
}
