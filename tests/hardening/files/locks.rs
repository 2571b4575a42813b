//! Defects 13, 16 and 22: the report's lock file lives only as long as its run (every
//! exit path removes it, a refused run leaves none), a symlinked lock is refused with its
//! target untouched, and a second run on the same input is refused, naming the report of
//! the run that holds it. Issue 19: a hard link planted at the lock path (defect 11) is
//! refused with the file it names untouched, and a report directory the run cannot write
//! is named, with its fix and the machine word `report_unwritable`.

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_lock_file_outlives_its_run_whatever_the_exit() {
    let server = ok_server().await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 2);
    let report = dir.path().join("r.csv");
    let done = run(dir.path(), &server, &input, &report, &[])
        .await
        .unwrap();
    assert_eq!(done.exit_code, 0);
    assert!(
        !zoom_rotate::ledger::side::lock(&report).exists(),
        "after exit 0"
    );
    // Refused: the report exists and --resume is missing.
    let e = refused(dir.path(), &server, &input, &report, &[]).await;
    assert!(e.contains("already exists"), "{e}");
    // Refused: a bad flag value found after the lock is taken (no credentials).
    let other = dir.path().join("other.csv");
    let w = words(&server, &input, &other, &[]);
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    let e = util::run(dir.path(), &w, Default::default())
        .await
        .unwrap_err();
    assert!(format!("{e:#}").contains("ZOOM_ACCESS_TOKEN"), "{e:#}");
    assert_eq!(
        names(dir.path()),
        ["empty-config.toml", "in.csv", "r.csv", "r.csv.meta"]
    );
    assert_eq!(puts(&server).await, vec![put(1), put(2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlinked_lock_is_refused_and_its_target_left_alone() {
    let server = ok_server().await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 2);
    let victim = util::write(dir.path(), "victim.txt", "keep me\n");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let report = dir.path().join("r.csv");
    std::os::unix::fs::symlink(&victim, zoom_rotate::ledger::side::lock(&report)).unwrap();
    let e = refused(dir.path(), &server, &input, &report, &[]).await;
    assert_eq!(
        e,
        format!(
            "cannot open lock {}: it is a symbolic link (remove it; a lock file is never followed)",
            zoom_rotate::ledger::side::lock(&report).display()
        )
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
    let mode = std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    assert!(puts(&server).await.is_empty());
    assert!(!report.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_input_is_refused_naming_the_first_ones_report() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(204).set_delay(Duration::from_millis(1500)))
        .mount(&server)
        .await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 2);
    let first_report = dir.path().join("first.csv");
    let second_report = dir.path().join("incident").join("second.csv");
    let first = run(dir.path(), &server, &input, &first_report, &[]);
    let second = async {
        // Once the first run's request is at the server, the first run holds the input.
        while puts(&server).await.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            zoom_rotate::ledger::side::lock(&first_report).exists(),
            "held while running"
        );
        let e = refused(dir.path(), &server, &input, &second_report, &[]).await;
        // The same file by another name (a hard link) is the same input.
        let link = dir.path().join("same.csv");
        std::fs::hard_link(&input, &link).unwrap();
        let e2 = refused(dir.path(), &server, &link, &second_report, &[]).await;
        std::fs::remove_file(&link).unwrap();
        (e, e2)
    };
    let (first, (e, e2)) = tokio::join!(first, second);
    assert_eq!(first.unwrap().exit_code, 0);
    let abs = std::fs::canonicalize(&first_report).unwrap();
    for e in [e, e2] {
        assert!(
            e.starts_with(&format!(
                "another run (pid {}) is rotating the same input into the report {}",
                std::process::id(),
                abs.display()
            )),
            "{e}"
        );
    }
    assert_eq!(puts(&server).await, vec![put(1), put(2)], "each user once");
    assert!(!second_report.exists() && !second_report.parent().unwrap().exists());
}

/// Issue 19, defect 11: a hard link at `<report>.lock` to a file elsewhere (here in a
/// directory of the test's own, since `protected_hardlinks` may forbid linking another
/// user's file) is never truncated, rewritten or chmod-ed: the run is refused before
/// anything is sent or created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_linked_lock_is_refused_and_the_file_it_names_left_alone() {
    let server = ok_server().await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 2);
    let outside = util::tmp();
    let victim = util::write(outside.path(), "victim.txt", "keep me\n");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let report = dir.path().join("r.csv");
    let lock = zoom_rotate::ledger::side::lock(&report);
    std::fs::hard_link(&victim, &lock).unwrap();
    let e = refused(dir.path(), &server, &input, &report, &[]).await;
    assert_eq!(
        e,
        format!(
            "the lock file {} was not left by a run of this user: it has 2 names (a hard link to another file); it is left untouched: no run holds it, so look at it and remove it",
            lock.display()
        )
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me\n");
    let mode = std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    assert!(puts(&server).await.is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(!report.exists());
    // Once the link is gone, the run proceeds.
    std::fs::remove_file(&lock).unwrap();
    let done = run(dir.path(), &server, &input, &report, &[])
        .await
        .unwrap();
    assert_eq!(done.exit_code, 0);
    assert_eq!(puts(&server).await, vec![put(1), put(2)]);
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me\n");
}

/// Issue 19: a report directory the run may not write is named (not its `.lock` file),
/// with the fix, and `stopped_code` is `report_unwritable`; nothing is sent. Root writes
/// anywhere, so as root the binary runs as `nobody` (65534) in a directory open to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_report_directory_is_named_with_its_own_stopped_code() {
    use std::os::unix::process::CommandExt;
    let server = ok_server().await;
    let dir = util::tmp();
    let open = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    open(dir.path(), 0o755);
    let input = input(dir.path(), "in.csv", 2);
    open(&input, 0o644);
    let config = util::empty_config(dir.path());
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    open(&ro, 0o555);
    let root = unsafe { libc::geteuid() } == 0;
    let uid = if root {
        65534
    } else {
        unsafe { libc::geteuid() }
    };
    for report in [ro.join("r.csv"), ro.join("new").join("r.csv")] {
        let mut cmd = util::bin();
        if root {
            cmd.uid(65534).gid(65534);
        }
        cmd.current_dir(dir.path())
            .env("ZOOM_ACCESS_TOKEN", TOKEN)
            .arg("run")
            .args(words(&server, &input, &report, &[]))
            .args(["--config", &p(&config), "--log-format", "json"]);
        let out = util::bin_output(cmd).await;
        let (stdout, stderr) = util::text(&out);
        assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON summary");
        assert_eq!(v["stopped_code"], "report_unwritable", "{v}");
        assert_eq!(
            v["stopped"],
            format!(
                "cannot write the report {}: its directory {} is not writable by this user (uid {uid}), and a run writes its report, lock, journal and side files there; make the directory writable (chmod u+w), or choose another --report",
                report.display(),
                ro.display()
            ),
            "{v}"
        );
        assert!(!stderr.contains(".lock"), "{stderr}");
    }
    assert!(names(&ro).is_empty(), "nothing created");
    assert!(server.received_requests().await.unwrap().is_empty());
}
