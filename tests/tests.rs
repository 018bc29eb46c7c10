//! One integration-test binary (one link step on a 2-core machine).

mod util;

mod adversarial;
mod cli;
mod diagnostics;
mod examples;
mod fuzz_regressions;
mod plan;
mod schema;
mod send;
mod snapshots;
