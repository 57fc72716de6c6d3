#!/usr/bin/env bash
# A network that blocks outbound SMTP, made real: in a private network namespace a routing rule
# refuses TCP to the lab's SMTP port (connect() fails with EACCES, as behind a local firewall).
# `mxtls scan` must say so early and stop (exit 4) without writing those domains, `--resume`
# once the rule is gone must give exactly the records of an uninterrupted scan, and
# `--no-port25-check` and `mxtls check` must keep every result and hint at the block.
# Time-outs (the other face of a blocked port) are covered by the unit test port25_watch_test.
# Usage: run.sh PATH/TO/mxtls   (as root; exits 77, meson's "skipped", otherwise)
set -uo pipefail
mxtls=$(realpath -m "${1:?usage: run.sh PATH/TO/mxtls}")
here=$(cd "$(dirname "$0")" && pwd)
script="$here/run.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: needs root (private network namespace with its own routing rules)"
  exit 77
fi
if [ -z "${MXTLS_BLOCKED_IN_NAMESPACE:-}" ]; then
  command -v ip >/dev/null || { echo "SKIP: needs ip (iproute2)"; exit 77; }
  if ! unshare --net true 2>/dev/null; then
    echo "SKIP: cannot create a private network namespace"
    exit 77
  fi
  export MXTLS_BLOCKED_IN_NAMESPACE=1
  exec unshare --net bash "$script" "$mxtls"
fi

# ---- inside the private network namespace: only lo exists ---------------------------------------
ip link set lo up
work=$(mktemp -d /tmp/mxtls-blocked-it.XXXXXX)
lab_pid=
cleanup() {
  [ -n "$lab_pid" ] && kill "$lab_pid" 2>/dev/null && wait "$lab_pid" 2>/dev/null
  [ -n "${MXTLS_BLOCKED_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

. "$here/../lib/check.sh"

port=2626
dns=127.53.0.54:5454
domains=1500
# 600 of the 1500 domains have a host of their own: 127.64.0.0/24 to 127.64.2.0/24 (three networks).
"$mxtls" lab --scale "$domains" --hosts 800 --delay-median 2ms --mix good=80,no_starttls=10,self_signed=10 \
  --dns "$dns" --smtp-port "$port" --ca-out "$work/ca.pem" --domains-out "$work/domains.txt" >"$work/lab.log" 2>&1 &
lab_pid=$!
for _ in $(seq 1 300); do
  [ -s "$work/domains.txt" ] && grep -q . "$work/lab.log" && break
  kill -0 "$lab_pid" 2>/dev/null || { echo "the scale lab did not start:"; cat "$work/lab.log"; exit 1; }
  sleep 0.1
done
sleep 0.3
# A list in no particular order, as real lists are: the first servers sit in several networks.
shuf --random-source=<(yes) "$work/domains.txt" >"$work/list.txt"

common=(--resolver "$dns" --port "$port" --ca-file "$work/ca.pem" --ehlo-name scanner.mxtls.test
        --greeting-timeout 2 --command-timeout 2 --handshake-timeout 3 --probe-timeout 10 --dns-timeout 2)

block() {  # routing rules before the local table: TCP to the SMTP port is refused (EACCES)
  ip rule add pref 100 table local && ip rule del pref 0 && ip rule add pref 50 ipproto tcp dport "$port" prohibit
}
unblock() { ip rule del pref 50 && ip rule add pref 0 table local && ip rule del pref 100; }

full_scan() { "$mxtls" scan "${common[@]}" -q -i "$work/list.txt" -o "$work/full.jsonl"; [ $? -le 1 ]; }
check "reference scan, port open" full_scan

blocked_scan() {
  block || return 1
  "$mxtls" scan "${common[@]}" -q --concurrency 50 -i "$work/list.txt" -o "$work/blocked.jsonl" 2>"$work/blocked.err"
  local rc=$?
  unblock
  cat "$work/blocked.err"
  [ "$rc" -eq 4 ] || { echo "exit $rc, expected 4"; return 1; }
  grep -q "outbound port $port looks blocked by this machine's network (IPv4): 0 of [0-9]* connections to port $port in [0-9]* networks got through: [0-9]* refused by this machine's firewall" "$work/blocked.err" || return 1
  grep -q -- "--resume" "$work/blocked.err" || return 1
  local written
  written=$(grep -c '"record":"domain"' "$work/blocked.jsonl" 2>/dev/null || true)
  echo "domains written while blocked: $written of $domains"
  # Only domains that never needed a connection (none here) may be written.
  [ "${written:-0}" -eq 0 ] || { grep '"record":"domain"' "$work/blocked.jsonl" | head -3; return 1; }
  ! grep -q "firewall" "$work/blocked.jsonl"
}
check "blocked: says so, stops with exit 4, writes no failures" blocked_scan

resume_open() { "$mxtls" scan "${common[@]}" -q --resume -i "$work/list.txt" -o "$work/blocked.jsonl"; [ $? -le 1 ]; }
check "--resume once the port is open" resume_open
check "blocked + resumed equals the uninterrupted scan" python3 "$here/../scan/compare.py" "$work/full.jsonl" -- "$work/blocked.jsonl"

anyway_scan() {
  block || return 1
  "$mxtls" scan "${common[@]}" -q --no-port25-check --concurrency 50 -i "$work/list.txt" -o "$work/anyway.jsonl"
  local rc=$?
  unblock
  [ "$rc" -eq 1 ] || { echo "exit $rc, expected 1 (findings)"; return 1; }
  local written firewall
  written=$(grep -c '"record":"domain"' "$work/anyway.jsonl")
  firewall=$(grep -c '"error":"blocked by a firewall on this machine: Permission denied"' "$work/anyway.jsonl")
  echo "--no-port25-check: $written domains written, $firewall probes refused by the firewall"
  [ "$written" -eq "$domains" ] && [ "$firewall" -gt 0 ]
}
check "--no-port25-check: every domain written with the firewall's refusal" anyway_scan

check_hint() {
  block || return 1
  "$mxtls" check "${common[@]}" --format csv $(head -3 "$work/list.txt") >"$work/check.csv" 2>"$work/check.err"
  local rc=$?
  unblock
  cat "$work/check.err"
  [ "$rc" -eq 1 ] || { echo "exit $rc, expected 1"; return 1; }
  grep -q "this network may block outbound port $port" "$work/check.err"
}
check "mxtls check hints at the block" check_hint

check_summary
