//! Clean shutdown and one run per report: after a stop, in-flight requests get a bounded
//! grace; SIGTERM lets them finish, reports every row and leaves a resumable run; a second
//! signal exits at once and the journal keeps the run resumable; and a second run on a
//! locked report is refused, naming the first. Through the binary, except the grace test.

use super::*;

// ---------------------------------------------------------------- stopping

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_stop_in_flight_requests_get_a_bounded_grace() {
    // Every change is applied but its answer is held back for a minute; the client would
    // wait up to its timeout (two minutes). After a stop, the grace bounds the wait.
    const N: usize = 4;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |c| {
        c.fault_slow = 1.0;
        c.slow_ms = 60_000;
    })
    .await;
    let input = util::write(dir.path(), "in.csv", input_csv(N));
    let config = util::write(dir.path(), "c.toml", "[api]\ntimeout_secs = 120\n");
    let report = dir.path().join("r.csv");
    let args = util::run_args(
        dir.path(),
        &[
            &p(&input),
            "--report",
            &p(&report),
            "--config",
            &p(&config),
            "--base-url",
            &sim.base_url(),
            "--concurrency",
            "2",
            "--no-fetch-policy",
        ],
    );
    let stop = Stop::new();
    let run = tokio::spawn({
        let stop = stop.clone();
        async move { zoom_rotate::commands::run::run(&args, util::token("sim-token"), stop, &[]).await }
    });
    let started = Instant::now();
    while sim.stats().changes_applied < 2 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopped = Instant::now();
    stop.stop(StopReason::Interrupted);
    let r = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the grace bounds the wait")
        .unwrap()
        .unwrap();
    assert!(stopped.elapsed() < Duration::from_secs(20));
    assert_eq!(r.exit_code, 3);
    let rows = util::rows_by_line(&report);
    assert_eq!(rows.len(), N);
    for r in &rows[..2] {
        assert_eq!((r.outcome, r.attempts), (Outcome::Failed, 1), "{r:?}");
        assert!(r.message.contains(MAY_HAVE_APPLIED), "{r:?}");
    }
    for r in &rows[2..] {
        assert_eq!(
            (r.outcome, r.attempts, r.message.as_str()),
            (
                Outcome::NotAttempted,
                0,
                "not sent: the run was interrupted"
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_cleanly_and_resume_completes() {
    const N: usize = 30;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |c| c.latency_ms = 150).await;
    let input = util::write(dir.path(), "in.csv", input_csv(N));
    let report = dir.path().join("r.csv");
    let child = bin_run(dir.path(), &sim, &input, &report, &["--rate", "10"]);
    wait_for_rows(&report, 3).await;
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let (code, err) = wait_exit(child, Duration::from_secs(8)).await;
    assert_eq!(code, 3, "{err}");
    let rows = util::rows_by_line(&report);
    assert_eq!(
        rows.iter().map(|r| r.line).collect::<Vec<_>>(),
        (2..=N as u64 + 1).collect::<Vec<_>>(),
        "every input row is in the report"
    );
    assert!(rows
        .iter()
        .any(|r| r.outcome == Outcome::NotAttempted
            && r.message == "not sent: the run was interrupted"));
    // Nothing was left unanswered: the in-flight requests were let finish.
    assert!(rows
        .iter()
        .all(|r| matches!(r.outcome, Outcome::Changed | Outcome::NotAttempted)));
    assert!(!zoom_rotate::ledger::side::journal(&report).exists());
    let child = bin_run(
        dir.path(),
        &sim,
        &input,
        &report,
        &["--rate", "20", "--resume"],
    );
    let (code, err) = wait_exit(child, Duration::from_secs(20)).await;
    assert_eq!(code, 0, "{err}");
    assert_all_changed_once(&sim, &report, N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_and_the_journal_keeps_the_run_resumable() {
    const N: usize = 4;
    let dir = util::tmp();
    // Every change is applied, but answered only after 3 s: the first signal would let
    // the two in flight finish; the second must not wait for them.
    let sim = gen_sim(N as u32, |c| {
        c.fault_slow = 1.0;
        c.slow_ms = 3_000;
    })
    .await;
    let input = util::write(dir.path(), "in.csv", input_csv(N));
    let report = dir.path().join("r.csv");
    // The requests abandoned at the second signal may still be at Zoom: the resume waits
    // out this run's request timeout before sending those users again.
    let config = p(&util::write(
        dir.path(),
        "c.toml",
        "[api]\ntimeout_secs = 5\n",
    ));
    let child = bin_run(
        dir.path(),
        &sim,
        &input,
        &report,
        &[
            "--concurrency",
            "2",
            "--no-fetch-policy",
            "--config",
            &config,
        ],
    );
    let started = Instant::now();
    while sim.stats().changes_applied < 2 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child.id() as i32;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let (code, err) = wait_exit(child, Duration::from_secs(2)).await;
    assert_eq!(code, 3, "{err}");
    // Quit before the answers: no row for the two in flight, and the journal knows them.
    assert_eq!(in_flight(&report), BTreeSet::from([2, 3]));
    assert!(util::rows(&report).iter().all(|r| r.line > 3));

    // The resume confirms both by Zoom's same-as-old, and changes the other two.
    let child = bin_run(
        dir.path(),
        &sim,
        &input,
        &report,
        &[
            "--resume",
            "--concurrency",
            "4",
            "--no-fetch-policy",
            "--config",
            &config,
        ],
    );
    let (code, err) = wait_exit(child, Duration::from_secs(20)).await;
    assert_eq!(code, 0, "{err}");
    assert_all_changed_once(&sim, &report, N);
    let latest = latest(&report);
    for i in 1..=2 {
        assert_eq!(latest[&email(i)].message, CONFIRMED);
    }
    for i in 3..=N {
        assert_eq!(latest[&email(i)].message, "password changed");
    }
    assert!(!zoom_rotate::ledger::side::journal(&report).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_a_locked_report_is_refused_naming_the_first() {
    const N: usize = 3;
    let dir = util::tmp();
    let sim = gen_sim(N as u32, |c| c.latency_ms = 2_000).await;
    let input = util::write(dir.path(), "in.csv", input_csv(N));
    let report = dir.path().join("r.csv");
    let first = bin_run(
        dir.path(),
        &sim,
        &input,
        &report,
        &["--concurrency", "1", "--no-fetch-policy"],
    );
    let started = Instant::now();
    while sim.stats().password_puts == 0 {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = bin_run(dir.path(), &sim, &input, &report, &["--resume"]);
    let (code, err) = wait_exit(second, Duration::from_secs(10)).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "another run holds {} (pid {})",
            report.display(),
            first.id()
        )),
        "{err}"
    );
    assert_eq!(sim.stats().password_puts, 1, "the second run sent nothing");
    assert_eq!(unsafe { libc::kill(first.id() as i32, libc::SIGTERM) }, 0);
    let (code, _) = wait_exit(first, Duration::from_secs(10)).await;
    assert_eq!(code, 3);
}
