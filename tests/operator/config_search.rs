//! Where config.toml is found without `--config` (issue 12, item 9): ./config.toml, then
//! `$XDG_CONFIG_HOME/zoom-rotate/config.toml` (`~/.config` when unset), then
//! /etc/zoom-rotate/config.toml. Each candidate sets its own rate, so the plan line shows
//! which file won. HOME, XDG_CONFIG_HOME and the working directory are temporary
//! directories; the real /etc is only read (the last step runs when it holds no file).

use super::*;

/// The rate the plan line of a dry run in `cwd` shows, or the error (exit 2).
fn planned_rate(
    cwd: &Path,
    xdg: Option<&Path>,
    home: &Path,
    extra: &[&str],
) -> Result<String, String> {
    let mut cmd = bin();
    cmd.current_dir(cwd)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .args([
            "run",
            "in.csv",
            // The plan line is under test; no Zoom is asked (issue 19).
            "--dry-run",
            "--offline",
            "--generate",
            "--discard-passwords",
        ])
        .args(["--report", "r.csv"])
        .args(extra);
    if let Some(x) = xdg {
        cmd.env("XDG_CONFIG_HOME", x);
    }
    let _ = std::fs::remove_file(cwd.join("r.csv"));
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    if out.status.code() != Some(0) {
        return Err(stderr);
    }
    let at = stderr.find("plan: 1 user at ").expect("a plan line") + "plan: 1 user at ".len();
    let plan = stderr[at..].lines().next().unwrap();
    // The plan line names the file that set the rate.
    assert!(plan.contains(" config="), "{plan}");
    Ok(stderr[at..].split(':').next().unwrap().to_string())
}

fn config(dir: &Path, rate: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    util::write(dir, "config.toml", format!("[rate]\nrate = {rate}\n"))
}

#[test]
fn config_is_searched_in_the_job_then_the_user_then_the_system_directory() {
    let (cwd, xdg, home) = (util::tmp(), util::tmp(), util::tmp());
    util::write(cwd.path(), "in.csv", "email\na@x.com\n");
    let local = config(cwd.path(), "3");
    let in_xdg = config(&xdg.path().join("zoom-rotate"), "4");
    config(&home.path().join(".config/zoom-rotate"), "5");
    let explicit = util::write(cwd.path(), "other.toml", "[rate]\nrate = 7\n");
    let rate =
        |xdg: Option<&Path>, extra: &[&str]| planned_rate(cwd.path(), xdg, home.path(), extra);

    assert_eq!(
        rate(Some(xdg.path()), &["--config", &p(&explicit)]),
        Ok("7/s".into())
    );
    assert_eq!(rate(Some(xdg.path()), &[]), Ok("3/s".into()));
    std::fs::remove_file(&local).unwrap();
    assert_eq!(rate(Some(xdg.path()), &[]), Ok("4/s".into()));
    // Unset, or relative (the XDG spec ignores it): ~/.config.
    assert_eq!(rate(None, &[]), Ok("5/s".into()));
    assert_eq!(rate(Some(Path::new("relative")), &[]), Ok("5/s".into()));
    // A broken file is exit 2 naming it, never a silent fall-through to the next.
    std::fs::write(&in_xdg, "[rate]\nrat = 4\n").unwrap();
    let e = rate(Some(xdg.path()), &[]).unwrap_err();
    assert!(e.contains(&format!("invalid config {}", p(&in_xdg))), "{e}");
    if !Path::new("/etc/zoom-rotate/config.toml").exists() {
        let nowhere = util::tmp();
        assert_eq!(
            planned_rate(cwd.path(), Some(nowhere.path()), nowhere.path(), &[]),
            Ok("16/s".into())
        );
    }
}
