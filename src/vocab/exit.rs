//! How a command ended, as the contract's exit codes: one type every command returns and
//! `main` turns into the process exit code in one place. It compares with the bare code
//! (`exit == 1`) so scripts' and tests' expectations read as the contract does.

/// CONTRACT.md's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: every row ended as wanted (`changed`; `dry_run` in a dry run).
    Done = 0,
    /// 1: the command finished, and at least one row ended otherwise.
    Unfinished = 1,
    /// 2: nothing was attempted (usage, config, input, credentials, a refusal).
    Refused = 2,
    /// 3: stopped early; `--resume` continues.
    Stopped = 3,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl PartialEq<u8> for Exit {
    fn eq(&self, code: &u8) -> bool {
        self.code() == *code
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> std::process::ExitCode {
        std::process::ExitCode::from(exit.code())
    }
}

impl serde::Serialize for Exit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}
