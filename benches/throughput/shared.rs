//! The shared-budget scenarios (issues 11 and 21): the job on a Pro account (20/s) while
//! other apps draw on the same budget (`[simulator] other_app_*`): HTTP clients of the
//! simulator on loopback, each request sent 25 + 0..50 ms after its evenly spaced slot,
//! counted at arrival like the job's (see `simulator::other_app`). The job's answers
//! take 50±25 ms too (25 ms + 0..50 ms).
//!
//! Per scenario: the share of the available budget the job used (its admitted requests
//! per second of wall time over B − q, q being the others' average draw), its own 429s
//! (count and share of its requests), every refusal the others got while the job ran
//! (count of their requests; `caused` is the part `neighbours` attributes to the job),
//! the others' refusals in a 10.5 s baseline before the job starts (the same apps on
//! their own), and the job's send rate after its first 10 s (requests, 429s included,
//! per second: the target for `--rate` far above the budget is at most 1.1 × B there).

use super::{scale, start_simulator, write_input};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Shared {
    pub name: &'static str,
    rows: u64,
    /// The others' steady draw, and a burst of `burst` every `every` seconds.
    qps: f64,
    burst: u32,
    every: f64,
    /// The job's own flags.
    flags: &'static [&'static str],
}

const BUDGET: f64 = 20.0;

const fn shared(
    name: &'static str,
    rows: u64,
    qps: f64,
    burst: u32,
    flags: &'static [&'static str],
) -> Shared {
    Shared {
        name,
        rows,
        qps,
        burst,
        every: 10.0,
        flags,
    }
}

const ALL: &[&str] = &["--plan", "pro", "--budget-share", "1"];

pub const SCENARIOS: &[Shared] = &[
    shared("shared-alone", 400, 0.0, 0, ALL),
    shared("shared-alone-default", 400, 0.0, 0, &["--plan", "pro"]),
    shared("shared-steady25", 400, 5.0, 0, ALL),
    shared("shared-steady50", 400, 10.0, 0, ALL),
    shared("shared-steady25-default", 400, 5.0, 0, &["--plan", "pro"]),
    shared("shared-bursty", 400, 0.0, 10, ALL),
    shared(
        "shared-far-above",
        600,
        0.0,
        0,
        &["--plan", "pro", "--rate", "200", "--rate-above-plan"],
    ),
];

pub fn table(exe: &str, only: Option<&[String]>) {
    println!(
        "\n{:<24} {:>5} {:>10} {:>7} {:>6} {:>10} {:>20} {:>7} {:>13} {:>10}",
        "shared scenario",
        "rows",
        "others",
        "wall s",
        "used",
        "own 429s",
        "others refused",
        "caused",
        "alone refused",
        "after 10 s"
    );
    for s in SCENARIOS {
        if only.is_some_and(|o| !o.iter().any(|n| n == s.name)) {
            continue;
        }
        let out = Command::new(exe)
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
}

fn stats(rt: &tokio::runtime::Runtime, api: &str) -> serde_json::Value {
    rt.block_on(async {
        reqwest::get(format!("{api}/_sim/stats"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

fn pct(part: u64, whole: u64) -> f64 {
    part as f64 * 100.0 / whole.max(1) as f64
}

pub fn child(s: &Shared) {
    let rows = scale(s.rows);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("users.csv");
    write_input(&input, rows);
    let report = dir.path().join("report.csv");
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "[api]\ntimeout_secs = 30\n").unwrap();
    let (mut sim, api): (_, String) = start_simulator(
        dir.path(),
        &format!(
            "[simulator]\ngenerate_users = {rows}\nplan = \"pro\"\nlatency_ms = 25\njitter_ms = 50\nchange_limit_24h = 0\npassword_history = 0\nseed = 7\nother_app_qps = {:?}\nother_app_burst = {}\nother_app_burst_every_secs = {:?}\n",
            s.qps, s.burst, s.every
        ),
    );
    let mut words: Vec<String> = ["zoom-rotate", "run"]
        .iter()
        .map(|w| w.to_string())
        .collect();
    words.push(input.display().to_string());
    for w in [
        "--report",
        &report.display().to_string(),
        "--config",
        &config.display().to_string(),
    ] {
        words.push(w.to_string());
    }
    words.extend(["--yes", "--max-failures", "0", "--base-url"].map(String::from));
    words.push(format!("{api}/v2"));
    words.extend(s.flags.iter().map(|f| f.to_string()));
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
    // Let the others' draw fill its second first: the job joins an account in use. Then
    // the baseline: what the others' own jitter costs them with no job (a burst included).
    std::thread::sleep(Duration::from_millis(1_100));
    let baseline = stats(&rt, &api);
    if s.qps > 0.0 || s.burst > 0 {
        std::thread::sleep(Duration::from_millis(10_500));
    }
    let before = stats(&rt, &api);
    let started = Instant::now();
    let at_10s = {
        let api = api.clone();
        rt.spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let v: serde_json::Value = reqwest::get(format!("{api}/_sim/stats"))
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            Some((Instant::now(), n(&v, "password_puts")))
        })
    };
    let result = rt
        .block_on(zoom_rotate::commands::run::run(
            &args,
            creds,
            zoom_rotate::vocab::stop::Stop::new(),
            &words,
        ))
        .expect("run completes");
    let wall = started.elapsed();
    let ended = Instant::now();
    let after = stats(&rt, &api);
    let at_10s = rt.block_on(at_10s).ok().flatten();
    let _ = sim.kill();
    let _ = sim.wait();
    let changed = result.tally.get(zoom_rotate::vocab::Outcome::Changed);
    if changed != rows {
        eprintln!(
            "{}: only {changed} of {rows} rows changed: {:?}",
            s.name, result.tally
        );
    }
    let own = n(&after, "password_puts") + n(&after, "settings_gets");
    let own_429 = n(&after, "rate_limited_qps");
    let others = n(&after, "other_app_requests") - n(&before, "other_app_requests");
    let caused =
        n(&after, "other_app_rate_limited_by_job") - n(&before, "other_app_rate_limited_by_job");
    let refused = n(&after, "other_app_rate_limited") - n(&before, "other_app_rate_limited");
    let alone = n(&before, "other_app_requests") - n(&baseline, "other_app_requests");
    let alone_refused =
        n(&before, "other_app_rate_limited") - n(&baseline, "other_app_rate_limited");
    let available = BUDGET - s.qps - f64::from(s.burst) / s.every;
    let used = (own - own_429) as f64 / wall.as_secs_f64() / available;
    let late_rate = at_10s.map(|(t, puts)| {
        (n(&after, "password_puts") - puts) as f64 / ended.duration_since(t).as_secs_f64().max(1e-3)
    });
    let others_text = match (s.qps > 0.0, s.burst) {
        (false, 0) => "none".to_string(),
        (true, 0) => format!("{}/s", s.qps),
        (false, b) => format!("{b} per {}s", s.every),
        (true, b) => format!("{}/s+{b}/{}s", s.qps, s.every),
    };
    let of = |part: u64, whole: u64| match whole {
        0 => "-".to_string(),
        _ => format!("{part} of {whole} ({:.1}%)", pct(part, whole)),
    };
    println!(
        "ROW {:<24} {:>5} {:>10} {:>7.2} {:>6.3} {:>10} {:>20} {:>7} {:>13} {:>10}",
        s.name,
        rows,
        others_text,
        wall.as_secs_f64(),
        used,
        format!("{own_429} ({:.1}%)", pct(own_429, own)),
        of(refused, others),
        if others == 0 {
            "-".to_string()
        } else {
            caused.to_string()
        },
        if alone == 0 {
            "-".to_string()
        } else {
            format!("{alone_refused} of {alone}")
        },
        late_rate.map_or("-".to_string(), |r| format!("{r:.1}/s")),
    );
}
