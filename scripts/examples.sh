#!/usr/bin/env bash
# The main job on the bundled examples: check every spec, then render each spec's sample
# records into out/<spec name>/*.eml. No server needed.
set -euo pipefail
cd "$(dirname "$0")/.."
# The dev profile: these few messages render in a blink either way, and it compiles in about
# half the time of a release build (`cargo install --path .` gives the fast binary).
cargo build --locked -q
bin="${CARGO_TARGET_DIR:-target}/debug/mailspec"
"$bin" check specs/*.yaml
for spec in specs/*.yaml; do
  "$bin" render "$spec"
done
echo "done: see out/"
