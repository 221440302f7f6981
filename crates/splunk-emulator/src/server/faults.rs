//! Fault injection: added latency, 503 answers and dropped connections, decided per request.

use std::time::Duration;

use crate::FaultConfig;

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer normally.
    None,
    /// Close the connection without answering.
    Drop,
    /// Answer `503 Service Unavailable`.
    Error,
}

/// Draws the fault for one request; the latency is returned separately (it combines with both).
pub(crate) fn draw(config: &FaultConfig) -> (Duration, Fault) {
    let latency = Duration::from_millis(config.latency_ms);
    let fault = if hit(config.drop_fraction) {
        Fault::Drop
    } else if hit(config.error_fraction) {
        Fault::Error
    } else {
        Fault::None
    };
    (latency, fault)
}

fn hit(fraction: f64) -> bool {
    fraction > 0.0 && (fraction >= 1.0 || rand::random::<f64>() < fraction)
}
