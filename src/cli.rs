//! The command line, exactly as CONTRACT.md promises it, parsed by clap's derive API.
//!
//! Conventions (cron jobs and runbooks script against these, so they only grow):
//! - every flag of the contract keeps its name and short form; new flags are additions;
//! - settings that also live in config.toml are `Option`s here, so "not given" falls
//!   through to the environment, then config.toml, then the default (see `config`);
//! - each flag's help names its default; credentials never appear here, only in the
//!   environment.

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
    /// Print shell completions for SHELL.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Pro,
    Business,
}

impl Plan {
    /// Zoom's Medium-label budget for the plan, in requests per second (API-NOTES).
    pub fn medium_per_second(self) -> u32 {
        match self {
            Plan::Free => 2,
            Plan::Pro => 20,
            Plan::Business => 60,
        }
    }

    /// Zoom's Medium-label daily limit, where the plan has one.
    pub fn medium_per_day(self) -> Option<u64> {
        match self {
            Plan::Free => Some(2000),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Business => "business",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    /// `{"password": "..."}` as application/json, the official spec's encoding.
    Json,
    /// multipart/form-data with one `password` field, as the Postman seed sends it.
    Multipart,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A CSV file of users and new passwords, or - for standard input.
    pub input: PathBuf,

    /// Config file [default: ./config.toml when present, else built-in defaults].
    #[arg(short, long)]
    pub config: Option<PathBuf>,

    /// Where the per-user report goes; .jsonl for JSON Lines
    /// [default: reports/rotation-<UTC timestamp>.csv].
    #[arg(short, long, env = "ZOOM_ROTATE_REPORT")]
    pub report: Option<PathBuf>,

    /// API base URL [default: https://api.zoom.us/v2, or the OAuth token's api_url].
    #[arg(long, env = "ZOOM_BASE_URL")]
    pub base_url: Option<String>,

    /// Server-to-Server OAuth token URL [default: https://zoom.us/oauth/token].
    #[arg(long, env = "ZOOM_TOKEN_URL")]
    pub token_url: Option<String>,

    /// Zoom's Medium-label budget: free 2/s, pro 20/s, business 60/s [default: pro].
    #[arg(long, value_enum, env = "ZOOM_ROTATE_PLAN")]
    pub plan: Option<Plan>,

    /// Requests per second for this job; overrides --plan [default: the plan's budget].
    #[arg(long, env = "ZOOM_ROTATE_RATE")]
    pub rate: Option<f64>,

    /// Most requests in flight at once [default: enough to fill the rate at the latency
    /// observed, capped by config's max_concurrency].
    #[arg(long, env = "ZOOM_ROTATE_CONCURRENCY")]
    pub concurrency: Option<u32>,

    /// Request encoding [default: json].
    #[arg(long, value_enum)]
    pub body: Option<BodyFormat>,

    /// Read and check every row, send nothing; needs no credentials.
    #[arg(long)]
    pub dry_run: bool,

    /// Continue the run recorded in --report: skip users already final, retry the rest.
    #[arg(long, requires = "report")]
    pub resume: bool,

    /// Run against the built-in Zoom simulator (in-process, loopback); needs no credentials.
    #[arg(long)]
    pub simulate: bool,

    /// Make a strong random password per user (no password column needed).
    #[arg(long)]
    pub generate: bool,

    /// With --generate: where the new passwords go (mode 0600, each written before it is
    /// sent).
    #[arg(long, requires = "generate")]
    pub generated_out: Option<PathBuf>,

    /// With --generate: keep no copy at all (incident lock-out; users recover through
    /// "forgot password").
    #[arg(long, requires = "generate", conflicts_with = "generated_out")]
    pub discard_passwords: bool,

    /// Don't read the account's password rules; check the basic rules only.
    #[arg(long)]
    pub no_fetch_policy: bool,

    /// Stop (exit 3) after N consecutive rows fail the same way; 0 turns it off
    /// [default: 20].
    #[arg(long)]
    pub max_failures: Option<u32>,

    /// stderr log format [default: text].
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormat>,

    /// Don't ask for confirmation on a terminal.
    #[arg(short, long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to listen on [default: 127.0.0.1:8787].
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// Config file whose [simulator] section sets the simulated account
    /// [default: ./config.toml when present].
    #[arg(short, long)]
    pub config: Option<PathBuf>,
}
