//! Defects 7 and 21: the end of a run makes the report durable (file, then directory)
//! before the journal is removed; and after a kill -9, a user the dead run had in flight
//! is sent again only once that run's request timeout (recorded in its journal) has
//! passed since its last journal record, after the other users.

use super::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wiremock::{Request, Respond};
use zoom_rotate::ledger::files::Trace;

/// Answers 204 and notes when each request arrived.
struct Clocked(Arc<Mutex<Vec<(String, SystemTime)>>>);

impl Respond for Clocked {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let now = SystemTime::now();
        self.0.lock().unwrap().push((r.url.path().to_string(), now));
        ResponseTemplate::new(204)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_flight_user_of_a_dead_run_waits_out_its_timeout_and_goes_last() {
    let server = MockServer::start().await;
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("PUT"))
        .respond_with(Clocked(arrivals.clone()))
        .mount(&server)
        .await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 3);
    let report = dir.path().join("r.csv");
    let head = format!("{CSV_HEADER}\n");
    std::fs::write(&report, &head).unwrap();
    // The dead run had u1 on the wire a moment ago, with a 1.5 s request timeout.
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    std::fs::write(
        zoom_rotate::ledger::side::journal(&report),
        format!("E {} 1500 {now_ms}\nS 2 u1 {now_ms}\n", head.len()),
    )
    .unwrap();
    let deadline = UNIX_EPOCH + Duration::from_millis(now_ms + 1500);

    let result = run(dir.path(), &server, &input, &report, &["--resume"])
        .await
        .unwrap();
    assert_eq!(result.exit_code, 0);
    assert_eq!(puts(&server).await, vec![put(2), put(3), put(1)]);
    let arrivals = arrivals.lock().unwrap().clone();
    let (path, at) = &arrivals[2];
    assert_eq!(path, "/v2/users/u1/password");
    assert!(
        *at >= deadline,
        "u1 was sent {:?} before the dead run's request could have ended",
        deadline.duration_since(*at).unwrap_or_default()
    );
    let u1 = util::rows(&report)
        .into_iter()
        .find(|r| r.user_id == "u1")
        .unwrap();
    assert_eq!(
        u1.message,
        "password changed (after an unanswered attempt with the same password)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_is_synced_before_the_journal_is_removed() {
    let server = ok_server().await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 2);
    let report = dir.path().join("r.csv");
    let trace = Arc::new(Trace::default());
    let disk = Disk::traced(trace.clone());
    let result = run_with_disk(dir.path(), &server, &input, &report, &[], disk)
        .await
        .unwrap();
    assert_eq!(result.exit_code, 0);
    let d = dir.path().to_path_buf();
    let at = |name: &str| d.join(name);
    assert_eq!(
        trace.events(),
        vec![
            // The report exists, durably, before anything is sent…
            ("sync", at("r.csv")),
            ("sync_dir", d.clone()),
            // …and so does the record of its input…
            ("sync", at("r.csv.meta.tmp")),
            ("sync_dir", d.clone()),
            // …and the journal (its per-request syncs are the journal's own).
            ("sync", at("r.csv.journal.tmp")),
            ("sync_dir", d.clone()),
            // The end of the run: the report's rows on disk, then the journal goes.
            ("sync", at("r.csv")),
            ("remove", at("r.csv.journal")),
            ("sync_dir", d.clone()),
        ]
    );
    assert_eq!(util::rows(&report).len(), 2);
    assert!(!zoom_rotate::ledger::side::journal(&report).exists());
}
