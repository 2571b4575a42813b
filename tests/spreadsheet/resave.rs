//! Defect 1: a report opened and saved in a spreadsheet is read as meant, and a resume
//! of it sends nothing again; a row that cannot be read refuses the resume (exit 2,
//! naming its line and the fix) before anything is sent, and `status` exits 2 naming it.

use super::*;
use serde_json::Value;

/// Five members and a user Zoom does not know, rotated with `--generate
/// --discard-passwords` (the incident's lock-out): exit 1, six PUTs.
async fn first_run(dir: &Path) -> (SimHandle, PathBuf, PathBuf) {
    let sim = sim(dir, None, 5).await;
    let mut csv = String::from("email\n");
    for i in 1..=5 {
        csv.push_str(&format!("user{i}@example.com\n"));
    }
    csv.push_str("ghost@example.com\n");
    let input = util::write(dir, "in.csv", csv);
    let report = at(dir, "r.csv");
    let ran = rotate(
        dir,
        &sim,
        &input,
        &report,
        &["--generate", "--discard-passwords"],
    )
    .await;
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_eq!(sim.stats().password_puts, 6);
    (sim, input, report)
}

/// The report as Excel saves it in a locale whose list separator is `;`: a byte-order
/// mark, `sep=;`, every cell quoted, CRLF, booleans upper-cased, and a row of empty cells
/// where a row was deleted.
fn excel_resave(report: &Path) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .delimiter(b';')
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBFsep=;\r\n".to_vec());
    for (i, row) in cells(report).into_iter().enumerate() {
        let row: Vec<String> = row
            .into_iter()
            .map(|c| match c.as_str() {
                "true" | "false" => c.to_uppercase(),
                _ => c,
            })
            .collect();
        w.write_record(&row).unwrap();
        if i == 2 {
            w.write_record(["", "", "", "", "", "", "", "", ""])
                .unwrap();
        }
    }
    w.into_inner().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_excel_resave_is_resumed_with_nothing_sent_again() {
    let dir = util::tmp();
    let (sim, input, report) = first_run(dir.path()).await;
    let original = std::fs::read_to_string(&report).unwrap();
    let upper = original
        .replace(",false\n", ",FALSE\n")
        .replace(",true\n", ",True\n");
    assert_ne!(upper, original);
    let no_last_line_end = upper.trim_end().to_string().into_bytes();
    for (what, bytes) in [
        ("booleans upper-cased", upper.into_bytes()),
        ("a ; re-save with sep=; and CRLF", excel_resave(&report)),
        ("no line end after the last row", no_last_line_end),
    ] {
        std::fs::write(&report, &bytes).unwrap();
        let ran = rotate(
            dir.path(),
            &sim,
            &input,
            &report,
            &["--resume", "--generate", "--discard-passwords"],
        )
        .await;
        // As the report says: five changed, one user_not_found (final, not changed).
        assert_eq!(ran.code, Some(1), "{what}: {}", ran.stderr);
        assert_eq!(sim.stats().password_puts, 6, "{what}: nothing sent again");
        assert!(
            ran.stdout.contains("(already final)   6"),
            "{what}: {}",
            ran.stdout
        );
        for i in 1..=5 {
            let u = sim.user(&format!("u{i}")).unwrap();
            assert_eq!(u.change_count, 1, "{what}: u{i} changed once");
        }
        let st = status(dir.path(), &["r.csv"]).await;
        assert_eq!(st.code, Some(1), "{what}: {}", st.stderr);
        assert!(
            st.stdout
                .contains("nothing remains: a --resume would send nothing"),
            "{what}: {}",
            st.stdout
        );
        assert!(
            st.stdout.contains("report r.csv: 6 users, 6 rows"),
            "{what}: {}",
            st.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_that_cannot_be_read_refuse_the_resume_before_anything_is_sent() {
    let dir = util::tmp();
    let (sim, input, report) = first_run(dir.path()).await;
    let original = std::fs::read_to_string(&report).unwrap();
    // Two outcome cells mistyped, on the report's lines 3 and 5.
    let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
    for (i, typo) in [(2, "chnaged"), (4, "Changd")] {
        let cells: Vec<&str> = lines[i].split(',').collect();
        assert!(
            ["changed", "user_not_found"].contains(&cells[2]),
            "{}",
            lines[i]
        );
        lines[i] = lines[i].replacen(cells[2], typo, 1);
    }
    let edited = lines.join("\n") + "\n";
    std::fs::write(&report, &edited).unwrap();
    let ran = rotate(
        dir.path(),
        &sim,
        &input,
        &report,
        &[
            "--resume",
            "--generate",
            "--discard-passwords",
            "--log-format",
            "json",
        ],
    )
    .await;
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert_eq!(sim.stats().password_puts, 6, "nothing sent");
    let summary: Value = serde_json::from_str(ran.stdout.trim()).expect("one JSON summary");
    assert_eq!(summary["stopped_code"], "report_unreadable");
    let stopped = summary["stopped"].as_str().unwrap();
    assert!(
        stopped.contains(&format!(
            "--resume refused: the report {} has rows the tool cannot read (line 3: outcome \"chnaged\" is not an outcome; line 5: outcome \"Changd\" is not an outcome); a row that cannot be read is never taken to mean \"not attempted\", so nothing was sent: fix the cells (see the README, \"The report\"), or restore the report from its backup",
            p(&report)
        )),
        "{stopped}"
    );
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        edited,
        "nothing appended"
    );

    let st = status(dir.path(), &["r.csv"]).await;
    assert_eq!(st.code, Some(2), "{}", st.stderr);
    assert!(
        st.stdout.ends_with(
            "2 rows cannot be read, so what remains is unknown and a --resume is refused:\n  \
             line 3: outcome \"chnaged\" is not an outcome\n  \
             line 5: outcome \"Changd\" is not an outcome\n\
             fix the cells (see the README, \"The report\"), or restore the report from its backup\n"
        ),
        "{}",
        st.stdout
    );
    assert!(
        st.stderr.starts_with(
            "zoom-rotate: error: the report r.csv has rows the tool cannot read (line 3: "
        ),
        "{}",
        st.stderr
    );
    let st = status(dir.path(), &["r.csv", "--format", "json"]).await;
    assert_eq!(st.code, Some(2));
    let v: Value = serde_json::from_str(&st.stdout).unwrap();
    let lines: Vec<u64> = v["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["line"].as_u64().unwrap())
        .collect();
    assert_eq!(
        (lines, v["exit_code"].as_u64(), v["remaining"].is_null()),
        (vec![3, 5], Some(2), true)
    );

    // The last row cut by hand (no journal: no crash cut it) refuses too.
    let cut = &original[..original.trim_end().len() - 4];
    std::fs::write(&report, cut).unwrap();
    let ran = rotate(
        dir.path(),
        &sim,
        &input,
        &report,
        &["--resume", "--generate", "--discard-passwords"],
    )
    .await;
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("ends inside a row (line 7), and no journal says a run was cut short there"),
        "{}",
        ran.stderr
    );
    assert_eq!(sim.stats().password_puts, 6, "nothing sent");
    assert_eq!(
        std::fs::read_to_string(&report).unwrap(),
        cut,
        "nothing set aside"
    );
}
