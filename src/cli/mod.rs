//! The command line, exactly as CONTRACT.md promises it, parsed by clap's derive API.
//!
//! Conventions (cron jobs and runbooks script against these, so they only grow):
//! - every flag of the contract keeps its name and short form; new flags are additions;
//! - settings that also live in config.toml are `Option`s here, so "not given" falls
//!   through to the environment, then config.toml, then the default (see `config`);
//! - each flag's help names its default; credentials never appear here, only in the
//!   environment.

mod man;
mod users;

pub use man::render_man;

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
    /// Check an evidence folder (`run --evidence DIR`) against its SHA256SUMS.
    Evidence(EvidenceArgs),
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
  Check every row and the plan with Zoom (the token, the password rules), send no password:
    zoom-rotate run users.csv --dry-run
  Rotate at half the Pro budget, into a dated report (one report per campaign):
    zoom-rotate run users.csv --rate 10 --report reports/rotation-2026-12-06.csv
  Continue after Ctrl-C, a daily limit or a failure, then see what remains:
    zoom-rotate run users.csv --resume --report reports/rotation-2026-12-06.csv
    zoom-rotate status reports/rotation-2026-12-06.csv";

/// The flags every command that talks to Zoom shares (`run` and `users`): the config
/// file, where to send, the plan and the rate, the simulator. Each command flattens them,
/// so the two resolve them by one function and never parse each other's command line.
#[derive(Debug, Clone, Args)]
pub struct ZoomArgs {
    /// Config file (see config.toml in the repository for every key) [default: ./config.toml
    /// when present, else $XDG_CONFIG_HOME/zoom-rotate/config.toml (~/.config when unset),
    /// else /etc/zoom-rotate/config.toml, else built-in defaults].
    #[arg(display_order = 1, short, long, value_name = "PATH", help_heading = INPUT)]
    pub config: Option<PathBuf>,

    /// API base URL: https, or http to loopback only (config: [api] base_url)
    /// [default: the OAuth token's api_url, else https://api.zoom.us/v2].
    #[arg(display_order = 10, long, value_name = "URL", env = "ZOOM_BASE_URL", help_heading = ZOOM)]
    pub base_url: Option<String>,

    /// Server-to-Server OAuth token URL (config: [api] token_url)
    /// [default: https://zoom.us/oauth/token].
    #[arg(display_order = 11, long, value_name = "URL", env = "ZOOM_TOKEN_URL", help_heading = ZOOM)]
    pub token_url: Option<String>,

    /// Zoom's Medium-label budget: free 2/s (and 2000/day), pro 20/s, business 60/s
    /// (also for education, enterprise and partner accounts) (config: [rate] plan)
    /// [default: pro].
    #[arg(display_order = 20, long, value_enum, env = "ZOOM_ROTATE_PLAN", help_heading = RATE)]
    pub plan: Option<Plan>,

    /// Requests per second for this job, 0.01 to 100000, at most the plan's budget (see
    /// --rate-above-plan); overrides --plan and --budget-share. The job slows down on its
    /// own when other apps need more of the account's budget (config: [rate] rate)
    /// [default: the plan's budget × --budget-share].
    #[arg(display_order = 21, long, value_name = "PER_SECOND", env = "ZOOM_ROTATE_RATE", help_heading = RATE)]
    pub rate: Option<f64>,

    /// Run against the built-in Zoom simulator (in-process, loopback, configured by
    /// [simulator]); needs no credentials [default: off].
    #[arg(display_order = 13, long, help_heading = ZOOM)]
    pub simulate: bool,
}

#[derive(Debug, Args)]
#[command(after_help = RUN_EXAMPLES)]
pub struct RunArgs {
    /// A CSV file of users and new passwords, or - for standard input.
    pub input: PathBuf,

    /// Where to send and how fast, shared with `users`.
    #[command(flatten)]
    pub zoom: ZoomArgs,

    /// The share of the account's Medium budget this job may take, 0.01 to 1: the rest is
    /// left to the other apps on the account; 1 takes all of it (an incident). Ignored
    /// when --rate is given (config: [rate] share) [default: 0.8].
    #[arg(display_order = 22, long, value_name = "SHARE", env = "ZOOM_ROTATE_BUDGET_SHARE", help_heading = RATE)]
    pub budget_share: Option<f64>,

    /// Allow a --rate above the plan's Medium budget (an account with a larger, custom
    /// budget); without it such a rate is refused, exit 2. The job still starts at the
    /// plan's budget and goes faster only while Zoom admits it (config: [rate]
    /// allow_above_plan) [default: off].
    #[arg(display_order = 23, long, help_heading = RATE)]
    pub rate_above_plan: bool,

    /// Most requests in flight at once, 1 to 4096 (config: [rate] concurrency)
    /// [default: enough to fill the rate at the latency observed, at most
    /// [rate] max_concurrency (256)].
    #[arg(display_order = 24, long, value_name = "N", env = "ZOOM_ROTATE_CONCURRENCY", help_heading = RATE)]
    pub concurrency: Option<u32>,

    /// Request encoding (config: [api] body) [default: json].
    #[arg(display_order = 12, long, value_enum, help_heading = ZOOM)]
    pub body: Option<BodyFormat>,

    /// Read and check every row, send nothing: no password leaves. It asks Zoom what a
    /// real run would: the token (refused credentials are exit 2) and the account's
    /// password rules, applied to every row; a user a listing shows without a work-email
    /// login (login_types) is refused. Needs the credentials a real run needs, or
    /// --simulate; --offline checks the file alone [default: off].
    #[arg(display_order = 29, long, help_heading = SAFETY)]
    pub dry_run: bool,

    /// With --dry-run: ask Zoom nothing (no token, no settings read), check the file
    /// against Zoom's basic password rules only; needs no credentials. It cannot tell a
    /// wrong token or an account's stricter rules [default: off; a dry run asks Zoom].
    #[arg(display_order = 30, long, requires = "dry_run", help_heading = SAFETY)]
    pub offline: bool,

    /// Continue the run recorded in --report: skip users already final, retry the rest.
    /// The report must exist (else exit 2; see --resume-or-start) and have been written
    /// for this input file [default: off; a new report is started].
    #[arg(display_order = 31, long, requires = "report", help_heading = SAFETY)]
    pub resume: bool,

    /// Like --resume, but start a new report when --report does not exist yet: for cron
    /// and systemd jobs, whose first run of the day creates the day's report. A plain
    /// --resume on a missing report is refused (exit 2), so a mistyped path cannot
    /// change everyone again [default: off].
    #[arg(display_order = 32, long, requires = "report", help_heading = SAFETY)]
    pub resume_or_start: bool,

    /// Make a strong random password per user, no password column needed (config:
    /// [generate] length) [default: off; passwords come from the input].
    #[arg(display_order = 2, long, help_heading = INPUT)]
    pub generate: bool,

    /// With --generate: where the new passwords go (mode 0600, each written and synced
    /// before it is sent) [default: none; this or --discard-passwords is required].
    #[arg(display_order = 3, long, value_name = "PATH", requires = "generate", help_heading = INPUT)]
    pub generated_out: Option<PathBuf>,

    /// With --generate: keep no copy at all (incident lock-out; users recover through
    /// "forgot password") [default: off].
    #[arg(display_order = 4, long, requires = "generate", conflicts_with = "generated_out", help_heading = INPUT)]
    pub discard_passwords: bool,

    /// The header of the user column (config: [input] user_column) [default: the first
    /// header named user_id, userId, id or email, in any case].
    #[arg(display_order = 5, long, value_name = "NAME", help_heading = INPUT)]
    pub user_column: Option<String>,

    /// The header of the password column (config: [input] password_column) [default:
    /// password].
    #[arg(display_order = 6, long, value_name = "NAME", help_heading = INPUT)]
    pub password_column: Option<String>,

    /// The field delimiter: comma, semicolon, tab, or one ASCII character [default: the
    /// one of comma, semicolon and tab the header row holds most of].
    #[arg(display_order = 7, long, value_name = "CHAR", help_heading = INPUT)]
    pub delimiter: Option<String>,

    /// The input's encoding when it has no byte-order mark: utf-8, windows-1252 (also
    /// latin1, iso-8859-1), utf-16le, utf-16be, or another WHATWG label [default: utf-8;
    /// a UTF-8 or UTF-16 byte-order mark always decides].
    #[arg(display_order = 8, long, value_name = "LABEL", help_heading = INPUT)]
    pub encoding: Option<String>,

    /// Don't read the account's password rules; check Zoom's basic rules only
    /// [default: off; the rules are read, which needs scope account:read:admin].
    #[arg(display_order = 14, long, help_heading = ZOOM)]
    pub no_fetch_policy: bool,

    /// Stop (exit 3) after N consecutive rows fail the same way (same outcome, HTTP
    /// status and Zoom code); 0 turns it off (config: [run] max_failures) [default: 20].
    #[arg(display_order = 33, long, value_name = "N", help_heading = SAFETY)]
    pub max_failures: Option<u32>,

    /// Where the per-user report goes: CSV, or JSON Lines when the path ends in .jsonl.
    /// An existing report is refused unless --resume is given; the refusal suggests a
    /// new dated path. Date it (reports/rotation-$(date -u +%F).csv): one report per
    /// campaign [default: <[report] dir>/rotation-<UTC timestamp>.csv, dir reports,
    /// numbered -2, -3… when another run of the same second has that name].
    #[arg(display_order = 40, short, long, value_name = "PATH", env = "ZOOM_ROTATE_REPORT", help_heading = OUTPUT)]
    pub report: Option<PathBuf>,

    /// stderr log format: text, or json (one JSON object a line, no progress bar, and the
    /// summary on stdout as one JSON object) (config: [run] log_format) [default: text].
    #[arg(display_order = 41, long, value_enum, value_name = "FORMAT", help_heading = OUTPUT)]
    pub log_format: Option<LogFormat>,

    /// Write what the run did for Prometheus' node_exporter textfile collector to PATH
    /// (name it *.prom in the collector's directory): rows by outcome, requests, 429s,
    /// the exit code, start, end, duration, rate and the last successful run's end,
    /// replaced atomically at every exit once the settings are read. No user ID, no
    /// secret (config: [run] metrics_file) [default: none].
    #[arg(display_order = 46, long, value_name = "PATH", help_heading = OUTPUT)]
    pub metrics_file: Option<PathBuf>,

    /// With --generated-out: encrypt the new passwords to RECIPIENT (an age X25519
    /// recipient, age1…, or an SSH public key; repeatable). --generated-out then names a
    /// directory of age files (000001.age, …), each complete and synced before its
    /// requests are sent; no password is written in plaintext. Decrypt with
    /// `age -d -i key.txt FILE` [default: a plaintext 0600 CSV].
    #[arg(display_order = 47, long, value_name = "RECIPIENT", requires = "generated_out", help_heading = OUTPUT)]
    pub encrypt_to: Vec<String>,

    /// Like --encrypt-to, for each recipient in FILE (one a line; blank lines and # comments
    /// skipped, as `age -R` reads it) [default: none].
    #[arg(display_order = 48, long, value_name = "FILE", requires = "generated_out", help_heading = OUTPUT)]
    pub recipients_file: Option<PathBuf>,

    /// With --resume and an encrypted --generated-out: the age identity file to read it
    /// back, so users whose change may have applied are sent the same password again.
    /// Without it such a resume is refused; one with no such user goes on with fresh
    /// passwords [default: none].
    #[arg(display_order = 49, long, value_name = "FILE", requires = "generated_out", help_heading = OUTPUT)]
    pub identity: Option<PathBuf>,

    /// With --resume: continue a report only when its first run started at most DAYS
    /// ago, 1 to 3650; an older one is refused (exit 2), since its rows are likely another
    /// campaign's and would be skipped as done (config: [report] max_age_days)
    /// [default: 30, a month: room for the free plan's multi-day campaigns].
    #[arg(display_order = 35, long, value_name = "DAYS", help_heading = SAFETY)]
    pub max_report_age: Option<u32>,

    /// Don't ask for confirmation on a terminal [default: ask when stdin is a terminal
    /// and the input has more than [run] confirm_above rows (100)].
    #[arg(display_order = 34, short, long, help_heading = SAFETY)]
    pub yes: bool,

    /// Sign out the users Zoom keeps no password for (it answers 400/1123): an SSO user
    /// (login_types 101, or not listed) gets DELETE /users/{userId}/token on the Light
    /// budget and ends sso_revoked; a user who signs in at Google, Apple or Microsoft is
    /// told to end their sessions there. Without it such rows end rejected, saying so
    /// [default: off].
    #[arg(display_order = 36, long, help_heading = SAFETY)]
    pub contain_sso: bool,

    /// Keep evidence in DIR (created 0700, files 0600): before anything is sent, the
    /// targets as Zoom lists them and the sign-in activity report of --since; after the
    /// run, the report, its provenance, the summary, and last SHA256SUMS (check with
    /// `cd DIR && sha256sum -c SHA256SUMS` or `zoom-rotate evidence verify DIR`). A
    /// --resume adds to the same folder [default: none].
    #[arg(display_order = 37, long, value_name = "DIR", help_heading = SAFETY)]
    pub evidence: Option<PathBuf>,

    /// With --evidence: how far back the sign-in activity report goes, in days, 1 to 180
    /// (Zoom keeps six months) [default: 7].
    #[arg(display_order = 38, long, value_name = "DAYS", requires = "evidence", help_heading = SAFETY)]
    pub since: Option<u32>,
}

#[derive(Debug, Args)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    pub action: EvidenceAction,
}

#[derive(Debug, Subcommand)]
pub enum EvidenceAction {
    /// Check every file of DIR against its SHA256SUMS (as `sha256sum -c` does) and that
    /// no file was added. Exit 0 when it verifies, 1 when it does not.
    Verify {
        /// The evidence folder of a run.
        dir: PathBuf,
    },
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
        24-hour change limit may be tried again, and the command that continues. With \
        --handout, the new passwords of the users changed (and of no one else) go to a \
        new private file to hand out.\n\n\
        Exit codes: 0 every user's latest state is changed; 1 some user's is not (or a \
        changed user has no saved password for the hand-out); 2 the report cannot be \
        read, holds a row that cannot be read (each is listed with its line), or the \
        hand-out cannot be made."
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

    /// Write the new passwords of the users whose latest state is `changed`, and of no
    /// one else, to FILE: CSV user_id,email,password, created mode 0600, never
    /// overwritten. The passwords come from the run's --generated-out file (see
    /// --passwords); no password is printed [default: no hand-out].
    #[arg(long, value_name = "FILE")]
    pub handout: Option<PathBuf>,

    /// With --handout: the --generated-out file to take the passwords from [default: the
    /// one the report's run recorded in REPORT.meta].
    #[arg(long, value_name = "FILE", requires = "handout")]
    pub passwords: Option<PathBuf>,

    /// With --handout: encrypt the hand-out to RECIPIENT (an age recipient, age1…, or an
    /// SSH public key; repeatable): FILE is then an age file, decrypted with
    /// `age -d -i key.txt FILE` [default: a plaintext 0600 CSV].
    #[arg(long, value_name = "RECIPIENT", requires = "handout")]
    pub encrypt_to: Vec<String>,

    /// With --handout: like --encrypt-to, for each recipient in FILE (one a line)
    /// [default: none].
    #[arg(long, value_name = "FILE", requires = "handout")]
    pub recipients_file: Option<PathBuf>,

    /// With --handout: the age identity that reads an encrypted --generated-out directory
    /// [default: none: a plaintext file is read as it is].
    #[arg(long, value_name = "FILE", requires = "handout")]
    pub identity: Option<PathBuf>,
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
    /// Users whose latest state is neither `changed` nor `sso_revoked`: everyone an
    /// incident's review must look at, final `rejected` rows included.
    NotDone,
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
