//! One integration-test binary (one link step on a 2-core machine).

mod util;

mod adversarial;
mod cli;
mod deliverability;
mod diagnostics;
mod dkim;
mod examples;
mod first_hour;
mod fuzz_regressions;
mod language;
mod plan;
mod preview;
mod schema;
mod send;
mod snapshots;
