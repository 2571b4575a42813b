//! The command line, exactly as CONTRACT.md promises it, parsed by clap's derive API.
//!
//! Conventions (cron jobs and runbooks script against these, so they only grow):
//! - every flag of the contract keeps its name and short form; new flags are additions;
//! - settings that also live in config.toml are `Option`s here, so "not given" falls
//!   through to the environment, then config.toml, then the default (see `config`);
//! - each flag's help names its default; credentials never appear here, only in the
//!   environment.

mod users;

pub use users::{ListFormat, UserStatus, UsersArgs};

use crate::zoom::client::BodyFormat;
use crate::zoom::plan::Plan;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "zoom-rotate",
    version,
    about = "Rotate the passwords of many Zoom users at once, safely, as fast as Zoom allows",
    long_about = "Rotate the passwords of many Zoom users at once, safely, as fast as Zoom's \
        rate limits allow. Reads a CSV of users and new passwords, calls \
        PUT /v2/users/{userId}/password for each behind a rate limiter set to Zoom's Medium \
        label, and writes a per-user report.\n\n\
        Credentials come from the environment only: ZOOM_ACCESS_TOKEN, or \
        ZOOM_ACCOUNT_ID + ZOOM_CLIENT_ID + ZOOM_CLIENT_SECRET for Server-to-Server OAuth.\n\n\
        Exit codes: 0 every row changed; 1 finished, some rows did not; 2 nothing attempted \
        (bad usage, config, input or credentials); 3 stopped early, --resume continues."
)]
pub struct Cli {
    /// More log output on stderr (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Rotate the passwords listed in a CSV file.
    Run(Box<RunArgs>),
    /// Serve the Zoom simulator until Ctrl-C.
    Simulate(SimulateArgs),
    /// List the account's users as a CSV that run reads as is (incident step one).
    Users(Box<crate::cli::UsersArgs>),
    /// Show each user's latest state in a report, what remains and how to continue.
    Status(StatusArgs),
    /// Print shell completions for SHELL.
    Completions {
        /// The shell to complete for: bash, elvish, fish, powershell or zsh.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines; a progress bar when stderr is a terminal.
    Text,
    /// One JSON object a line (timestamp, level, message, fields); progress as events.
    Json,
}

/// `run --help` groups its options under these headings, in this order.
const INPUT: &str = "Input";
const ZOOM: &str = "Zoom";
const RATE: &str = "Rate";
const SAFETY: &str = "Safety";
const OUTPUT: &str = "Output";

/// Shown at the end of `run --help`: the three commands most runs are.
const RUN_EXAMPLES: &str = "\
Examples:
  Check every row and the plan, send nothing:
    zoom-rotate run users.csv --dry-run
  Rotate at half the Pro budget, with the report where you want it:
    zoom-rotate run users.csv --rate 10 --report reports/today.csv
  Continue after Ctrl-C, a daily limit or a failure, then see what remains:
    zoom-rotate run users.csv --resume --report reports/today.csv
    zoom-rotate status reports/today.csv";

#[derive(Debug, Args)]
#[command(after_help = RUN_EXAMPLES)]
pub struct RunArgs {
    /// A CSV file of users and new passwords, or - for standard input.
    pub input: PathBuf,

    /// Config file (see config.toml in the repository for every key) [default: ./config.toml
    /// when present, else $XDG_CONFIG_HOME/zoom-rotate/config.toml (~/.config when unset),
    /// else /etc/zoom-rotate/config.toml, else built-in defaults].
    #[arg(short, long, value_name = "PATH", help_heading = INPUT)]
    pub config: Option<PathBuf>,

    /// API base URL: https, or http to loopback only (config: [api] base_url)
    /// [default: the OAuth token's api_url, else https://api.zoom.us/v2].
    #[arg(long, value_name = "URL", env = "ZOOM_BASE_URL", help_heading = ZOOM)]
    pub base_url: Option<String>,

    /// Server-to-Server OAuth token URL (config: [api] token_url)
    /// [default: https://zoom.us/oauth/token].
    #[arg(long, value_name = "URL", env = "ZOOM_TOKEN_URL", help_heading = ZOOM)]
    pub token_url: Option<String>,

    /// Zoom's Medium-label budget: free 2/s (and 2000/day), pro 20/s, business 60/s
    /// (also for education, enterprise and partner accounts) (config: [rate] plan)
    /// [default: pro].
    #[arg(long, value_enum, env = "ZOOM_ROTATE_PLAN", help_heading = RATE)]
    pub plan: Option<Plan>,

    /// Requests per second for this job, 0.01 to 100000, at most the plan's budget (see
    /// --rate-above-plan); overrides --plan and --budget-share. The job slows down on its
    /// own when other apps need more of the account's budget (config: [rate] rate)
    /// [default: the plan's budget × --budget-share].
    #[arg(long, value_name = "PER_SECOND", env = "ZOOM_ROTATE_RATE", help_heading = RATE)]
    pub rate: Option<f64>,

    /// The share of the account's Medium budget this job may take, 0.01 to 1: the rest is
    /// left to the other apps on the account; 1 takes all of it (an incident). Ignored
    /// when --rate is given (config: [rate] share) [default: 0.8].
    #[arg(long, value_name = "SHARE", env = "ZOOM_ROTATE_BUDGET_SHARE", help_heading = RATE)]
    pub budget_share: Option<f64>,

    /// Allow a --rate above the plan's Medium budget (an account with a larger, custom
    /// budget); without it such a rate is refused, exit 2. The job still starts at the
    /// plan's budget and goes faster only while Zoom admits it (config: [rate]
    /// allow_above_plan) [default: off].
    #[arg(long, help_heading = RATE)]
    pub rate_above_plan: bool,

    /// Most requests in flight at once, 1 to 4096 (config: [rate] concurrency)
    /// [default: enough to fill the rate at the latency observed, at most
    /// [rate] max_concurrency (256)].
    #[arg(long, value_name = "N", env = "ZOOM_ROTATE_CONCURRENCY", help_heading = RATE)]
    pub concurrency: Option<u32>,

    /// Request encoding (config: [api] body) [default: json].
    #[arg(long, value_enum, help_heading = ZOOM)]
    pub body: Option<BodyFormat>,

    /// Read and check every row, send nothing; needs no credentials [default: off].
    #[arg(long, help_heading = SAFETY)]
    pub dry_run: bool,

    /// Continue the run recorded in --report: skip users already final, retry the rest.
    /// The report must exist (else exit 2; see --resume-or-start) and have been written
    /// for this input file [default: off; a new report is started].
    #[arg(long, requires = "report", help_heading = SAFETY)]
    pub resume: bool,

    /// Like --resume, but start a new report when --report does not exist yet: for cron
    /// and systemd jobs, whose first run of the day creates the day's report. A plain
    /// --resume on a missing report is refused (exit 2), so a mistyped path cannot
    /// change everyone again [default: off].
    #[arg(long, requires = "report", help_heading = SAFETY)]
    pub resume_or_start: bool,

    /// Run against the built-in Zoom simulator (in-process, loopback, configured by
    /// [simulator]); needs no credentials [default: off].
    #[arg(long, help_heading = ZOOM)]
    pub simulate: bool,

    /// Make a strong random password per user, no password column needed (config:
    /// [generate] length) [default: off; passwords come from the input].
    #[arg(long, help_heading = INPUT)]
    pub generate: bool,

    /// With --generate: where the new passwords go (mode 0600, each written and synced
    /// before it is sent) [default: none; this or --discard-passwords is required].
    #[arg(long, value_name = "PATH", requires = "generate", help_heading = INPUT)]
    pub generated_out: Option<PathBuf>,

    /// With --generate: keep no copy at all (incident lock-out; users recover through
    /// "forgot password") [default: off].
    #[arg(long, requires = "generate", conflicts_with = "generated_out", help_heading = INPUT)]
    pub discard_passwords: bool,

    /// The header of the user column (config: [input] user_column) [default: the first
    /// header named user_id, userId, id or email, in any case].
    #[arg(long, value_name = "NAME", help_heading = INPUT)]
    pub user_column: Option<String>,

    /// The header of the password column (config: [input] password_column) [default:
    /// password].
    #[arg(long, value_name = "NAME", help_heading = INPUT)]
    pub password_column: Option<String>,

    /// The field delimiter: comma, semicolon, tab, or one ASCII character [default: the
    /// one of comma, semicolon and tab the header row holds most of].
    #[arg(long, value_name = "CHAR", help_heading = INPUT)]
    pub delimiter: Option<String>,

    /// The input's encoding when it has no byte-order mark: utf-8, windows-1252 (also
    /// latin1, iso-8859-1), utf-16le, utf-16be, or another WHATWG label [default: utf-8;
    /// a UTF-8 or UTF-16 byte-order mark always decides].
    #[arg(long, value_name = "LABEL", help_heading = INPUT)]
    pub encoding: Option<String>,

    /// Don't read the account's password rules; check Zoom's basic rules only
    /// [default: off; the rules are read, which needs scope account:read:admin].
    #[arg(long, help_heading = ZOOM)]
    pub no_fetch_policy: bool,

    /// Stop (exit 3) after N consecutive rows fail the same way (same outcome, HTTP
    /// status and Zoom code); 0 turns it off (config: [run] max_failures) [default: 20].
    #[arg(long, value_name = "N", help_heading = SAFETY)]
    pub max_failures: Option<u32>,

    /// Where the per-user report goes: CSV, or JSON Lines when the path ends in .jsonl.
    /// An existing report is refused unless --resume is given
    /// [default: <[report] dir>/rotation-<UTC timestamp>.csv, dir reports].
    #[arg(short, long, value_name = "PATH", env = "ZOOM_ROTATE_REPORT", help_heading = OUTPUT)]
    pub report: Option<PathBuf>,

    /// stderr log format: text, or json (one JSON object a line, no progress bar, and the
    /// summary on stdout as one JSON object) (config: [run] log_format) [default: text].
    #[arg(long, value_enum, value_name = "FORMAT", help_heading = OUTPUT)]
    pub log_format: Option<LogFormat>,

    /// Don't ask for confirmation on a terminal [default: ask when stdin is a terminal
    /// and the input has more than [run] confirm_above rows (100)].
    #[arg(short, long, help_heading = SAFETY)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on (loopback unless you mean to share it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// Config file whose [simulator] section sets the simulated account [default: the
    /// first of ./config.toml, $XDG_CONFIG_HOME/zoom-rotate/config.toml and
    /// /etc/zoom-rotate/config.toml that exists, else the demo account].
    #[arg(short, long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(
    long_about = "Show each user's latest state in a report (after any number of --resume \
        runs), the count per outcome, what remains and why, when rows held by Zoom's \
        24-hour change limit may be tried again, and the command that continues.\n\n\
        Exit codes: 0 every user's latest state is changed; 1 some user's is not; 2 the \
        report cannot be read."
)]
pub struct StatusArgs {
    /// The report of a run (CSV, or JSON Lines when the path ends in .jsonl).
    pub report: PathBuf,

    /// Output: text for people, csv (one row per user) or json (one object) for scripts
    /// [default: text].
    #[arg(long, value_enum, default_value = "text", hide_default_value = true)]
    pub format: StatusFormat,

    /// List only these users (the counts still cover everyone) [default: every user].
    #[arg(long, value_enum, value_name = "WHICH")]
    pub only: Option<Only>,
}

/// How `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    /// A table for people: every user, the counts, what remains and the next command.
    Text,
    /// One row per user (the report's columns plus `remaining` and `retryable_at`).
    Csv,
    /// One JSON object: counts, remaining, the resume command and every user's state.
    Json,
}

/// Which users `status` lists (the counts always cover every user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    /// Users a `--resume` would try again.
    Remaining,
}

/// The completion script for `shell`, in memory (clap_complete panics on a failed write,
/// so the caller writes it).
///
/// Bash needs a fix-up: clap_complete (4.6.12 and before, clap issue 6421) labels the
/// case arms of a hyphenated binary's subcommands `zoom__subcmd__rotate__subcmd__run`
/// while its own dispatch loop arrives at `zoom__rotate__subcmd__run`, so nothing below
/// the top level ever completed. Relabelling the arms the way the loop spells them is a
/// no-op once upstream agrees with itself; the operator tests run the script in bash.
pub fn render_completions(shell: clap_complete::Shell) -> Vec<u8> {
    use clap::CommandFactory;
    const BIN: &str = "zoom-rotate";
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN, &mut script);
    if shell != clap_complete::Shell::Bash {
        return script;
    }
    let text = String::from_utf8_lossy(&script);
    let mislabelled = BIN.replace('-', "__subcmd__");
    let loop_label = BIN.replace('-', "__");
    text.replace(&mislabelled, &loop_label).into_bytes()
}

/// The man page: clap_mangen's sections for the program, then each command with its
/// options, and the environment, files and exit status a cron job or runbook relies on.
/// One page rather than one per subcommand, so `zoom-rotate man > zoom-rotate.1` is the
/// whole install.
pub fn render_man(w: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    use clap_mangen::roff::{bold, roman, Roff};
    let mut cmd = Cli::command();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    man.render_options_section(w)?;

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
    roff.to_writer(w)?;

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

    let mut roff = Roff::new();
    let section = |roff: &mut Roff, title: &str, entries: &[(&str, &str)]| {
        roff.control("SH", [title]);
        for (term, text) in entries {
            roff.control("TP", []);
            roff.text([bold(*term)]);
            roff.text([roman(*text)]);
        }
    };
    section(
        &mut roff,
        "ENVIRONMENT",
        &[
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
        ],
    );
    section(
        &mut roff,
        "FILES",
        &[
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
        ],
    );
    section(
        &mut roff,
        "EXIT STATUS",
        &[
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
        ],
    );
    roff.to_writer(w)?;
    man.render_version_section(w)
}
