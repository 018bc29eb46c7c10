#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 60), on stable Rust.
#
#   scripts/fuzz.sh [SECONDS]
#
# Exits non-zero when a target finds a crash (panic), a timeout (one input taking more than
# 10 s: mailspec must stay linear in its input) or an out-of-memory (over 2 GB), and prints the
# reproducer. A reproducer, once minimised (`cargo fuzz tmin`, same flags as below), belongs in
# fuzz/regressions/TARGET/, which `cargo test` replays (tests/fuzz_regressions.rs).
#
# Runs as root on a fresh Debian machine with Rust: installs a C++ compiler (libFuzzer is C++)
# and cargo-fuzz when missing. No nightly toolchain is needed, see FUZZ_RUSTFLAGS below.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-60}"
case "$secs" in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
targets=(spec_loader address header render_record smtp_reply)
# Pinned: 0.13.2 builds with Rust 1.95 (`--locked` uses its own tested dependency versions).
cargo_fuzz_version=0.13.2
start=$(date +%s)

if ! command -v c++ >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends g++
fi
if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi

# Stable Rust without a sanitizer (`-s none`). cargo-fuzz's default, AddressSanitizer, needs
# `-Zsanitizer`, a nightly flag (it runs on stable only through RUSTC_BOOTSTRAP=1, which
# unlocks every unstable feature). mailspec forbids `unsafe`, so ASan would mostly check the
# standard library and dependencies, at about half the speed; what we look for (panics, slow
# inputs, memory blow-ups) libFuzzer catches without it (-timeout, -rss_limit_mb).
# `-max-loads-per-memcmp=0` stops LLVM from inlining short comparisons (`== "=?"`,
# `starts_with("mailspec")`) into plain loads, which libFuzzer cannot see: with it, libFuzzer
# learns the bytes each comparison wants. The same flags must be used for every cargo-fuzz
# command, or it rebuilds everything.
export RUSTFLAGS="-Cllvm-args=-max-loads-per-memcmp=0"
fuzz=(cargo fuzz)
sanitizer=(--sanitizer none)

echo "== build (release, debug assertions and overflow checks on)"
"${fuzz[@]}" build "${sanitizer[@]}"

logs=fuzz/artifacts/logs
mkdir -p "$logs"
failed=()
summary=()
for t in "${targets[@]}"; do
  echo "== $t: ${secs}s"
  # The first directory collects new inputs (ignored by git); seeds and regressions are read.
  corpus=fuzz/corpus/$t
  mkdir -p "$corpus"
  dirs=("$corpus" "fuzz/seeds/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  args=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
  [ -f "fuzz/dicts/$t.dict" ] && args+=(-dict="fuzz/dicts/$t.dict")
  set +e
  "${fuzz[@]}" run "${sanitizer[@]}" "$t" "${dirs[@]}" -- "${args[@]}" >"$logs/$t.log" 2>&1
  rc=$?
  set -e
  stats=$(grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb):' "$logs/$t.log" |
    sed 's/^stat:://' | tr '\n' ' ')
  if [ "$rc" -eq 0 ]; then
    summary+=("$t: ok ${stats}")
    echo "ok: ${stats}"
  else
    artifact=$(grep -oE 'Test unit written to [^ ]+' "$logs/$t.log" | tail -1 | sed 's/Test unit written to //')
    summary+=("$t: FAILED (exit $rc) ${artifact:-no artifact, see $logs/$t.log}")
    failed+=("$t")
    echo "FAILED: $t (exit $rc); the end of $logs/$t.log:" >&2
    grep -vE '^#[0-9]+' "$logs/$t.log" | grep -vE '^ +(at |[0-9]+: )' | tail -25 >&2
    if [ -n "$artifact" ]; then
      echo "reproducer: $artifact" >&2
      echo "replay:   RUSTFLAGS='$RUSTFLAGS' cargo fuzz run ${sanitizer[*]} $t $artifact" >&2
      echo "minimise: RUSTFLAGS='$RUSTFLAGS' cargo fuzz tmin ${sanitizer[*]} $t $artifact" >&2
    fi
  fi
done

echo "== summary ($(($(date +%s) - start))s in all)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
