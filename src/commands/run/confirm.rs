//! The question asked on a terminal before many passwords are changed. It names what
//! the operator is about to do — how many rows will be sent, to which server, at what
//! rate — since a tmux pane at 3 a.m. may be pointed at the wrong account or the wrong
//! file. Only `y` or `yes` (any case, blanks around ignored) goes on; anything else,
//! an empty line included, refuses before anything is sent (exit 2).

use crate::settings::Settings;
use crate::vocab::{RefusalCode, Refused};

use crate::zoom::url::DEFAULT_BASE_URL;
use std::io::IsTerminal;

/// Where the rows go, in words: the built-in simulator, the base URL given, or Zoom's
/// default (which the account's token may point elsewhere among Zoom's own hosts).
pub fn target(s: &Settings) -> String {
    if s.zoom.simulate {
        return "the built-in simulator".into();
    }
    match &s.zoom.base_url {
        Some(url) => url.as_str().trim_end_matches('/').to_string(),
        None => format!("{DEFAULT_BASE_URL} (or the account's API host its token names)"),
    }
}

/// The question, for `rows` rows to `target` at `rate` requests a second.
pub fn question(rows: u64, target: &str, rate: f64) -> String {
    let rate = if rate.fract() == 0.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.2}")
    };
    format!(
        "Change the passwords of up to {rows} user{} at {target} ({rate} requests/s)? Type y or yes to go on: ",
        if rows == 1 { "" } else { "s" }
    )
}

/// Whether an answer is a yes.
pub fn confirmed(answer: &str) -> bool {
    let a = answer.trim();
    a.eq_ignore_ascii_case("y") || a.eq_ignore_ascii_case("yes")
}

/// Asks on a terminal before changing more than `[run] confirm_above` passwords; never
/// when stdin is not one (cron), with `--yes`, or in a dry run.
pub fn confirm(rows: u64, s: &Settings) -> anyhow::Result<()> {
    if s.yes || s.dry_run || rows <= s.confirm_above || !std::io::stdin().is_terminal() {
        return Ok(());
    }
    eprint!("{}", question(rows, &target(s), s.zoom.rate));
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if confirmed(&answer) {
        Ok(())
    } else {
        Err(Refused::new(
            RefusalCode::NotConfirmed,
            "not confirmed: nothing was sent (use --yes to skip the question)",
        )
        .into())
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn only_y_or_yes_goes_on() {
        for yes in ["y\n", "Y\n", "yes\n", "YES\r\n", " Yes \n", "yEs"] {
            assert!(confirmed(yes), "{yes:?}");
        }
        for no in [
            "", "\n", "n\n", "no\n", "yess\n", "y es\n", "ja\n", "1\n", "yes!\n",
        ] {
            assert!(!confirmed(no), "{no:?}");
        }
    }

    #[test]
    fn the_question_names_rows_target_and_rate() {
        assert_eq!(
            question(1, "the built-in simulator", 20.0),
            "Change the passwords of up to 1 user at the built-in simulator (20 requests/s)? Type y or yes to go on: "
        );
        assert_eq!(
            question(1151, "https://api.zoom.us/v2", 2.5),
            "Change the passwords of up to 1151 users at https://api.zoom.us/v2 (2.50 requests/s)? Type y or yes to go on: "
        );
    }
}
