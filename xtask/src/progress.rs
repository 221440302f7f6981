//! Progress lines on stderr, each stamped with the time since xtask started, so a long build or
//! a slow service start shows what it is doing and for how long (`xtask [01:23] clippy: ...`,
//! `xtask [02:10] clippy done (47 s)`).

use std::fmt::Display;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Starts the clock that every line's stamp counts from; `main` calls it first.
pub(crate) fn start_clock() {
    STARTED.get_or_init(Instant::now);
}

/// Prints `xtask [mm:ss] message` to stderr.
pub(crate) fn say(message: impl Display) {
    let elapsed = STARTED.get_or_init(Instant::now).elapsed();
    eprintln!("xtask [{}] {message}", clock(elapsed));
}

/// A phase that says when it starts and, by [`Phase::done`] or [`Phase::finish`], when it
/// ends and how long it took. A phase that fails says nothing more: its error does.
pub(crate) struct Phase {
    name: String,
    started: Instant,
}

impl Phase {
    /// Prints `name: what` and starts timing.
    pub(crate) fn start(name: &str, what: impl Display) -> Self {
        say(format_args!("{name}: {what}"));
        Self {
            name: name.to_owned(),
            started: Instant::now(),
        }
    }

    /// Prints `name done (duration)`.
    pub(crate) fn done(self) {
        self.finish("done", "");
    }

    /// Prints `name outcome (duration)` followed by `rest`, e.g. where a service listens.
    pub(crate) fn finish(self, outcome: &str, rest: impl Display) {
        let took = duration(self.started.elapsed());
        say(format_args!("{} {outcome} ({took}){rest}", self.name));
    }
}

/// `mm:ss` (minutes go past 59 rather than adding hours).
fn clock(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    format!("{:02}:{:02}", seconds / 60, seconds % 60)
}

/// `47 s`, or `3 min 05 s` from a minute on.
fn duration(took: Duration) -> String {
    let seconds = took.as_secs();
    if seconds < 60 {
        format!("{seconds} s")
    } else {
        format!("{} min {:02} s", seconds / 60, seconds % 60)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{clock, duration};

    #[test]
    fn stamps_and_durations_read_as_minutes_and_seconds() {
        let cases = [
            (0, "00:00", "0 s"),
            (47, "00:47", "47 s"),
            (83, "01:23", "1 min 23 s"),
            (605, "10:05", "10 min 05 s"),
            (3725, "62:05", "62 min 05 s"),
        ];
        for (seconds, stamp, took) in cases {
            let elapsed = Duration::from_millis(seconds * 1000 + 999);
            assert_eq!(clock(elapsed), stamp, "{seconds} s");
            assert_eq!(duration(elapsed), took, "{seconds} s");
        }
    }
}
