#!/usr/bin/env bash
# Speed of `mailspec render` on the peers' "order confirmation" workload, as ratios against
# peer implementations measured in the same run, interleaved (A B A B ...).
#
#   benches/run.sh                 # N=10000: 1 warm-up + 5 counted pairs per peer (10-20 min)
#   benches/run.sh 1000 10000      # several sizes
#   QUICK=1 benches/run.sh         # N=1000, 3 counted pairs (~1 min)
#
# Env: PAIRS (counted pairs, default 5; 3 with QUICK=1), WARMUP (default 1),
#      PEERS_SRC (default ../shared/bench/peers), MAILSPEC_ORACLE (default
#      ../shared/oracle/check_eml.py), PY_MAX (largest N timed with Python, default 10000),
#      PEERS_WORK (default target/bench/peers; `rm -rf` it to take a fresh copy),
#      WITH: which pairs, default "py node mb ceil dd jobs mem send": Python, Node and
#      mail-builder peers, the C ceiling (`ceiling full`: base64 + one file per message, no
#      templating), `dd` writing the same number of bytes as mailspec's mbox to one file,
#      mailspec --jobs 2 vs --jobs 1 (mbox to /dev/null), memory and time at 100,000 and
#      1,000,000 records (benches/memory.sh; MEM_NS to choose the sizes; the 1M CSV takes ~3 min
#      to generate the first time) and `send` with 8 connections into smtp-sink against Python's
#      smtplib (benches/send.sh, needs postfix's smtp-sink). Add "nosync" for an extra pair, mailspec with
#      fsync()/fdatasync() made no-ops by an LD_PRELOAD shim vs mail-builder (needs cc), to
#      show what the directory sink's per-file fdatasync costs. E.g. WITH="mb nosync".
# Output: stdout and benches/results/run-<UTC time>.txt (gitignored). See benches/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ -n "${QUICK:-}" ]; then
  NS=${*:-1000}; PAIRS=${PAIRS:-3}
else
  NS=${*:-10000}; PAIRS=${PAIRS:-5}
fi
WARMUP=${WARMUP:-1}
WITH=" ${WITH:-py node mb ceil dd jobs mem send} "
PY_MAX=${PY_MAX:-10000}
PEERS_SRC=${PEERS_SRC:-$ROOT/../shared/bench/peers}
ORACLE=${MAILSPEC_ORACLE:-$ROOT/../shared/oracle/check_eml.py}
PEERS=${PEERS_WORK:-$ROOT/target/bench/peers}
[ -x /usr/bin/time ] || { echo "error: needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }
[ -f "$PEERS_SRC/README.md" ] || { echo "error: no peers at $PEERS_SRC (set PEERS_SRC)" >&2; exit 2; }

# --- set-up (untimed) ---------------------------------------------------------------------
# mailspec: a release build, copied aside so that a rebuild by someone else during the run
# cannot swap the binary between pairs. A failed build (someone's edit in progress) is retried.
for try in 1 2 3 4 5; do
  if cargo build --release --locked --quiet; then break; fi
  [ "$try" -lt 5 ] || { echo "error: cargo build failed 5 times" >&2; exit 2; }
  echo "build failed (attempt $try); retrying in 60 s" >&2; sleep 60
done
mkdir -p target/bench
cp target/release/mailspec target/bench/mailspec
MS=$ROOT/target/bench/mailspec

# The peers' folder is read-only where it is shared: work on a copy, set up as run_bench.sh does.
if [ ! -f "$PEERS/bench.py" ]; then
  mkdir -p "$(dirname "$PEERS")"
  cp -r "$PEERS_SRC" "$PEERS"
  chmod -R u+w "$PEERS"
fi
(
  cd "$PEERS"
  [ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt; }
  [ -d node_modules ] || npm ci --no-audit --no-fund --silent
  mkdir -p data assets out
  [ -f assets/factura.pdf ] || python3 gen_attachment.py assets/factura.pdf
  cargo build --release --locked --quiet --manifest-path rust/Cargo.toml
  [ -x ceiling ] || cc -O2 -o ceiling ceiling.c
  for N in $NS; do
    [ -f data/records-$N.csv ] || python3 gen_records.py "$N" data/records-$N.csv
  done
)
# The spec's attachment must live inside the spec's folder: generated, never committed.
mkdir -p benches/order/assets
python3 "$PEERS/gen_attachment.py" benches/order/assets/factura.pdf
"$MS" check benches/order/spec.yaml

PY=$PEERS/.venv/bin/python
if [[ $WITH == *" nosync "* ]]; then
  # Diagnosis only: mailspec's DirSink fdatasync()s every file; this shim skips that.
  printf 'int fsync(int fd){(void)fd;return 0;}\nint fdatasync(int fd){(void)fd;return 0;}\n' \
    > target/bench/nosync.c
  cc -O2 -shared -fPIC -o target/bench/nosync.so target/bench/nosync.c
fi
MB=$PEERS/rust/target/release/render_mail_builder
mkdir -p benches/results
LOG=benches/results/run-$(date -u +%Y%m%dT%H%M%SZ).txt
P="python3 $ROOT/benches/pairs.py --pairs $PAIRS --warmup $WARMUP"

{
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm), $(nproc) cpus ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "# mailspec $(git rev-parse --short HEAD 2>/dev/null || echo '?') ($(git status --porcelain 2>/dev/null | wc -l) uncommitted paths), $(rustc --version)"
echo "# python $($PY -c 'import sys;print(sys.version.split()[0])'), node $(node --version); pairs $PAIRS after $WARMUP warm-up; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for N in $NS; do
  CSV=$PEERS/data/records-$N.csv
  rm -rf "$PEERS/out/ms-$N" "$PEERS/out/py-$N" "$PEERS/out/node-$N" "$PEERS/out/mb-$N"
  MSCMD="$MS render $ROOT/benches/order/spec.yaml --data $CSV --out $PEERS/out/ms-$N --date 2024-01-01T00:00:00Z"
  A=(--a mailspec "$ROOT" "$MSCMD" --a-outdir "$PEERS/out/ms-$N")
  if [[ $WITH == *" py "* ]] && [ "$N" -le "$PY_MAX" ]; then
    echo "## N=$N: mailspec vs py EmailMessage + Jinja2 (render_py.py)"
    $P --msgs "$N" "${A[@]}" --b py-emailmessage "$PEERS" "$PY render_py.py $N out/py-$N" \
      --b-outdir "$PEERS/out/py-$N" || true
  fi
  if [[ $WITH == *" node "* ]]; then
    echo "## N=$N: mailspec vs node MailComposer + nunjucks (render_node.js)"
    $P --msgs "$N" "${A[@]}" --b node-mailcomposer "$PEERS" "node render_node.js $N out/node-$N" \
      --b-outdir "$PEERS/out/node-$N" || true
  fi
  if [[ $WITH == *" mb "* ]]; then
    echo "## N=$N: mailspec vs rust mail-builder + minijinja (render_mail_builder)"
    $P --msgs "$N" "${A[@]}" --b rust-mail-builder "$PEERS" "$MB $N out/mb-$N" \
      --b-outdir "$PEERS/out/mb-$N" || true
  fi
  if [[ $WITH == *" ceil "* ]]; then
    # The C ceiling writes files of the mean size mailspec writes, one per message.
    echo "## N=$N: mailspec vs C ceiling (base64 of the attachment + one file per message, no templating)"
    mkdir -p "$PEERS/out/ceil-$N"
    $P --msgs "$N" "${A[@]}" --b c-ceiling "$PEERS" "./ceiling full $N out/ceil-$N" \
      --b-outdir "$PEERS/out/ceil-$N" || true
  fi
  if [[ $WITH == *" dd "* ]]; then
    # The same bytes into one file: mailspec's mbox against dd writing that many bytes.
    MBOX=$PEERS/out/ms-$N.mbox
    "$MS" render "$ROOT/benches/order/spec.yaml" --data "$CSV" --mbox "$MBOX" --date 2024-01-01T00:00:00Z 2>/dev/null || true
    BYTES=$(stat -c %s "$MBOX")
    BS=$(( BYTES / N ))
    echo "## N=$N: mailspec --mbox vs dd writing the same $BYTES bytes to one file (bs=$BS)"
    $P --msgs "$N" --a mailspec-mbox "$ROOT" "$MS render $ROOT/benches/order/spec.yaml --data $CSV --mbox $MBOX --date 2024-01-01T00:00:00Z" \
      --b dd "$PEERS" "dd if=/dev/zero of=out/dd-$N.bin bs=$BS count=$N" || true
  fi
  if [[ $WITH == *" jobs "* ]]; then
    echo "## N=$N: mailspec --jobs 2 vs --jobs 1 (mbox to /dev/null: rendering only)"
    $P --msgs "$N" --a mailspec-jobs2 "$ROOT" "$MS render $ROOT/benches/order/spec.yaml --data $CSV --mbox /dev/null --jobs 2 --date 2024-01-01T00:00:00Z" \
      --b mailspec-jobs1 "$ROOT" "$MS render $ROOT/benches/order/spec.yaml --data $CSV --mbox /dev/null --jobs 1 --date 2024-01-01T00:00:00Z" || true
  fi
  if [[ $WITH == *" nosync "* ]]; then
    echo "## N=$N: mailspec with fsync/fdatasync disabled (LD_PRELOAD, diagnosis only) vs rust mail-builder"
    $P --msgs "$N" --a mailspec-nosync "$ROOT" "env LD_PRELOAD=$ROOT/target/bench/nosync.so $MSCMD" \
      --a-outdir "$PEERS/out/ms-$N" --b rust-mail-builder "$PEERS" "$MB $N out/mb-$N" \
      --b-outdir "$PEERS/out/mb-$N" || true
  fi
done
if [[ $WITH == *" mem "* ]]; then
  MEM_NS=${MEM_NS:-100000 1000000}
  echo "## memory and time against records: benches/memory.sh $MEM_NS (mbox to /dev/null)"
  benches/memory.sh $MEM_NS > target/bench/memory.out 2>&1 || true
  grep -E '^[0-9]' target/bench/memory.out || { cat target/bench/memory.out; true; }
  # Columns: N csv_MB peak_KiB peak_MiB wall_s ...; the first and the last size.
  grep -E '^[0-9]' target/bench/memory.out | sed -n '1p;$p' | python3 -c '
import sys
rows = [l.split() for l in sys.stdin if l.strip()]
(n0, _, _, _, w0, *_), (n1, _, k1, m1, w1, *_) = rows[0], rows[-1]
print(f"RATIO time N={n1} / N={n0} | records x{int(n1) / int(n0):g} | time x{float(w1) / float(w0):.2f} (target: at most 1.05 x the records ratio)")
print(f"PEAK N={n1} | {int(k1) * 1024 / 1e6:.1f} MB ({float(m1):.1f} MiB) (target: under 50 MB)")' || true
fi
if [[ $WITH == *" send "* ]]; then
  echo "## send: benches/send.sh (mailspec send into smtp-sink on 127.0.0.1 against Python smtplib)"
  benches/send.sh > target/bench/send.out 2>&1 || true
  sed -n '/^mailspec send into/,$p' target/bench/send.out
  awk '/^mailspec, 8 connections /{print "RATIO mailspec send, 8 connections / python smtplib, 1 connection | " $NF "x (target: at least 5x)"}' target/bench/send.out
fi
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "# validity of mailspec's output"
for N in $NS; do
  CSV=$PEERS/data/records-$N.csv
  REF=""
  for r in py node mb; do [ -n "$REF" ] || [ ! -d "$PEERS/out/$r-$N" ] || REF=$PEERS/out/$r-$N; done
  echo "## peers' check_eml.py (Message-ID check adapted, see benches/check_order.py), bodies vs ${REF:-nothing}"
  $PY benches/check_order.py "$PEERS" "$PEERS/out/ms-$N" "$CSV" ${REF:+--against "$REF"} || true
  if [ -f "$ORACLE" ]; then
    echo "## oracle $ORACLE (all $N messages)"
    python3 "$ORACLE" "$PEERS/out/ms-$N" | grep -v "^PASS " || true
  fi
done
} 2>&1 | tee "$LOG"
echo "results in $LOG"
