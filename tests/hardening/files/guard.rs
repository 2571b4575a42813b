//! Defects 11 and 16: what `--resume` refuses, with exit 2, before anything is sent or
//! created: a report that does not exist (unless `--resume-or-start`), a report written
//! for another input, a symlinked report, a device, a FIFO (without hanging), and the
//! input itself.

use super::*;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_on_a_missing_report_is_refused_unless_resume_or_start() {
    let server = ok_server().await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 2);
    let report = dir.path().join("reports").join("typo.csv");
    let e = refused(dir.path(), &server, &input, &report, &["--resume"]).await;
    assert_eq!(
        e,
        format!(
            "--resume: the report {} does not exist, so there is no run to continue; check the path, or pass --resume-or-start to start a new report when none exists",
            report.display()
        )
    );
    assert!(puts(&server).await.is_empty());
    assert_eq!(
        names(dir.path()),
        ["empty-config.toml", "in.csv"],
        "nothing created"
    );

    let started = run(dir.path(), &server, &input, &report, &["--resume-or-start"])
        .await
        .unwrap();
    assert_eq!(started.exit_code, 0);
    assert_eq!(puts(&server).await, vec![put(1), put(2)]);
    let again = run(dir.path(), &server, &input, &report, &["--resume-or-start"])
        .await
        .unwrap();
    assert_eq!((again.exit_code.code(), again.skipped), (0, 2));
    assert_eq!(puts(&server).await.len(), 2, "continued, not started again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_report_of_another_input_but_not_an_edited_one() {
    let server = ok_server().await;
    let dir = util::tmp();
    let a = input(dir.path(), "a.csv", 3);
    let b = input(dir.path(), "b.csv", 3);
    let report = dir.path().join("r.csv");
    // u2 refused on the first run, so a resume has something left to do.
    std::fs::write(&a, "user_id,password\nu1,Maple1-Quartz-Rain\nu2,short\n").unwrap();
    let first = run(dir.path(), &server, &a, &report, &[]).await.unwrap();
    assert_eq!(first.exit_code, 1);
    let e = refused(dir.path(), &server, &b, &report, &["--resume"]).await;
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap().display().to_string();
    assert_eq!(
        e,
        format!(
            "--resume: the report {} was written for the input {}, not {}; resume with that input, or start a new report for this one",
            report.display(),
            canon(&a),
            canon(&b)
        )
    );
    assert_eq!(puts(&server).await, vec![put(1)]);
    // The same file, edited (u2's password fixed), and named by another path: accepted.
    std::fs::write(&a, "user_id,password\nu2,Maple2-Quartz-Rain\n").unwrap();
    let relative = dir.path().join(".").join("a.csv");
    let again = run(dir.path(), &server, &relative, &report, &["--resume"])
        .await
        .unwrap();
    assert_eq!(again.exit_code, 0);
    assert_eq!(puts(&server).await, vec![put(1), put(2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_symlinked_report_and_leaves_its_target_alone() {
    let server = ok_server().await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 2);
    let elsewhere = util::write(dir.path(), "elsewhere.csv", format!("{CSV_HEADER}\n"));
    std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o644)).unwrap();
    let report = dir.path().join("r.csv");
    std::os::unix::fs::symlink(&elsewhere, &report).unwrap();
    let e = refused(dir.path(), &server, &input, &report, &["--resume"]).await;
    assert_eq!(
        e,
        format!(
            "--resume: the report {} is a symbolic link; name the report itself",
            report.display()
        )
    );
    assert!(puts(&server).await.is_empty());
    assert_eq!(
        std::fs::read_to_string(&elsewhere).unwrap(),
        format!("{CSV_HEADER}\n")
    );
    let mode = std::fs::metadata(&elsewhere).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    assert_eq!(
        names(dir.path()),
        ["elsewhere.csv", "empty-config.toml", "in.csv", "r.csv"]
    );
}

/// The binary with `--resume --report <report>`; killed (and the test failed) if it
/// has not ended after 20 s, so a hang cannot hang the suite.
async fn resume_binary(
    dir: &Path,
    server: &MockServer,
    input: &Path,
    report: &Path,
) -> (i32, String) {
    let mut cmd = util::bin();
    cmd.arg("run")
        .args(words(server, input, report, &["--resume"]))
        .arg("--config")
        .arg(util::empty_config(dir))
        .env("ZOOM_ACCESS_TOKEN", TOKEN)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("--resume --report {} hangs", report.display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_refuses_a_device_a_fifo_and_the_input_itself() {
    let server = ok_server().await;
    let dir = util::tmp();
    let input = input(dir.path(), "in.csv", 2);
    let before = std::fs::read(&input).unwrap();
    let fifo = dir.path().join("r.fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let hardlink = dir.path().join("in-too.csv");
    std::fs::hard_link(&input, &hardlink).unwrap();
    // A device: a private null device when the test may make one (as root), so a
    // regression can only touch that node; else /dev/null, which only root could chmod.
    let device = dir.path().join("null");
    let c_dev = std::ffi::CString::new(device.as_os_str().as_encoded_bytes()).unwrap();
    let made =
        unsafe { libc::mknod(c_dev.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) } == 0;
    let device = if made {
        device
    } else {
        PathBuf::from("/dev/null")
    };
    let device_mode = std::fs::metadata(&device).unwrap().permissions().mode();
    for (report, why) in [
        (device.clone(), "is not a regular file"),
        (fifo.clone(), "is not a regular file"),
        (input.clone(), "is the input file itself"),
        (hardlink.clone(), "is the input file itself"),
    ] {
        let (code, stderr) = resume_binary(dir.path(), &server, &input, &report).await;
        assert_eq!(code, 2, "{}: {stderr}", report.display());
        let want = format!("--resume: the report {} {why}", report.display());
        assert!(stderr.contains(&want), "{want:?} not in {stderr}");
    }
    assert!(puts(&server).await.is_empty());
    assert_eq!(
        std::fs::read(&input).unwrap(),
        before,
        "the input is untouched"
    );
    assert_eq!(
        std::fs::metadata(&device).unwrap().permissions().mode(),
        device_mode
    );
    let mut want = vec!["empty-config.toml", "in-too.csv", "in.csv", "r.fifo"];
    if made {
        want.insert(3, "null");
    } else {
        assert!(!Path::new("/dev/null.lock").exists());
    }
    assert_eq!(names(dir.path()), want);
}
