//! `zoom-rotate man`: one roff page generated from the clap tree (every command and its
//! options), then the environment, files and exit status a cron job or runbook relies on.

use super::Cli;
use clap_mangen::roff::{bold, roman, Roff};

/// The man page: clap_mangen's sections for the program, then each command with its
/// options, and the environment, files and exit status a cron job or runbook relies on.
/// One page rather than one per subcommand, so `zoom-rotate man > zoom-rotate.1` is the
/// whole install.
pub fn render_man(w: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    man.render_options_section(w)?;
    commands(&cmd).to_writer(w)?;
    per_command_options(&cmd, w)?;
    // One roff for the three, as one `to_writer` call: each call writes roff's
    // apostrophe preamble again.
    let mut roff = Roff::new();
    definitions(&mut roff, "ENVIRONMENT", ENVIRONMENT);
    definitions(&mut roff, "FILES", FILES);
    definitions(&mut roff, "EXIT STATUS", EXIT_STATUS);
    roff.to_writer(w)?;
    man.render_version_section(w)
}

/// COMMANDS: each command's usage and about, and its positional arguments.
fn commands(cmd: &clap::Command) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let usage = sub.clone().render_usage().to_string();
        roff.control("TP", []);
        roff.text([bold(usage.trim_start_matches("Usage: ").trim())]);
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            roff.text([roman(about.to_string())]);
        }
        for arg in sub.get_positionals() {
            let name = arg
                .get_value_names()
                .and_then(|n| n.first())
                .map_or(arg.get_id().as_str(), |n| n.as_str());
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            roff.control("br", []);
            roff.text([roman(format!("{name}: {help}"))]);
        }
    }
    roff
}

/// RUN OPTIONS, SIMULATE OPTIONS, ...: clap_mangen's options section for each command,
/// under a heading of its own.
fn per_command_options(cmd: &clap::Command, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    for sub in cmd.get_subcommands() {
        let heading: &'static str = match sub.get_name() {
            "run" => "RUN OPTIONS",
            "simulate" => "SIMULATE OPTIONS",
            "status" => "STATUS OPTIONS",
            "users" => "USERS OPTIONS",
            _ => continue,
        };
        let sub = sub.clone().mut_args(move |a| a.help_heading(heading));
        clap_mangen::Man::new(sub).render_options_section(w)?;
    }
    Ok(())
}

/// A section of terms, each with its paragraph.
fn definitions(roff: &mut Roff, title: &str, entries: &[(&str, &str)]) {
    roff.control("SH", [title]);
    for (term, text) in entries {
        roff.control("TP", []);
        roff.text([bold(*term)]);
        roff.text([roman(*text)]);
    }
}

/// ENVIRONMENT: the credentials and the variables that stand in for flags.
const ENVIRONMENT: &[(&str, &str)] = &[
    ("ZOOM_ACCESS_TOKEN", "A bearer token, used as is."),
    (
        "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET",
        "Server-to-Server OAuth credentials; tokens are fetched and refreshed as needed. \
         Credentials are read from the environment only, never from config.toml, and \
         never echoed.",
    ),
    (
        "ZOOM_BASE_URL, ZOOM_TOKEN_URL, ZOOM_ROTATE_PLAN, ZOOM_ROTATE_RATE, \
         ZOOM_ROTATE_CONCURRENCY, ZOOM_ROTATE_REPORT",
        "Stand in for --base-url, --token-url, --plan, --rate, --concurrency and \
         --report. Precedence: command line, then environment, then config.toml, \
         then defaults.",
    ),
    (
        "RUST_LOG",
        "Overrides the log filter (default: info for zoom-rotate, warn for the rest).",
    ),
];

/// FILES: the config files searched, the report and what lives beside it.
const FILES: &[(&str, &str)] = &[
    (
        "./config.toml, $XDG_CONFIG_HOME/zoom-rotate/config.toml, /etc/zoom-rotate/config.toml",
        "Without --config, the first of these that exists is read (~/.config when \
         XDG_CONFIG_HOME is unset); the plan names the file used.",
    ),
    (
        "REPORT",
        "One row per input row: line, user_id, outcome, http_status, zoom_code, \
         attempts, finished_at, message. Mode 0600; never overwritten.",
    ),
    (
        "REPORT.lock",
        "Held while a run writes REPORT; a second run on the same report exits 2.",
    ),
    (
        "REPORT.journal",
        "Rows with a request on the wire; left behind only by a crash, so that \
         --resume retries them safely.",
    ),
];

/// EXIT STATUS: what a cron job or runbook branches on.
const EXIT_STATUS: &[(&str, &str)] = &[
    (
        "0",
        "Every input row ended changed (or dry_run in a dry run).",
    ),
    (
        "1",
        "The run finished and at least one row ended otherwise; the report says which.",
    ),
    (
        "2",
        "Nothing was attempted: bad usage or config, unreadable input, missing \
         credentials, the report exists without --resume, another run holds the \
         report, or the confirmation was refused.",
    ),
    (
        "3",
        "The run stopped early (Ctrl-C/SIGTERM, daily limit, authentication lost, \
         circuit breaker); --resume continues.",
    ),
];
