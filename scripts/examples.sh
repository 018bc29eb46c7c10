#!/usr/bin/env bash
# The main job on the bundled examples: check every spec, then render each spec's sample
# records into out/<spec name>/*.eml. No server needed.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --release -q
bin="${CARGO_TARGET_DIR:-target}/release/mailspec"
"$bin" check specs/*.yaml
for spec in specs/*.yaml; do
  "$bin" render "$spec"
done
echo "done: see out/"
