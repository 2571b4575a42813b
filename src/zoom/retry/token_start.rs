//! The policy of the first token request of a run (`Auth::start`) as a pure function:
//! how many tries were made ([`State`]) and how the last one failed ([`Event`]) decide
//! the next [`Step`]; `zoom::auth` only carries it out.
//!
//! The rules: one blip of the token endpoint (a 5xx, a 429, unreachable, a timeout) must
//! not cost a nightly run, so it is asked again after a backoff (doubling from the base,
//! at most the cap) until the tries are spent, and then the run gives up before anything
//! is sent. A refusal (any other 4xx, or a 200 that is not a token) is the credentials'
//! fault: asking again cannot cure it, so it is final at once.

use std::time::Duration;

use super::{backoff, RetrySettings};

/// Tries made so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State {
    pub tries: u32,
}

/// How a token request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The endpoint failed on its side or could not be reached: worth asking again.
    Unavailable,
    /// The endpoint refused the credentials.
    Refused,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Wait `wait`, then ask again (`tries` made so far, for the log).
    AskAgain { wait: Duration, tries: u32 },
    /// The tries are spent: give up after `tries`, nothing sent.
    GiveUp { tries: u32 },
    /// A refusal: it stands as it is.
    Final,
}

/// The next step after a failed token request. `pace.attempts` is the number of tries in
/// all; its delays pace them.
pub fn decide(s: &mut State, event: Event, pace: &RetrySettings) -> Step {
    s.tries = s.tries.saturating_add(1);
    match event {
        Event::Refused => Step::Final,
        Event::Unavailable if s.tries < pace.attempts => Step::AskAgain {
            wait: backoff(pace, s.tries),
            tries: s.tries,
        },
        Event::Unavailable => Step::GiveUp { tries: s.tries },
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn pace() -> RetrySettings {
        RetrySettings {
            attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_millis(1500),
        }
    }

    fn after(tries: u32) -> State {
        State { tries }
    }

    fn again(ms: u64, tries: u32) -> Step {
        Step::AskAgain {
            wait: Duration::from_millis(ms),
            tries,
        }
    }

    #[test]
    fn every_failure_at_every_try() {
        use Event::{Refused, Unavailable};
        #[rustfmt::skip]
        let table: Vec<(&str, State, Event, Step)> = vec![
            ("first blip", after(0), Unavailable, again(500, 1)),
            ("second blip", after(1), Unavailable, again(1000, 2)),
            ("third blip, at the cap", after(2), Unavailable, again(1500, 3)),
            ("fourth blip: the tries are spent", after(3), Unavailable, Step::GiveUp { tries: 4 }),
            ("refused at once", after(0), Refused, Step::Final),
            ("refused after a blip", after(1), Refused, Step::Final),
            ("refused on the last try", after(3), Refused, Step::Final),
        ];
        for (name, mut state, event, expected) in table {
            let before = state.tries;
            assert_eq!(decide(&mut state, event, &pace()), expected, "{name}");
            assert_eq!(state.tries, before + 1, "{name}: every failure is a try");
        }
    }

    #[test]
    fn one_try_in_all_gives_up_at_once() {
        let pace = RetrySettings {
            attempts: 1,
            ..pace()
        };
        let mut s = State::default();
        assert_eq!(
            decide(&mut s, Event::Unavailable, &pace),
            Step::GiveUp { tries: 1 }
        );
    }

    #[test]
    fn a_run_of_blips_then_a_token() {
        let mut s = State::default();
        let steps: Vec<Step> = (0..4)
            .map(|_| decide(&mut s, Event::Unavailable, &pace()))
            .collect();
        assert_eq!(
            steps,
            vec![
                again(500, 1),
                again(1000, 2),
                again(1500, 3),
                Step::GiveUp { tries: 4 }
            ]
        );
    }
}
