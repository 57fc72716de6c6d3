#!/usr/bin/env bash
# mxtls scan end to end against the scale lab (its own process, loopback only): a full scan,
# scans stopped in the middle (SIGKILL; SIGINT, whose in-flight domains finish; SIGTERM twice,
# which ends at once) and finished with --resume, and the list split in four shards. All must
# give the same records (volatile fields aside) and the same `mxtls report` summary, and every
# stopped file must end in a whole record.
# Usage: run.sh MXTLS [DOMAINS]. Needs no root. Exit 0 when every case passes.
set -uo pipefail
mxtls=$(readlink -f "$1")
domains=${2:-4000}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/mxtls-scan-it.XXXXXX)
lab_pid=
cleanup() {
  [ -n "$lab_pid" ] && kill "$lab_pid" 2>/dev/null && wait "$lab_pid" 2>/dev/null
  [ -n "${MXTLS_SCAN_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

. "$here/../lib/check.sh"

# Ports and addresses of our own: the scale lab lives on 127.64.0.0/10.
dns=127.53.0.54:5454
port=2626
# No busy (421) hosts here: how often a retry meets a 421 again depends on timing, and this
# suite compares records exactly; the unit tests cover back-off and retries.
"$mxtls" lab --scale "$domains" --hosts 400 --delay-median 5ms --slow-banner 6s --drip-interval 1s \
  --mix good=70,no_starttls=8,self_signed=8,slow_banner=3,tarpit=1,silent=2,refused=4 \
  --dns "$dns" --smtp-port "$port" --ca-out "$work/ca.pem" --domains-out "$work/domains.txt" \
  >"$work/lab.log" 2>&1 &
lab_pid=$!
for _ in $(seq 1 300); do
  [ -s "$work/domains.txt" ] && grep -q . "$work/lab.log" && break
  kill -0 "$lab_pid" 2>/dev/null || { echo "the scale lab did not start:"; cat "$work/lab.log"; exit 1; }
  sleep 0.1
done
sleep 0.5
echo "scale lab: $(head -1 "$work/lab.log")"

# Deadlines with room for an ASan build on a busy 2-core machine (a good host's banner must
# never miss them, or two scans differ); the slow banner (6 s) stays far past the greeting's.
common=(--resolver "$dns" --port "$port" --ca-file "$work/ca.pem" --ehlo-name scanner.mxtls.test -q
        --concurrency 300 --greeting-timeout 3 --command-timeout 3 --handshake-timeout 5 --probe-timeout 15
        --retry-delay 0.2 --dns-timeout 2)

scan_full() { "$mxtls" scan "${common[@]}" -i "$work/domains.txt" -o "$work/full.jsonl"; [ $? -le 1 ]; }
check "full scan" scan_full

domains_in() { grep -c '"record":"domain"' "$1" 2>/dev/null || true; }
wait_for_domains() {  # file, count: until that many domain records are written (at most 30 s)
  for _ in $(seq 1 600); do
    [ "$(domains_in "$1")" -ge "$2" ] && return 0
    sleep 0.05
  done
}
ends_in_whole_line() { [ "$(tail -c1 "$1" | od -An -c | tr -d ' ')" = '\n' ] || { echo "half a line at the end of $1"; return 1; }; }

# Interrupt a scan with `signal` (twice with "again") once a third of the domains are done,
# check what it left, then finish it with --resume.
interrupt_and_resume() {  # name, kill signal, [again]
  local out="$work/$1.jsonl" signal=$2 again=${3:-}
  "$mxtls" scan "${common[@]}" -i "$work/domains.txt" -o "$out" 2>"$work/$1.err" &
  local pid=$!
  wait_for_domains "$out" $((domains / 3))
  kill "-$signal" "$pid"
  [ -n "$again" ] && { sleep 0.05; kill "-$signal" "$pid" 2>/dev/null; }
  wait "$pid"
  local rc=$? at_stop
  at_stop=$(domains_in "$out")
  echo "stopped by $signal${again:+ twice} after $at_stop of $domains domains, exit $rc"
  [ "$at_stop" -lt "$domains" ] || { echo "the scan finished before the signal: nothing was tested"; return 1; }
  ends_in_whole_line "$out" || return 1
  if [ "$signal" != KILL ]; then
    [ "$rc" -eq 130 ] || { echo "exit $rc, expected 130"; return 1; }
    grep -q -- "--resume" "$work/$1.err" || { echo "no word on how to resume:"; cat "$work/$1.err"; return 1; }
  fi
  "$mxtls" scan "${common[@]}" -i "$work/domains.txt" -o "$out" --resume
  [ $? -le 1 ]
}
check "kill -9 in the middle, then --resume" interrupt_and_resume killed KILL
check "SIGINT: in-flight domains finish, then --resume" interrupt_and_resume sigint INT
check "SIGTERM twice: ends at once, then --resume" interrupt_and_resume sigterm2 TERM again

scan_shards() {
  local k
  for k in 1 2 3 4; do
    "$mxtls" scan "${common[@]}" -i "$work/domains.txt" -o "$work/shard$k.jsonl" --shard "$k/4"
    [ $? -le 1 ] || return 1
  done
}
check "four shards" scan_shards

check "killed + resumed equals the full scan" python3 "$here/compare.py" "$work/full.jsonl" -- "$work/killed.jsonl"
check "interrupted (SIGINT) + resumed equals the full scan" python3 "$here/compare.py" "$work/full.jsonl" -- "$work/sigint.jsonl"
check "interrupted (2x SIGTERM) + resumed equals the full scan" python3 "$here/compare.py" "$work/full.jsonl" -- "$work/sigterm2.jsonl"
check "union of the shards equals the full scan" python3 "$here/compare.py" "$work/full.jsonl" -- "$work"/shard{1,2,3,4}.jsonl
summaries() {
  "$mxtls" report "$work/full.jsonl" >"$work/report-full.txt" &&
  "$mxtls" report "$work/killed.jsonl" >"$work/report-killed.txt" &&
  "$mxtls" report "$work"/shard{1,2,3,4}.jsonl >"$work/report-shards.txt" &&
  diff "$work/report-full.txt" "$work/report-killed.txt" && diff "$work/report-full.txt" "$work/report-shards.txt" &&
  cat "$work/report-full.txt"
}
check "the same summary all three ways" summaries

check_summary
