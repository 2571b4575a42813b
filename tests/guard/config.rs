//! Defect 4: a planted config gets nothing. A config file is read only when it is a
//! regular file owned by root or the running user, written by its owner only, in
//! directories nobody else can rename entries in; otherwise exit 2, naming the file and
//! the fix, before a single request. `run`, `users` and `simulate` all read config, and
//! all refuse. A config that moves `base_url` or `token_url` off Zoom's hosts is named in
//! a warning at every run (file, key, host), loopback included.

use super::*;

/// The planted file of the defect: world-writable, owned by another user, pointing the
/// token and the API at the stand-in. Given with `--config` and found by the search
/// (`./config.toml`), `run` refuses it and the stand-in receives nothing.
#[tokio::test]
async fn a_planted_config_is_refused_and_its_host_receives_nothing() {
    if !root() {
        return;
    }
    let server = catch_all().await;
    let dir = util::tmp();
    let d = dir.path();
    util::write(d, "in.csv", "email,password\na@x.com,Harbor-Violet-1q\n");
    let planted = file_as(d, "config.toml", &redirecting(&server), 0o666, Some(NOBODY));
    for words in [
        &[
            "run",
            "in.csv",
            "--report",
            "r1.csv",
            "--yes",
            "--config",
            "config.toml",
        ][..],
        &["run", "in.csv", "--report", "r2.csv", "--yes"][..],
        &[
            "run",
            "in.csv",
            "--report",
            "r3.csv",
            "--yes",
            "--log-format",
            "json",
        ][..],
    ] {
        let mut cmd = bin_in(d, words);
        cmd.envs(S2S);
        let out = util::bin_output(cmd).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{words:?}: {stderr}");
        assert!(stderr.contains("refusing config config.toml"), "{stderr}");
        assert!(
            stderr.contains(&format!("owned by uid {NOBODY}, not by root")),
            "{stderr}"
        );
        assert!(
            stderr.contains("`chown 0 FILE` and `chmod go-w FILE` (mode now 0666)"),
            "{stderr}"
        );
        assert!(!stderr.contains("secret-guard"), "{stderr}");
        if words.contains(&"json") {
            let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(v["stopped_code"], "config", "{v}");
        }
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        0,
        "neither the token POST nor a PUT"
    );
    for r in ["r1.csv", "r2.csv", "r3.csv"] {
        assert!(!d.join(r).exists(), "no report was started");
    }
    drop(planted);
}

/// `users` and `simulate` read config too, and refuse it the same way.
#[tokio::test]
async fn users_and_simulate_refuse_a_planted_config_too() {
    if !root() {
        return;
    }
    let server = catch_all().await;
    let dir = util::tmp();
    let d = dir.path();
    file_as(d, "config.toml", &redirecting(&server), 0o666, Some(NOBODY));
    let mut users = bin_in(d, &["users", "--out", "all.csv"]);
    users.envs(S2S);
    let out = util::bin_output(users).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refusing config config.toml"), "{stderr}");
    assert!(!d.join("all.csv").exists() && !d.join("all.csv.incomplete").exists());
    let mut sim = bin_in(d, &["simulate", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let code = tokio::task::spawn_blocking(move || {
        let code = wait_at_most(&mut sim, Duration::from_secs(20));
        let mut err = String::new();
        std::io::Read::read_to_string(&mut sim.stderr.take().unwrap(), &mut err).unwrap();
        (code, err)
    })
    .await
    .unwrap();
    assert_eq!(code.0, Some(2), "the simulator must not start: {}", code.1);
    assert!(code.1.contains("refusing config config.toml"), "{}", code.1);
    assert_eq!(server.received_requests().await.unwrap().len(), 0);
}

/// The running user's own file is refused when its group or others may write it, and
/// when its directory lets others replace it; a sticky directory (as /tmp) does not.
#[tokio::test]
async fn group_writable_configs_and_open_directories_are_refused() {
    if !root() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = util::tmp();
    let d = dir.path();
    util::write(d, "in.csv", "email\na@x.com\n");
    let dry = |config: &str| {
        bin_in(
            d,
            &[
                "run",
                "in.csv",
                "--dry-run",
                // The file alone is checked: no credentials, no request (issue 19's
                // dry run asks Zoom only without --offline).
                "--offline",
                "--generate",
                "--discard-passwords",
                "--config",
                config,
                "--report",
                "dry.csv",
            ],
        )
    };
    let mine = file_as(d, "group.toml", "", 0o664, None);
    let out = util::bin_output(dry(&p(&mine))).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("it is writable by group or others (mode 0664)"),
        "{stderr}"
    );
    assert!(stderr.contains("fix it: `chmod go-w FILE`"), "{stderr}");
    assert!(!d.join("dry.csv").exists());
    // A symlink is followed, and the file it names is the one checked.
    std::os::unix::fs::symlink(&mine, d.join("link.toml")).unwrap();
    let out = util::bin_output(dry("link.toml")).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("refusing config link.toml: it is writable by group"),
        "{stderr}"
    );

    let open = d.join("open");
    std::fs::create_dir(&open).unwrap();
    let inside = file_as(&open, "c.toml", "", 0o600, None);
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = util::bin_output(dry(&p(&inside))).await;
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "its directory {} is writable by group or others (mode 0777)",
            open.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("`chmod go-w "), "{stderr}");

    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let out = util::bin_output(dry(&p(&inside))).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
}

/// A 0600 config of the running user is read; one that points the API and the token at
/// a loopback stand-in is used, and every run names both keys and the host on stderr.
#[tokio::test]
async fn an_own_private_config_is_used_and_an_off_zoom_host_is_named() {
    let server = catch_all().await;
    let dir = util::tmp();
    let d = dir.path();
    util::write(d, "in.csv", "email,password\na@x.com,Harbor-Violet-1q\n");
    file_as(d, "own.toml", &redirecting(&server), 0o600, None);
    let host = "127.0.0.1";
    for (i, extra) in [&[][..], &["--base-url", "http://127.0.0.1:9/v2"][..]]
        .iter()
        .enumerate()
    {
        let report = format!("r{i}.csv");
        let mut words = vec![
            "run",
            "in.csv",
            "--config",
            "own.toml",
            "--yes",
            "--no-fetch-policy",
            "--report",
        ];
        words.push(&report);
        words.extend_from_slice(extra);
        if !extra.is_empty() {
            words.push("--dry-run");
        }
        let mut cmd = bin_in(d, &words);
        cmd.envs(S2S);
        let out = util::bin_output(cmd).await;
        let (stdout, stderr) = text(&out);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{:?} {stdout}\n{stderr}",
            out.status
        );
        let named = |key: &str| {
            stderr.lines().any(|l| {
                l.contains(&format!("config own.toml sets {key} to {host}"))
                    && l.contains("not one of Zoom's hosts")
                    && l.contains("loopback")
            })
        };
        assert!(named("api.token_url"), "{stderr}");
        // A --base-url on the command line outranks the file's: only the token URL is
        // the file's then.
        assert_eq!(named("api.base_url"), extra.is_empty(), "{stderr}");
    }
    let got = server.received_requests().await.unwrap();
    let methods: Vec<String> = got.iter().map(|r| r.method.to_string()).collect();
    // The real run: one token, one change; the dry run asks for a token too (it checks
    // what the real run would), and changes nothing.
    assert_eq!(
        methods,
        ["POST", "PUT", "POST"],
        "one token, one change, one token"
    );
}
