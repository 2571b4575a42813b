//! The thin binary: parse the command line, set up logging, call the library, and map
//! the result to the contract's exit codes in one place (0 all changed, 1 some did not,
//! 2 nothing attempted, 3 stopped early).

use clap::Parser;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use zoom_rotate::cli::{Cli, Command, LogFormat};
use zoom_rotate::output::summary;
use zoom_rotate::settings::FileConfig;
use zoom_rotate::vocab::stop::{on_signals, Stop};
use zoom_rotate::zoom::auth::Credentials;

fn main() -> ExitCode {
    let started_at = std::time::SystemTime::now();
    let argv: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            // A refused `run` command line still owes a monitor its one JSON summary.
            if e.use_stderr() && summary::wants_json(&argv) {
                let words = e.render().to_string();
                let first = words.lines().next().unwrap_or_default();
                let ctx = summary::unparsed(&argv, started_at);
                print_json(&summary::refused(
                    first.trim_start_matches("error: "),
                    "usage",
                    &ctx,
                ));
            }
            e.exit()
        }
    };
    match cli.command {
        Command::Completions { shell } => {
            let script = zoom_rotate::cli::render_completions(shell);
            let mut out = std::io::stdout().lock();
            written(
                "the completions",
                out.write_all(&script).and_then(|()| out.flush()),
            )
        }
        Command::Man => {
            let mut out = std::io::stdout().lock();
            let result = zoom_rotate::cli::render_man(&mut out).and_then(|()| out.flush());
            written("the man page", result)
        }
        Command::Status(args) => status(&args),
        Command::Simulate(args) => {
            let file = match FileConfig::load(args.config.as_deref()) {
                Ok(f) => f,
                Err(e) => return fail(&format!("{e:#}")),
            };
            init_logging(cli.verbose, LogFormat::Text, false);
            let result = runtime().block_on(zoom_rotate::simulator::serve_forever(
                file.simulator,
                args.listen,
                async {
                    let _ = tokio::signal::ctrl_c().await;
                },
            ));
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&format!("{e:#}")),
            }
        }
        Command::Users(args) => {
            init_logging(cli.verbose, LogFormat::Text, false);
            let result = runtime().block_on(async {
                let stop = Stop::new();
                on_signals(stop.clone());
                zoom_rotate::commands::users::run(&args, Credentials::from_env(), stop).await
            });
            match result {
                Ok(r) => ExitCode::from(r.exit_code),
                Err(e) => fail(&format!("{e:#}")),
            }
        }
        Command::Run(args) => {
            // The log format can come from config.toml, so read it before logging starts;
            // `run` reads it again as part of the settings (errors are reported there).
            let format = args
                .log_format
                .or_else(|| {
                    FileConfig::load(args.config.as_deref())
                        .ok()
                        .and_then(|f| f.run.log_format)
                })
                .unwrap_or(LogFormat::Text);
            let bar = format == LogFormat::Text && std::io::stderr().is_terminal();
            init_logging(cli.verbose, format, bar);
            let ctx = summary::RunContext::of(&args, started_at);
            let rt = runtime();
            let result = rt.block_on(ctx.clone().scope(async {
                let stop = Stop::new();
                on_signals(stop.clone());
                zoom_rotate::commands::run::run(&args, Credentials::from_env(), stop, &argv).await
            }));
            match result {
                Ok(r) => ExitCode::from(r.exit_code),
                Err(e) => {
                    tracing::error!("{e:#}");
                    if format == LogFormat::Json {
                        let message = format!("{e:#}");
                        print_json(&summary::refused(&message, summary::refusal_code(&e), &ctx));
                    }
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// `zoom-rotate status`: 0 every user changed, 1 not, 2 the report cannot be read.
fn status(args: &zoom_rotate::cli::StatusArgs) -> ExitCode {
    use zoom_rotate::commands::status::{render, Status};
    let rendered = Status::load(&args.report).and_then(|s| {
        let text = render(
            &s,
            &args.report,
            args.format,
            args.only,
            std::time::SystemTime::now(),
        )?;
        Ok((s.exit_code(), text))
    });
    match rendered {
        Ok((code, text)) => {
            let mut out = std::io::stdout().lock();
            match written(
                "the status",
                out.write_all(text.as_bytes()).and_then(|()| out.flush()),
            ) {
                c if c == ExitCode::SUCCESS => ExitCode::from(code),
                c => c,
            }
        }
        Err(e) => fail(&format!("{e:#}")),
    }
}

/// The exit code after writing `what` to stdout. A reader that closed the pipe early
/// (`| head`) chose to stop reading: that is no error. Any other failure is exit 2.
fn written(what: &str, result: std::io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(&format!("cannot write {what}: {e}")),
    }
}

/// One JSON object and a line end on stdout; a closed stdout is no reason to panic.
fn print_json(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}").and_then(|()| out.flush());
}

fn fail(message: &str) -> ExitCode {
    eprintln!("zoom-rotate: error: {message}");
    ExitCode::from(2)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime")
}

/// stderr logging: `RUST_LOG` if set, else info (-v debug, -vv trace) for this crate and
/// warnings for its dependencies. Text shares stderr with the progress bar; JSON writes
/// one object a line (`monitor::JsonLog`) and never draws a bar.
fn init_logging(verbose: u8, format: LogFormat, bar: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn,zoom_rotate=info",
        1 => "warn,zoom_rotate=debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(zoom_rotate::pipeline::monitor::JsonLog)
                    .with_writer(std::io::stderr),
            )
            .init(),
        LogFormat::Text if bar => {
            let indicatif = tracing_indicatif::IndicatifLayer::new();
            registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_target(false)
                        .with_writer(indicatif.get_stderr_writer()),
                )
                .with(indicatif)
                .init()
        }
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .init(),
    }
}
