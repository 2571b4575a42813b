//! The shipped schedules, as an operator meets them: `contrib/systemd/`'s units pass
//! `systemd-analyze verify` with no warning (the old README's `OnFailure=` in `[Service]`
//! was ignored with one), and `contrib/cron/zoom-rotate-nightly` run in a sandbox
//! against the built-in simulator: a night stopped by Zoom's daily limit continues the
//! same night's report on the next start, each start hands out the passwords set so
//! far, and the next night (the clock moved a day on by `faketime`) rotates everyone
//! again in a report of its own. The README quotes these files; a test keeps them equal.

use super::*;
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const UNITS: [&str; 3] = [
    "zoom-rotate.service",
    "zoom-rotate.timer",
    "zoom-rotate-alert@.service",
];
const WRAPPER_PATH: &str = "/usr/local/lib/zoom-rotate/zoom-rotate-nightly";

fn contrib(path: &str) -> std::path::PathBuf {
    Path::new(ROOT).join("contrib").join(path)
}

/// `systemd-analyze verify` on `units` (copied to `dir`); its output.
fn verify(dir: &Path, units: &[&str]) -> Output {
    Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .args(units.iter().map(|u| dir.join(u)))
        .output()
        .expect("this test needs systemd-analyze: apt-get install systemd")
}

#[test]
fn the_shipped_units_verify_without_a_warning() {
    let dir = util::tmp();
    for unit in UNITS {
        // The wrapper's installed path does not exist here: point at the shipped one.
        let text = read(contrib(&format!("systemd/{unit}")))
            .replace(WRAPPER_PATH, &p(&contrib("cron/zoom-rotate-nightly")));
        std::fs::write(dir.path().join(unit), text).unwrap();
    }
    let out = verify(dir.path(), &UNITS);
    let (stdout, stderr) = util::text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(stderr, "", "systemd-analyze warned");

    // The check sees what the old README did wrong.
    let bad = "[Unit]\nDescription=x\n[Service]\nType=oneshot\nExecStart=/bin/true\nOnFailure=x.service\n";
    std::fs::write(dir.path().join("bad.service"), bad).unwrap();
    let (_, stderr) = util::text(&verify(dir.path(), &["bad.service"]));
    assert!(
        stderr.contains("Unknown key 'OnFailure' in section [Service]"),
        "{stderr}"
    );
}

/// The service's lines that the issue asks for, each in its section.
#[test]
fn the_service_alerts_on_failure_and_is_hardened() {
    let service = read(contrib("systemd/zoom-rotate.service"));
    let section = |name: &str| -> Vec<String> {
        let start = service.find(&format!("[{name}]\n")).expect(name);
        let rest = &service[start + name.len() + 3..];
        let end = rest.find("\n[").map_or(rest.len(), |i| i + 1);
        rest[..end]
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let unit = section("Unit");
    assert!(
        unit.iter()
            .any(|l| l.starts_with("OnFailure=zoom-rotate-alert@")),
        "{unit:?}"
    );
    let svc = section("Service");
    for want in [
        "EnvironmentFile=/etc/zoom-rotate/env",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "UMask=0077",
        &format!("ExecStart={WRAPPER_PATH}"),
    ] {
        assert!(svc.iter().any(|l| l == want), "{want} missing: {svc:?}");
    }
    let rw = svc
        .iter()
        .find(|l| l.starts_with("ReadWritePaths="))
        .expect("ReadWritePaths");
    assert!(rw.contains("/var/lib/zoom-rotate"), "{rw}");
}

/// The README's scheduling section shows each shipped file whole.
#[test]
fn the_readme_quotes_the_shipped_files() {
    let readme = read(Path::new(ROOT).join("README.md"));
    for file in UNITS.iter().map(|u| format!("systemd/{u}")).chain([
        "cron/zoom-rotate-nightly".into(),
        "cron/zoom-rotate.cron".into(),
    ]) {
        let text = read(contrib(&file));
        assert!(
            readme.contains(&text),
            "README.md does not show contrib/{file} as it is"
        );
    }
}

/// Starts the wrapper with `ZR_HOME=home`, the simulator, the clock moved `shift` on.
fn night(home: &Path, shift: Option<&str>) -> i32 {
    night_with(home, shift, &home.join("no-recipients"))
}

/// [`night`], with `recipients` as the recipients file (encrypted when it exists).
fn night_with(home: &Path, shift: Option<&str>, recipients: &Path) -> i32 {
    let wrapper = contrib("cron/zoom-rotate-nightly");
    let mut cmd = match shift {
        Some(shift) => {
            // The wall clock moves; the monotonic one is left alone, or the in-process
            // simulator's timers never fire.
            let mut c = Command::new("faketime");
            c.args(["-f", shift, "sh"])
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
            c
        }
        None => Command::new("sh"),
    };
    util::scrub(&mut cmd)
        .arg(&wrapper)
        .arg("--simulate")
        .env("ZR_HOME", home)
        .env("ZR_ENV", home.join("no-such-env"))
        .env("ZR_BIN", env!("CARGO_BIN_EXE_zoom-rotate"))
        .env("ZR_METRICS", home.join("metrics/zoom-rotate.prom"))
        .env("ZR_RECIPIENTS", recipients)
        .current_dir("/")
        .stdin(std::process::Stdio::null());
    let out = cmd
        .output()
        .expect("this test needs faketime: apt-get install faketime");
    let (stdout, stderr) = util::text(&out);
    assert_eq!(stdout, "", "cron mails what the job prints");
    assert_eq!(stderr, "", "cron mails what the job prints");
    out.status.code().expect("exited")
}

/// (user, outcome) of each report row.
fn outcomes(report: &Path) -> Vec<(String, String)> {
    util::rows(report)
        .into_iter()
        .map(|r| (r.user_id.clone(), r.outcome.as_str().to_string()))
        .collect()
}

fn files(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|f| f.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    found.sort();
    found
}

/// Every data row of a hand-out or generated-passwords CSV: user, password.
fn pairs(path: &Path) -> BTreeMap<String, String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let password = &rec[rec.len() - 1];
            (
                rec[0].to_string(),
                zoom_rotate::vocab::cell::restore(password).to_string(),
            )
        })
        .collect()
}

const USERS: usize = 25;

#[test]
fn the_cron_wrapper_resumes_a_stopped_night_and_rotates_again_the_next() {
    let sandbox = util::tmp();
    let home = sandbox.path().join("var/lib/zoom-rotate");
    std::fs::create_dir_all(&home).unwrap();
    // The simulator's day allows 10 requests: the night stops (exit 3) and resumes.
    std::fs::write(
        home.join("config.toml"),
        format!("[simulator]\ngenerate_users = {USERS}\ndaily_limit = 10\n"),
    )
    .unwrap();
    let input: String = std::iter::once("email\n".to_string())
        .chain((1..=USERS).map(|i| format!("user{i}@example.com\n")))
        .collect();
    std::fs::write(home.join("nightly.csv"), input).unwrap();

    let today =
        humantime::format_rfc3339(std::time::SystemTime::now()).to_string()[..10].to_string();
    let report = home.join(format!("reports/rotation-{today}.csv"));
    assert_eq!(night(&home, None), 3, "Zoom's day ran out: stopped early");
    let first = outcomes(&report);
    let changed_first = first.iter().filter(|(_, o)| o == "changed").count();
    assert!(changed_first > 0 && changed_first < USERS, "{first:?}");
    let handouts = files(&home.join("handout"), "handout-");
    assert_eq!(handouts.len(), 1);
    assert_eq!(
        pairs(&handouts[0]).len(),
        changed_first,
        "only the users changed"
    );

    // Later starts the same night continue its report until every user is changed.
    let mut starts = 1;
    while night(&home, None) != 0 {
        starts += 1;
        assert!(
            starts < 6,
            "the night never finished: {:?}",
            outcomes(&report)
        );
    }
    let rows = outcomes(&report);
    for i in 1..=USERS {
        let user = format!("user{i}@example.com");
        let changed = rows
            .iter()
            .filter(|(u, o)| *u == user && o == "changed")
            .count();
        assert_eq!(
            changed, 1,
            "{user} changed once, never again the same night"
        );
    }
    let latest = files(&home.join("handout"), "handout-").pop().unwrap();
    let generated = pairs(&home.join(format!("handout/generated-{today}.csv")));
    assert_eq!(
        pairs(&latest),
        generated,
        "the latest hand-out holds every password set"
    );
    let metrics = samples(&read(home.join("metrics/zoom-rotate.prom")));
    assert_eq!(metrics["zoom_rotate_exit_code"], 0.0);
    assert!(metrics["zoom_rotate_last_success_timestamp_seconds"] > 0.0);

    // The next night: a report of its own, and everyone rotated again, with new passwords.
    let code = night(&home, Some("+1d"));
    assert!(code == 0 || code == 3, "{code}");
    let reports = files(&home.join("reports"), "rotation-");
    let tomorrow = reports
        .iter()
        .find(|r| r.extension().unwrap() == "csv" && **r != report)
        .expect("a new report");
    let next = outcomes(tomorrow);
    assert!(next.iter().any(|(_, o)| o == "changed"), "{next:?}");
    assert!(next.iter().all(|(_, o)| o != "same_as_old"), "{next:?}");
    let fresh = files(&home.join("handout"), "generated-");
    assert_eq!(fresh.len(), 2, "a generated-passwords file per night");
    for (user, password) in pairs(&fresh[1]) {
        assert_ne!(
            generated.get(&user),
            Some(&password),
            "{user}: a fresh password"
        );
    }
    for dir in ["reports", "handout", "log"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(home.join(dir)).unwrap().permissions(),
        );
        assert_eq!(mode & 0o077, 0, "{dir} is private");
    }
}

#[test]
fn the_cron_wrapper_encrypts_the_passwords_when_it_has_recipients() {
    let sandbox = util::tmp();
    let home = sandbox.path().join("state");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        "[simulator]\ngenerate_users = 8\n",
    )
    .unwrap();
    let input: String = std::iter::once("email\n".to_string())
        .chain((1..=8).map(|i| format!("user{i}@example.com\n")))
        .collect();
    std::fs::write(home.join("nightly.csv"), input).unwrap();
    let id = age::x25519::Identity::generate();
    let recipients = sandbox.path().join("recipients.txt");
    std::fs::write(
        &recipients,
        format!("# hand-out desk\n{}\n", id.to_public()),
    )
    .unwrap();

    assert_eq!(night_with(&home, None, &recipients), 0);
    let today =
        humantime::format_rfc3339(std::time::SystemTime::now()).to_string()[..10].to_string();
    let dir = home.join(format!("handout/generated-{today}.d"));
    let mut saved = BTreeMap::new();
    for f in std::fs::read_dir(&dir).unwrap() {
        let plain = age::decrypt(&id, &std::fs::read(f.unwrap().path()).unwrap()).unwrap();
        let mut r = csv::Reader::from_reader(&plain[..]);
        for rec in r.records() {
            let rec = rec.unwrap();
            saved.insert(rec[0].to_string(), rec[1].to_string());
        }
    }
    assert_eq!(saved.len(), 8, "{saved:?}");
    let handout = std::fs::read_dir(home.join("handout")).unwrap().count();
    assert_eq!(
        handout, 1,
        "only the encrypted directory: no plaintext file"
    );
}
