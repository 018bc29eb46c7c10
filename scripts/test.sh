#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every check CI runs.
# Runs on a fresh Debian machine with Rust and Python (as root, or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

ORACLE="${MAILSPEC_ORACLE:-../shared/oracle/check_eml.py}"
if [ ! -f "$ORACLE" ]; then
  echo "error: the independent MIME oracle is not at $ORACLE; set MAILSPEC_ORACLE to check_eml.py" >&2
  exit 2
fi

# Debian packages the tests use. Only installed when missing, so a second run is quick.
need=()
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

echo "== format and lints"
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings

echo "== cargo test"
# Property tests run 10,000 cases each here (proptest reads PROPTEST_CASES).
PROPTEST_CASES="${PROPTEST_CASES:-10000}" cargo test --locked --release

echo "== examples: check, render twice, compare, independent oracle"
cargo build --locked --release
bin=target/release/mailspec
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
specs=(specs/*.yaml)
"$bin" check "${specs[@]}"
for spec in "${specs[@]}"; do
  name=$(basename "$spec" .yaml)
  SOURCE_DATE_EPOCH=1700000000 "$bin" render "$spec" --out "$tmp/a/$name"
  SOURCE_DATE_EPOCH=1700000000 "$bin" render "$spec" --out "$tmp/b/$name"
done
diff -r "$tmp/a" "$tmp/b" >/dev/null || { echo "error: a second render differs" >&2; diff -r "$tmp/a" "$tmp/b" | head; exit 1; }
echo "second render byte-identical"
python3 "$ORACLE" "$tmp/a"

echo "== snapshots of every fixture (the spec authors' door)"
"$bin" test

echo "== adversarial corpus output (written by cargo test) through the oracle"
python3 "$ORACLE" target/adversarial-out

echo "== invalid specs are rejected"
for spec in specs/invalid/*.yaml; do
  set +e
  "$bin" check "$spec" 2>/dev/null
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then echo "error: $spec was accepted" >&2; exit 1; fi
done
echo "all $(ls specs/invalid/*.yaml | wc -l) invalid specs rejected"

echo "== fuzz: every target for ${FUZZ_SECONDS:-60} s (stable Rust, see scripts/fuzz.sh)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
