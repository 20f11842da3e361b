#!/usr/bin/env bash
# Side-by-side load test: wordgate against a bare hyper "floor" server, same
# runtime, same keep-alive load, in one run. See BENCHMARKS.md.
#
#   scripts/load.sh            # the load test, then memory
#   scripts/load.sh --memory   # memory only (resident set idle and during a reload)
#
# Settings (environment variables):
#   WORKERS=1        tokio worker threads of both servers; a list ("1 2") runs each
#   CONNECTIONS=64   keep-alive connections (wrk -c)
#   WRK_THREADS=1    wrk threads (wrk -t)
#   DURATION=10s     each measured run (wrk -d); a 2 s warm-up run precedes it
#   ROUNDS=1         floor/wordgate pairs per worker setting; the summary takes medians
#   ENTRIES=100000   synthetic entries added to the shipped dictionaries
#   AUDIT=off        file: also drive a third server, wordgate with the audit stream
#                    to a file (audit = "file"), in the same rounds, and print its
#                    ratio to wordgate without it
#   CONSOLE=off      on: also drive wordgate while a console poller runs (the
#                    "Now" and "Dictionaries" panels every 0.5 s, four times what
#                    an open page asks, and a try every 5 s), in the same rounds, and
#                    print its ratio to wordgate without it. The server CPU per
#                    request then includes the console's own work.
#   WORDGATE_ADDR=127.0.0.1:18080  FLOOR_ADDR=127.0.0.1:18081
#   AUDITED_ADDR=127.0.0.1:18082   (loopback only)
#
# It builds both servers (release), writes the dictionaries and request bodies
# to a temporary directory, starts the servers, drives each with wrk (installed
# with apt-get if missing), prints requests/s, p50, p99 and server CPU per
# request for each plus the ratios, and stops everything it started on exit.
# Not run in CI: it needs the machine to itself for minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

MEMORY_ONLY=0
case "${1:-}" in
  "") ;;
  --memory) MEMORY_ONLY=1 ;;
  *) echo "usage: scripts/load.sh [--memory]" >&2; exit 2 ;;
esac

WORKERS=${WORKERS:-1}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-1}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-1}
ENTRIES=${ENTRIES:-100000}
WORDGATE_ADDR=${WORDGATE_ADDR:-127.0.0.1:18080}
FLOOR_ADDR=${FLOOR_ADDR:-127.0.0.1:18081}
AUDITED_ADDR=${AUDITED_ADDR:-127.0.0.1:18082}
AUDIT=${AUDIT:-off}
CONSOLE=${CONSOLE:-off}
case "$CONSOLE" in
  off | on) ;;
  *) echo "load.sh: CONSOLE is off or on, not $CONSOLE" >&2; exit 2 ;;
esac
case "$AUDIT" in
  off | file) ;;
  *) echo "load.sh: AUDIT is off or file, not $AUDIT" >&2; exit 2 ;;
esac
APP=1400000000

for addr in "$WORDGATE_ADDR" "$FLOOR_ADDR" "$AUDITED_ADDR"; do
  case "$addr" in
    127.*:*) ;;
    *) echo "load.sh: $addr is not a loopback address; this harness only uses 127.0.0.0/8" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------
if [ "$MEMORY_ONLY" = 0 ] && ! command -v wrk >/dev/null; then
  step "installing wrk"
  if [ "$(id -u)" = 0 ]; then
    apt-get update && apt-get install -y wrk
  else
    sudo apt-get update && sudo apt-get install -y wrk
  fi
fi
command -v curl >/dev/null || { echo "load.sh: curl is needed" >&2; exit 2; }

step "building wordgate and the floor (release)"
cargo build --release --quiet --bin wordgate --example floor --example synthetic_dictionary
BIN=target/release

# --- scratch space and cleanup ------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wordgate-load.XXXXXX")
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- dictionaries: the shipped ones plus ENTRIES synthetic reject entries -----
mkdir -p "$WORK/dictionaries" "$WORK/bodies"
cp dictionaries/*.txt "$WORK/dictionaries/"
"$BIN/examples/synthetic_dictionary" "$WORK/dictionaries/synthetic.txt" "$ENTRIES"

# --- bodies: Tencent's three before-send samples verbatim (clean: allow), the
# C2C one with a word the shipped profanity list masks (the answer echoes the
# rewritten MsgBody) and the group one with a word the gambling list rejects.
SAMPLES=tests/data/samples
cp "$SAMPLES/oa-before-send.request.json" "$SAMPLES/c2c-before-send.request.json" \
  "$SAMPLES/group-before-send.request.json" "$WORK/bodies/"
sed 's/"red packet"/"what the fuck, red packet"/' "$SAMPLES/c2c-before-send.request.json" \
  >"$WORK/bodies/c2c-before-send.mask.json"
sed 's/"red packet"/"一起去赌博吧"/' "$SAMPLES/group-before-send.request.json" \
  >"$WORK/bodies/group-before-send.reject.json"
BODIES=("$WORK"/bodies/*.json)

# --- helpers --------------------------------------------------------------------
# Resident set of a process in KiB (VmRSS), and its peak so far (VmHWM).
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
# user + system CPU of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

wait_for() { # URL, what
  local i
  for i in $(seq 1 600); do
    if curl -s -o /dev/null -m 1 "$1"; then return 0; fi
    sleep 0.1
  done
  echo "load.sh: $2 did not come up at $1" >&2
  exit 1
}

start_floor() { # workers
  "$BIN/examples/floor" --listen "$FLOOR_ADDR" --workers "$1" >"$WORK/floor.log" 2>&1 &
  FLOOR_PID=$!
  PIDS+=("$FLOOR_PID")
  wait_for "http://$FLOOR_ADDR/" "the floor"
}

start_wordgate() { # workers
  # Only this run's settings: no config file, no stray WORDGATE_* variables.
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" WORDGATE_LOG=warn WORDGATE_WATCH=false \
    WORDGATE_WORKER_THREADS="$1" \
    "$BIN/wordgate" serve --listen "$WORDGATE_ADDR" --dictionaries "$WORK/dictionaries" --sdkappid "$APP" \
    >"$WORK/wordgate.log" 2>&1 &
  WORDGATE_PID=$!
  PIDS+=("$WORDGATE_PID")
  wait_for "http://$WORDGATE_ADDR/readyz" "wordgate"
}

# The same server, recording every callback to a rotated audit file.
start_audited() { # workers
  env -i PATH="$PATH" HOME="${HOME:-/tmp}" WORDGATE_LOG=warn WORDGATE_WATCH=false \
    WORDGATE_WORKER_THREADS="$1" WORDGATE_AUDIT=file WORDGATE_AUDIT_FILE="$WORK/audit.jsonl" \
    "$BIN/wordgate" serve --listen "$AUDITED_ADDR" --dictionaries "$WORK/dictionaries" --sdkappid "$APP" \
    >"$WORK/audited.log" 2>&1 &
  AUDITED_PID=$!
  PIDS+=("$AUDITED_PID")
  wait_for "http://$AUDITED_ADDR/readyz" "wordgate with the audit stream"
}

# A counter from a server's /metrics (0 when absent).
metric() { # addr name
  curl -s "http://$1/metrics" | awk -v name="$2" '$1 == name { print $2; found = 1 } END { if (!found) print 0 }'
}

# What an open console asks of the server, four times as often: the "Now"
# and "Dictionaries" panels every 0.5 s (the page polls every 2 s), over one
# connection, and a try every 5 s (a moderator pasting a message).
console_poller() {
  local base="http://$WORDGATE_ADDR/console/api" polls=0
  while :; do
    curl -s -o /dev/null -o /dev/null "$base/now" "$base/dictionaries"
    if [ $((polls % 10)) = 0 ]; then
      curl -s -o /dev/null -X POST -H 'X-Wordgate-Console: 1' \
        -d '{"mode":"text","input":"一起去赌博吧 傻逼 f u c k","callback":"c2c"}' "$base/try"
    fi
    polls=$((polls + 1))
    sleep 0.5
  done
}

stop() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# The answer to each body, to show the mix is what it claims to be.
show_answers() {
  local body command answer
  for body in "${BODIES[@]}"; do
    command=$(sed -n 's/.*"CallbackCommand": *"\([^"]*\)".*/\1/p' "$body" | head -n 1)
    answer=$(curl -s -w ' [HTTP %{http_code}]' --data-binary @"$body" \
      "http://$WORDGATE_ADDR/?SdkAppid=$APP&CallbackCommand=$command&contenttype=json&ClientIP=127.0.0.1&OptPlatform=RESTAPI")
    printf '  %-32s %s\n' "$(basename "$body")" "$answer" >&2
    case "$answer" in
      *"[HTTP 200]") ;;
      *) echo "load.sh: wordgate did not answer $(basename "$body") with 200" >&2; exit 1 ;;
    esac
  done
}

# One wrk run against URL; prints "rps p50_us p99_us cpu_us_per_request".
drive() { # url pid
  local before after line
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d2s -s scripts/webhook.lua "$1" -- "$APP" "${BODIES[@]}" >/dev/null
  before=$(cpu_ticks "$2")
  line=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/webhook.lua "$1" \
    -- "$APP" "${BODIES[@]}" | grep '^RESULT')
  after=$(cpu_ticks "$2")
  echo "$line" | awk -v ticks=$((after - before)) -v hz="$TICK" '{
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    if (v["non2xx"] + v["errors"] > 0) { printf "load.sh: %d non-2xx answers, %d socket errors\n", v["non2xx"], v["errors"] > "/dev/stderr" }
    printf "%s %s %s %.2f\n", v["rps"], v["p50_us"], v["p99_us"], ticks / hz * 1e6 / v["requests"]
  }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

memory() { # workers
  local idle peak sampler
  step "memory: wordgate with $(grep -vc '^[#@]' "$WORK/dictionaries/synthetic.txt") synthetic entries + the shipped dictionaries"
  start_wordgate "$1"
  sleep 1
  idle=$(rss_kib "$WORDGATE_PID")
  echo "  idle:            VmRSS $(mib "$idle")  (peak so far, VmHWM $(mib "$(hwm_kib "$WORDGATE_PID")"))" >&2
  # A reload of a changed directory rebuilds everything beside the live
  # engine; sample the resident set every 10 ms while it runs.
  echo "# changed $(date +%s%N)" >>"$WORK/dictionaries/synthetic.txt"
  ( while kill -0 "$WORDGATE_PID" 2>/dev/null; do rss_kib "$WORDGATE_PID"; sleep 0.01; done ) >"$WORK/rss.samples" 2>/dev/null &
  sampler=$!
  local status
  status=$(curl -s -o "$WORK/reload.json" -w '%{http_code}' -X POST "http://$WORDGATE_ADDR/admin/reload")
  sleep 0.5
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  if [ "$status" = 200 ]; then
    peak=$(sort -n "$WORK/rss.samples" | tail -n 1)
    echo "  during a reload: VmRSS peak $(mib "$peak") (sampled every 10 ms; VmHWM $(mib "$(hwm_kib "$WORDGATE_PID")"))" >&2
    echo "  after it:        VmRSS $(mib "$(rss_kib "$WORDGATE_PID")")" >&2
  else
    echo "  POST /admin/reload answered $status; no reload figure" >&2
  fi
  MEMORY_LINE="idle $(mib "$idle")${peak:+, reload peak $(mib "$peak")}"
  stop "$WORDGATE_PID"
}

CPUS=$(nproc)
if [ "$MEMORY_ONLY" = 1 ]; then
  memory "${WORKERS%% *}"
  exit 0
fi

# --- the load test ------------------------------------------------------------------
SERVERS="floor wordgate"
if [ "$AUDIT" = file ]; then SERVERS="$SERVERS audited"; fi
if [ "$CONSOLE" = on ]; then SERVERS="$SERVERS console"; fi
SUMMARY=()
for workers in $WORKERS; do
  step "workers=$workers: tokio multi-thread runtime, $workers worker thread(s) (0: one per core) + the accept loop on the main thread, both servers; wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION on the same $CPUS CPUs"
  start_floor "$workers"
  start_wordgate "$workers"
  if [ "$AUDIT" = file ]; then start_audited "$workers"; fi
  show_answers
  for server in $SERVERS; do : >"$WORK/$server.results"; done
  for round in $(seq 1 "$ROUNDS"); do
    for server in $SERVERS; do
      case "$server" in
        floor) url="http://$FLOOR_ADDR/" pid=$FLOOR_PID ;;
        wordgate) url="http://$WORDGATE_ADDR/" pid=$WORDGATE_PID ;;
        audited) url="http://$AUDITED_ADDR/" pid=$AUDITED_PID ;;
        console) url="http://$WORDGATE_ADDR/" pid=$WORDGATE_PID ;;
      esac
      poller=""
      if [ "$server" = console ]; then
        console_poller >/dev/null 2>&1 &
        poller=$!
      fi
      result=$(drive "$url" "$pid")
      if [ -n "$poller" ]; then kill "$poller" 2>/dev/null || true; wait "$poller" 2>/dev/null || true; fi
      echo "$result" >>"$WORK/$server.results"
      echo "$result" | awk -v r="$round" -v s="$server" \
        '{ printf "  round %d  %-8s  %7.0f req/s  p50 %5.2f ms  p99 %5.2f ms  server CPU %5.2f us/request\n", r, s, $1, $2 / 1000, $3 / 1000, $4 }' >&2
    done
  done
  echo "  wordgate resident set after the load: VmRSS $(mib "$(rss_kib "$WORDGATE_PID")")" >&2
  if [ "$AUDIT" = file ]; then
    dropped=$(metric "$AUDITED_ADDR" wordgate_audit_records_dropped_total)
    # Stopping drains the queue into the file.
    stop "$AUDITED_PID"
    written=$(cat "$WORK"/audit.jsonl* 2>/dev/null | wc -l)
    echo "  audit: $written lines in $(ls "$WORK"/audit.jsonl* | wc -l) file(s), $dropped records dropped" >&2
    rm -f "$WORK"/audit.jsonl*
  fi
  stop "$FLOOR_PID"
  stop "$WORDGATE_PID"
  line="workers=$workers"
  for server in $SERVERS; do
    for column in 1 2 3 4; do
      line="$line $(awk -v c=$column '{ print $c }' "$WORK/$server.results" | median)"
    done
  done
  SUMMARY+=("$line")
done

memory "${WORKERS%% *}"

step "summary (median of $ROUNDS round(s) each; wrk -t$WRK_THREADS -c$CONNECTIONS -d$DURATION; $ENTRIES synthetic entries + the shipped dictionaries)"
printf '%-10s %-9s %10s %9s %9s %12s\n' "" server "req/s" "p50 ms" "p99 ms" "CPU us/req"
for line in "${SUMMARY[@]}"; do
  echo "$line" | awk '{
    printf "%-10s %-9s %10.0f %9.2f %9.2f %12.2f\n", $1, "floor", $2, $3 / 1000, $4 / 1000, $5
    printf "%-10s %-9s %10.0f %9.2f %9.2f %12.2f\n", $1, "wordgate", $6, $7 / 1000, $8 / 1000, $9
    printf "%-10s %-9s %9.1f%% %8.2fx %8.2fx %11.2fx\n", $1, "ratio", 100 * $6 / $2, $7 / $3, $8 / $4, $9 / $5
    extra = 10
    if (audit == "file") {
      printf "%-10s %-9s %10.0f %9.2f %9.2f %12.2f\n", $1, "audited", $10, $11 / 1000, $12 / 1000, $13
      printf "%-10s %-9s %9.1f%% %8.2fx %8.2fx %11.2fx\n", $1, "aud/wg", 100 * $10 / $6, $11 / $7, $12 / $8, $13 / $9
      extra = 14
    }
    if (console == "on") {
      c = extra
      printf "%-10s %-9s %10.0f %9.2f %9.2f %12.2f\n", $1, "console", $c, $(c + 1) / 1000, $(c + 2) / 1000, $(c + 3)
      printf "%-10s %-9s %9.1f%% %8.2fx %8.2fx %11.2fx\n", $1, "con/wg", 100 * $c / $6, $(c + 1) / $7, $(c + 2) / $8, $(c + 3) / $9
    }
  }' audit="$AUDIT" console="$CONSOLE"
done
echo "memory: $MEMORY_LINE"
