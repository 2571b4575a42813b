//! The plan logged before anything is sent, and the confirmation asked on a terminal
//! (only there, only above `[run] confirm_above`, never with `--yes`). A pty comes from
//! util-linux `script`.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_estimates_duration_and_free_plan_days() {
    let dir = util::tmp();
    let config = util::empty_config(dir.path());
    let small = users_csv(dir.path(), "200.csv", "u", 200);
    let mut cmd = bin();
    // The plan is under test, not Zoom's answers (issue 19: --offline asks Zoom nothing).
    cmd.args(["run", &p(&small), "--dry-run", "--offline", "--rate", "20"])
        .args([
            "--report",
            &p(&dir.path().join("a.csv")),
            "--config",
            &p(&config),
        ]);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.contains("200 users at 20/s: about 10 s"), "{stderr}");
    assert!(!stderr.contains("daily limit"), "{stderr}");
    assert!(stdout.contains("  dry_run           200\n"), "{stdout}");

    let big = users_csv(dir.path(), "5000.csv", "u", 5000);
    let mut cmd = bin();
    // The whole budget (issue 11: the default takes 0.8 of it), as this test always had.
    cmd.args([
        "run",
        &p(&big),
        "--dry-run",
        "--offline",
        "--plan",
        "free",
        "--budget-share",
        "1",
    ])
    .args([
        "--report",
        &p(&dir.path().join("b.csv")),
        "--config",
        &p(&config),
    ]);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "5000 users at 2/s: about 42 min; Zoom's daily limit of 2000 requests spreads it over 3 days"
        ),
        "{stderr}"
    );
}

const PROMPT: &str = "Type y or yes to go on";

/// Whether util-linux `script` can give a child a pty here.
fn have_pty() -> bool {
    let ok = scrubbed("script")
        .args(["-qec", "true", "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: util-linux `script` cannot allocate a pty on this machine");
    }
    ok
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Runs the binary with `args` on a pseudo-terminal (stdin, stdout and stderr), typing
/// `typed` at it; returns the terminal's output (stdout and stderr together).
async fn on_terminal(args: Vec<String>, typed: &'static str) -> Output {
    let mut line = sh_quote(env!("CARGO_BIN_EXE_zoom-rotate"));
    for a in &args {
        line.push(' ');
        line.push_str(&sh_quote(a));
    }
    let mut cmd = scrubbed("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env("ZOOM_ACCESS_TOKEN", TOKEN);
    tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(typed.as_bytes())
            .unwrap();
        child.wait_with_output().expect("script finishes")
    })
    .await
    .unwrap()
}

/// A server that accepts every change, a 3-row input and a config asking above `above`.
async fn confirm_setup(dir: &Path, above: u64) -> (MockServer, Vec<String>) {
    let server = util::ok_server().await;
    let input = users_csv(dir, "in.csv", "u", 3);
    let config = util::write(
        dir,
        "confirm.toml",
        format!("[run]\nconfirm_above = {above}\n"),
    );
    let args = vec![
        "run".into(),
        p(&input),
        "--report".into(),
        p(&dir.join("r.csv")),
        "--config".into(),
        p(&config),
        "--base-url".into(),
        v2(&server),
        "--no-fetch-policy".into(),
        "--rate".into(),
        "1000".into(),
        "--rate-above-plan".into(),
    ];
    (server, args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_refused_on_a_terminal_sends_nothing() {
    if !have_pty() {
        return;
    }
    let dir = util::tmp();
    let (server, args) = confirm_setup(dir.path(), 2).await;
    let out = on_terminal(args, "no\n").await;
    let (tty, _) = util::text(&out);
    assert_eq!(out.status.code(), Some(2), "{tty}");
    assert!(
        tty.contains(&format!(
            "Change the passwords of up to 3 users at {} (1000 requests/s)? {PROMPT}",
            v2(&server)
        )),
        "{tty}"
    );
    assert!(tty.contains("not confirmed: nothing was sent"), "{tty}");
    assert_eq!(server.received_requests().await.unwrap().len(), 0);
    assert!(!dir.path().join("r.csv").exists(), "no report either");
}

/// A terminal run of the 3-row input that goes ahead: exit 0, every row sent.
struct GoesAhead {
    name: &'static str,
    /// `confirm_above` in the config.
    above: u64,
    /// Words after the setup's.
    extra: &'static [&'static str],
    /// What is typed at the terminal.
    typed: &'static str,
    /// Whether the question is asked.
    asked: bool,
}

async fn goes_ahead(case: GoesAhead) {
    let GoesAhead {
        name,
        above,
        extra,
        typed,
        asked,
    } = case;
    let dir = util::tmp();
    let (server, mut args) = confirm_setup(dir.path(), above).await;
    args.extend(extra.iter().map(|w| w.to_string()));
    let out = on_terminal(args, typed).await;
    let (tty, _) = util::text(&out);
    assert_eq!(out.status.code(), Some(0), "{name}: {tty}");
    assert_eq!(tty.contains(PROMPT), asked, "{name}: asked? {tty}");
    assert_eq!(puts(&server).await.len(), 3, "{name}: every row sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_run_goes_ahead_when_confirmed_told_yes_or_small() {
    if !have_pty() {
        return;
    }
    #[rustfmt::skip]
    let table = [
        GoesAhead { name: "confirmation accepted on a terminal runs",
            above: 2, extra: &[], typed: "yes\n", asked: true },
        GoesAhead { name: "--yes skips the question on a terminal",
            above: 2, extra: &["--yes"], typed: "", asked: false },
        GoesAhead { name: "no question at or below the threshold",
            above: 3, extra: &[], typed: "", asked: false },
    ];
    util::table(table.map(|case| (case.name, goes_ahead(case)))).await;
}

/// Cron has no terminal: no question, even with an answer waiting on stdin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_question_without_a_terminal() {
    let dir = util::tmp();
    let (server, args) = confirm_setup(dir.path(), 2).await;
    let mut cmd = bin();
    cmd.env("ZOOM_ACCESS_TOKEN", TOKEN)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd.spawn().expect("binary runs");
        let _ = child.stdin.take().unwrap().write_all(b"no\n");
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stderr.contains(PROMPT), "{stderr}");
    assert_eq!(puts(&server).await.len(), 3);
}

/// On a terminal too, JSON mode prints JSON only: no bar, no colours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_mode_on_a_terminal_prints_only_json() {
    if !have_pty() {
        return;
    }
    let dir = util::tmp();
    let args = vec![
        "run".to_string(),
        "fixtures/users.csv".into(),
        "--simulate".into(),
        "--log-format".into(),
        "json".into(),
        "--report".into(),
        p(&dir.path().join("r.csv")),
        "--config".into(),
        p(&util::empty_config(dir.path())),
    ];
    let out = on_terminal(args, "").await;
    let (tty, _) = util::text(&out);
    assert_eq!(out.status.code(), Some(1), "{tty}");
    let lines: Vec<&str> = tty.split(['\n', '\r']).filter(|l| !l.is_empty()).collect();
    assert!(lines.len() >= 2, "{tty}");
    for line in lines {
        assert!(
            serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object()),
            "not a JSON object: {line:?}"
        );
    }
}
