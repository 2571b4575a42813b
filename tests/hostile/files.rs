//! Files: the report, the journal, the lock and the generated passwords are 0600 (their
//! new directories 0700) whatever the umask; evidence is never overwritten; an input file
//! of passwords that others can read is warned about.
//!
//! The umask is process-wide, so the runs that change it are binaries (set in the child
//! between fork and exec): the test process and its other tests never see it.

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// `n` simulator users `u1..un` (`user{i}@example.com`) and an input naming them all.
fn users(n: u32) -> (String, String) {
    let mut sim = "id,email,password,role,changes_24h,recent_passwords\n".to_string();
    let mut input = "email\n".to_string();
    for i in 1..=n {
        sim.push_str(&format!(
            "u{i},user{i}@example.com,Old-Pass-{i:02}x,member,0,\n"
        ));
        input.push_str(&format!("user{i}@example.com\n"));
    }
    (sim, input)
}

/// The binary, `--generate` into `out`, against `sim`, under `umask`.
fn generate_cmd(
    dir: &Path,
    sim: &str,
    input: &Path,
    report: &Path,
    out: &Path,
    umask: u32,
) -> Command {
    let mut c = util::bin();
    c.args([
        "run",
        "--yes",
        "--no-fetch-policy",
        "--concurrency",
        "1",
        "--generate",
    ])
    .arg("--generated-out")
    .arg(out)
    .arg("--base-url")
    .arg(sim)
    .arg("--report")
    .arg(report)
    .arg("--config")
    .arg(util::empty_config(dir))
    .arg(input)
    .env("ZOOM_ACCESS_TOKEN", "sim-token");
    unsafe {
        c.pre_exec(move || {
            libc::umask(umask as libc::mode_t);
            Ok(())
        });
    }
    c
}

#[tokio::test]
async fn private_files_whatever_the_umask() {
    for umask in [0o277, 0o000] {
        let dir = util::tmp();
        let (sim_users, input) = users(4);
        let sim = sim_with(
            dir.path(),
            &sim_users,
            SimConfig {
                latency_ms: 300,
                ..SimConfig::default()
            },
        )
        .await;
        let input = util::write(dir.path(), "input.csv", input);
        // New directories on the way, created by the run.
        let report = dir.path().join("reports/new/report.csv");
        let out = dir.path().join("secret/new/passwords.csv");
        let cmd = generate_cmd(dir.path(), &sim.base_url(), &input, &report, &out, umask);
        let running = util::bin_output(cmd);
        let watch = async {
            // While the run is under way, its journal exists too.
            let journal = zoom_rotate::ledger::side::journal(&report);
            let deadline = Instant::now() + Duration::from_secs(20);
            while sim.stats().password_puts == 0 {
                assert!(Instant::now() < deadline, "no request arrived");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(mode(&journal), 0o600, "journal, umask {umask:o}");
            // And its lock, which goes with the run (issue 10, defect 13).
            let lock = zoom_rotate::ledger::side::lock(&report);
            assert_eq!(mode(&lock), 0o600, "lock, umask {umask:o}");
        };
        let (output, ()) = tokio::join!(running, watch);
        assert_eq!(output.status.code(), Some(0), "{}", both(&output));
        let lock = zoom_rotate::ledger::side::lock(&report);
        assert!(!lock.exists(), "the lock goes with its run");
        for (what, path, want) in [
            ("report", &report, 0o600),
            ("generated passwords", &out, 0o600),
            (
                "report's input record",
                &zoom_rotate::ledger::side::meta(&report),
                0o600,
            ),
            (
                "report directory",
                &report.parent().unwrap().to_path_buf(),
                0o700,
            ),
            (
                "passwords directory",
                &out.parent().unwrap().to_path_buf(),
                0o700,
            ),
            (
                "passwords parent directory",
                &dir.path().join("secret"),
                0o700,
            ),
        ] {
            assert_eq!(mode(path), want, "{what}, umask {umask:o}");
        }
        // A second run on the same report still opens a lock file left by a kill -9
        // under this umask (0400 unless mended).
        std::fs::write(&lock, "1").unwrap();
        std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o400)).unwrap();
        let again = dir.path().join("secret/new/again.csv");
        let mut cmd = generate_cmd(dir.path(), &sim.base_url(), &input, &report, &again, umask);
        cmd.arg("--resume");
        let output = util::bin_output(cmd).await;
        assert_eq!(output.status.code(), Some(0), "{}", both(&output));
        assert!(!lock.exists());
    }
}

#[tokio::test]
async fn evidence_is_never_overwritten() {
    let dir = util::tmp();
    let (sim_users, input) = users(2);
    let sim = sim_with(dir.path(), &sim_users, SimConfig::default()).await;
    let input_path = util::write(dir.path(), "input.csv", &input);
    let report = util::write(dir.path(), "report.csv", "precious evidence\n");
    let base = sim.base_url();
    let words = [
        input_path.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--base-url",
        &base,
        "--generate",
        "--discard-passwords",
        "--yes",
    ];
    let error = format!(
        "{:#}",
        util::run(dir.path(), &words, util::token("sim-token"))
            .await
            .unwrap_err()
    );
    assert!(
        error.contains("already exists and is never overwritten"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        "precious evidence\n"
    );

    let out = util::write(
        dir.path(),
        "passwords.csv",
        "user_id,password\nold@x.com,Kept-Pw-1x\n",
    );
    let report = dir.path().join("new-report.csv");
    let words = [
        input_path.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--base-url",
        &base,
        "--generate",
        "--generated-out",
        out.to_str().unwrap(),
        "--yes",
    ];
    let error = format!(
        "{:#}",
        util::run(dir.path(), &words, util::token("sim-token"))
            .await
            .unwrap_err()
    );
    assert!(
        error.contains("already exists and is never overwritten"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "user_id,password\nold@x.com,Kept-Pw-1x\n"
    );
    assert_eq!(sim.stats().password_puts, 0);
}

#[tokio::test]
async fn an_input_of_passwords_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = util::tmp();
    let input = util::write(
        dir.path(),
        "input.csv",
        "email,password\na@x.com,Zoom1357Ra\n",
    );
    let run = |report: &str, extra: &[&str]| {
        let mut c = util::bin();
        // The warning is the input's, asked of no Zoom (issue 19: --offline).
        c.args(["run", "--dry-run", "--offline", "--yes"])
            .args(extra)
            .arg("--config")
            .arg(util::empty_config(dir.path()))
            .arg("--report")
            .arg(dir.path().join(report))
            .arg(&input);
        util::bin_output(c)
    };
    let warning =
        "the input file can be read by group or others; it holds new passwords: chmod 600 it";
    for (mode, warned) in [
        (0o644, true),
        (0o640, true),
        (0o604, true),
        (0o600, false),
        (0o400, false),
    ] {
        std::fs::set_permissions(&input, std::fs::Permissions::from_mode(mode)).unwrap();
        let output = run(&format!("r{mode:o}.csv"), &[]).await;
        assert_eq!(output.status.code(), Some(0), "{}", both(&output));
        let (_, err) = util::text(&output);
        assert_eq!(err.contains(warning), warned, "mode {mode:o}:\n{err}");
        if warned {
            assert!(
                err.contains(&format!("mode=\"{mode:o}\""))
                    || err.contains(&format!("mode={mode:o}")),
                "{err}"
            );
        }
    }
    // With --generate the input holds no passwords: nothing to warn about.
    std::fs::set_permissions(&input, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = run("gen.csv", &["--generate", "--discard-passwords"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(!util::text(&output).1.contains(warning));
}
