//! `cargo bench --bench throughput`: how close the job gets to Zoom's rate budget, and
//! what it costs the machine. Prints one table row per scenario.
//!
//! Each scenario runs in a fresh child process (this same executable, re-run with
//! `--scenario NAME`), so its peak RSS and CPU time are its own. The child runs the real
//! pipeline in-process (`zoom_rotate::commands::run::run`) against the real simulator served by the
//! `zoom-rotate simulate` binary in a third process: the simulator's CPU is kept out of
//! the client's figures, and the budget is counted by the simulator's sliding one-second
//! window, exactly as in the tests. A second table (`shared`) puts other apps on the
//! same account and shows how the job shares the budget. `BENCH_ONLY=name1,name2` runs a subset;
//! `BENCH_SCALE=0.1` shrinks every row count (for a quick look, not for figures).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Scenario {
    name: &'static str,
    rows: u64,
    /// The job's rate and the simulator's budget (0: unlimited).
    budget: u32,
    latency_ms: u64,
    jitter_ms: u64,
    dry_run: bool,
}

const fn live(name: &'static str, rows: u64, budget: u32, latency_ms: u64) -> Scenario {
    Scenario {
        name,
        rows,
        budget,
        latency_ms,
        jitter_ms: latency_ms / 2,
        dry_run: false,
    }
}

const SCENARIOS: &[Scenario] = &[
    live("free-20ms", 60, 2, 20),
    live("free-250ms", 60, 2, 250),
    live("pro-20ms", 600, 20, 20),
    live("pro-250ms", 600, 20, 250),
    live("pro-1s", 600, 20, 1000),
    live("business-20ms", 1_800, 60, 20),
    live("business-250ms", 1_800, 60, 250),
    live("custom500-20ms", 10_000, 500, 20),
    live("custom500-250ms", 10_000, 500, 250),
    Scenario {
        name: "dry-run-1M",
        rows: 1_000_000,
        budget: 0,
        latency_ms: 0,
        jitter_ms: 0,
        dry_run: true,
    },
    live("unlimited-1M", 1_000_000, 0, 0),
];

#[path = "throughput/shared.rs"]
mod shared;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--scenario") {
        let name = &args[i + 1];
        if let Some(s) = shared::SCENARIOS.iter().find(|s| s.name == name) {
            shared::child(s);
            return;
        }
        let s = SCENARIOS
            .iter()
            .find(|s| s.name == name)
            .expect("known scenario");
        child(s);
        return;
    }
    let only: Option<Vec<String>> = std::env::var("BENCH_ONLY")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    println!(
        "{:<16} {:>9} {:>7} {:>9} {:>9} {:>9} {:>6} {:>6} {:>10} {:>9}",
        "scenario",
        "rows",
        "budget",
        "latency",
        "wall s",
        "ideal s",
        "util",
        "429s",
        "cpu µs/row",
        "peak MiB"
    );
    for s in SCENARIOS {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == s.name))
        {
            continue;
        }
        let out = Command::new(&args[0])
            .args(["--scenario", s.name])
            .stderr(Stdio::inherit())
            .output()
            .expect("run scenario");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(row) = line.strip_prefix("ROW ") {
                println!("{row}");
            }
        }
        std::io::stdout().flush().ok();
    }
    shared::table(&args[0], only.as_deref());
    first_request_latency();
}

pub(crate) fn scale(rows: u64) -> u64 {
    let f: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    ((rows as f64 * f) as u64).max(10)
}

/// A password that passes Zoom's basic rules, unique per `n`.
fn password(n: u64) -> String {
    let letters = b"bcdfghjkmnpqrstvwxz";
    let mut s = String::from("Qv");
    let mut k = n;
    loop {
        s.push(letters[(k % letters.len() as u64) as usize] as char);
        k /= letters.len() as u64;
        if k == 0 {
            break;
        }
    }
    s.push_str("-7R-Mk");
    s
}

pub(crate) fn write_input(path: &Path, rows: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "email,password").unwrap();
    for n in 1..=rows {
        writeln!(f, "user{n}@example.com,{}", password(n)).unwrap();
    }
}

/// Starts `zoom-rotate simulate` with `config` and returns it and its base address.
pub(crate) fn start_simulator(dir: &Path, config: &str) -> (Child, String) {
    let cfg = dir.join("sim.toml");
    std::fs::write(&cfg, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_zoom-rotate"))
        .args(["simulate", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("simulator starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let api = first.rsplit(' ').next().unwrap().to_string();
    // Keep draining its stdout so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, api)
}

fn rusage() -> (Duration, u64) {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (tv(u.ru_utime) + tv(u.ru_stime), u.ru_maxrss as u64 * 1024)
}

fn child(s: &Scenario) {
    let rows = scale(s.rows);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("users.csv");
    write_input(&input, rows);
    let report = dir.path().join("report.csv");
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "[api]\ntimeout_secs = 30\n").unwrap();
    let qps = if s.budget == 0 { 1_000_000 } else { s.budget };
    let rate = if s.budget == 0 {
        100_000.0
    } else {
        s.budget as f64
    };
    let (mut sim, api) = if s.dry_run {
        (None, String::new())
    } else {
        let (c, a) = start_simulator(
            dir.path(),
            &format!(
                "[simulator]\ngenerate_users = {rows}\nplan = \"business\"\nqps = {qps}\nlatency_ms = {}\njitter_ms = {}\nchange_limit_24h = 0\npassword_history = 0\nseed = 7\n",
                s.latency_ms, s.jitter_ms
            ),
        );
        (Some(c), a)
    };
    let mut words: Vec<String> = vec![
        "zoom-rotate".into(),
        "run".into(),
        input.display().to_string(),
        "--report".into(),
        report.display().to_string(),
        "--config".into(),
        config.display().to_string(),
        "--rate".into(),
        rate.to_string(),
        "--yes".into(),
        "--max-failures".into(),
        "0".into(),
    ];
    // The plan whose budget the scenario's is; the custom and unlimited budgets are above
    // every plan, which the job must be told (issue 11).
    words.extend(match s.budget {
        2 => vec!["--plan".into(), "free".into()],
        20 => vec!["--plan".into(), "pro".into()],
        60 => vec!["--plan".into(), "business".into()],
        _ => vec![
            "--plan".into(),
            "business".into(),
            "--rate-above-plan".into(),
        ],
    });
    if s.dry_run {
        // The reader and the checks alone, as this scenario always measured: no Zoom to ask.
        words.push("--dry-run".into());
        words.push("--offline".into());
    } else {
        words.extend(["--base-url".into(), format!("{api}/v2")]);
    }
    let cli = <zoom_rotate::cli::Cli as clap::Parser>::parse_from(&words);
    let zoom_rotate::cli::Command::Run(args) = cli.command else {
        unreachable!()
    };
    let creds = zoom_rotate::zoom::auth::Credentials {
        access_token: Some(secrecy::SecretString::from("sim-token".to_string())),
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (cpu0, _) = rusage();
    let started = Instant::now();
    let result = rt
        .block_on(zoom_rotate::commands::run::run(
            &args,
            creds,
            zoom_rotate::vocab::stop::Stop::new(),
            &words,
        ))
        .expect("run completes");
    let wall = started.elapsed();
    let (cpu1, peak) = rusage();
    let throttled = match &api {
        a if a.is_empty() => 0,
        a => rt.block_on(async {
            let v: serde_json::Value = reqwest::get(format!("{a}/_sim/stats"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["rate_limited_qps"].as_u64().unwrap_or(0)
                + v["rate_limited_concurrent"].as_u64().unwrap_or(0)
        }),
    };
    if let Some(c) = sim.as_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
    let expected = if s.dry_run {
        zoom_rotate::vocab::Outcome::DryRun
    } else {
        zoom_rotate::vocab::Outcome::Changed
    };
    let done = result.tally.get(expected);
    if done != rows {
        eprintln!(
            "{}: only {done} of {rows} rows ended {expected}: {:?}",
            s.name, result.tally
        );
    }
    let ideal = if s.budget == 0 {
        None
    } else {
        Some(rows as f64 / s.budget as f64)
    };
    println!(
        "ROW {:<16} {:>9} {:>7} {:>9} {:>9.2} {:>9} {:>6} {:>6} {:>10.1} {:>9.1}",
        s.name,
        rows,
        if s.budget == 0 {
            "none".to_string()
        } else {
            format!("{}/s", s.budget)
        },
        if s.dry_run {
            "-".to_string()
        } else {
            format!("{}+{}ms", s.latency_ms, s.jitter_ms)
        },
        wall.as_secs_f64(),
        ideal.map_or("-".to_string(), |i| format!("{i:.2}")),
        ideal.map_or("-".to_string(), |i| format!(
            "{:.3}",
            i / wall.as_secs_f64()
        )),
        throttled,
        (cpu1 - cpu0).as_secs_f64() * 1e6 / rows as f64,
        peak as f64 / (1024.0 * 1024.0),
    );
}

/// Time from spawning the binary to the first request arriving at a server: start-up
/// work the operator waits through before anything happens.
fn first_request_latency() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("users.csv");
    write_input(&input, 20_000);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut samples = Vec::new();
    for i in 0..5 {
        let report = dir.path().join(format!("r{i}.csv"));
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_zoom-rotate"))
            .args([
                "run",
                input.to_str().unwrap(),
                "--yes",
                "--no-fetch-policy",
                "--report",
            ])
            .arg(&report)
            .args([
                "--base-url",
                &format!("http://127.0.0.1:{port}/v2"),
                "--config",
                "/dev/null",
            ])
            .env("ZOOM_ACCESS_TOKEN", "bench-token")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (_conn, _) = listener.accept().unwrap();
        samples.push(started.elapsed());
        let _ = child.kill();
        let _ = child.wait();
    }
    samples.sort();
    println!(
        "first request on the wire after spawn (20,000-row input, median of 5): {:.1} ms",
        samples[2].as_secs_f64() * 1000.0
    );
}
