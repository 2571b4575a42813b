//! The incident runbook end to end: generate (discard, or keep in a file), stop early,
//! then paste the printed resume command until done; and the files it leaves.

use super::*;

/// Runs the binary on the runbook's first step against a server refusing everything
/// (so the breaker stops it after 2 rows), then lets the server accept and runs the
/// resume command the summary printed, through a shell, as an operator would paste it.
async fn runbook(keep: &[&str]) -> (tempfile::TempDir, Output, Vec<String>) {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(forbidden())
        .mount(&server)
        .await;
    let dir = util::tmp();
    let input = ids_csv(dir.path(), "affected.csv", 6);
    let mut cmd = bin();
    cmd.env("ZOOM_ACCESS_TOKEN", TOKEN)
        .args(["run", &p(&input), "--generate"])
        .args(keep.iter().map(|k| k.replace("{dir}", &p(dir.path()))))
        .args(["--report", &p(&dir.path().join("r.csv"))])
        .args(["--config", &p(&util::empty_config(dir.path()))])
        .args([
            "--base-url",
            &v2(&server),
            "--no-fetch-policy",
            "--rate",
            "100",
            "--rate-above-plan",
        ])
        .args(["--max-failures", "2", "--concurrency", "1", "--yes"]);
    let first = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&first);
    assert_eq!(first.status.code(), Some(3), "{stdout}\n{stderr}");
    let resume = stdout
        .lines()
        .skip_while(|l| !l.ends_with("to continue:"))
        .nth(1)
        .unwrap_or_else(|| panic!("no resume command: {stdout}"))
        .trim()
        .to_string();
    let stopped_at = puts(&server).await.len();

    server.reset().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let mut sh = scrubbed("sh");
    sh.args(["-c", &resume]).env("ZOOM_ACCESS_TOKEN", TOKEN);
    let second = util::bin_output(sh).await;
    let (stdout, stderr) = util::text(&second);
    // Exit 1, not 0: the rows the 403s refused are `rejected`, final per the contract,
    // so the resume skips them and says so; every other user is changed.
    assert_eq!(
        second.status.code(),
        Some(1),
        "the printed resume command finishes the job: {resume}\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("{:<17} {stopped_at}", "(already final)")),
        "{stdout}"
    );
    let sent_again = puts(&server).await;
    assert_eq!(
        sent_again.len(),
        6 - stopped_at,
        "only what remained is sent"
    );
    (dir, second, sent_again)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbook_generate_and_discard_then_resume_until_done() {
    let (dir, second, sent) = runbook(&["--discard-passwords"]).await;
    let (stdout, stderr) = util::text(&second);
    assert_eq!(second.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stdout.contains("to continue"), "{stdout}");
    let latest = latest_outcomes(&dir.path().join("r.csv"));
    assert_eq!(
        latest
            .iter()
            .filter(|(_, o)| *o == Outcome::Changed)
            .count(),
        sent.len()
    );
    assert!(latest
        .iter()
        .all(|(_, o)| matches!(o, Outcome::Changed | Outcome::Rejected)));
}

/// The printed resume command must work with `--generated-out` too: the passwords file
/// of the first run is continued, not refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbook_generate_with_out_file_then_resume_until_done() {
    let (dir, second, sent) = runbook(&["--generated-out", "{dir}/new-passwords.csv"]).await;
    let (stdout, stderr) = util::text(&second);
    assert_eq!(second.status.code(), Some(1), "{stdout}\n{stderr}");
    let saved = std::fs::read_to_string(dir.path().join("new-passwords.csv")).unwrap();
    for path in &sent {
        let user = path.split('/').nth(3).unwrap();
        assert!(
            saved.lines().any(|l| l.starts_with(&format!("{user},"))),
            "{user}'s new password was kept"
        );
    }
}

/// Each user's latest report row, in input order.
fn latest_outcomes(report: &Path) -> Vec<(String, Outcome)> {
    let mut latest: Vec<(u64, String, Outcome)> = Vec::new();
    for r in util::rows(report) {
        match latest.iter_mut().find(|(line, _, _)| *line == r.line) {
            Some(slot) => slot.2 = r.outcome,
            None => latest.push((r.line, r.user_id, r.outcome)),
        }
    }
    latest.sort_by_key(|(line, _, _)| *line);
    latest.into_iter().map(|(_, u, o)| (u, o)).collect()
}

/// The security notes promise: a report directory the run creates is private (0700),
/// like the files in it, whatever the umask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_directory_the_run_creates_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = util::tmp();
    let report = dir.path().join("new-dir").join("r.csv");
    let mut cmd = bin();
    cmd.args([
        "run",
        "fixtures/users.csv",
        "--simulate",
        "--report",
        &p(&report),
    ])
    .args(["--config", &p(&util::empty_config(dir.path()))]);
    let out = util::bin_output(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{:?}", util::text(&out));
    let mode = |p: &Path| {
        format!(
            "{:o}",
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777
        )
    };
    assert_eq!(mode(&report), "600");
    assert_eq!(
        mode(report.parent().unwrap()),
        "700",
        "report directory mode"
    );
}

/// The nightly job of the README: `--resume-or-start` on the day's report starts it when
/// it does not exist yet, and a second run the same day sends nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nightly_resume_starts_a_new_report_and_a_rerun_sends_nothing() {
    let server = util::ok_server().await;
    let dir = util::tmp();
    let input = users_csv(dir.path(), "nightly.csv", "u", 3);
    let report = dir.path().join("reports").join("2026-03-01.csv");
    let words = [
        p(&input),
        "--resume-or-start".into(),
        "--report".into(),
        p(&report),
        "--base-url".into(),
        v2(&server),
        "--no-fetch-policy".into(),
        "--yes".into(),
    ];
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let first = util::run(dir.path(), &words, util::token(TOKEN))
        .await
        .unwrap();
    assert_eq!(first.exit_code, 0);
    assert_eq!(puts(&server).await.len(), 3);
    let again = util::run(dir.path(), &words, util::token(TOKEN))
        .await
        .unwrap();
    assert_eq!((again.exit_code.code(), again.skipped), (0, 3));
    assert_eq!(puts(&server).await.len(), 3, "nothing sent twice");
    assert_eq!(util::rows(&report).len(), 3);
}
