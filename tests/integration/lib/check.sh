# Sourced by the integration harnesses: `check NAME COMMAND…` runs one case with its output in
# $work/NAME.log, prints "ok" or "FAILED" with the log's last lines, and counts it in
# $pass/$fail; `check_summary` prints the line .ci/summarize reads and fails if any case did.
pass=0 fail=0
check() {
  local name=$1 log
  shift
  log="$work/${name//[^A-Za-z0-9._-]/_}.log"
  if "$@" >"$log" 2>&1; then
    pass=$((pass + 1)); printf '  %-60s ok\n' "$name"
  else
    fail=$((fail + 1)); printf '  %-60s FAILED\n' "$name"; sed 's/^/      /' "$log" | tail -20
  fi
}
check_summary() {
  echo "integration: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
