//! Defects 13, 16 and 22: the report's lock file lives only as long as its run (every
//! exit path removes it, a refused run leaves none), a symlinked lock is refused with its
//! target untouched, and a second run on the same input is refused, naming the report of
//! the run that holds it.

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
