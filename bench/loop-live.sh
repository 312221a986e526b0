#!/usr/bin/env bash
# Loops the live-delivery chaos tests at full size (the 1,000-message Redis-cut stream of
# tests/realtime/live.test.ts and the 500-send SIGKILL failover of tests/realtime/failover.test.ts) to catch
# a rare lost event (with the hub read audit on: a failure names the read that passed the event); CI runs them
# smaller. Usage:
#   bench/loop-live.sh [RUNS=50]
# Run it while something else loads the machine (e.g. a second `npm test`). Prints one line per run and a
# summary; exits non-zero if any run failed (its log is kept in /tmp/loop-live-<n>.log).
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-50}"
export SB_HUB_AUDIT=1 CHAOS_MESSAGES="${CHAOS_MESSAGES:-1000}" FAILOVER_SENDS="${FAILOVER_SENDS:-500}"
passed=0
failed=0
for n in $(seq 1 "$RUNS"); do
  log="/tmp/loop-live-$n.log"
  if npx vitest run tests/realtime/live.test.ts tests/realtime/failover.test.ts -t "Redis is cut|killed during sends" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "run $n: passed $(grep -oE '(server B delivered [0-9]+ \(lost [0-9]+\); resumed client on A delivered [0-9]+ \(lost [0-9]+\))|(problems \(steady[^;]*)' "$log" | tr '\n' ' ')"
    rm -f "$log"
  else
    failed=$((failed + 1))
    echo "run $n: FAILED (log: $log)"
    grep -E 'got [0-9]+ of|missing|AssertionError|Error:|hub skipped|hub read every' "$log" | head -8
  fi
done
echo "loop-live: $passed passed, $failed failed of $RUNS ($CHAOS_MESSAGES-message Redis cut + $FAILOVER_SENDS-send failover; load $(cut -d' ' -f1-3 /proc/loadavg))"
[ "$failed" -eq 0 ]
