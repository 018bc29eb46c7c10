#!/usr/bin/env bash
# Speed of `mailspec send` into Postfix's smtp-sink on 127.0.0.1, as messages per second, with
# 1 and 8 connections, beside Python's smtplib sending the same rendered messages over one
# reused connection, in the same run (interleaved rounds; the best round of each is kept).
#
#   benches/send.sh [N]            # N messages per round (default 5000)
#
# Env: ROUNDS (default 3), CARGO_TARGET_DIR (default target), MAILSPEC_BIN (a release binary
# to measure instead of building one: `cargo test --release` leaves one, and `cargo build`
# would compile every dependency again, their features differing without dev-dependencies).
# Needs smtp-sink (scripts/install-test-deps.sh installs postfix) and /usr/bin/python3.
# Output: stdout and benches/results/send-<UTC time>.txt (gitignored). Not a test: the machine
# is shared and noisy, so the ratio is the figure to read, and only within one run.
#
# Rows: `mailspec 1` and `mailspec 8` use the default SQLite journal (WAL, synchronous=FULL:
# two durable commits per message, shared between connections by group commit); the
# `--journal none` rows show what the journal costs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-5000}
ROUNDS=${ROUNDS:-3}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

if [ -z "${MAILSPEC_BIN:-}" ]; then
  cargo build --release --locked -q
  MAILSPEC_BIN=$TARGET/release/mailspec
fi
BIN=$(mktemp -d /tmp/mailspec-send-bench.XXXXXX)
trap 'kill "${SINK:-}" 2>/dev/null || true; rm -rf "$BIN"' EXIT
cp "$MAILSPEC_BIN" "$BIN/mailspec"
W=$BIN/work
mkdir -p "$W" "$ROOT/benches/results"
OUT=$ROOT/benches/results/send-$(date -u +%Y%m%dT%H%M%SZ).txt

# An order confirmation like the render benchmark's: text and HTML alternatives and a 20 KB
# attachment (base64), about 31 KB per message.
cat > "$W/spec.yaml" <<'EOF'
mailspec: 1
name: bench
data:
  key: id
  fields:
    id: { type: string }
    email: { type: email }
    name: { type: string }
message:
  from: Tienda Ejemplo <pedidos@tienda.example>
  to: { name: "{{ name }}", email: "{{ email }}" }
  subject: "Confirmación de tu pedido #{{ id }}"
  date: "2024-06-15T13:15:07+01:00"
  text:
    content: |
      Hola {{ name }},

      gracias por tu pedido #{{ id }}. Lo preparamos hoy y te avisaremos cuando salga.
      {% for i in range(12) %}
      - Artículo {{ i }}: 1 × 19,90 €
      {% endfor %}
      Un saludo,
      Tienda Ejemplo
  html:
    content: |
      <p>Hola {{ name }},</p>
      <p>gracias por tu pedido <b>#{{ id }}</b>.</p>
      <ul>{% for i in range(12) %}<li>Artículo {{ i }}: 1 × 19,90 €</li>{% endfor %}</ul>
  attachments:
    - { file: factura.pdf, filename: "factura-{{ id }}.pdf" }
EOF
python3 -c 'import random, sys; random.seed(7); sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(20000)))' > "$W/factura.pdf"
python3 - "$W/data.jsonl" "$N" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(1, int(sys.argv[2]) + 1):
        f.write(json.dumps({"id": f"ES-{i:06d}", "email": f"cliente{i}@example.com", "name": f"Cliente {i}"}) + "\n")
EOF
"$BIN/mailspec" render "$W/spec.yaml" --data "$W/data.jsonl" --out "$W/rendered" 2>/dev/null

cat > "$W/smtplib_send.py" <<'EOF'
import glob, json, smtplib, sys, time
d, port = sys.argv[1], int(sys.argv[2])
msgs = []
for line in open(d + "/envelopes.jsonl"):
    env = json.loads(line)
    msgs.append((env["mail_from"], env["rcpt_to"], open(d + "/" + env["file"], "rb").read()))
t = time.perf_counter()
s = smtplib.SMTP("127.0.0.1", port)
for frm, to, data in msgs:
    s.sendmail(frm, to, data)
s.quit()
print(f"{len(msgs) / (time.perf_counter() - t):.0f}")
EOF

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/sbin/smtp-sink -u nobody -m 64 "127.0.0.1:$PORT" 256 &
SINK=$!
sleep 0.5

rate() { # connections journal -> msgs/s
  local conns=$1 journal=$2 j
  rm -f "$W"/journal.sqlite*
  j=$journal
  [ "$journal" = sqlite ] && j="sqlite:$W/journal.sqlite"
  [ "$journal" = normal ] && j="sqlite:$W/journal.sqlite?sync=normal"
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN/mailspec" send --rendered "$W/rendered" --smtp "smtp+plain://127.0.0.1:$PORT" \
    --connections "$conns" --journal "$j" --report "$W/report.jsonl" 2>/dev/null
  t1=$(date +%s.%N)
  python3 -c "print(f'{$N / ($t1 - $t0):.0f}')"
}

CASES="py m1 m8 m1s m8s m1n m8n"
declare -A best
for r in $(seq "$ROUNDS"); do
  for case in $CASES; do
    case $case in
      py) v=$(/usr/bin/python3 "$W/smtplib_send.py" "$W/rendered" "$PORT") ;;
      m1) v=$(rate 1 sqlite) ;;
      m8) v=$(rate 8 sqlite) ;;
      m1s) v=$(rate 1 normal) ;;
      m8s) v=$(rate 8 normal) ;;
      m1n) v=$(rate 1 none) ;;
      m8n) v=$(rate 8 none) ;;
    esac
    echo "round $r $case $v msgs/s"
  done
done | tee "$OUT.rounds"
while read -r _ _ case v _; do
  [ "${best[$case]:-0}" -lt "$v" ] && best[$case]=$v
done < "$OUT.rounds"
rm -f "$OUT.rounds"

{
  echo "mailspec send into smtp-sink, $N messages of $(wc -c < "$(ls "$W"/rendered/*.eml | head -1)") bytes, best of $ROUNDS rounds ($(nproc) cores)"
  printf '%-34s %8s %8s\n' "sender" "msgs/s" "× smtplib"
  for case in $CASES; do
    case $case in
      py) name="python smtplib, 1 connection" ;;
      m1s) name="mailspec, 1 conn, ?sync=normal" ;;
      m8s) name="mailspec, 8 conn, ?sync=normal" ;;
      m1) name="mailspec, 1 connection" ;;
      m8) name="mailspec, 8 connections" ;;
      m1n) name="mailspec, 1 conn, --journal none" ;;
      m8n) name="mailspec, 8 conn, --journal none" ;;
    esac
    printf '%-34s %8s %8s\n' "$name" "${best[$case]}" "$(python3 -c "print(f'{${best[$case]} / ${best[py]}:.2f}')")"
  done
} | tee "$OUT"
