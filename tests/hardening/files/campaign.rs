//! Issue 19: one campaign, one report. A report is the state of one campaign, so the
//! tool keeps campaigns apart: an existing report is refused with a new dated path
//! suggested beside `--resume`; two runs that start in the same second with the default
//! name each get a report of their own.

use super::*;
use std::time::{Duration, SystemTime};
use zoom_rotate::output::context::RunContext;
use zoom_rotate::settings::{FileConfig, Settings};
use zoom_rotate::vocab::stop::Stop;

/// Today's date, UTC, as `YYYY-MM-DD`.
fn today() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()[..10].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_report_is_refused_with_a_new_dated_path_suggested() {
    let server = ok_server().await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 2);
    let report = dir.path().join("incident").join("rotation.csv");
    let done = run(dir.path(), &server, &input, &report, &[])
        .await
        .unwrap();
    assert_eq!(done.exit_code, 0);
    let before = today();
    let e = refused(dir.path(), &server, &input, &report, &[]).await;
    let dated = |day: &str| report.with_file_name(format!("rotation-{day}.csv"));
    let expected = |day: &str| {
        format!(
            "report {} already exists and is never overwritten: pass --resume to continue it if it is this campaign's, or start a new report at a dated path, e.g. --report {}",
            report.display(),
            dated(day).display()
        )
    };
    // (Midnight may pass between the two looks at the clock.)
    assert!(e == expected(&before) || e == expected(&today()), "{e}");
    assert_eq!(
        puts(&server).await,
        vec![put(1), put(2)],
        "nothing sent again"
    );
    // The suggested path works as given.
    let next = if e == expected(&before) {
        before
    } else {
        today()
    };
    let again = run(dir.path(), &server, &input, &dated(&next), &[])
        .await
        .unwrap();
    assert_eq!(again.exit_code, 0);
    assert_eq!(puts(&server).await.len(), 4);
}

/// Resolves `run <input> <extra>` without `--report`, its default report under `reports`.
fn default_named(dir: &Path, server: &MockServer, input: &Path) -> Settings {
    let config = util::write(
        dir,
        "reports.toml",
        format!("[report]\ndir = {:?}\n", p(&dir.join("reports"))),
    );
    let w: Vec<String> = vec![
        p(input),
        "--config".into(),
        p(&config),
        "--base-url".into(),
        format!("{}/v2", server.uri()),
        "--no-fetch-policy".into(),
        "--yes".into(),
    ];
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    let args = util::run_args(dir, &w);
    let file = FileConfig::load(Some(&config)).unwrap();
    Settings::resolve(&args, &file).unwrap()
}

async fn execute(s: Settings) -> zoom_rotate::commands::run::RunResult {
    let ctx = RunContext::of(&s, SystemTime::now());
    let argv = ["zoom-rotate".to_string(), "run".to_string()];
    let disk = zoom_rotate::ledger::files::Disk::default();
    zoom_rotate::commands::run::execute(s, &ctx, util::token(TOKEN), Stop::new(), &argv, disk)
        .await
        .expect("the run proceeds")
}

/// Two runs started in the same second with the default report name (on two inputs:
/// one input is locked by its run) both proceed, each into a report of its own; a third
/// after them takes the next number too. Every user is sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_default_named_runs_in_the_same_second_each_get_their_own_report() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204).set_delay(Duration::from_millis(300)))
        .mount(&server)
        .await;
    let dir = util::tmp();
    let d = dir.path();
    let write = |name: &str, users: &[usize]| {
        let mut s = String::from("user_id,password\n");
        for i in users {
            s.push_str(&format!("u{i},{}\n", password(*i)));
        }
        util::write(d, name, s)
    };
    let (a, b, c) = (
        write("a.csv", &[1, 2]),
        write("b.csv", &[3, 4]),
        write("c.csv", &[5]),
    );
    // Resolved within one second: the same default name for both.
    let (sa, sb) = loop {
        let (sa, sb) = (default_named(d, &server, &a), default_named(d, &server, &b));
        if sa.report == sb.report {
            break (sa, sb);
        }
    };
    assert!(!sa.report_given);
    let base = sa.report.clone();
    let (ra, rb) = tokio::join!(execute(sa), execute(sb));
    assert_eq!((ra.exit_code.code(), rb.exit_code.code()), (0, 0));
    let mut reports = vec![ra.report.clone(), rb.report.clone()];
    reports.sort();
    let second = zoom_rotate::ledger::side::numbered(&base, 2);
    let mut expected = vec![base.clone(), second.clone()];
    expected.sort();
    assert_eq!(reports, expected);
    let mut sc = default_named(d, &server, &c);
    sc.report.clone_from(&base);
    let rc = execute(sc).await;
    assert_eq!(rc.exit_code, 0);
    assert_eq!(rc.report, zoom_rotate::ledger::side::numbered(&base, 3));
    // Each report holds its own run's users, and each user was sent once.
    let users = |r: &Path| -> Vec<String> {
        let mut u: Vec<String> = util::rows(r).into_iter().map(|r| r.user_id).collect();
        u.sort();
        u
    };
    assert_eq!(users(&ra.report), ["u1", "u2"]);
    assert_eq!(users(&rb.report), ["u3", "u4"]);
    assert_eq!(users(&rc.report), ["u5"]);
    let mut sent = puts(&server).await;
    sent.sort();
    assert_eq!(sent, (1..=5).map(put).collect::<Vec<_>>());
}
