//! Bash completions below the top level (issue 12, item 6): the generated script is
//! sourced in a real bash, `COMP_WORDS`/`COMP_CWORD` are set as readline sets them, and
//! the completion function must offer the subcommand's own options. clap_complete alone
//! offered nothing for `run --dr` (clap issue 6421: hyphenated binary names).

use super::*;

/// What bash's completion offers for `words` (the last one is being completed).
fn complete(script: &Path, words: &[&str]) -> String {
    let array: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let prev = words[cword - 1];
    let cur = words[cword];
    let program = format!(
        "source '{}'\n\
         complete -p zoom-rotate\n\
         COMP_WORDS=({})\n\
         COMP_CWORD={cword}\n\
         _zoom__rotate zoom-rotate '{cur}' '{prev}'\n\
         echo \"[${{COMPREPLY[*]}}]\"\n",
        script.display(),
        array.join(" ")
    );
    let out = util::scrub(&mut Command::new("bash"))
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_completes_run_and_simulate_options() {
    let dir = util::tmp();
    let out = bin().args(["completions", "bash"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let script = util::write(dir.path(), "zoom-rotate.bash", &out.stdout);
    let registered = "complete -o bashdefault -o default -o nosort -F _zoom__rotate zoom-rotate\n";
    assert_eq!(
        complete(&script, &["zoom-rotate", "run", "--dr"]),
        format!("{registered}[--dry-run]\n")
    );
    assert_eq!(
        complete(&script, &["zoom-rotate", "simulate", "--li"]),
        format!("{registered}[--listen]\n")
    );
    assert_eq!(
        complete(&script, &["zoom-rotate", "run", "--plan", ""]),
        format!("{registered}[free pro business]\n")
    );
    assert_eq!(
        complete(&script, &["zoom-rotate", "status", "--fo"]),
        format!("{registered}[--format]\n")
    );
    // The top level still completes.
    assert_eq!(
        complete(&script, &["zoom-rotate", "sim"]),
        format!("{registered}[simulate]\n")
    );
}
