//! The README's first command, end to end: `run fixtures/users.csv --simulate` against the
//! built-in simulator gives exactly the expected report and exit code, and every user the
//! simulator holds ends as the report says.

use crate::util;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_gives_every_outcome_exactly() {
    let dir = util::tmp();
    let report = dir.path().join("demo.csv");
    let r = util::run(
        dir.path(),
        &[
            "fixtures/users.csv",
            "--simulate",
            "--report",
            report.to_str().unwrap(),
            "--yes",
        ],
        Default::default(),
    )
    .await
    .expect("the demo runs");
    assert_eq!(r.exit_code, 1, "finished, not every row changed");
    assert!(r.stop.is_none());
    let s = |l: u64, u: &str, o: &str, st: Option<u16>, c: Option<u32>, a: u32| {
        (l, u.to_string(), o.to_string(), st, c, a)
    };
    assert_eq!(
        util::summary(&report),
        vec![
            s(2, "alice@example.com", "changed", Some(204), None, 1),
            s(3, "bob+ops@example.com", "changed", Some(204), None, 1),
            s(4, "Carol@Example.COM", "changed", Some(204), None, 1),
            s(
                5,
                "dave@example.com",
                "change_limit_24h",
                Some(400),
                Some(300),
                1
            ),
            s(
                6,
                "erin@example.com",
                "same_as_old",
                Some(400),
                Some(300),
                1
            ),
            s(
                7,
                "frank@example.com",
                "policy_rejected",
                Some(400),
                Some(1129),
                1
            ),
            s(8, "grace@example.com", "changed", Some(204), None, 1),
            s(9, "heidi@example.com", "invalid_input", None, None, 0),
            s(10, "ivan@example.com", "invalid_input", None, None, 0),
            s(11, "judy@example.com", "changed", Some(204), None, 1),
            s(12, "li.wei@example.com", "changed", Some(204), None, 1),
            s(
                13,
                "owner@example.com",
                "rejected",
                Some(400),
                Some(1117),
                1
            ),
            s(
                14,
                "nobody@example.com",
                "user_not_found",
                Some(404),
                Some(1001),
                1
            ),
        ]
    );
    let rows = util::rows_by_line(&report);
    let message = |line: u64| {
        rows.iter()
            .find(|r| r.line == line)
            .unwrap()
            .message
            .clone()
    };
    assert_eq!(
        message(6),
        "Your new password can not match the old password."
    );
    assert_eq!(
        message(5),
        "This password cannot be changed because it has already been changed the maximum number of times over the past 24 hours."
    );
    assert_eq!(message(13), "Can not update Admin's password");
    assert_eq!(message(14), "User does not exist: nobody@example.com.");
    assert_eq!(message(10), "line 10: missing password");
    assert!(message(9).starts_with("line 9: the password breaks Zoom's password rules (code 1124)"));
    assert_eq!(r.tally.requests, 11, "refused rows cost no request");
}

/// A refused duplicate row can be written after the user's real outcome (always, in a
/// resumed run); `--resume` must still see the user as changed and send nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_row_does_not_make_resume_send_the_user_again() {
    let dir = util::tmp();
    let input = util::write(
        dir.path(),
        "users.csv",
        "email,password\nalice@example.com,Violet-Harbor-42\njudy@example.com,Sable-Prism-38\nALICE@example.com,Other-Harbor-43\n",
    );
    let report = dir.path().join("r.csv");
    let sim = util::sim(zoom_rotate::simulator::SimConfig::default()).await;
    let words = |extra: &[&'static str]| {
        let mut w: Vec<String> = vec![
            input.display().to_string(),
            "--report".into(),
            report.display().to_string(),
            "--base-url".into(),
            sim.base_url(),
            "--yes".into(),
        ];
        w.extend(extra.iter().map(|s| s.to_string()));
        w
    };
    let first = words(&[]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let r = util::run(dir.path(), &first, util::token("sim-token"))
        .await
        .unwrap();
    assert_eq!(r.exit_code, 1, "the duplicate is invalid_input");
    // Each resume skips alice and writes the duplicate's invalid_input row again, after
    // her `changed`: the next resume must still see her as changed.
    let second = words(&["--resume"]);
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    for _ in 0..2 {
        let r = util::run(dir.path(), &second, util::token("sim-token"))
            .await
            .unwrap();
        assert_eq!(r.skipped, 2, "alice and judy are final");
    }
    assert_eq!(sim.user("alice@example.com").unwrap().change_count, 1);
    assert_eq!(sim.user("judy@example.com").unwrap().change_count, 1);
    // The resumed run sent only the settings read: no password request.
    assert_eq!(sim.stats().password_puts, 2);
}
