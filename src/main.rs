//! The thin binary: parse the command line, read and resolve the settings once, set up
//! logging, run one command, and turn its [`Exit`] into the process exit code, here and
//! nowhere else (0 all changed, 1 some did not, 2 nothing attempted, 3 stopped early).

use clap::Parser;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::SystemTime;
use zoom_rotate::cli::{Cli, Command, LogFormat, RunArgs};
use zoom_rotate::output::context::{refusal_code, unparsed, wants_json, RunContext};
use zoom_rotate::output::summary;
use zoom_rotate::settings::{FileConfig, Settings};
use zoom_rotate::vocab::stop::{on_signals, Stop};
use zoom_rotate::vocab::{Exit, RefusalCode};
use zoom_rotate::zoom::auth::Credentials;

/// Notes whether fd 1 was closed (`>&-`) before std's start-up reopens it on /dev/null,
/// after which nothing can tell (see `output::summary::to_stdout`). glibc and musl run
/// `.init_array` entries before `main`, with the descriptors the process was given.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static NOTE_STDOUT: extern "C" fn() = note_stdout;

#[cfg(target_os = "linux")]
extern "C" fn note_stdout() {
    // SAFETY: F_GETFD only reads the descriptor's flags; -1 (EBADF) means it is closed.
    if unsafe { libc::fcntl(1, libc::F_GETFD) } == -1 {
        summary::note_stdout_closed();
    }
}

fn main() -> ExitCode {
    let started_at = SystemTime::now();
    let argv: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            // A refused `run` command line still owes a monitor its one JSON summary.
            if e.use_stderr() && wants_json(&argv) {
                let words = e.render().to_string();
                let first = words.lines().next().unwrap_or_default();
                let ctx = unparsed(&argv, started_at);
                print_json(&summary::refused(
                    first.trim_start_matches("error: "),
                    RefusalCode::Usage,
                    &ctx,
                ));
            }
            e.exit()
        }
    };
    let exit = match cli.command {
        Command::Completions { shell } => written(
            "the completions",
            &zoom_rotate::cli::render_completions(shell),
        ),
        Command::Man => {
            let mut page = Vec::new();
            match zoom_rotate::cli::render_man(&mut page) {
                Ok(()) => written("the man page", &page),
                Err(e) => fail(&format!("cannot render the man page: {e}")),
            }
        }
        Command::Status(args) => status(&args),
        Command::Evidence(args) => match args.action {
            zoom_rotate::cli::EvidenceAction::Verify { dir } => {
                zoom_rotate::commands::evidence::verify_command(&dir)
            }
        },
        Command::Simulate(args) => simulate(&args, cli.verbose),
        Command::Users(args) => {
            zoom_rotate::output::logs::init(cli.verbose, LogFormat::Text, false);
            let result = block_on(async {
                let stop = Stop::new();
                on_signals(stop.clone());
                zoom_rotate::commands::users::run(&args, Credentials::from_env(), stop).await
            });
            match result {
                Ok(r) => r.exit_code,
                Err(e) => fail(&format!("{e:#}")),
            }
        }
        Command::Run(args) => run(&args, cli.verbose, &argv, started_at),
    };
    exit.into()
}

/// `zoom-rotate run`: config.toml read once and the settings resolved once, before
/// logging starts (its format may come from the file); then the run.
fn run(args: &RunArgs, verbose: u8, argv: &[String], started_at: SystemTime) -> Exit {
    let (file, resolved) = match FileConfig::load(args.zoom.config.as_deref()) {
        Ok(file) => {
            let resolved = Settings::resolve(args, &file).map_err(anyhow::Error::from);
            (Some(file), resolved)
        }
        Err(e) => (None, Err(e.into())),
    };
    let settings = match resolved {
        Ok(s) => s,
        Err(e) => {
            // The format the settings would have had: the flag, else a readable file's.
            let format = args
                .log_format
                .or_else(|| file.and_then(|f| f.run.log_format))
                .unwrap_or(LogFormat::Text);
            zoom_rotate::output::logs::init(verbose, format, false);
            return refused(&e, format == LogFormat::Json, &unparsed(argv, started_at));
        }
    };
    let format = settings.log_format;
    zoom_rotate::output::logs::init(
        verbose,
        format,
        format == LogFormat::Text && std::io::stderr().is_terminal(),
    );
    let ctx = RunContext::of(&settings, started_at);
    let result = block_on(async {
        let stop = Stop::new();
        on_signals(stop.clone());
        let creds = Credentials::from_env();
        let disk = zoom_rotate::ledger::files::Disk::default();
        zoom_rotate::commands::run::execute(settings, &ctx, creds, stop, argv, disk).await
    });
    match result {
        Ok(r) => r.exit_code,
        Err(e) => refused(&e, format == LogFormat::Json, &ctx),
    }
}

/// A run refused before it started: the error on stderr, and with JSON logs one summary
/// on stdout with the refusal's machine word.
fn refused(e: &anyhow::Error, json: bool, ctx: &RunContext) -> Exit {
    tracing::error!("{e:#}");
    if json {
        print_json(&summary::refused(&format!("{e:#}"), refusal_code(e), ctx));
    }
    Exit::Refused
}

/// `zoom-rotate simulate`: the simulator until Ctrl-C.
fn simulate(args: &zoom_rotate::cli::SimulateArgs, verbose: u8) -> Exit {
    let file = match FileConfig::load(args.config.as_deref()) {
        Ok(f) => f,
        Err(e) => return fail(&format!("{e:#}")),
    };
    zoom_rotate::output::logs::init(verbose, LogFormat::Text, false);
    let result = block_on(zoom_rotate::simulator::serve_forever(
        file.simulator,
        args.listen,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    ));
    match result {
        Ok(()) => Exit::Done,
        Err(e) => fail(&format!("{e:#}")),
    }
}

/// `zoom-rotate status`: done when every user changed, unfinished when not, refused (2)
/// when the report, or a row of it, cannot be read (or the hand-out cannot be made).
fn status(args: &zoom_rotate::cli::StatusArgs) -> Exit {
    match zoom_rotate::commands::status::run(args, SystemTime::now()) {
        Ok(shown) => {
            for note in &shown.notes {
                eprintln!("zoom-rotate: {note}");
            }
            match written("the status", shown.stdout.as_bytes()) {
                Exit::Done => shown.exit,
                failed => failed,
            }
        }
        Err(e) => fail(&format!("{e:#}")),
    }
}

/// Writes `bytes` to stdout. A reader that closed the pipe early (`| head`) chose to stop
/// reading: that is no error. Any other failure is exit 2.
fn written(what: &str, bytes: &[u8]) -> Exit {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Exit::Done,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Done,
        Err(e) => fail(&format!("cannot write {what}: {e}")),
    }
}

/// One JSON object and a line end on stdout; a closed stdout is no reason to panic, but
/// worth a word on stderr, as for the summary of a run.
fn print_json(v: &serde_json::Value) {
    if let Err(e) = summary::to_stdout(&format!("{v}\n")) {
        tracing::warn!("the summary could not be written to standard output ({e})");
    }
}

fn fail(message: &str) -> Exit {
    eprintln!("zoom-rotate: error: {message}");
    Exit::Refused
}

/// Runs `work` to its end on a fresh runtime, then shuts the runtime down without
/// waiting long for blocking threads: by then the command has awaited everything it
/// needs, and the only one that may remain is an input reader a stop left stuck in
/// read(2) (standard input or a FIFO that sends nothing), which must not keep the
/// process alive (a runtime dropped the usual way waits for it forever).
fn block_on<F: std::future::Future>(work: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime");
    let out = rt.block_on(work);
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    out
}
