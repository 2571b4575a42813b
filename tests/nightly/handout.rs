//! The encrypted hand-out (`--encrypt-to`, `--recipients-file`): the generated passwords
//! go to a directory of age files, never in plaintext; they decrypt, with the crate and
//! with the standard `age` CLI, to the passwords the simulator holds; a `kill -9` in the
//! middle of the run leaves files that decrypt to every password that was sent; and a
//! resume with `--identity` sends the same passwords again.

use super::*;
use age::secrecy::ExposeSecret;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use zoom_rotate::simulator::{SimConfig, SimHandle};

/// A fresh age identity written to `dir/key.txt`; its recipient (`age1…`).
fn identity(dir: &Path) -> String {
    let id = age::x25519::Identity::generate();
    std::fs::write(
        dir.join("key.txt"),
        format!("{}\n", id.to_string().expose_secret()),
    )
    .unwrap();
    id.to_public().to_string()
}

async fn sim(users: u32) -> SimHandle {
    util::sim(SimConfig {
        generate_users: Some(users),
        users_file: None,
        ..SimConfig::default()
    })
    .await
}

fn input(dir: &Path, users: u32) -> String {
    let csv: String = std::iter::once("email\n".to_string())
        .chain((1..=users).map(|i| format!("user{i}@example.com\n")))
        .collect();
    p(&util::write(dir, "input.csv", csv))
}

/// The segment files of `out`, in order (every file there must be one, or a temporary).
fn segments(out: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".tmp") {
            continue;
        }
        assert!(name.len() == 10 && name.ends_with(".age"), "{name}");
        found.push(path);
    }
    found.sort();
    found
}

/// user → password, the latest line winning, from CSV texts in order.
fn merge(texts: impl IntoIterator<Item = String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for text in texts {
        let mut r = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(r.headers().unwrap(), vec!["user_id", "password"]);
        for rec in r.records() {
            let rec = rec.unwrap();
            let password = zoom_rotate::vocab::cell::restore(&rec[1]).to_string();
            out.insert(rec[0].to_string(), password);
        }
    }
    out
}

/// Decrypted with the crate.
fn decrypt_crate(dir: &Path, out: &Path) -> BTreeMap<String, String> {
    let key = read(dir.join("key.txt"));
    let id: age::x25519::Identity = key.trim().parse().unwrap();
    merge(segments(out).into_iter().map(|f| {
        let plain = age::decrypt(&id, &std::fs::read(&f).unwrap()).expect("decrypts");
        String::from_utf8(plain).unwrap()
    }))
}

/// Decrypted with the `age` command, as the README shows.
fn decrypt_cli(dir: &Path, out: &Path) -> BTreeMap<String, String> {
    merge(segments(out).into_iter().map(|f| {
        let o = Command::new("age")
            .arg("-d")
            .arg("-i")
            .arg(dir.join("key.txt"))
            .arg(&f)
            .output()
            .expect("this test needs the age command: apt-get install age");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }))
}

/// No file under `out` holds any of `passwords` in plaintext.
fn assert_sealed(out: &Path, passwords: &BTreeMap<String, String>) {
    for f in std::fs::read_dir(out).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("age-encryption.org/v1\n"), "{text}");
        for pw in passwords.values() {
            assert!(!text.contains(pw.as_str()), "a password in plaintext");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_passwords_are_sealed_and_decrypt_to_what_zoom_holds() {
    let dir = util::tmp();
    let sim = sim(12).await;
    let recipient = identity(dir.path());
    let recipients = util::write(
        dir.path(),
        "recipients.txt",
        format!("# the hand-out desk\n{recipient}\n"),
    );
    let input = input(dir.path(), 12);
    let out = dir.path().join("handout/passwords.d");
    let (o, r, base) = (p(&out), at(dir.path(), "r.csv"), sim.base_url());
    let result = util::run(
        dir.path(),
        &[
            &input,
            "--generate",
            "--generated-out",
            &o,
            "--recipients-file",
            &p(&recipients),
            "--report",
            &r,
            "--base-url",
            &base,
            "--yes",
        ],
        util::token("sim-token"),
    )
    .await
    .unwrap();
    assert_eq!(result.exit_code, 0);
    let by_crate = decrypt_crate(dir.path(), &out);
    assert_eq!(by_crate, decrypt_cli(dir.path(), &out));
    assert_eq!(by_crate.len(), 12);
    for (user, password) in &by_crate {
        assert_eq!(
            &sim.user(user).unwrap().current_password,
            password,
            "{user}"
        );
    }
    assert_sealed(&out, &by_crate);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&out).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700);

    // The hand-out step: the users changed, read with the identity, encrypted again.
    let handout = dir.path().join("handout.age");
    let key = at(dir.path(), "key.txt");
    let mut status = util::bin();
    status.args([
        "status",
        &r,
        "--handout",
        &p(&handout),
        "--identity",
        &key,
        "--encrypt-to",
        &recipient,
    ]);
    let o = util::bin_output(status).await;
    let (_, stderr) = util::text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("hand-out: 12 passwords written"),
        "{stderr}"
    );
    let sealed = String::from_utf8_lossy(&std::fs::read(&handout).unwrap()).into_owned();
    assert!(sealed.starts_with("age-encryption.org/v1\n"), "{sealed}");
    let o = Command::new("age")
        .args(["-d", "-i", &key])
        .arg(&handout)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut rows = csv::Reader::from_reader(&o.stdout[..]);
    assert_eq!(
        rows.headers().unwrap(),
        vec!["user_id", "email", "password"]
    );
    let mut n = 0;
    for rec in rows.records() {
        let rec = rec.unwrap();
        let u = sim.user(&rec[0]).unwrap();
        let password = zoom_rotate::vocab::cell::restore(&rec[2]).to_string();
        assert_eq!(
            (&rec[1], password.as_str()),
            (u.email.as_str(), u.current_password.as_str())
        );
        n += 1;
    }
    assert_eq!(n, 12);

    // Without the identity the encrypted passwords cannot be read: refused.
    let mut status = util::bin();
    status.args(["status", &r, "--handout", &at(dir.path(), "other.csv")]);
    let o = util::bin_output(status).await;
    let (_, stderr) = util::text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pass --identity"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_that_is_no_key_is_refused_before_anything_is_sent() {
    let dir = util::tmp();
    let input = input(dir.path(), 2);
    let out = at(dir.path(), "pw.d");
    let e = util::run(
        dir.path(),
        &[
            &input,
            "--generate",
            "--generated-out",
            &out,
            "--encrypt-to",
            "age1nope",
            "--simulate",
            "--yes",
        ],
        Default::default(),
    )
    .await
    .unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("--encrypt-to") && e.contains("age1nope"), "{e}");
    assert!(!Path::new(&out).exists());
}

/// A config whose request timeout is 2 s: a resume after a kill -9 waits out the dead
/// run's requests for that long before it sends to the users that were in flight.
fn short_timeout(dir: &Path) -> std::path::PathBuf {
    util::write(dir, "short-timeout.toml", "[api]\ntimeout_secs = 2\n")
}

/// Runs the binary against `sim` in the background.
fn spawn(dir: &Path, sim: &SimHandle, words: &[&str]) -> std::process::Child {
    let mut c = util::bin();
    c.current_dir(dir)
        .arg("run")
        .args(words)
        .args([
            "--base-url",
            &sim.base_url(),
            "--yes",
            "--config",
            &p(&short_timeout(dir)),
        ])
        .env("ZOOM_ACCESS_TOKEN", "sim-token")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c.spawn().expect("binary starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_run_leaves_files_that_decrypt_to_every_password_sent() {
    let dir = util::tmp();
    let users = 60;
    let sim = sim(users).await;
    let recipient = identity(dir.path());
    let input = input(dir.path(), users);
    let out = dir.path().join("pw.d");
    let (o, r) = (p(&out), at(dir.path(), "r.csv"));
    let words = [
        input.as_str(),
        "--generate",
        "--generated-out",
        &o,
        "--encrypt-to",
        &recipient,
        "--report",
        &r,
        "--rate",
        "15",
    ];
    let mut child = spawn(dir.path(), &sim, &words);
    let started = Instant::now();
    while sim.stats().password_puts < 10 {
        assert!(started.elapsed() < Duration::from_secs(20), "no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let sent = sim.stats().password_puts;
    assert!(sent < u64::from(users), "killed mid-run: {sent}");

    let saved = decrypt_crate(dir.path(), &out);
    assert_eq!(saved, decrypt_cli(dir.path(), &out));
    let mut received = 0;
    for i in 1..=users {
        let user = format!("user{i}@example.com");
        let u = sim.user(&user).unwrap();
        for pw in &u.received_passwords {
            received += 1;
            assert_eq!(
                saved.get(&user),
                Some(pw),
                "{user}: a password sent is in the files"
            );
        }
    }
    assert!(received >= 10, "{received}");

    // The resume reads them back with the identity, and every user ends with the
    // password the files hold.
    let key = at(dir.path(), "key.txt");
    let mut resumed: Vec<&str> = words.to_vec();
    resumed.extend(["--resume", "--identity", &key]);
    let status = spawn(dir.path(), &sim, &resumed).wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let saved = decrypt_crate(dir.path(), &out);
    assert_eq!(saved.len(), users as usize);
    for (user, password) in &saved {
        let u = sim.user(user).unwrap();
        assert_eq!(&u.current_password, password, "{user}");
        assert!(
            u.received_passwords.iter().all(|p| p == password),
            "{user}: one password, resent the same"
        );
    }
}

/// The passwords `server` received for `user`, in order (JSON bodies).
async fn sent_to(server: &wiremock::MockServer, user: &str) -> Vec<String> {
    let path = format!("/v2/users/{}/password", user.replace('@', "%40"));
    let mut out = Vec::new();
    for r in server.received_requests().await.unwrap_or_default() {
        if r.url.path() == path {
            let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            out.push(v["password"].as_str().unwrap().to_string());
        }
    }
    out
}

#[tokio::test]
async fn a_resume_that_must_resend_needs_the_identity_and_then_resends_the_same() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let dir = util::tmp();
    let recipient = identity(dir.path());
    let server = MockServer::start().await;
    // bob's answers never come back whole: his change may have applied.
    Mock::given(method("PUT"))
        .and(path("/v2/users/bob%40example.com/password"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let config = "[retry]\nattempts = 2\nbase_delay_ms = 1\nmax_delay_ms = 2\n";
    let csv = "email\nann@example.com\nbob@example.com\n";
    let out = at(dir.path(), "pw.d");
    let rotate = |extra: &'static [&'static str]| {
        let (dir, base, out, recipient) = (
            dir.path().to_path_buf(),
            util::v2(&server),
            out.clone(),
            recipient.clone(),
        );
        async move {
            let mut words = vec![
                "--generate",
                "--generated-out",
                &out,
                "--encrypt-to",
                &recipient,
            ];
            words.extend_from_slice(extra);
            util::rotate(&dir, &base, util::token("t"), csv, config, "r.csv", &words)
                .await
                .0
        }
    };
    assert_eq!(rotate(&[]).await.unwrap().exit_code, 1);
    let first = sent_to(&server, "bob@example.com").await;
    assert_eq!(first.len(), 2, "{first:?}");

    let e = format!("{:#}", rotate(&["--resume"]).await.unwrap_err());
    assert!(e.contains("pass --identity"), "{e}");
    assert_eq!(
        sent_to(&server, "bob@example.com").await.len(),
        2,
        "nothing sent"
    );
    assert!(!e.contains(&first[0]), "no password in the message");

    server.reset().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let key: &'static str = Box::leak(at(dir.path(), "key.txt").into_boxed_str());
    let words: &'static [&'static str] =
        Box::leak(vec!["--resume", "--identity", key].into_boxed_slice());
    assert_eq!(rotate(words).await.unwrap().exit_code, 0);
    assert_eq!(
        sent_to(&server, "bob@example.com").await,
        vec![first[0].clone()],
        "the same password"
    );
    assert!(
        sent_to(&server, "ann@example.com").await.is_empty(),
        "ann was done"
    );
}
