//! Defect 10: the `--generated-out` file holds a password for every user a run meant to
//! change, set or not. `status REPORT --handout FILE` hands out only those that were
//! set: each user whose latest state is `changed`, with the password Zoom now holds, the
//! email from the listing the run read, in a new 0600 file, and no password anywhere
//! else.

use super::*;
use std::os::unix::fs::PermissionsExt;

/// The account's owner (Zoom refuses to change its password: `rejected`), a member at
/// Zoom's 24-hour change limit (`change_limit_24h`), and three members that change.
const ACCOUNT: &str = "id,email,password,role,changes_24h,login_types,status\n\
                       boss,boss@example.com,Granite-Willow-95,owner,0,100,active\n\
                       busy,busy@example.com,Busy-Current-27,member,3,100,active\n";

/// The account listed with `users`, then rotated with `--generate --generated-out`:
/// exit 1, five passwords saved, three set.
async fn listed_and_rotated(dir: &Path) -> SimHandle {
    let sim = sim(dir, Some(ACCOUNT), 3).await;
    let config = util::empty_config(dir);
    let base = sim.base_url();
    let listed = zr(
        dir,
        &[
            "users",
            "--out",
            "list.csv",
            "--base-url",
            &base,
            "--config",
            &p(&config),
        ],
    )
    .await;
    assert_eq!(listed.code, Some(0), "{}", listed.stderr);
    let ran = rotate(
        dir,
        &sim,
        &at(dir, "list.csv"),
        &at(dir, "r.csv"),
        &["--generate", "--generated-out", "pw.csv"],
    )
    .await;
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_eq!(sim.stats().password_puts, 5);
    assert_eq!(
        cells(&at(dir, "pw.csv")).len(),
        6,
        "a password saved for each of the five"
    );
    sim
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handout_holds_the_users_changed_and_no_one_else() {
    let dir = util::tmp();
    let sim = listed_and_rotated(dir.path()).await;
    let st = status(dir.path(), &["r.csv", "--handout", "out/handout.csv"]).await;
    assert_eq!(st.code, Some(1), "not every user changed: {}", st.stderr);
    let handout = at(dir.path(), "out/handout.csv");
    let mode = std::fs::metadata(&handout).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut want = vec![vec![
        "user_id".to_string(),
        "email".into(),
        "password".into(),
    ]];
    for i in 1..=3 {
        let u = sim.user(&format!("u{i}")).unwrap();
        assert_eq!(u.change_count, 1);
        let written = zoom_rotate::vocab::cell::neutralise(&u.current_password).into_owned();
        want.push(vec![u.id.clone(), u.email.clone(), written]);
    }
    assert_eq!(cells(&handout), want);
    assert_no_formula_cell(&handout);
    assert_eq!(
        st.stderr,
        format!(
            "zoom-rotate: hand-out: 3 passwords written to out/handout.csv (mode 0600), from {}; 2 users not changed got none\n",
            p(&std::fs::canonicalize(dir.path()).unwrap().join("pw.csv"))
        )
    );
    // No password is shown anywhere but the file.
    for u in sim.users() {
        assert!(
            !st.stdout.contains(&u.current_password) && !st.stderr.contains(&u.current_password)
        );
    }

    // Never overwritten; the passwords file can be named.
    let before = std::fs::read(&handout).unwrap();
    let again = status(dir.path(), &["r.csv", "--handout", "out/handout.csv"]).await;
    assert_eq!(again.code, Some(2));
    assert!(
        again
            .stderr
            .contains("already exists and is never overwritten"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read(&handout).unwrap(), before);
    let named = status(
        dir.path(),
        &["r.csv", "--handout", "h2.csv", "--passwords", "pw.csv"],
    )
    .await;
    assert_eq!(named.code, Some(1), "{}", named.stderr);
    assert_eq!(std::fs::read(at(dir.path(), "h2.csv")).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_handout_without_saved_passwords_or_from_a_report_that_cannot_be_read() {
    let dir = util::tmp();
    let sim = sim(dir.path(), None, 2).await;
    let input = util::write(dir.path(), "in.csv", "user_id\nu1\nu2\n");
    let report = at(dir.path(), "r.csv");
    let ran = rotate(
        dir.path(),
        &sim,
        &input,
        &report,
        &["--generate", "--discard-passwords"],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let st = status(dir.path(), &["r.csv", "--handout", "h.csv"]).await;
    assert_eq!(st.code, Some(2));
    assert!(
        st.stderr
            .contains("no hand-out was written: the run kept no passwords (--discard-passwords)"),
        "{}",
        st.stderr
    );
    assert!(!at(dir.path(), "h.csv").exists());

    let dir = util::tmp();
    let _sim = listed_and_rotated(dir.path()).await;
    let report = at(dir.path(), "r.csv");
    let text = std::fs::read_to_string(&report).unwrap();
    std::fs::write(&report, text.replacen(",changed,", ",chnaged,", 1)).unwrap();
    let st = status(dir.path(), &["r.csv", "--handout", "h.csv"]).await;
    assert_eq!(st.code, Some(2));
    assert!(
        st.stderr.contains(
            "no hand-out was written: the report r.csv has a row the tool cannot read (line "
        ),
        "{}",
        st.stderr
    );
    assert!(!at(dir.path(), "h.csv").exists());
}
