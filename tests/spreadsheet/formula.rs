//! Defect 6: cells a spreadsheet would run (`=HYPERLINK(...)`, `+cmd|...`, `@SUM(...)`)
//! are written neutralised in the report, `status --format csv`, the `users` listing and
//! the `--generated-out` file, and every reader of the tool's own files reads them back
//! to the original value: a resume matches the same users, `run` on a listing changes
//! the users it names, and a resume resends a saved password byte for byte.

use super::*;
use zoom_rotate::vocab::cell::restore;

const HYPERLINK: &str = "=HYPERLINK(\"x\")";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_ids_that_look_like_formulas_round_trip_through_the_report_and_status() {
    let dir = util::tmp();
    let sim = sim(
        dir.path(),
        Some(
            "id,email,password,role\n\
             \"=HYPERLINK(\"\"x\"\")\",eq@example.com,Old-Password-11x,member\n\
             u2,+cmd|x@example.com,Old-Password-22x,member\n",
        ),
        0,
    )
    .await;
    let input = util::write(
        dir.path(),
        "in.csv",
        "user_id,password\n\
         \"=HYPERLINK(\"\"x\"\")\",Harbor-Violet-1q\n\
         +cmd|x@example.com,Harbor-Violet-2q\n\
         @SUM(A1),Harbor-Violet-3q\n",
    );
    let report = at(dir.path(), "r.csv");
    let ran = rotate(dir.path(), &sim, &input, &report, &[]).await;
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_eq!(sim.stats().password_puts, 3);
    assert_eq!(
        sim.user(HYPERLINK).unwrap().current_password,
        "Harbor-Violet-1q"
    );
    assert_eq!(sim.user("u2").unwrap().current_password, "Harbor-Violet-2q");

    assert_no_formula_cell(&report);
    let ids: Vec<String> = cells(&report)[1..].iter().map(|r| r[1].clone()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["'+cmd|x@example.com", "'=HYPERLINK(\"x\")", "'@SUM(A1)"]
    );
    let read: Vec<String> = util::rows_by_line(&report)
        .into_iter()
        .map(|r| r.user_id)
        .collect();
    assert_eq!(read, [HYPERLINK, "+cmd|x@example.com", "@SUM(A1)"]);

    let st = status(dir.path(), &["r.csv", "--format", "json"]).await;
    assert_eq!(st.code, Some(1), "{}", st.stderr);
    let v: serde_json::Value = serde_json::from_str(&st.stdout).unwrap();
    let latest: Vec<(&str, &str)> = v["latest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["user_id"].as_str().unwrap(),
                u["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        latest,
        [
            (HYPERLINK, "changed"),
            ("+cmd|x@example.com", "changed"),
            ("@SUM(A1)", "user_not_found")
        ]
    );
    let st = status(dir.path(), &["r.csv", "--format", "csv"]).await;
    let out = util::write(dir.path(), "status.csv", &st.stdout);
    assert_no_formula_cell(&out);
    assert!(
        st.stdout
            .contains("\n2,\"'=HYPERLINK(\"\"x\"\")\",changed,204,"),
        "{}",
        st.stdout
    );

    // The resume reads the same users back: nothing is sent again.
    let ran = rotate(dir.path(), &sim, &input, &report, &["--resume"]).await;
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_eq!(sim.stats().password_puts, 3, "nothing sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_listing_with_formula_cells_is_run_as_the_users_it_names() {
    let dir = util::tmp();
    let sim = sim(
        dir.path(),
        Some(
            "id,email,password,role,login_types,status,dept\n\
             \"=HYPERLINK(\"\"x\"\")\",eq@example.com,Old-Password-11x,member,100,active,@SUM(A1)\n\
             +cmd|x,-dash@example.com,Old-Password-22x,member,100,active,Ops\n\
             u3,plain@example.com,Old-Password-33x,member,100,active,-1\n",
        ),
        0,
    )
    .await;
    let config = util::empty_config(dir.path());
    let listed = zr(
        dir.path(),
        &[
            "users",
            "--out",
            "list.csv",
            "--base-url",
            &sim.base_url(),
            "--config",
            &p(&config),
        ],
    )
    .await;
    assert_eq!(listed.code, Some(0), "{}", listed.stderr);
    let list = at(dir.path(), "list.csv");
    assert_no_formula_cell(&list);
    let rows = cells(&list);
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["'=HYPERLINK(\"x\")", "'+cmd|x", "u3"]);
    assert_eq!(rows[2][1], "'-dash@example.com");
    assert_eq!(rows[1][6], "'@SUM(A1)");

    let report = at(dir.path(), "r.csv");
    let ran = rotate(
        dir.path(),
        &sim,
        &list,
        &report,
        &["--generate", "--generated-out", "pw.csv"],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(sim.stats().password_puts, 3);
    let read: Vec<String> = util::rows_by_line(&report)
        .into_iter()
        .map(|r| r.user_id)
        .collect();
    assert_eq!(read, [HYPERLINK, "+cmd|x", "u3"]);
    let saved = at(dir.path(), "pw.csv");
    assert_no_formula_cell(&saved);
    for row in &cells(&saved)[1..] {
        let user = sim.user(restore(&row[0])).expect("the listed user");
        assert_eq!(
            (user.change_count, user.current_password.as_str()),
            (1, restore(&row[1]))
        );
    }
}

/// A generated password may start with `+`, `-`, `=` or `@` (4 of the generator's 72
/// characters): of 300, at least one does but for odds of about 1 in 30 million.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_password_that_looks_like_a_formula_is_resent_exactly() {
    const N: usize = 300;
    let dir = util::tmp();
    let sim = sim(dir.path(), None, N as u32).await;
    let mut ids = String::from("user_id\n");
    for i in 1..=N {
        ids.push_str(&format!("u{i}\n"));
    }
    let input = util::write(dir.path(), "ids.csv", ids);
    let report = at(dir.path(), "r.csv");
    let generate = ["--generate", "--generated-out", "pw.csv"];
    let ran = rotate(dir.path(), &sim, &input, &report, &generate).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(sim.stats().password_puts, N as u64);
    let saved = at(dir.path(), "pw.csv");
    assert_no_formula_cell(&saved);
    let lines = cells(&saved);
    for row in &lines[1..] {
        let user = sim.user(&row[0]).unwrap();
        assert_eq!(user.current_password, restore(&row[1]), "{}", row[0]);
    }
    let (user, written) = lines[1..]
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .find(|(_, pw)| pw.starts_with(['\'']) && pw[1..].starts_with(['+', '-', '=', '@']))
        .expect("a password that starts like a formula");
    let password = restore(&written).to_string();

    // That user's request went unanswered as far as the report knows: a resume must send
    // the very same password (Zoom's same-as-old then confirms the change).
    let mut w = csv::Writer::from_writer(Vec::new());
    for (i, mut row) in cells(&report).into_iter().enumerate() {
        if i > 0 && row[1] == user {
            row[2] = "failed".into();
            row[3].clear();
            row[7] = "no answer; the change may have been applied".into();
            row[8] = "true".into();
        }
        w.write_record(&row).unwrap();
    }
    std::fs::write(&report, w.into_inner().unwrap()).unwrap();
    let ran = rotate(
        dir.path(),
        &sim,
        &input,
        &report,
        &[&["--resume"][..], &generate].concat(),
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(
        sim.stats().password_puts,
        N as u64 + 1,
        "only that user again"
    );
    let u = sim.user(&user).unwrap();
    assert_eq!(u.received_passwords, [password.clone(), password.clone()]);
    assert_eq!(
        (u.change_count, u.current_password.as_str()),
        (1, password.as_str())
    );
}
