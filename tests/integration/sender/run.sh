#!/usr/bin/env bash
# Integration suite: a real Postfix as the *sender*, relaying through a transport map to
# `mxtls listen --once` on 127.0.27.25:2525. Case "cleartext": smtp_tls_security_level empty (the
# CentOS 7 / Amazon Linux 2 default) must give a red lock; case "may" must give a grey lock with the
# TLS version and cipher of Postfix's own "TLS connection established to …" log line.
#
# Usage: run.sh PATH/TO/mxtls        (as root; exits 77, meson's "skipped", otherwise)
# MXTLS_SENDER_KEEP=1 keeps the work directory (configs, queue, logs, saved messages).
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin

if [ $# -ne 1 ]; then
    echo "usage: $0 PATH/TO/mxtls" >&2
    exit 2
fi
mxtls=$(realpath -m "$1")

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root (a private Postfix instance, its queue owned by the postfix user)"
    exit 77
fi
if [ ! -x "$mxtls" ]; then
    echo "FAIL: mxtls binary not found or not executable: $mxtls" >&2
    exit 1
fi

listen_address=127.0.27.25
listen_port=2525
sender_address=127.0.27.30     # Postfix's smtp client binds here, so the peer is recognisable
sender_name=sender.pf27.test
listen_name=listen.pf27.test

source "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/../lib/postfix.sh"
install_missing() {
    local -a missing=()
    { command -v postfix && command -v sendmail && command -v postqueue; } >/dev/null || missing+=(postfix)
    command -v python3 >/dev/null || missing+=(python3)
    install_packages "${missing[@]}"
}
install_missing

work=$(mktemp -d /tmp/mxtls-sender.XXXXXX)
postfix_dirs
listen_pid=

log() { printf '[sender-suite %3ss] %s\n' "$SECONDS" "$*"; }

stop_listen() {
    [ -n "$listen_pid" ] || return 0
    local i
    kill -TERM "$listen_pid" 2>/dev/null || true
    for i in $(seq 25); do kill -0 "$listen_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$listen_pid" 2>/dev/null || true
    wait "$listen_pid" 2>/dev/null || true
    listen_pid=
}

cleanup() {
    local rc=$?
    set +e
    stop_listen
    postfix_stop
    if [ "$rc" -ne 0 ]; then
        for f in "$work/postfix.log" "$work"/*.err; do
            [ -s "$f" ] || continue
            echo "----- last lines of $f"
            tail -n 30 "$f"
        done
    fi
    log "stopped everything"
    if [ -n "${MXTLS_SENDER_KEEP:-}" ]; then
        log "work directory kept: $work"
    else
        rm -rf "$work"
    fi
    exit "$rc"
}
trap cleanup EXIT
SECONDS=0
trap 'exit 130' INT TERM

die() { echo "FAIL: $*" >&2; exit 1; }

if command -v ss >/dev/null; then
    busy=$(ss -Hltn | awk '{ print $4 }' | grep -E "^(127\.0\.27\.25|0\.0\.0\.0|\*):$listen_port$" || true)
    [ -z "$busy" ] || die "port in use: $(echo $busy) (stop whatever listens there)"
fi

# ---------------------------------------------------------------------------------------------------
# The sending Postfix: no smtpd at all, two smtp transports to the same receiver. main.cf leaves
# smtp_tls_security_level empty, as CentOS 7 and Amazon Linux 2 ship it; the "may" transport
# overrides it the way an admin's fix would.
{
    postfix_main_cf
    # Only the two test domains go anywhere (transport_maps); everything else, bounces included,
    # is discarded by the shared settings.
    cat <<EOF
syslog_name = postfix-sender
myhostname = $sender_name
mydomain = pf27.test
transport_maps = texthash:$pfconf/transport
smtp_bind_address = $sender_address
smtp_tls_security_level =
smtp_tls_loglevel = 1
smtp_connect_timeout = 10s
EOF
} > "$pfconf/main.cf"
cat > "$pfconf/transport" <<EOF
clear.pf27.test  smtp:[$listen_address]:$listen_port
may.pf27.test    smtp_may:[$listen_address]:$listen_port
EOF
{
    postfix_master_services
    echo "smtp_may  unix - - n - - smtp -o smtp_tls_security_level=may"
} > "$pfconf/master.cf"

postfix_start

# ---------------------------------------------------------------------------------------------------
# One case: mxtls listen --once, a message through the transport, Postfix's log, mxtls's verdict.
passed=0
failed=0
table=()

record() {  # record CASE RESULT DETAIL
    table+=("$(printf '%-10s %-5s %s' "$1" "$2" "$3")")
    if [ "$2" = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

run_case() {
    local name=$1 domain=$2 expect_lock=$3 expect_rc=$4
    local out=$work/$name.jsonl err=$work/$name.err text=$work/$name.txt saved=$work/saved-$name
    mkdir -p "$saved"
    : > "$out"
    "$mxtls" listen --listen "$listen_address:$listen_port" --hostname "$listen_name" --once --no-reverse \
        --save "$saved" --format jsonl --command-timeout 30 --session-timeout 120 > "$out" 2> "$err" &
    listen_pid=$!
    local i
    for i in $(seq 100); do
        grep -q "ready on" "$err" 2>/dev/null && break
        kill -0 "$listen_pid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q "ready on" "$err"; then
        record "$name" FAIL "mxtls listen did not start: $(tail -n 1 "$err")"
        stop_listen
        return
    fi

    local log_lines_before
    log_lines_before=$(wc -l < "$work/postfix.log" 2>/dev/null || echo 0)
    printf 'Subject: mxtls sender suite, case %s\nFrom: root@pf27.test\nTo: taro@%s\n\nhello from the %s case\n' \
        "$name" "$domain" "$name" | sendmail -C "$pfconf" -f "root@pf27.test" "taro@$domain" ||
        { record "$name" FAIL "sendmail -C failed"; stop_listen; return; }
    postqueue -c "$pfconf" -f >/dev/null 2>&1 || true

    # Bounded wait: mxtls exits after the first message (--once).
    local rc=124
    for i in $(seq 600); do
        if ! kill -0 "$listen_pid" 2>/dev/null; then
            rc=0
            wait "$listen_pid" || rc=$?
            listen_pid=
            break
        fi
        [ $((i % 50)) -eq 0 ] && postqueue -c "$pfconf" -f >/dev/null 2>&1
        sleep 0.1
    done
    if [ -n "$listen_pid" ]; then
        stop_listen
        record "$name" FAIL "no message reached mxtls listen within 60 s"
        return
    fi
    sleep 0.5   # Postfix logs status=sent right after the final 250
    local new_log
    new_log=$(tail -n +"$((log_lines_before + 1))" "$work/postfix.log")
    local pf_line pf_version="" pf_cipher="" pf_group=""
    pf_line=$(grep -m1 "TLS connection established to $listen_address" <<<"$new_log" || true)
    if [ -n "$pf_line" ]; then
        pf_version=$(sed -E 's/.*TLS connection established to [^ ]*: ([^ ]+) with cipher ([^ ]+).*/\1/' <<<"$pf_line")
        pf_cipher=$(sed -E 's/.*TLS connection established to [^ ]*: ([^ ]+) with cipher ([^ ]+).*/\2/' <<<"$pf_line")
        if grep -q 'key-exchange ' <<<"$pf_line"; then
            pf_group=$(sed -E 's/.* key-exchange ([^ ]+).*/\1/' <<<"$pf_line")
        fi
    fi
    local sent=no
    grep -q "to=<taro@$domain>.*status=sent" <<<"$new_log" && sent=yes

    local saved_file
    saved_file=$(ls "$saved"/*.eml 2>/dev/null | head -n 1)
    local headers_json=""
    [ -n "$saved_file" ] && headers_json=$("$mxtls" headers --format jsonl "$saved_file" || true)

    local verdict
    verdict=$(python3 - "$out" "$expect_lock" "$pf_version" "$pf_cipher" "$sent" "$rc" "$expect_rc" \
        "$sender_address" "$sender_name" "$headers_json" "$pf_group" <<'PY'
import json, sys
out, lock, pf_version, pf_cipher, sent, rc, expect_rc, peer, ehlo, headers, pf_group = sys.argv[1:12]
problems = []
records = [json.loads(l) for l in open(out, encoding="utf-8") if l.strip()]
with_message = [r for r in records if r.get("messages")]
if not with_message:
    print("FAIL no session with a message in the mxtls output"); sys.exit()
r = with_message[-1]
if r["gmail_lock"] != lock: problems.append(f"lock {r['gmail_lock']}, expected {lock}")
if r["peer_ip"] != peer: problems.append(f"peer {r['peer_ip']}, expected {peer}")
if r["ehlo_name"] != ehlo: problems.append(f"EHLO {r['ehlo_name']}, expected {ehlo}")
if sent != "yes": problems.append("Postfix did not log status=sent")
if rc != expect_rc: problems.append(f"mxtls exit {rc}, expected {expect_rc}")
if lock == "red":
    if r["starttls"] or r["tls_version"] is not None: problems.append("TLS reported for a cleartext session")
    if pf_version: problems.append("Postfix logged a TLS connection in the cleartext case")
    if not r["fix"] or not any("smtp_tls_security_level = may" in f for f in r["fix"]):
        problems.append("no Postfix fix in the report")
    detail = "red lock, cleartext; fix offered"
else:
    if not pf_version: problems.append("no 'TLS connection established' line in Postfix's log")
    if r["tls_version"] != pf_version: problems.append(f"version {r['tls_version']} != Postfix's {pf_version}")
    if r["cipher"] != pf_cipher: problems.append(f"cipher {r['cipher']} != Postfix's {pf_cipher}")
    # OpenSSL names groups in lower case ("x25519"), Postfix's log in upper case ("X25519").
    if pf_group and (r["group"] or "").lower() != pf_group.lower():
        problems.append(f"group {r['group']} != Postfix's {pf_group}")
    detail = f"grey lock, {r['tls_version']} {r['cipher']} {r['group']} = Postfix log"
# The saved message carries our Received: line; `mxtls headers` must read this hop back.
if not headers:
    problems.append("no saved message or `mxtls headers` printed nothing")
else:
    h = json.loads(headers)
    last = h["hops"][-1] if h["hops"] else {}
    want = "yes" if lock == "grey" else "no"
    if last.get("encrypted") != want: problems.append(f"saved message: last hop encrypted={last.get('encrypted')}, expected {want}")
    if lock == "grey" and last.get("tls_version") != pf_version:
        problems.append(f"saved message: hop TLS {last.get('tls_version')} != {pf_version}")
    detail += f"; saved, {h['hop_count']} hops read back"
print(("FAIL " + "; ".join(problems)) if problems else "pass " + detail)
PY
)
    record "$name" "${verdict%% *}" "${verdict#* }"
    log "case $name: $verdict"
    [ -n "$pf_line" ] && log "  Postfix: ${pf_line#*: }"
    python3 - "$out" <<'PY' || true
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    print(f"  mxtls:   session {r['session']} from {r['peer_ip']} EHLO {r['ehlo_name']}: lock {r['gmail_lock']}, "
          f"starttls {r['starttls']}, {r['tls_version']} {r['cipher']} {r['group']}, {len(r['messages'])} message(s)")
PY
}

run_case cleartext clear.pf27.test red 1
run_case may may.pf27.test grey 0

echo
printf '%-10s %-5s %s\n' case result detail
for row in "${table[@]}"; do echo "$row"; done
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
