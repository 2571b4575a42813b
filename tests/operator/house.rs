//! One house, one truth (the structure issue's "done when"), through the binary: `users`
//! reads only the Zoom settings it uses, so run-only values cannot refuse it; a run opens
//! config.toml once; the command that continues a run, as `status` prints it, works when
//! run exactly as printed, from another directory; and a refusal's `stopped_code` is its
//! type, not its words.

use super::*;

/// `ZOOM_ROTATE_CONCURRENCY=0 ZOOM_ROTATE_BUDGET_SHARE=7 zoom-rotate users --simulate`
/// lists the demo account: neither variable is a listing's, and neither is read.
#[tokio::test]
async fn users_is_not_refused_for_values_only_run_reads() {
    let dir = util::tmp();
    // A config whose [input] section would refuse a run (a field bound out of range).
    let config = util::write(dir.path(), "c.toml", "[input]\nmax_field_bytes = 1\n");
    let mut cmd = bin();
    cmd.env("ZOOM_ROTATE_CONCURRENCY", "0")
        .env("ZOOM_ROTATE_BUDGET_SHARE", "7")
        .args(["users", "--simulate", "--config", &p(&config)]);
    let out = util::bin_output(cmd).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "id,email,type,status,login_types,last_login_time,dept,group_ids,role_id"
    );
    assert_eq!(lines.len(), 15, "the demo account's 14 users: {stdout}");

    // The same values stop a run, naming the field.
    let mut cmd = bin();
    cmd.env("ZOOM_ROTATE_CONCURRENCY", "0").args([
        "run",
        "fixtures/users.csv",
        "--simulate",
        "--dry-run",
        "--config",
        &p(&util::empty_config(dir.path())),
    ]);
    let out = util::bin_output(cmd).await;
    let (_, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("invalid concurrency = 0"), "{stderr}");
}

/// The demo, then `status`: the same count of what remains and the same command, and
/// that command, run exactly as printed from another directory, continues the run (it
/// finds the report, the input, the config and the simulator: exit 1, not 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_status_prints_continues_the_run_as_printed() {
    let dir = util::tmp();
    let config = util::empty_config(dir.path());
    let report = dir.path().join("demo.csv");
    let mut cmd = bin();
    cmd.args([
        "run",
        "fixtures/users.csv",
        "--simulate",
        "--log-format",
        "json",
    ])
    .args(["--config", &p(&config), "--report", &p(&report)]);
    let out = util::bin_output(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary is JSON");

    let mut cmd = bin();
    cmd.args(["status", &p(&report), "--format", "json"]);
    let out = util::bin_output(cmd).await;
    assert_eq!(out.status.code(), Some(1));
    let status: Value = serde_json::from_slice(&out.stdout).expect("status is JSON");
    assert_eq!(status["remaining"], 3);
    assert_eq!(summary["remaining"], status["remaining"]);
    assert_eq!(summary["resume_command"], status["resume_command"]);

    let command = status["resume_command"].as_str().unwrap().to_string();
    let elsewhere = util::tmp();
    let mut sh = scrubbed("sh");
    sh.current_dir(elsewhere.path()).args(["-c", &command]);
    let out = util::bin_output(sh).await;
    let (stdout, stderr) = util::text(&out);
    assert_eq!(out.status.code(), Some(1), "{command}\n{stdout}\n{stderr}");
    // Everyone final is skipped; the two refused rows are refused again; the user at
    // Zoom's 24-hour limit waits.
    assert!(stdout.contains("(already final)   11"), "{stdout}");
    assert!(stdout.contains("invalid_input     2"), "{stdout}");
    assert!(stdout.contains("0 requests"), "{stdout}");
}

/// A second run on the same input into another report is refused with its own machine
/// word (`input_locked`), not the generic `refused` a text search used to give it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_input_says_input_locked() {
    let server = MockServer::start().await;
    let dir = util::tmp();
    let input = users_csv(dir.path(), "in.csv", "u", 2);
    // The first run holds the input lock while its PUTs hang.
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204).set_delay(std::time::Duration::from_secs(3)))
        .mount(&server)
        .await;
    let config = p(&util::empty_config(dir.path()));
    let words = |report: &str| -> Vec<String> {
        [
            "run",
            &p(&input),
            "--base-url",
            &util::v2(&server),
            "--no-fetch-policy",
            "--log-format",
            "json",
            "--config",
            &config,
            "--report",
            &p(&dir.path().join(report)),
        ]
        .map(String::from)
        .to_vec()
    };
    let mut first = bin();
    first
        .env("ZOOM_ACCESS_TOKEN", TOKEN)
        .args(words("first.csv"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut first = first.spawn().unwrap();
    // Wait until the first run sends (it then holds the lock for 3 s).
    for _ in 0..100 {
        if !puts(&server).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut second = bin();
    second
        .env("ZOOM_ACCESS_TOKEN", TOKEN)
        .args(words("second.csv"));
    let out = util::bin_output(second).await;
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON summary");
    assert_eq!(v["stopped_code"], "input_locked", "{v}");
    assert!(
        v["stopped"]
            .as_str()
            .unwrap()
            .contains("is rotating the same input into the report"),
        "{v}"
    );
    let code = tokio::task::spawn_blocking(move || first.wait().unwrap().code())
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    assert_eq!(puts(&server).await.len(), 2, "only the first run sent");
}

/// A run opens config.toml once (the settings are read once and handed down).
#[tokio::test]
async fn a_run_opens_its_config_once() {
    let dir = util::tmp();
    let config = util::empty_config(dir.path());
    let trace = dir.path().join("strace.txt");
    let mut cmd = scrubbed("strace");
    cmd.args(["-f", "-e", "trace=open,openat", "-o", &p(&trace)])
        .arg(env!("CARGO_BIN_EXE_zoom-rotate"))
        .args([
            "run",
            "fixtures/users.csv",
            "--simulate",
            "--config",
            &p(&config),
        ])
        .args(["--report", &p(&dir.path().join("r.csv"))]);
    let out = util::bin_output(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", util::text(&out).1);
    let opened = std::fs::read_to_string(&trace).unwrap();
    let name = config.file_name().unwrap().to_str().unwrap();
    let opens: Vec<&str> = opened.lines().filter(|l| l.contains(name)).collect();
    assert_eq!(opens.len(), 1, "{opens:#?}");
}
