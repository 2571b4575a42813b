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
