//! Where config.toml is looked for when `--config` is not given: where admins look for
//! it, most specific first, and the first file that exists wins (they are not merged, so
//! what a run uses is one file an admin can read):
//!
//! 1. `./config.toml` (the job's working directory, as before);
//! 2. `$XDG_CONFIG_HOME/zoom-rotate/config.toml`, `~/.config/...` when it is unset;
//! 3. `/etc/zoom-rotate/config.toml`.
//!
//! The file used is kept in [`super::FileConfig::source`] so that the plan can name it.

use std::path::{Path, PathBuf};

/// The candidates, in order, given the two variables the search reads. A relative
/// `XDG_CONFIG_HOME` is ignored, as the XDG spec says; an empty one is unset.
pub fn search_paths(xdg_config_home: Option<&str>, home: Option<&str>) -> Vec<PathBuf> {
    let mut paths = vec![PathBuf::from("config.toml")];
    let absolute = |v: Option<&str>| v.filter(|v| Path::new(v).is_absolute()).map(PathBuf::from);
    let user_dir = absolute(xdg_config_home).or_else(|| absolute(home).map(|h| h.join(".config")));
    if let Some(dir) = user_dir {
        paths.push(dir.join("zoom-rotate").join("config.toml"));
    }
    paths.push(PathBuf::from("/etc/zoom-rotate/config.toml"));
    paths
}

/// The first candidate that is a file, from this process's environment.
pub fn find() -> Option<PathBuf> {
    let var = |name| std::env::var(name).ok();
    search_paths(var("XDG_CONFIG_HOME").as_deref(), var("HOME").as_deref())
        .into_iter()
        .find(|p| p.is_file())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_search_goes_from_the_job_to_the_user_to_the_system() {
        let p = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(
            search_paths(Some("/x"), Some("/home/a")),
            p(&[
                "config.toml",
                "/x/zoom-rotate/config.toml",
                "/etc/zoom-rotate/config.toml"
            ])
        );
        assert_eq!(
            search_paths(None, Some("/home/a")),
            p(&[
                "config.toml",
                "/home/a/.config/zoom-rotate/config.toml",
                "/etc/zoom-rotate/config.toml"
            ])
        );
        assert_eq!(
            search_paths(Some("relative"), None),
            p(&["config.toml", "/etc/zoom-rotate/config.toml"])
        );
        assert_eq!(
            search_paths(Some(""), Some(""))[1],
            PathBuf::from("/etc/zoom-rotate/config.toml")
        );
    }
}
