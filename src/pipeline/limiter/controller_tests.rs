//! The controller's reactions on an injected clock: every figure below follows from the
//! arithmetic in `controller`'s module comment.

use super::*;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Sends `n` requests `every` apart from `t`, returning their numbers.
fn send(c: &mut Controller, t: Instant, n: u64, every: Duration) -> Vec<u64> {
    (0..n).map(|k| c.sent_at(t + every * k as u32)).collect()
}

const NONE: PerSecond = PerSecond {
    limit: None,
    remaining: None,
};

#[test]
fn alone_the_rate_stays_at_the_ceiling() {
    let t0 = Instant::now();
    let mut c = Controller::new(20.0, 20.0, t0);
    for k in 0..600u64 {
        c.sent_at(t0 + Duration::from_millis(50 * k));
        assert_eq!(
            c.admitted_at(NONE, t0 + Duration::from_millis(50 * k + 20)),
            None
        );
    }
    assert!(close(c.rate(), 20.0));
}

/// Another app takes 5 of 20 per second: the window fills with 15 of the job's, the 16th
/// is refused, and the rate settles at 15, what fitted. The 429s of requests already sent
/// at the old rate are the same overshoot: no second cut.
#[test]
fn a_429_settles_at_what_fitted_once_per_overshoot() {
    let t0 = Instant::now();
    let mut c = Controller::new(20.0, 20.0, t0);
    let ms = Duration::from_millis;
    let seqs = send(&mut c, t0, 20, ms(50));
    for &s in &seqs[..15] {
        c.admitted_at(NONE, t0 + ms(50 * s + 20));
    }
    let cut = c.throttled_at(seqs[15], NONE, t0 + ms(800));
    assert_eq!(cut, Some(15.0));
    for &s in &seqs[16..] {
        assert_eq!(c.throttled_at(s, NONE, t0 + ms(990)), None);
    }
    assert!(close(c.rate(), 15.0));
    // A request sent after the cut and refused is news: the window held as many of the
    // job's as the rate allows and still overflowed, so the others grew: cut under it.
    let late = c.sent_at(t0 + ms(1_000));
    let again = c.throttled_at(late, NONE, t0 + ms(1_020)).unwrap();
    assert!(close(again, 15.0 * (1.0 - MARGIN)), "{again}");
}

/// After the cut to 15, the window still holds the 15 admitted requests sent 50 ms apart
/// from t0 (0 to 700 ms): sending at once would put a 16th in the second. The job may
/// send when the i-th most recent has (15 − i) periods of 1.01/15 s left in the window:
/// the oldest (i = 15) leaves at 1 s, the binding one.
#[test]
fn after_a_cut_the_job_waits_for_its_window_to_drain() {
    let t0 = Instant::now();
    let mut c = Controller::new(20.0, 20.0, t0);
    let ms = Duration::from_millis;
    let seqs = send(&mut c, t0, 16, ms(50));
    c.throttled_at(seqs[15], NONE, t0 + ms(800));
    assert!(close(c.rate(), 15.0));
    let until = c.drain_until(t0 + ms(800)).unwrap();
    assert_eq!(until, t0 + ms(1_000));
    // Nothing to drain a second and more later, nor with an empty history.
    assert_eq!(c.drain_until(t0 + ms(1_800)), None);
    let fresh = Controller::new(20.0, 20.0, t0);
    assert_eq!(fresh.drain_until(t0), None);
}

/// A probe that lands back where the last cut did doubles the quiet time before the next
/// (10 s, 20 s, 40 s, then 60 s at most); a probe that stands resets it.
#[test]
fn probes_that_find_nothing_new_grow_rarer() {
    let t0 = Instant::now();
    let at = |secs: f64| t0 + Duration::from_secs_f64(secs);
    let mut c = Controller::new(20.0, 20.0, t0);
    // Settle at 14 (14 of the job's in the window when the 15th is refused).
    let seqs = send(&mut c, t0, 15, Duration::from_millis(60));
    c.throttled_at(seqs[14], NONE, at(0.9));
    assert!(close(c.rate(), 14.0));
    let mut t = 0.9;
    for quiet in [10.0, 20.0, 40.0, 60.0, 60.0] {
        assert_eq!(c.admitted_at(NONE, at(t + quiet - 0.01)), None, "{quiet}");
        let probed = c.admitted_at(NONE, at(t + quiet)).unwrap();
        assert!(close(probed, 14.28), "{probed}");
        // The probe is refused with the same 14 of the job's in the window.
        t += quiet;
        let seqs = send(&mut c, at(t), 15, Duration::from_millis(60));
        t += 0.9;
        c.throttled_at(seqs[14], NONE, at(t));
        assert!(close(c.rate(), 14.0), "{}", c.rate());
    }
    // Others leave: a probe stands, the next one comes 60 s later (still the doubled
    // quiet time), and stands too, which resets the quiet time to 10 s.
    let stood = c.admitted_at(NONE, at(t + 60.0)).unwrap();
    assert!(close(stood, 14.28), "{stood}");
    let next = c.admitted_at(NONE, at(t + 120.0)).unwrap();
    assert!(close(next, 14.28 * 1.04), "{next}");
    assert!(c.admitted_at(NONE, at(t + 130.0)).is_some());
}

/// After a cut the rate waits PROBE_EVERY without a 429, then rises 2%, 4%, 8%, 16%,
/// 16%..., never above the ceiling; a 429 starts the steps again from 2%.
#[test]
fn probing_is_rare_and_gentle_and_stops_at_the_ceiling() {
    let t0 = Instant::now();
    let mut c = Controller::new(20.0, 20.0, t0);
    let s = c.sent_at(t0);
    c.throttled_at(s, NONE, t0); // nothing of the job's in the window: halve
    assert!(close(c.rate(), 10.0));
    let at = |secs: f64| t0 + Duration::from_secs_f64(secs);
    assert_eq!(c.admitted_at(NONE, at(9.99)), None);
    assert_eq!(c.admitted_at(NONE, at(10.0)), Some(10.2));
    assert_eq!(c.admitted_at(NONE, at(15.0)), None);
    let mut expected = 10.2;
    for (k, step) in [0.04, 0.08, 0.16, 0.16].iter().enumerate() {
        expected *= 1.0 + step;
        let got = c.admitted_at(NONE, at(20.0 + 10.0 * k as f64)).unwrap();
        assert!(close(got, expected), "{got} {expected}");
    }
    for k in 0..10 {
        c.admitted_at(NONE, at(60.0 + 10.0 * k as f64));
    }
    assert!(close(c.rate(), 20.0));
    assert_eq!(c.admitted_at(NONE, at(500.0)), None);
    let s = c.sent_at(at(500.0));
    c.throttled_at(s, NONE, at(500.1));
    assert!(close(c.rate(), 10.0));
    assert_eq!(c.admitted_at(NONE, at(510.1)), Some(10.2));
}

/// The floor is 0.5/s whatever the ceiling: a job set to 1000/s comes down to it (the old
/// AIMD stopped at 5% of the ceiling, 50/s), and a ceiling below it is not raised.
#[test]
fn the_floor_is_absolute() {
    let t0 = Instant::now();
    for (ceiling, floor) in [(1000.0, 0.5), (20.0, 0.5), (2.0, 0.5), (0.2, 0.2)] {
        let mut c = Controller::new(ceiling, ceiling, t0);
        for k in 0..40u32 {
            let t = t0 + Duration::from_secs(2) * k;
            let s = c.sent_at(t);
            c.throttled_at(s, NONE, t);
        }
        assert!(close(c.rate(), floor), "{ceiling}: {}", c.rate());
    }
}

/// Above the plan: start at the plan's budget, double every RAMP_EVERY while Zoom
/// admits, stop at the ceiling; `X-RateLimit-Limit` on the first 429 caps the rate at the
/// account's real budget at once.
#[test]
fn above_the_plan_it_ramps_from_the_plan_and_learns_the_limit() {
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let mut c = Controller::new(1000.0, 20.0, t0);
    assert!(close(c.rate(), 20.0));
    assert_eq!(c.admitted_at(NONE, t0 + ms(249)), None);
    assert_eq!(c.admitted_at(NONE, t0 + ms(250)), Some(40.0));
    assert_eq!(c.admitted_at(NONE, t0 + ms(400)), None);
    assert_eq!(c.admitted_at(NONE, t0 + ms(500)), Some(80.0));
    let seqs = send(&mut c, t0 + ms(500), 30, ms(12));
    let limit = PerSecond {
        limit: Some(20),
        remaining: Some(0),
    };
    // 25 of the job's fitted in the window before request 25 (the account's 20 and a few
    // from before): the Limit says 20, so the rate is at most 20 × 0.97.
    let cut = c.throttled_at(seqs[25], limit, t0 + ms(820)).unwrap();
    assert!(close(cut, 20.0 * (1.0 - MARGIN)), "{cut}");
    assert_eq!(c.budget(), Some(20.0));
    // Probing never goes above the budget Zoom stated, though the ceiling is 1000.
    for k in 1..=20u32 {
        c.admitted_at(NONE, t0 + Duration::from_secs(10) * k);
    }
    assert!(close(c.rate(), 20.0), "{}", c.rate());
}

/// With `X-RateLimit-Remaining` on admitted per-second answers, the rate follows what is
/// left (R + the job's own fill) without waiting for a 429, at most once a second.
#[test]
fn per_second_headers_are_followed_without_a_429() {
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let mut c = Controller::new(20.0, 20.0, t0);
    send(&mut c, t0, 5, ms(100));
    let h = |remaining| PerSecond {
        limit: Some(20),
        remaining: Some(remaining),
    };
    // The window holds 12 (20 − 8): 5 are the job's, so 13 are left for it.
    assert_eq!(
        c.admitted_at(h(8), t0 + ms(450)),
        Some(13.0 * (1.0 - MARGIN))
    );
    assert_eq!(c.admitted_at(h(0), t0 + ms(900)), None); // within a second
                                                         // A second later none of the job's five is in the window any more: 8 are left.
    let next = c.admitted_at(h(8), t0 + ms(1_500)).unwrap();
    assert!(close(next, 8.0 * (1.0 - MARGIN)), "{next}");
    // Headers saying the same within the margin change nothing.
    assert_eq!(c.admitted_at(h(8), t0 + ms(2_600)), None);
}

/// Odd inputs: a clock that goes backwards, an unknown request number, a Limit of 0.
#[test]
fn odd_inputs_neither_panic_nor_raise_the_rate() {
    let t0 = Instant::now() + Duration::from_secs(100);
    let mut c = Controller::new(20.0, 20.0, t0);
    let s = c.sent_at(t0);
    c.throttled_at(s + 99, NONE, t0 - Duration::from_secs(50));
    assert!(c.rate() <= 20.0 && c.rate() >= FLOOR);
    let zero = PerSecond {
        limit: Some(0),
        remaining: Some(u32::MAX),
    };
    c.admitted_at(zero, t0 - Duration::from_secs(99));
    assert!(c.rate() <= 20.0);
    assert_eq!(c.budget(), None);
}
