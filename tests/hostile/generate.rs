//! `--generate`: every user gets a strong, unique password that meets the account's rules;
//! `--generated-out` holds exactly what Zoom (the simulator) now holds, each line on disk
//! before its request leaves, so a kill -9 loses nothing; `--resume` sends a user the
//! password the file already holds for it; `--discard-passwords` says so up front.

use super::*;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use zoom_rotate::vocab::cell::restore;
use zoom_rotate::zoom::rules::{self, PasswordPolicy};

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

/// The `user_id,password` lines of a generated-passwords file, in file order, each cell
/// read back as the tool reads it (a password that starts like a formula is written
/// neutralised: issue 19).
fn saved(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("user_id,password"));
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    reader
        .records()
        .skip(1)
        .map(|r| {
            let r = r.unwrap();
            (restore(&r[0]).to_string(), restore(&r[1]).to_string())
        })
        .collect()
}

#[tokio::test]
async fn the_file_holds_exactly_what_zoom_now_holds() {
    let dir = util::tmp();
    let (sim_users, input) = users(12);
    let sim = sim_with(dir.path(), &sim_users, SimConfig::default()).await;
    let out = dir.path().join("passwords.csv");
    let (result, report) = rotate(
        dir.path(),
        &sim.base_url(),
        "sim-token",
        input,
        "[generate]\nlength = 10\n",
        &["--generate", "--generated-out", out.to_str().unwrap()],
    )
    .await;
    assert_eq!(result.unwrap().exit_code, 0);
    assert_eq!(util::rows(&report).len(), 12);
    let lines = saved(&out);
    assert_eq!(lines.len(), 12);
    let mut seen = HashSet::new();
    for (user, password) in &lines {
        let held = sim.user(user).unwrap();
        assert_eq!(&held.current_password, password, "{user}");
        assert_eq!(
            held.received_passwords,
            std::slice::from_ref(password),
            "{user}"
        );
        assert!(seen.insert(password.clone()), "{password} given twice");
        // The configured length, and the basic rules.
        assert_eq!(password.chars().count(), 10);
        assert!(rules::check(password, &PasswordPolicy::default()).is_ok());
    }
    assert_eq!(mode(&out), 0o600);
}

#[tokio::test]
async fn generated_passwords_meet_the_accounts_rules() {
    let dir = util::tmp();
    let (sim_users, input) = users(30);
    let policy = PasswordPolicy {
        minimum_password_length: 14,
        have_special_character: true,
        consecutive_characters_length: 4,
        weak_enhance_detection: true,
    };
    let sim = sim_with(
        dir.path(),
        &sim_users,
        SimConfig {
            password_requirement: policy,
            ..SimConfig::default()
        },
    )
    .await;
    let input = util::write(dir.path(), "input.csv", input)
        .display()
        .to_string();
    let config = util::write(dir.path(), "config.toml", "[generate]\nlength = 10\n");
    let out = dir.path().join("passwords.csv");
    let report = dir.path().join("report.csv");
    let base = sim.base_url();
    let words = [
        input.as_str(),
        "--report",
        report.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--base-url",
        &base,
        "--generate",
        "--generated-out",
        out.to_str().unwrap(),
        "--yes",
    ];
    let result = util::run(dir.path(), &words, util::token("sim-token"))
        .await
        .unwrap();
    assert_eq!(result.exit_code, 0);
    assert_eq!(sim.stats().settings_gets, 1);
    let lines = saved(&out);
    assert_eq!(lines.len(), 30);
    let unique: HashSet<&String> = lines.iter().map(|(_, p)| p).collect();
    assert_eq!(unique.len(), 30);
    for (user, password) in &lines {
        assert_eq!(sim.user(user).unwrap().current_password, *password);
        assert_eq!(
            password.chars().count(),
            14,
            "the account's minimum wins over 10"
        );
        assert!(rules::check(password, &policy).is_ok(), "{password}");
    }
}

#[tokio::test]
async fn generate_needs_a_place_for_the_passwords_or_an_explicit_discard() {
    let dir = util::tmp();
    let (sim_users, input) = users(1);
    let sim = sim_with(dir.path(), &sim_users, SimConfig::default()).await;
    let (result, report) = rotate(
        dir.path(),
        &sim.base_url(),
        "sim-token",
        input,
        "",
        &["--generate"],
    )
    .await;
    let error = format!("{:#}", result.unwrap_err());
    assert!(
        error.contains("invalid --generate = without --generated-out or --discard-passwords"),
        "{error}"
    );
    assert!(!report.exists());
    assert_eq!(sim.stats().requests_total, 0);
}

#[tokio::test]
async fn discard_passwords_says_so_before_anything_is_sent() {
    let dir = util::tmp();
    let (sim_users, input) = users(3);
    let sim = sim_with(dir.path(), &sim_users, SimConfig::default()).await;
    let input = util::write(dir.path(), "input.csv", input);
    let mut cmd = util::bin();
    cmd.args(["-v", "run", "--yes", "--generate", "--discard-passwords"])
        .args(["--base-url", &sim.base_url()])
        .arg("--config")
        .arg(util::empty_config(dir.path()))
        .arg("--report")
        .arg(dir.path().join("report.csv"))
        .arg(&input)
        .env("ZOOM_ACCESS_TOKEN", "sim-token");
    let output = util::bin_output(cmd).await;
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let (_, err) = util::text(&output);
    let said = err
        .find("--discard-passwords: the new passwords are kept nowhere")
        .unwrap_or_else(|| panic!("not said:\n{err}"));
    // Said before the first answer (logged at debug, -v).
    let first_answer = err
        .find("answer line=")
        .unwrap_or_else(|| panic!("no answer logged:\n{err}"));
    assert!(said < first_answer, "{err}");
    for i in 1..=3 {
        let user = sim.user(&format!("u{i}")).unwrap();
        assert_eq!(user.change_count, 1);
        assert_ne!(user.current_password, format!("Old-Pass-{i:02}x"));
    }
    // No file anywhere holds them: the directory has only what the test and the run
    // put there.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "empty-config.toml",
            "input.csv",
            "report.csv",
            "report.csv.meta",
            "sim-users.csv"
        ]
    );
}

/// Kills the binary with SIGKILL once the simulator has received `after` changes.
async fn kill_after(
    child: &mut std::process::Child,
    sim: &zoom_rotate::simulator::SimHandle,
    after: u64,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while sim.stats().password_puts < after {
        assert!(Instant::now() < deadline, "the run sent too little");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the kill"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[tokio::test]
async fn kill_9_between_saving_and_sending_loses_nothing_and_resume_reuses_saved_passwords() {
    let dir = util::tmp();
    let n = 10;
    let (sim_users, input) = users(n);
    // Slow answers, some applied but never answered: the crash finds requests in
    // flight, and the file must already hold their passwords.
    let sim = sim_with(
        dir.path(),
        &sim_users,
        SimConfig {
            latency_ms: 250,
            ..SimConfig::default()
        },
    )
    .await;
    let input = util::write(dir.path(), "input.csv", input);
    let out = dir.path().join("passwords.csv");
    let report = dir.path().join("report.csv");
    let cmd = |resume: bool| {
        let mut c = util::bin();
        c.args([
            "run",
            "--yes",
            "--no-fetch-policy",
            "--concurrency",
            "3",
            "--generate",
        ])
        .arg("--generated-out")
        .arg(&out)
        .arg("--base-url")
        .arg(sim.base_url())
        .arg("--report")
        .arg(&report)
        .arg("--config")
        .arg(util::empty_config(dir.path()))
        .arg(&input)
        .env("ZOOM_ACCESS_TOKEN", "sim-token");
        if resume {
            c.arg("--resume");
        }
        c
    };
    let mut child = cmd(false)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    kill_after(&mut child, &sim, 4).await;

    // Every user whose request reached Zoom has its password in the file.
    let before: HashMap<String, String> = saved(&out).into_iter().collect();
    let mut reached = 0;
    for i in 1..=n {
        let user = sim.user(&format!("u{i}")).unwrap();
        if let Some(first) = user.received_passwords.first() {
            reached += 1;
            assert_eq!(
                before.get(&user.email),
                Some(first),
                "{} was sent a password the file lacks",
                user.email
            );
        }
    }
    assert!(reached >= 4);

    // Resume with the same file: the users it holds are sent the same password again
    // (only that is safe after an unanswered attempt), the others get new ones, each
    // user has one line, and Zoom ends up holding exactly what the file says.
    let output = util::bin_output(cmd(true)).await;
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let lines = saved(&out);
    let after: HashMap<String, String> = lines.iter().cloned().collect();
    assert_eq!(
        (lines.len(), after.len()),
        (n as usize, n as usize),
        "one line per user"
    );
    for (user, password) in &before {
        assert_eq!(
            after.get(user),
            Some(password),
            "{user}'s saved password was replaced"
        );
    }
    for i in 1..=n {
        let user = sim.user(&format!("u{i}")).unwrap();
        assert_eq!(
            Some(&user.current_password),
            after.get(&user.email),
            "{}",
            user.email
        );
        assert!(
            user.received_passwords
                .iter()
                .all(|p| *p == user.current_password),
            "{} was sent two different passwords",
            user.email
        );
    }
    assert!(util::rows_by_line(&report)
        .iter()
        .any(|r| r.outcome.as_str() == "changed"));
}
