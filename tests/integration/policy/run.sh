#!/usr/bin/env bash
# Integration suite for DANE, MTA-STS and TLS-RPT (issue 4): `mxtls check` against real servers only —
# nsd serving zones signed at run time by ldns-signzone, a validating unbound, Postfix smtpd per MX host,
# nginx serving MTA-STS policies — all inside a private network namespace, so nothing leaves the machine.
#
# Usage: run.sh PATH/TO/mxtls        (as root; exits 77, meson's "skipped", otherwise)
# MXTLS_POLICY_KEEP=1 keeps the work directory (zones, keys, configs, every log, each case's output).
# The cases and their expected fields are in check.py; the text output of every case is kept in
# WORK/check-text.log. The last line is always `integration: N passed, M failed`.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin     # nsd, unbound, nginx, postfix (root shells without sbin exist)

script=$(realpath "${BASH_SOURCE[0]}")
here=$(dirname "$script")
source "$here/../lib/postfix.sh"
if [ $# -ne 1 ]; then
    echo "usage: $0 PATH/TO/mxtls" >&2
    exit 2
fi
mxtls=$(realpath -m "$1")

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root (private network namespace, servers on port 25, 53 and 443)"
    exit 77
fi
if [ ! -x "$mxtls" ]; then
    echo "FAIL: mxtls binary not found or not executable: $mxtls" >&2
    exit 1
fi

# Addresses: everything on 127.0.28.0/24 inside the namespace.
nsd_address=127.0.28.53
unbound_address=127.0.28.54
nginx_address=127.0.28.80
ehlo_name=client.policy.test
# SMTP hosts: short name -> smtpd address (the zone templates give mx.<name>.<zone> the same address).
smtp_hosts=(ee ta selfee changed pkix notlsa tlsabogus halfna halfnr plain sts stsbad)
declare -A smtp_address=(
    [ee]=127.0.28.11 [ta]=127.0.28.12 [selfee]=127.0.28.13 [changed]=127.0.28.14 [pkix]=127.0.28.15
    [notlsa]=127.0.28.16 [tlsabogus]=127.0.28.17 [halfna]=127.0.28.18 [halfnr]=127.0.28.19
    [plain]=127.0.28.20 [sts]=127.0.28.21 [stsbad]=127.0.28.22
)
# The name each host's certificate carries: its MX name, except stsbad (a test-CA certificate for
# another name: "trusted", not "verified").
declare -A smtp_cert_name=(
    [ee]=mx.ee.signed.test [ta]=mx.ta.signed.test [selfee]=mx.selfee.signed.test
    [changed]=mx.changed.signed.test [pkix]=mx.pkix.signed.test [notlsa]=mx.notlsa.signed.test
    [tlsabogus]=mx.tlsabogus.signed.test [halfna]=mx.halfna.signed.test [halfnr]=mx.halfnr.signed.test
    [plain]=mx.plain.unsigned.test [sts]=mx.sts.unsigned.test [stsbad]=mx.other.unsigned.test
)
# MTA-STS policy hosts (mta-sts.<name>.unsigned.test on nginx); their policies are written below.
sts_sites=(enforce testing testfail notlisted none malformed wrongcert mediatype redirect)

# ---------------------------------------------------------------------------------------------------
# Stage 1 (host namespaces): install what is missing (apt needs the real network), then re-run in a
# private mount and network namespace: only `lo` exists there, so no query can reach a real server.
install_missing() {
    local -a missing=()
    command -v nsd >/dev/null || missing+=(nsd)
    command -v unbound >/dev/null || missing+=(unbound)
    command -v nginx >/dev/null || missing+=(nginx-light)
    { command -v ldns-signzone && command -v ldns-keygen && command -v drill; } >/dev/null || missing+=(ldnsutils)
    command -v postfix >/dev/null || missing+=(postfix)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v python3 >/dev/null || missing+=(python3)
    command -v unshare >/dev/null || missing+=(util-linux)
    command -v ip >/dev/null || missing+=(iproute2)
    install_packages "${missing[@]}"
}

if [ -z "${MXTLS_POLICY_IN_NAMESPACE:-}" ]; then
    install_missing
    if ! unshare --mount --net --propagation private true 2>/dev/null; then
        echo "SKIP: cannot create a private mount and network namespace (the suite's DNS must never"
        echo "      reach a real root server)"
        exit 77
    fi
    export MXTLS_POLICY_IN_NAMESPACE=1
    exec unshare --mount --net --propagation private bash "$script" "$mxtls"
fi

# ---------------------------------------------------------------------------------------------------
# Stage 2 (private namespaces).
ip link set lo up

work=$(mktemp -d /tmp/mxtls-policy.XXXXXX)
postfix_dirs        # also opens $work to nginx workers, which drop privileges like Postfix daemons
pki=$work/pki dns=$work/dns www=$work/www ng=$work/nginx cases=$work/cases
mkdir -p "$pki" "$dns" "$www" "$ng/tmp" "$cases"
summary_file=$work/summary
nsd_pid='' unbound_pid='' nginx_pid=''

log() { printf '[policy-suite %3ss] %s\n' "$SECONDS" "$*"; }

stop_pid() {   # stop_pid PID: TERM, wait up to 5 s, then KILL
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

cleanup() {
    local rc=$?
    set +e
    postfix_stop
    stop_pid "$nginx_pid"
    stop_pid "$unbound_pid"
    stop_pid "$nsd_pid"
    if [ "$rc" -ne 0 ]; then
        for f in "$dns/nsd.log" "$dns/unbound.log" "$ng/error.log" "$work/postfix.log" "$pki/openssl.log"; do
            [ -s "$f" ] || continue
            echo "----- last lines of $f"
            tail -n 25 "$f"
        done
    fi
    log "stopped everything"
    if [ -n "${MXTLS_POLICY_KEEP:-}" ]; then
        log "work directory kept: $work"
    fi
    # The CI summary line comes last; a run that died before judging counts every case as failed.
    local summary
    summary=$(cat "$summary_file" 2>/dev/null)
    if [ -z "$summary" ]; then
        summary="integration: 0 passed, $(python3 "$here/check.py" --list 2>/dev/null | wc -l | sed 's/^0$/1/') failed"
        [ "$rc" -ne 0 ] || rc=1
    fi
    [ -n "${MXTLS_POLICY_KEEP:-}" ] || rm -rf "$work"
    echo "$summary"
    exit "$rc"
}
trap cleanup EXIT
SECONDS=0
trap 'exit 130' INT TERM

die() { echo "FAIL: $*" >&2; exit 1; }

# Anything in this namespace that uses the system resolver (Postfix) asks the lab's unbound.
printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$unbound_address" > "$work/resolv.conf"
mount --bind "$work/resolv.conf" /etc/resolv.conf || die "cannot bind-mount over /etc/resolv.conf"

# ---------------------------------------------------------------------------------------------------
# Test PKI: a CA and a leaf per SMTP host and per MTA-STS policy host (ECDSA P-256: quick to make).
cat > "$pki/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$ENV::CERT_NAME
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[self_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$ENV::CERT_NAME
subjectKeyIdentifier = hash
EOF
export CERT_NAME=unused   # openssl.cnf is parsed whole on every use, so CERT_NAME must have a value
ec_key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
ossl() { openssl "$@" -config "$pki/openssl.cnf" 2>>"$pki/openssl.log" || die "openssl $1 failed (see $pki/openssl.log)"; }

log "making the test PKI"
ossl req -x509 "${ec_key[@]}" -sha256 -days 30 -subj "/CN=mxtls policy suite CA" \
    -extensions ca_ext -keyout "$pki/ca.key" -out "$pki/ca.pem"

# issue FILE NAME: key + test-CA leaf for NAME, as FILE.key, FILE.crt, and FILE.pem (key first, Postfix's order).
issue() {
    local file=$1 name=$2
    ossl req -new "${ec_key[@]}" -subj "/CN=$name" -keyout "$pki/$file.key" -out "$pki/$file.csr"
    CERT_NAME=$name openssl x509 -req -sha256 -days 30 -in "$pki/$file.csr" \
        -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
        -extfile "$pki/openssl.cnf" -extensions leaf_ext -out "$pki/$file.crt" 2>>"$pki/openssl.log" ||
        die "signing $file failed (see $pki/openssl.log)"
    cat "$pki/$file.key" "$pki/$file.crt" > "$pki/$file.pem"
}
# TLSA data: SHA-256 of a certificate's SubjectPublicKeyInfo (selector 1) or of the whole certificate (0).
spki_sha256() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
cert_sha256() { openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }

# "changed": the certificate the TLSA record was made for, then its renewal with a NEW key (served).
issue changed-old "${smtp_cert_name[changed]}"
for h in "${smtp_hosts[@]}"; do
    [ "$h" = selfee ] && continue
    issue "smtp-$h" "${smtp_cert_name[$h]}"
done
CERT_NAME=${smtp_cert_name[selfee]} ossl req -x509 "${ec_key[@]}" -sha256 -days 30 \
    -subj "/CN=${smtp_cert_name[selfee]}" -extensions self_ext \
    -keyout "$pki/smtp-selfee.key" -out "$pki/smtp-selfee.crt"
cat "$pki/smtp-selfee.key" "$pki/smtp-selfee.crt" > "$pki/smtp-selfee.pem"
# DANE-TA(2) needs the trust anchor in the chain the server sends.
cat "$pki/ca.pem" >> "$pki/smtp-ta.pem"
for site in "${sts_sites[@]}"; do
    if [ "$site" = wrongcert ]; then issue "sts-$site" mta-sts.other.unsigned.test
    else issue "sts-$site" "mta-sts.$site.unsigned.test"; fi
done
[ "$(spki_sha256 "$pki/changed-old.crt")" != "$(spki_sha256 "$pki/smtp-changed.crt")" ] ||
    die "the renewed 'changed' certificate kept the old key"

# ---------------------------------------------------------------------------------------------------
# Zones: fill in the TLSA digests, sign signed.test (valid) and bogus.test (signatures expired in 2020).
log "making and signing the zones"
# Each digest once (every openssl run costs on a busy machine), then one sed per template.
declare -A tlsa_data=(
    [EE_SPKI]=$(spki_sha256 "$pki/smtp-ee.crt")
    [CA_CERT]=$(cert_sha256 "$pki/ca.pem")
    [SELFEE_SPKI]=$(spki_sha256 "$pki/smtp-selfee.crt")
    [CHANGED_OLD_SPKI]=$(spki_sha256 "$pki/changed-old.crt")
    [PKIX_SPKI]=$(spki_sha256 "$pki/smtp-pkix.crt")
    [TLSABOGUS_SPKI]=$(spki_sha256 "$pki/smtp-tlsabogus.crt")
    [HALFNA_SPKI]=$(spki_sha256 "$pki/smtp-halfna.crt")
    [HALFNR_SPKI]=$(spki_sha256 "$pki/smtp-halfnr.crt")
    [PLAIN_SPKI]=$(spki_sha256 "$pki/smtp-plain.crt")
)
tlsa_data[BOGUS_SPKI]=${tlsa_data[EE_SPKI]}   # never reached: the whole zone is bogus
substitutions=()
for placeholder in "${!tlsa_data[@]}"; do
    [[ ${tlsa_data[$placeholder]} =~ ^[0-9a-f]{64}$ ]] || die "no SHA-256 digest for @$placeholder@"
    substitutions+=(-e "s/@$placeholder@/${tlsa_data[$placeholder]}/g")
done
fill() {   # fill TEMPLATE OUT
    sed "${substitutions[@]}" "$1" > "$2"
    ! grep -n '@[A-Z_]*@' "$2" || die "$1: placeholder left unfilled"
}
for zone in signed.test unsigned.test bogus.test; do
    fill "$here/zones/$zone.zone.in" "$dns/$zone.zone"
done

# The zone template and this script must agree on every SMTP host's address.
for h in "${smtp_hosts[@]}"; do
    case $h in
        halfna) owner=host.halfna zone=unsigned.test ;;
        plain|sts|stsbad) owner=mx.$h zone=unsigned.test ;;
        *) owner=mx.$h zone=signed.test ;;
    esac
    zone_addr=$(awk -v name="$owner" '$1 == name && $2 == "IN" && $3 == "A" { print $4 }' "$dns/$zone.zone")
    [ "$zone_addr" = "${smtp_address[$h]}" ] || die "$zone gives $owner '$zone_addr', run.sh gives ${smtp_address[$h]}"
done

utc() { date -u -d "$1" +%Y%m%d%H%M%S; }
sign() {   # sign ZONE INCEPTION EXPIRATION: ZONE.zone -> ZONE.signed, trust anchor ZONE.ds
    local zone=$1 key
    key=$(cd "$dns" && ldns-keygen -a ECDSAP256SHA256 -k "$zone" 2>>"$dns/ldns.log") ||
        die "ldns-keygen for $zone failed"
    (cd "$dns" && ldns-signzone -o "$zone" -i "$2" -e "$3" -f "$zone.signed" "$zone.zone" "$key" 2>>"$dns/ldns.log") ||
        die "ldns-signzone for $zone failed (see $dns/ldns.log)"
    cp "$dns/$key.ds" "$dns/$zone.ds"
}
sign signed.test "$(utc '-1 hour')" "$(utc '+7 days')"
sign bogus.test 20200101000000 20200201000000
# lookup-error: change the TLSA data after signing, so its RRSIG no longer verifies (bogus).
tampered=$(openssl rand -hex 32)
awk -v owner=_25._tcp.mx.tlsabogus.signed.test. -v data="$tampered" \
    '$1 == owner && $4 == "TLSA" { $NF = data } { print }' "$dns/signed.test.signed" > "$dns/signed.test.signed.new"
mv "$dns/signed.test.signed.new" "$dns/signed.test.signed"
grep -q "$tampered" "$dns/signed.test.signed" || die "could not alter the TLSA of mx.tlsabogus after signing"

# ---------------------------------------------------------------------------------------------------
# nsd: the authoritative server for the three zones.
cat > "$dns/nsd.conf" <<EOF
# nsd for the policy suite: authoritative for signed.test, unsigned.test and bogus.test.
server:
    ip-address: $nsd_address
    port: 53
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$dns"
    pidfile: "$dns/nsd.pid"
    logfile: "$dns/nsd.log"
    database: ""
    zonelistfile: "$dns/zone.list"
    xfrdfile: "$dns/xfrd.state"
    xfrdir: "$dns"
    server-count: 1
    verbosity: 1
remote-control:
    control-enable: no
zone:
    name: signed.test
    zonefile: signed.test.signed
zone:
    name: bogus.test
    zonefile: bogus.test.signed
zone:
    name: unsigned.test
    zonefile: unsigned.test.zone
EOF
nsd-checkconf "$dns/nsd.conf" || die "nsd-checkconf rejects $dns/nsd.conf"

# unbound: validating, trust anchors for signed.test and bogus.test only (unsigned.test is outside
# every anchor: insecure), stub zones to nsd; no root anchor and no route off the machine.
cat > "$dns/unbound.conf" <<EOF
# Validating unbound for the policy suite: stubs to nsd on $nsd_address, lab trust anchors only.
server:
    interface: $unbound_address
    port: 53
    outgoing-interface: $unbound_address
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$dns"
    pidfile: "$dns/unbound.pid"
    logfile: "$dns/unbound.log"
    use-syslog: no
    verbosity: 1
    log-servfail: yes
    val-log-level: 2
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "validator iterator"
    trust-anchor-file: "$dns/signed.test.ds"
    trust-anchor-file: "$dns/bogus.test.ds"
    # unbound answers "test." itself by default (RFC 6761); the lab zones live there.
    local-zone: "test." nodefault
    qname-minimisation: no
stub-zone:
    name: "signed.test"
    stub-addr: $nsd_address
stub-zone:
    name: "unsigned.test"
    stub-addr: $nsd_address
stub-zone:
    name: "bogus.test"
    stub-addr: $nsd_address
remote-control:
    control-enable: no
EOF
unbound-checkconf "$dns/unbound.conf" >/dev/null || die "unbound-checkconf rejects $dns/unbound.conf"

# ask SERVER NAME TYPE: drill's answer (with DNSSEC OK), for the harness's own sanity checks.
ask() { drill -D @"$1" "$2" "$3" 2>&1; }
log "starting nsd ($nsd_address) and unbound ($unbound_address)"
nsd -d -c "$dns/nsd.conf" > "$dns/nsd.out" 2>&1 &
nsd_pid=$!
for _ in $(seq 50); do
    ask "$nsd_address" signed.test SOA | grep -q 'rcode: NOERROR' && break
    kill -0 "$nsd_pid" 2>/dev/null || die "nsd exited early: $(tail -n 5 "$dns/nsd.out" "$dns/nsd.log" 2>/dev/null)"
    sleep 0.2
done
ask "$nsd_address" signed.test SOA | grep -q 'rcode: NOERROR' || die "nsd does not answer for signed.test"
unbound -d -c "$dns/unbound.conf" > "$dns/unbound.out" 2>&1 &
unbound_pid=$!
for _ in $(seq 50); do
    ask "$unbound_address" unsigned.test SOA | grep -q 'rcode: NOERROR' && break
    kill -0 "$unbound_pid" 2>/dev/null || die "unbound exited early: $(tail -n 5 "$dns/unbound.out")"
    sleep 0.2
done

# The DNSSEC stack must be what the cases assume, or no result would mean anything.
flags() { ask "$unbound_address" "$1" "$2" | grep -m1 '^;; flags:'; }
rcode() { ask "$unbound_address" "$1" "$2" | grep -o -m1 'rcode: [A-Z]*'; }
[[ $(flags ee.signed.test MX) == *" ad"* ]] || die "unbound: no AD for ee.signed.test MX: $(flags ee.signed.test MX)"
[[ $(flags enforce.unsigned.test MX) != *" ad"* ]] || die "unbound: AD for the unsigned zone"
[ "$(rcode bogus.test MX)" = "rcode: SERVFAIL" ] || die "unbound: bogus.test MX is not SERVFAIL: $(rcode bogus.test MX)"
[ "$(rcode _25._tcp.mx.tlsabogus.signed.test TLSA)" = "rcode: SERVFAIL" ] ||
    die "unbound: the altered TLSA is not SERVFAIL"
log "DNSSEC stack checked: signed.test secure (AD), unsigned.test insecure, bogus.test and the altered TLSA SERVFAIL"

# ---------------------------------------------------------------------------------------------------
# nginx: one server per mta-sts.<site>.unsigned.test on $nginx_address:443 (SNI), the policies below.
write_policy() {   # write_policy SITE LINES...: the policy file (CRLF-free, one "key: value" per line)
    local site=$1
    shift
    mkdir -p "$www/$site/.well-known"
    printf '%s\n' "$@" > "$www/$site/.well-known/mta-sts.txt"
}
write_policy enforce   "version: STSv1" "mode: enforce" "mx: mx.sts.unsigned.test" "max_age: 604800"
write_policy testing   "version: STSv1" "mode: testing" "mx: *.sts.unsigned.test" "max_age: 86400"
write_policy testfail  "version: STSv1" "mode: testing" "mx: mx.stsbad.unsigned.test" "max_age: 86400"
write_policy notlisted "version: STSv1" "mode: enforce" "mx: mx.elsewhere.unsigned.test" "max_age: 604800"
write_policy none      "version: STSv1" "mode: none" "mx: mx.sts.unsigned.test" "max_age: 86400"
# line 2 is the error ("enforcing" is not a mode)
write_policy malformed "version: STSv1" "mode: enforcing" "mx: mx.sts.unsigned.test" "max_age: 604800"
# valid policies that a sender must not use: wrong certificate, wrong media type, behind a redirect
write_policy wrongcert "version: STSv1" "mode: enforce" "mx: mx.sts.unsigned.test" "max_age: 604800"
write_policy mediatype "version: STSv1" "mode: enforce" "mx: mx.sts.unsigned.test" "max_age: 604800"
chmod -R a+rX "$www"

{
    cat <<EOF
# nginx for the policy suite: MTA-STS policy hosts on $nginx_address:443, one server per SNI name.
worker_processes 1;
daemon off;
pid $ng/nginx.pid;
error_log $ng/error.log info;
events { worker_connections 64; }
http {
    access_log $ng/access.log;
    client_body_temp_path $ng/tmp/body;
    proxy_temp_path $ng/tmp/proxy;
    fastcgi_temp_path $ng/tmp/fastcgi;
    uwsgi_temp_path $ng/tmp/uwsgi;
    scgi_temp_path $ng/tmp/scgi;
    server_tokens off;
    ssl_protocols TLSv1.2 TLSv1.3;
    # Unknown names get no certificate at all.
    server {
        listen $nginx_address:443 ssl default_server;
        ssl_reject_handshake on;
    }
EOF
    for site in "${sts_sites[@]}"; do
        media=text/plain
        [ "$site" = mediatype ] && media=text/html
        if [ "$site" = redirect ]; then
            location="return 301 https://mta-sts.enforce.unsigned.test/.well-known/mta-sts.txt;"
        else
            location="types { } default_type $media;"
        fi
        cat <<EOF
    server {
        listen $nginx_address:443 ssl;
        server_name mta-sts.$site.unsigned.test;
        ssl_certificate $pki/sts-$site.crt;
        ssl_certificate_key $pki/sts-$site.key;
        root $www/$site;
        location = /.well-known/mta-sts.txt { $location }
        location / { return 404; }
    }
EOF
    done
    echo "}"
} > "$ng/nginx.conf"
nginx -t -q -c "$ng/nginx.conf" -p "$ng" -e "$ng/error.log" || die "nginx -t rejects $ng/nginx.conf"
log "starting nginx ($nginx_address:443)"
nginx -c "$ng/nginx.conf" -p "$ng" -e "$ng/error.log" > "$ng/nginx.out" 2>&1 &
nginx_pid=$!

# ---------------------------------------------------------------------------------------------------
# Postfix: one instance, one smtpd per SMTP host, no delivery anywhere, logging to a file.
{
    postfix_main_cf
    cat <<EOF
myhostname = mx.policy.test
mydomain = policy.test
smtpd_peername_lookup = no
smtpd_tls_loglevel = 1
# A certificate verdict is wanted everywhere: no anonymous suites.
smtpd_tls_exclude_ciphers = aNULL
EOF
} > "$pfconf/main.cf"
{
    for h in "${smtp_hosts[@]}"; do
        echo "${smtp_address[$h]}:smtp inet n - n - 4 smtpd -o syslog_name=postfix/$h" \
             "-o myhostname=${smtp_cert_name[$h]} -o smtpd_tls_security_level=may" \
             "-o smtpd_tls_chain_files=$pki/smtp-$h.pem"
    done
    postfix_master_services
} > "$pfconf/master.cf"
postfix_start

# Ready = every smtpd greets with 220 and nginx accepts connections.
banner() {
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/25" || exit 1
        IFS= read -r -t 2 line <&3 || exit 1
        printf "QUIT\r\n" >&3
        [[ $line == 220* ]]' _ "$1" 2>/dev/null
}
for h in "${smtp_hosts[@]}"; do
    for _ in $(seq 60); do
        banner "${smtp_address[$h]}" && continue 2
        sleep 0.25
    done
    die "smtpd '$h' on ${smtp_address[$h]}:25 does not greet"
done
for _ in $(seq 50); do
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/443"' _ "$nginx_address" 2>/dev/null && break
    kill -0 "$nginx_pid" 2>/dev/null || die "nginx exited early: $(tail -n 5 "$ng/error.log")"
    sleep 0.2
done
log "all ${#smtp_hosts[@]} smtpd hosts greet; nginx listens"

# ---------------------------------------------------------------------------------------------------
# The cases: `mxtls check` once as JSON Lines (judged by check.py) and once as text (kept in the log).
common=(--resolver "$unbound_address" --ca-file "$pki/ca.pem" --ehlo-name "$ehlo_name" -4
        --connect-timeout 5 --command-timeout 10 --handshake-timeout 10 --probe-timeout 30 --mta-sts-timeout 10)
text_log=$work/check-text.log
: > "$text_log"
while read -r name domain; do
    rc=0
    timeout 60 "$mxtls" check --format jsonl "${common[@]}" "$domain" > "$cases/$name.jsonl" \
        2> "$cases/$name.err" || rc=$?
    echo "$rc" > "$cases/$name.rc"
    [ -s "$cases/$name.err" ] && { echo "----- $name: mxtls wrote to stderr:"; cat "$cases/$name.err"; }
    {
        echo "===== $name: mxtls check --format text $domain"
        text_rc=0
        timeout 60 "$mxtls" check --format text --no-color "${common[@]}" "$domain" 2>&1 || text_rc=$?
        echo "===== (exit $text_rc)"
        echo
    } >> "$text_log"
done < <(python3 "$here/check.py" --list)
log "ran $(python3 "$here/check.py" --list | wc -l) cases; text output in $text_log"

status=0
python3 "$here/check.py" --results "$cases" --summary-file "$summary_file" || status=1
exit "$status"
