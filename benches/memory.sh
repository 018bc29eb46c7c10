#!/usr/bin/env bash
# Peak memory of `mailspec render` against the number of records (goal: a 1,000,000-row CSV
# renders with the same peak memory, within a few MB, as a 1,000-row one).
#
#   benches/memory.sh                      # N = 1000 10000 100000 1000000
#   benches/memory.sh 1000 1000000         # chosen sizes
#   HEAPTRACK=100000 benches/memory.sh 1000   # also a heaptrack profile at N=100000
#   BOUNDARY=1 benches/memory.sh 1000         # also N = 917,504 and 917,505 (--limit on the
#       1M CSV): either side of the duplicate-key set's last rehash (2^20 -> 2^21 buckets)
#
# Messages go to `--mbox /dev/null`: rendering 1M messages to files would write ~34 GB.
# The data: the peers' gen_records.py (deterministic; 1M rows ~ 800 MB, ~3 min to generate)
# in target/bench/data/. Peak RSS: GNU time's %M (ru_maxrss of the process), median of RUNS
# (default 1) runs. Env: PEERS_SRC (default ../shared/bench/peers), RUNS.
# Output: stdout and benches/results/memory-<UTC time>.txt (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NS=${*:-1000 10000 100000 1000000}
RUNS=${RUNS:-1}
PEERS_SRC=${PEERS_SRC:-$ROOT/../shared/bench/peers}
DATA=$ROOT/target/bench/data
[ -x /usr/bin/time ] || { echo "error: needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }
[ -f "$PEERS_SRC/gen_records.py" ] || { echo "error: no peers at $PEERS_SRC (set PEERS_SRC)" >&2; exit 2; }

for try in 1 2 3 4 5; do
  if cargo build --release --locked --quiet; then break; fi
  [ "$try" -lt 5 ] || { echo "error: cargo build failed 5 times" >&2; exit 2; }
  echo "build failed (attempt $try); retrying in 60 s" >&2; sleep 60
done
mkdir -p target/bench "$DATA" benches/order/assets benches/results
cp target/release/mailspec target/bench/mailspec-memory
MS=$ROOT/target/bench/mailspec-memory
python3 "$PEERS_SRC/gen_attachment.py" benches/order/assets/factura.pdf
for N in $NS; do
  # gen_records.py is deterministic (row i depends only on the seed and i).
  [ -f "$DATA/records-$N.csv" ] || python3 "$PEERS_SRC/gen_records.py" "$N" "$DATA/records-$N.csv"
done

LOG=benches/results/memory-$(date -u +%Y%m%dT%H%M%SZ).txt
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# One render; prints "rss_kib wall_s user_s sys_s status".
measure() {
  local csv=$1 rc=0
  /usr/bin/time -f "%M %e %U %S" -o "$TMP/time" \
    "$MS" render benches/order/spec.yaml --data "$csv" --mbox /dev/null --date 2024-01-01T00:00:00Z \
    2>"$TMP/err" || rc=$?
  local status=ok
  if grep -q '^error\[' "$TMP/err"; then
    status="RECORD-ERRORS($(grep -c '^error\[' "$TMP/err"))"
  elif [ "$rc" -ne 0 ]; then
    status="FAILED(rc=$rc):$(tail -n1 "$TMP/err" | tr ' ' '_')"
  fi
  echo "$(grep -v '^Command' "$TMP/time" | tail -n1) $status"
}

{
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -srm), $(nproc) cpus, $(free -g | awk '/Mem:/{print $2}') GiB; mailspec $(git rev-parse --short HEAD 2>/dev/null || echo '?') ($(git status --porcelain 2>/dev/null | wc -l) uncommitted paths)"
echo "# mailspec render benches/order/spec.yaml --data records-N.csv --mbox /dev/null; peak RSS = /usr/bin/time %M, median of $RUNS run(s)"
echo "# dup-key index estimate: a sorted Vec<u64> (batch::KeyIndex), 8 bytes a record"
printf "%-9s %12s %10s %10s %9s %9s %9s %14s  %s\n" N csv_MB peak_KiB peak_MiB wall_s user_s msgs/s dupset_est_MiB status
FIRST=""
for N in $NS; do
  rs=()
  for _ in $(seq "$RUNS"); do rs+=("$(measure "$DATA/records-$N.csv")"); done
  line=$(printf '%s\n' "${rs[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  read -r kib wall user _sys status <<<"$line"
  [ -n "$FIRST" ] || FIRST=$kib
  est=$(python3 -c "print(f'{$N*8/2**20:.1f}')")
  printf "%-9s %12.1f %10s %10.1f %9s %9s %9.0f %14s  %s\n" "$N" \
    "$(echo "$(stat -c %s "$DATA/records-$N.csv") / 1000000" | bc -l)" "$kib" \
    "$(echo "$kib / 1024" | bc -l)" "$wall" "$user" "$(echo "$N / $wall" | bc -l)" "$est" "$status"
  LAST=$kib; LASTN=$N
done
echo "# peak RSS at N=$LASTN minus the first size: $(( LAST - FIRST )) KiB ($(echo "($LAST - $FIRST) / 1024" | bc -l | xargs printf '%.1f') MiB)"
if [ -n "${BOUNDARY:-}" ]; then
  [ -f "$DATA/records-1000000.csv" ] || python3 "$PEERS_SRC/gen_records.py" 1000000 "$DATA/records-1000000.csv"
  echo "# either side of the dup-key set's rehash at 7/8 of 2^20 buckets (--limit on the 1M CSV)"
  for L in 917504 917505; do
    /usr/bin/time -f "%M" -o "$TMP/time" "$MS" render benches/order/spec.yaml \
      --data "$DATA/records-1000000.csv" --limit "$L" --mbox /dev/null --date 2024-01-01T00:00:00Z \
      2>/dev/null || true
    kib=$(grep -v '^Command' "$TMP/time" | tail -n1)
    echo "N=$L (--limit): peak RSS $kib KiB ($(echo "$kib / 1024" | bc -l | xargs printf '%.1f') MiB)"
  done
fi
if [ -n "${HEAPTRACK:-}" ] && command -v heaptrack >/dev/null; then
  [ -f "$DATA/records-$HEAPTRACK.csv" ] || python3 "$PEERS_SRC/gen_records.py" "$HEAPTRACK" "$DATA/records-$HEAPTRACK.csv"
  echo "# heaptrack at N=$HEAPTRACK (peak heap and its largest contributors)"
  heaptrack -o "$TMP/ht" "$MS" render benches/order/spec.yaml --data "$DATA/records-$HEAPTRACK.csv" \
    --mbox /dev/null --date 2024-01-01T00:00:00Z >/dev/null 2>&1 || true
  heaptrack_print -f "$TMP"/ht*.zst --print-peaks 1 --print-allocators 0 --print-temporary 0 \
    --print-leaks 0 --peak-limit 5 2>/dev/null | grep -v -e '^\s*$' -e '^\s*in ' | head -n 50 || true
  heaptrack_print -f "$TMP"/ht*.zst 2>/dev/null | grep -E '^(peak heap memory|peak RSS|total memory leaked|calls to allocation)' || true
fi
} 2>&1 | tee "$LOG"
echo "results in $LOG"
