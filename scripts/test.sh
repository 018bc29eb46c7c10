#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every test that needs
# nothing outside this repository. CI (.ci/run) runs it first, then the shared oracle and fuzzing.
# Runs on a fresh Debian machine with Rust and Python (as root, or with sudo available).
#
#   scripts/test.sh
#
# PROPTEST_CASES (default 10000) sets how many cases each property test runs.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { echo "== $* ($(($(date +%s) - start)) s)"; }

# What the tests use beyond cargo: Python 3 (the message checker) and the rustfmt and clippy
# components. Installed only when missing, so a second run is quick.
if ! command -v python3 >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3
fi
# Real components the tests drive (a browser for the preview, and whatever else a
# scripts/install-test-deps*.sh names): each script is idempotent and installs only what is missing.
for deps in scripts/install-test-deps*.sh; do
  [ -f "$deps" ] && bash "$deps"
done
for component in rustfmt clippy; do
  probe=fmt; [ "$component" = clippy ] && probe=clippy
  if ! cargo "$probe" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

step "the message checker's self-test (it must reject each hand-made bad message)"
python3 scripts/check_mime_selftest.py

step "format and lints"
cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings

# In the dev profile, not release: it keeps overflow checks and debug assertions on, and from a
# fresh clone on 2 cores it compiles in about half the time (release took 8 min of a 13 min
# run), while the 10,000 cases per property test add about a minute.
step "cargo test (${PROPTEST_CASES:-10000} cases per property test)"
PROPTEST_CASES="${PROPTEST_CASES:-10000}" cargo test --locked

step "examples: check, render twice, compare, check the messages"
# cargo test built this binary for tests/cli.rs; `cargo build` would compile every dependency
# again, because without the dev-dependencies their features differ.
bin="${CARGO_TARGET_DIR:-target}/debug/mailspec"
if [ ! -x "$bin" ]; then
  echo "error: cargo test did not leave $bin" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
specs=(specs/*.yaml)
"$bin" check "${specs[@]}"
mkdir -p "$tmp/reports"
for spec in "${specs[@]}"; do
  name=$(basename "$spec" .yaml)
  SOURCE_DATE_EPOCH=1700000000 "$bin" render "$spec" --out "$tmp/a/$name" \
    --report "$tmp/reports/$name.jsonl"
  SOURCE_DATE_EPOCH=1700000000 "$bin" render "$spec" --out "$tmp/b/$name"
done
if ! diff -r "$tmp/a" "$tmp/b" >/dev/null; then
  echo "error: a second render differs" >&2
  diff -r "$tmp/a" "$tmp/b" | head >&2
  exit 1
fi
echo "second render byte-identical"
# The reports say which messages are SMTPUTF8 (raw UTF-8 headers allowed).
reports=()
for r in "$tmp"/reports/*.jsonl; do reports+=(--report "$r"); done
python3 scripts/check_mime.py "${reports[@]}" "$tmp/a"

step "snapshots of every fixture (mailspec test)"
"$bin" test

step "adversarial corpus and derived-text output (written by cargo test) through the checker"
python3 scripts/check_mime.py target/adversarial-out target/derived-text-out

step "invalid specs are rejected"
for spec in specs/invalid/*.yaml; do
  set +e
  "$bin" check "$spec" 2>/dev/null
  rc=$?
  set -e
  # 1 is an invalid spec, 2 one that cannot be read (io_not_utf8.yaml); 0 is acceptance and
  # anything else (101) a panic.
  case "$rc" in
    1 | 2) ;;
    *) echo "error: $spec: expected exit 1 or 2, got $rc" >&2; exit 1 ;;
  esac
done
echo "all $(ls specs/invalid/*.yaml | wc -l) invalid specs rejected"

step "all passed"
