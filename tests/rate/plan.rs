//! A `--rate` above the plan's Medium budget floods every app on the account: it is
//! refused with exit 2, naming the flag, the plan and its budget and the way out, before
//! any request (not even the token or the settings read) leaves. The plan's own budget,
//! a larger plan, or the explicit override are accepted.

use super::*;

/// Runs the binary with `words` against `server` (a fixed token), returns (code, stderr).
async fn bin_run(server: &MockServer, dir: &Path, words: &[&str]) -> (Option<i32>, String) {
    let input = users_csv(dir, 3);
    let mut cmd = util::bin();
    cmd.args([
        "run",
        &p(&input),
        "--base-url",
        &v2(server),
        "--no-fetch-policy",
    ])
    .args(["--report", &p(&dir.join("r.csv"))])
    .args(words)
    .env("ZOOM_ACCESS_TOKEN", TOKEN);
    if !words.contains(&"--config") {
        cmd.args(["--config", &p(&util::empty_config(dir))]);
    }
    let out = util::bin_output(cmd).await;
    (out.status.code(), util::text(&out).1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_above_the_plan_is_refused_before_anything_is_sent() {
    let server = MockServer::start().await;
    let dir = util::tmp();
    let (code, stderr) = bin_run(&server, dir.path(), &["--rate", "1000"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(
        stderr.split_once(" ERROR ").map(|(_, m)| m),
        Some("invalid --rate = 1000: expected at most 20 requests per second, the Medium budget of the pro plan (the default: no --plan was given), which every app on the account shares: give --plan business if the account is on it, or pass --rate-above-plan (config: [rate] allow_above_plan = true) if the account's budget really is larger; nothing was sent\n"),
        "{stderr}"
    );
    let (code, stderr) = bin_run(&server, dir.path(), &["--plan", "free", "--rate", "2.5"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid --rate = 2.50: expected at most 2 requests per second, the Medium budget of the free plan, which every app on the account shares: give --plan pro or business if the account is on one, or pass --rate-above-plan"),
        "{stderr}"
    );
    let (code, stderr) = bin_run(&server, dir.path(), &["--budget-share", "1.5"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid --budget-share = 1.5: expected a share of the account's budget from 0.01 to 1 (1 takes all of it)"),
        "{stderr}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(!dir.path().join("r.csv").exists(), "no report is started");
}

/// The plan's budget itself, a larger plan, and the override (flag or config) pass; the
/// plan line says what the job takes and what it leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_a_larger_plan_or_the_override_are_accepted_and_the_plan_says_so() {
    let server = MockServer::start().await;
    let dir = util::tmp();
    let allow = util::write(
        dir.path(),
        "allow.toml",
        "[rate]\nallow_above_plan = true\n",
    );
    for (words, plan) in [
        (vec!["--rate", "20"], "plan: 3 users at 20/s: about 1 s; all of the pro plan's Medium budget of 20/s, leaving nothing to other apps (it slows down when Zoom says they need some)"),
        (vec!["--plan", "business", "--rate", "60"], "plan: 3 users at 60/s: about 1 s; all of the business plan's Medium budget of 60/s"),
        (vec![], "plan: 3 users at 16/s: about 1 s; 80% of the pro plan's Medium budget of 20/s, leaving 4/s to other apps (less if they need more)"),
        (vec!["--budget-share", "0.5"], "plan: 3 users at 10/s: about 1 s; 50% of the pro plan's Medium budget of 20/s, leaving 10/s to other apps"),
        (vec!["--rate", "1000", "--rate-above-plan"], "plan: 3 users at 1000/s: about 1 s; 1000/s is above the pro plan's Medium budget of 20/s (--rate-above-plan): the job starts at 20/s and goes faster only while Zoom admits it, leaving nothing to other apps"),
        (vec!["--rate", "1000", "--config", allow.to_str().unwrap()], "1000/s is above the pro plan's Medium budget of 20/s"),
    ] {
        let d = util::tmp();
        let mut words = words.clone();
        words.push("--dry-run");
        let (code, stderr) = bin_run(&server, d.path(), &words).await;
        assert_eq!(code, Some(0), "{words:?}: {stderr}");
        assert!(stderr.contains(plan), "{words:?}: {stderr}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}
