//! Self-documentation (`--help` for every flag of the contract, completions, the man
//! page, `--version`) and the repository's config.toml.

use super::*;

fn help_of(args: &[&str]) -> String {
    let out = bin().args(args).output().expect("binary runs");
    assert_eq!(out.status.code(), Some(0), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// An option's first line in clap's help (its possible values are indented further).
fn is_option_line(l: &str) -> bool {
    let t = l.trim_start();
    t.starts_with('-') && l.len() - t.len() <= 6
}

/// The help paragraph of the option whose line starts with `flag`, up to the next
/// option, with its line wrapping undone.
fn block(help: &str, flag: &str) -> Option<String> {
    let lines: Vec<&str> = help.lines().collect();
    let start = lines.iter().position(|l| {
        let t = l.trim_start();
        is_option_line(l) && t == flag
            || t.starts_with(&format!("{flag} "))
            || t.starts_with(&format!("{flag},"))
    })?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| is_option_line(l))
        .map_or(lines.len(), |n| start + 1 + n);
    Some(
        lines[start..end]
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

#[test]
fn run_help_explains_every_flag_of_the_contract_with_its_default() {
    let help = help_of(&["run", "--help"]);
    // (how the option line starts, the words its help must hold)
    let contract: &[(&str, &[&str])] = &[
        (
            "-c, --config <PATH>",
            &["[default: ./config.toml when present"],
        ),
        ("-r, --report <PATH>", &["[default:", ".jsonl"]),
        ("--base-url <URL>", &["[default:", "https://api.zoom.us/v2"]),
        (
            "--token-url <URL>",
            &["[default: https://zoom.us/oauth/token]"],
        ),
        ("--plan <PLAN>", &["[default: pro]", "free", "business"]),
        // Issue 11: the default is the plan's budget times --budget-share.
        (
            "--rate <PER_SECOND>",
            &["[default: the plan's budget × --budget-share]"],
        ),
        ("--concurrency <N>", &["[default:"]),
        ("--body <BODY>", &["[default: json]", "multipart"]),
        ("--dry-run", &["send nothing"]),
        ("--resume", &["--report"]),
        ("--simulate", &["simulator"]),
        ("--generate", &["random password"]),
        ("--generated-out <PATH>", &["0600"]),
        ("--discard-passwords", &["forgot password"]),
        ("--no-fetch-policy", &["basic rules"]),
        (
            "--max-failures <N>",
            &["[default: 20]", "exit 3", "0 turns it off"],
        ),
        ("--log-format <FORMAT>", &["[default: text]", "json"]),
        ("-y, --yes", &["confirmation", "[default: ask"]),
    ];
    for (flag, words) in contract {
        let b = block(&help, flag).unwrap_or_else(|| panic!("{flag} missing from:\n{help}"));
        for w in *words {
            assert!(b.contains(w), "{flag}: no {w:?} in\n{b}");
        }
    }
    // A flag added beyond the contract names its default too, when it takes a value.
    for line in help
        .lines()
        .filter(|l| is_option_line(l) && l.contains('<'))
        .map(str::trim_start)
    {
        let flag = line.split(" <").next().unwrap();
        let b = block(&help, flag).unwrap();
        assert!(b.contains("[default:"), "{flag} names no default:\n{b}");
    }
    // The input and the credentials are explained too.
    assert!(help.contains("<INPUT>") && help.contains("- for standard input"));
}

#[test]
fn simulate_and_top_level_help() {
    let help = help_of(&["simulate", "--help"]);
    let listen = block(&help, "--listen <ADDR>").expect("--listen");
    assert_eq!(
        listen.matches("[default: 127.0.0.1:8787]").count(),
        1,
        "{listen}"
    );
    let config = block(&help, "-c, --config <PATH>").expect("--config");
    assert!(
        config.contains("[simulator]") && config.contains("[default:"),
        "{config}"
    );

    let help = help_of(&["--help"]);
    for word in [
        "run",
        "simulate",
        "completions",
        "man",
        "ZOOM_ACCESS_TOKEN",
        "ZOOM_CLIENT_SECRET",
        "Exit codes",
    ] {
        assert!(help.contains(word), "{word} missing from:\n{help}");
    }
}

#[test]
fn completions_and_man_page_render() {
    for shell in ["bash", "zsh", "fish"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("zoom-rotate"), "{shell}");
        assert!(text.contains("max-failures"), "{shell}: flags of run");
    }
    let out = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );

    let out = bin().arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let man = String::from_utf8(out.stdout).unwrap();
    for section in [
        ".TH zoom-rotate 1",
        ".SH NAME",
        ".SH COMMANDS",
        ".SH \"RUN OPTIONS\"",
        ".SH ENVIRONMENT",
        ".SH \"EXIT STATUS\"",
    ] {
        assert!(man.contains(section), "{section} missing from:\n{man}");
    }
    assert!(
        man.contains(r"\-\-max\-failures"),
        "run's flags are in the page"
    );
    assert!(
        man.contains(r"\-\-listen"),
        "simulate's flags are in the page"
    );
}

#[test]
fn version_is_name_and_crate_version() {
    let out = bin().arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "zoom-rotate 0.1.0\n"
    );
}

/// config.toml documents every key with its default: loading it changes nothing.
#[test]
fn repository_config_toml_holds_exactly_the_defaults() {
    use clap::Parser;
    use zoom_rotate::cli::{Cli, Command as Sub};
    use zoom_rotate::settings::{FileConfig, Settings};
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = FileConfig::load(Some(&root.join("config.toml"))).expect("config.toml loads");
    let words = [
        "zoom-rotate",
        "run",
        "in.csv",
        "--report",
        "r.csv",
        "--generate",
        "--discard-passwords",
    ];
    util::hermetic();
    let Sub::Run(args) = Cli::try_parse_from(words).unwrap().command else {
        unreachable!()
    };
    let mut with_file = Settings::resolve(&args, &file).expect("config.toml resolves");
    // Only the name of the file used differs (the plan shows it).
    assert_eq!(with_file.zoom.config, Some(root.join("config.toml")));
    with_file.zoom.config = None;
    let without = Settings::resolve(&args, &FileConfig::default()).unwrap();
    assert_eq!(format!("{with_file:?}"), format!("{without:?}"));
}

/// Every key config.toml accepts is in the repository's copy, set or commented out.
#[test]
fn repository_config_toml_documents_every_key() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml")).unwrap();
    let mut found = std::collections::BTreeSet::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
        } else if let Some((key, _)) = line.trim_start_matches(['#', ' ']).split_once(" = ") {
            if key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                found.insert(format!("{section}.{key}"));
            }
        }
    }
    let mut expected: Vec<String> = [
        "api.base_url",
        "api.token_url",
        "api.body",
        "api.timeout_secs",
        "rate.plan",
        "rate.rate",
        "rate.concurrency",
        "rate.max_concurrency",
        "rate.share",
        "rate.allow_above_plan",
        "input.user_column",
        "input.password_column",
        "input.max_field_bytes",
        "report.dir",
        "report.max_age_days",
        "retry.attempts",
        "retry.base_delay_ms",
        "retry.max_delay_ms",
        "run.max_failures",
        "run.log_format",
        "run.confirm_above",
        "generate.length",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    // The simulator's keys, straight from its type.
    let sim = toml::Value::try_from(zoom_rotate::simulator::SimConfig::default()).unwrap();
    for (key, value) in sim.as_table().unwrap() {
        match value.as_table() {
            Some(inner) => expected.extend(inner.keys().map(|k| format!("simulator.{key}.{k}"))),
            None => expected.push(format!("simulator.{key}")),
        }
    }
    for key in [
        "simulator.users_file",
        "simulator.generate_users",
        "simulator.qps",
    ] {
        expected.push(key.to_string()); // Options: absent from the serialized default
    }
    for key in &expected {
        assert!(found.contains(key), "config.toml does not show {key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_with_repository_config_gives_the_same_report() {
    let dir = util::tmp();
    let mut reports = Vec::new();
    for (name, config) in [
        ("with.csv", "config.toml".to_string()),
        ("without.csv", p(&util::empty_config(dir.path()))),
    ] {
        let report = dir.path().join(name);
        let mut cmd = bin();
        cmd.args([
            "run",
            "fixtures/users.csv",
            "--simulate",
            "--config",
            &config,
        ])
        .args(["--report", &p(&report)]);
        let out = util::bin_output(cmd).await;
        assert_eq!(out.status.code(), Some(1), "{:?}", util::text(&out));
        reports.push(util::summary(&report));
    }
    assert_eq!(reports[0], reports[1]);
}
