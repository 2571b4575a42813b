//! The standard streams and FIFOs (issue 19). Defect 5: one SIGTERM stops a run whose
//! input stalls. The reader is a blocking thread that may sit in read(2) for ever
//! (standard input that never sends, a FIFO, `/dev/zero` inside a field): the first
//! signal cuts the reading, the rows read are reported, the summary says where reading
//! stopped (text and `input_cut_at_line`), and the process exits 3 within seconds,
//! without a second signal. Stalled before its header, the run has sent nothing and exits
//! 2. The lesser item: a stdout closed with `>&-` is reported. std reopens a closed
//! standard descriptor on /dev/null before `main`, so the summary's write "succeeded" and
//! nothing was said; the binary now notes the closed descriptor first, and the summary
//! writer logs its warning as for a broken pipe. The exit code stands either way, and a
//! stdout sent to /dev/null on purpose is no closed one.

use super::*;

const TOKEN: &str = "tok-guard-stall-4Rw";
const TWO_ROWS: &str = "email,password\na@x.com,Harbor-Violet-1q\nb@x.com,Harbor-Violet-2q\n";

/// `zoom-rotate run INPUT` against `server` with a fixed token, its stdout and stderr
/// kept in files of `dir`, `stdin` as given.
fn start(dir: &Path, server: &MockServer, input: &str, stdin: Stdio, extra: &[&str]) -> Child {
    let config = util::empty_config(dir);
    bin_in(
        dir,
        &[
            "run",
            input,
            "--report",
            "r.csv",
            "--no-fetch-policy",
            "--yes",
        ],
    )
    .args(["--base-url", &format!("{}/v2", server.uri())])
    .arg("--config")
    .arg(config)
    .args(extra)
    .env("ZOOM_ACCESS_TOKEN", TOKEN)
    .stdin(stdin)
    .stdout(std::fs::File::create(dir.join("out.txt")).unwrap())
    .stderr(std::fs::File::create(dir.join("err.txt")).unwrap())
    .spawn()
    .expect("binary starts")
}

/// A shell that runs `script` (with `$0` = `arg`) and stays alive, its stdout piped.
fn feeder(script: &str, arg: &Path) -> Child {
    Command::new("sh")
        .args(["-c", script])
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the report holds `n` rows (at most 20 s).
async fn rows_reported(report: &Path, n: usize) {
    let started = Instant::now();
    while zoom_rotate::ledger::report::read(report).map_or(0, |r| r.len()) < n {
        assert!(started.elapsed() < Duration::from_secs(20), "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One SIGTERM to `run`; its exit code, how long it took, its stdout and stderr.
async fn terminate(mut run: Child, dir: &Path) -> (Option<i32>, Duration, String, String) {
    // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(run.id() as i32, libc::SIGTERM) }, 0);
    let sent = Instant::now();
    let code = tokio::task::spawn_blocking(move || wait_at_most(&mut run, Duration::from_secs(15)))
        .await
        .unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    (code, sent.elapsed(), read("out.txt"), read("err.txt"))
}

fn lines_and_outcomes(report: &Path) -> Vec<(u64, String)> {
    util::rows_by_line(report)
        .into_iter()
        .map(|r| (r.line, r.outcome.as_str().to_string()))
        .collect()
}

fn changed(lines: &[u64]) -> Vec<(u64, String)> {
    lines.iter().map(|l| (*l, "changed".to_string())).collect()
}

/// Standard input from a process that writes a header and two rows, then keeps the pipe
/// open and silent: the rows are changed, and one SIGTERM ends the run at once, saying
/// that reading was cut after line 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sigterm_ends_a_run_whose_stdin_stalls() {
    let server = catch_all().await;
    let dir = util::tmp();
    let d = dir.path();
    let mut feed = feeder(&format!("printf '{TWO_ROWS}'; exec sleep 600"), d);
    let stdin = Stdio::from(feed.stdout.take().unwrap());
    let run = start(d, &server, "-", stdin, &[]);
    rows_reported(&d.join("r.csv"), 2).await;
    let (code, took, out, err) = terminate(run, d).await;
    feed.kill().unwrap();
    feed.wait().unwrap();
    assert_eq!(code, Some(3), "{err}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(lines_and_outcomes(&d.join("r.csv")), changed(&[2, 3]));
    assert!(
        out.contains("input cut at the stop: rows were read up to the one at line 3;"),
        "{out}"
    );
    assert!(out.contains("stopped early: interrupted"), "{out}");
    assert!(
        !err.contains("quitting at once"),
        "one signal was enough: {err}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// A FIFO whose writer sends two rows and then nothing, with JSON output: the summary
/// object carries `input_cut_at_line`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sigterm_ends_a_run_whose_fifo_stalls_and_the_json_says_where() {
    let server = catch_all().await;
    let dir = util::tmp();
    let d = dir.path();
    let fifo = mkfifo(d, "in.fifo");
    // The writer opens the FIFO (once the run opens it to read), writes, and keeps it open.
    let mut feed = feeder(
        &format!("exec 3>\"$0\"; printf '{TWO_ROWS}' >&3; exec sleep 600"),
        &fifo,
    );
    let run = start(
        d,
        &server,
        "in.fifo",
        Stdio::null(),
        &["--log-format", "json"],
    );
    rows_reported(&d.join("r.csv"), 2).await;
    let (code, took, out, err) = terminate(run, d).await;
    feed.kill().unwrap();
    feed.wait().unwrap();
    assert_eq!(code, Some(3), "{err}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let v: serde_json::Value = serde_json::from_str(&out).expect(&out);
    assert_eq!(v["input_cut_at_line"], 3, "{v}");
    assert_eq!(v["stopped_code"], "signal", "{v}");
    assert_eq!(v["exit_code"], 3, "{v}");
    assert_eq!(lines_and_outcomes(&d.join("r.csv")), changed(&[2, 3]));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// Two rows, then a third whose field never ends (`/dev/zero`): the bounded reader keeps
/// dropping its bytes, and the stop still ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sigterm_ends_a_run_reading_an_endless_field() {
    let server = catch_all().await;
    let dir = util::tmp();
    let d = dir.path();
    let mut feed = feeder(
        &format!("printf '{TWO_ROWS}c@x.com,'; exec cat /dev/zero"),
        d,
    );
    let stdin = Stdio::from(feed.stdout.take().unwrap());
    let run = start(d, &server, "-", stdin, &[]);
    rows_reported(&d.join("r.csv"), 2).await;
    let (code, took, out, err) = terminate(run, d).await;
    let _ = feed.kill();
    feed.wait().unwrap();
    assert_eq!(code, Some(3), "{err}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(lines_and_outcomes(&d.join("r.csv")), changed(&[2, 3]));
    assert!(out.contains("up to the one at line 3"), "{out}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// Stalled before the header (a FIFO nobody opens to write, `/dev/zero` as the input):
/// nothing was sent and no report was started, so one SIGTERM is exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sigterm_before_the_header_is_exit_2_with_nothing_sent() {
    let server = catch_all().await;
    let dir = util::tmp();
    let d = dir.path();
    mkfifo(d, "never.fifo");
    for input in ["never.fifo", "/dev/zero"] {
        let run = start(d, &server, input, Stdio::null(), &[]);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (code, took, _, err) = terminate(run, d).await;
        assert_eq!(code, Some(2), "{input}: {err}");
        assert!(took < Duration::from_secs(10), "{took:?}");
        assert!(
            err.contains(
                "stopped while opening the input and reading its header: nothing was sent"
            ),
            "{err}"
        );
        assert!(!d.join("r.csv").exists());
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 0);
}

fn mkfifo(dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let path = dir.join(name);
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    path
}

// ---------------------------------------------------------------- stdout

/// `zoom-rotate <words>` in `dir` with stdout closed by the shell, as `>&-` does, in the
/// environment `util::bin` gives the binary.
fn closed_stdout(dir: &Path, words: &[&str]) -> Command {
    let bin = util::bin();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"exec "$0" "$@" >&-"#])
        .arg(bin.get_program())
        .args(words)
        .current_dir(dir)
        .stdin(Stdio::null());
    for (k, v) in bin.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd
}

#[tokio::test]
async fn a_closed_stdout_is_warned_of_and_the_exit_code_stands() {
    let dir = util::tmp();
    let d = dir.path();
    util::write(d, "in.csv", "email\na@x.com\n");
    let config = p(&util::empty_config(d));
    let dry = |report: &str, extra: &[&str]| {
        let mut w = vec![
            "run",
            "in.csv",
            "--dry-run",
            "--offline",
            "--generate",
            "--discard-passwords",
            "--config",
            &config,
            "--report",
            report,
        ];
        w.extend_from_slice(extra);
        w.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let words = dry("r1.csv", &[]);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let out = util::bin_output(closed_stdout(d, &words)).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("the summary could not be written to standard output (Bad file descriptor"),
        "{stderr}"
    );
    assert_eq!(
        util::rows(&d.join("r1.csv")).len(),
        1,
        "the report holds the row"
    );

    // A refused run's JSON summary (the report exists): exit 2, and the same warning.
    let words = dry("r1.csv", &["--log-format", "json"]);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let out = util::bin_output(closed_stdout(d, &words)).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the summary could not be written to standard output"),
        "{stderr}"
    );

    // stdout to /dev/null is where the operator sent it: no warning.
    let words = dry("r2.csv", &[]);
    let mut cmd = util::bin();
    cmd.current_dir(d).args(&words).stdout(Stdio::null());
    let out = util::bin_output(cmd).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("could not be written"), "{stderr}");
}
