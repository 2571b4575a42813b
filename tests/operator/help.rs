//! `run --help` that teaches (issue 12, item 8): options grouped under the headings an
//! operator thinks in, in that order, and the commands most runs are at the end.

use super::*;

/// The headings of `help` in order, each with the long flags listed under it.
fn sections(help: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in help.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            out.push((line.trim_end_matches(':').to_string(), Vec::new()));
        } else if let Some((_, flags)) = out.last_mut() {
            let t = line.trim_start();
            // An option's first line is indented at most six columns (-c, --config).
            if t.starts_with('-') && line.len() - t.len() <= 6 {
                let long = t.split(['<', ' ']).find(|w| w.starts_with("--"));
                let long = long
                    .unwrap_or(t)
                    .trim_end_matches(',')
                    .trim_end_matches("...");
                flags.push(long.to_string());
            }
        }
    }
    out
}

#[test]
fn run_help_groups_options_under_headings_and_ends_with_examples() {
    let out = bin().args(["run", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    let got = sections(&help);
    let want: Vec<(String, Vec<String>)> = [
        ("Arguments", vec![]),
        ("Options", vec!["--verbose", "--help"]),
        (
            "Input",
            vec![
                "--config",
                "--generate",
                "--generated-out",
                "--discard-passwords",
                "--user-column",
                "--password-column",
                "--delimiter",
                "--encoding",
            ],
        ),
        (
            "Zoom",
            vec![
                "--base-url",
                "--token-url",
                "--body",
                "--simulate",
                "--no-fetch-policy",
            ],
        ),
        (
            "Rate",
            vec![
                "--plan",
                "--rate",
                "--budget-share",
                "--rate-above-plan",
                "--concurrency",
            ],
        ),
        (
            "Safety",
            vec![
                "--dry-run",
                "--offline",
                "--resume",
                "--resume-or-start",
                "--max-failures",
                "--yes",
                "--max-report-age",
                "--contain-sso",
                "--evidence",
                "--since",
            ],
        ),
        (
            "Output",
            vec![
                "--report",
                "--log-format",
                "--metrics-file",
                "--encrypt-to",
                "--recipients-file",
                "--identity",
            ],
        ),
        ("Examples", vec![]),
    ]
    .into_iter()
    .map(|(h, f)| (h.to_string(), f.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(got, want, "{help}");
    let examples = help.split("\nExamples:\n").nth(1).expect("examples");
    assert_eq!(
        examples,
        "  Check every row and the plan with Zoom (the token, the password rules), send no password:
    zoom-rotate run users.csv --dry-run
  Rotate at half the Pro budget, into a dated report (one report per campaign):
    zoom-rotate run users.csv --rate 10 --report reports/rotation-2026-12-06.csv
  Continue after Ctrl-C, a daily limit or a failure, then see what remains:
    zoom-rotate run users.csv --resume --report reports/rotation-2026-12-06.csv
    zoom-rotate status reports/rotation-2026-12-06.csv
"
    );
}
