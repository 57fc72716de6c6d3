#!/usr/bin/env bash
# Integration suite: `mxtls check` against a real Postfix on loopback, judged by Postfix's own posttls-finger.
# One private Postfix instance with one smtpd per personality on 127.0.26.x:25, DNS from `mxtls lab`;
# prints an agreement table (compare.py) and exits 0 only when mxtls and posttls-finger agree everywhere.
#
# Usage: run.sh PATH/TO/mxtls        (as root; exits 77, meson's "skipped", otherwise)
# MXTLS_PF_KEEP=1 keeps the work directory (configs, certificates, every log) for inspection.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin     # postfix, posttls-finger (root shells without sbin exist)

script=$(realpath "${BASH_SOURCE[0]}")
here=$(dirname "$script")
source "$here/../lib/postfix.sh"
if [ $# -ne 1 ]; then
    echo "usage: $0 PATH/TO/mxtls" >&2
    exit 2
fi
mxtls=$(realpath -m "$1")

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: needs root (Postfix listens on port 25; a private mount namespace keeps DNS on loopback)"
    exit 77
fi
if [ ! -x "$mxtls" ]; then
    echo "FAIL: mxtls binary not found or not executable: $mxtls" >&2
    exit 1
fi

# The personalities: name -> smtpd address. pf.zone must give mx.<name>.pf.test the same address.
personalities=(notls good selfsigned wrongname expired tls12 tls10 anon)
declare -A address=(
    [notls]=127.0.26.10 [good]=127.0.26.11 [selfsigned]=127.0.26.12 [wrongname]=127.0.26.13
    [expired]=127.0.26.14 [tls12]=127.0.26.15 [tls10]=127.0.26.16 [anon]=127.0.26.17
)
dns_address=127.0.26.53
dns_port=53
zone_file=$here/pf.zone
ehlo_name=client.pf.test
# Postfix's default "medium" list plus @SECLEVEL=0: OpenSSL 3 only speaks TLS 1.0/1.1 at level 0, and a
# probe must not refuse what it measures. The order (and so every other choice) is Postfix's own.
legacy_cipherlist='aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:@SECLEVEL=0'

# ---------------------------------------------------------------------------------------------------
# Stage 1 (host namespace): install what is missing, then re-run inside a private mount namespace.
# apt needs the real resolver, so it runs before /etc/resolv.conf is replaced.
install_missing() {
    local -a missing=()
    { command -v postfix && command -v posttls-finger; } >/dev/null || missing+=(postfix)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v faketime >/dev/null || missing+=(faketime)
    command -v python3 >/dev/null || missing+=(python3)
    command -v unshare >/dev/null || missing+=(util-linux)
    install_packages "${missing[@]}"
}

if [ -z "${MXTLS_PF_IN_NAMESPACE:-}" ]; then
    install_missing
    if ! unshare --mount --propagation private true 2>/dev/null; then
        echo "SKIP: cannot create a mount namespace (needed to point the resolver of Postfix and"
        echo "      posttls-finger at the test DNS on loopback without touching the host)"
        exit 77
    fi
    export MXTLS_PF_IN_NAMESPACE=1
    exec unshare --mount --propagation private bash "$script" "$mxtls"
fi

# ---------------------------------------------------------------------------------------------------
# Stage 2 (private mount namespace). From here on every DNS lookup of every process goes to the lab
# DNS on 127.0.26.53: the bind mount below is visible only inside this namespace.
work=$(mktemp -d /tmp/mxtls-postfix.XXXXXX)
postfix_dirs
pki=$work/pki
finger=$work/finger
mkdir -p "$pki" "$finger"
lab_pid=

log() { printf '[postfix-suite %3ss] %s\n' "$SECONDS" "$*"; }

cleanup() {
    local rc=$?
    set +e
    postfix_stop
    local i
    if [ -n "$lab_pid" ]; then
        kill -TERM "$lab_pid" 2>/dev/null
        for i in $(seq 25); do kill -0 "$lab_pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$lab_pid" 2>/dev/null
        wait "$lab_pid" 2>/dev/null
    fi
    if [ "$rc" -ne 0 ]; then
        for f in "$work/postfix.log" "$work/lab.log" "$work/mxtls.err"; do
            [ -s "$f" ] || continue
            echo "----- last lines of $f"
            tail -n 40 "$f"
        done
    fi
    log "stopped everything"
    if [ -n "${MXTLS_PF_KEEP:-}" ]; then
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

printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$dns_address" > "$work/resolv.conf"
mount --bind "$work/resolv.conf" /etc/resolv.conf || die "cannot bind-mount over /etc/resolv.conf"

# The zone and this script must agree on every address.
for p in "${personalities[@]}"; do
    zone_addr=$(awk -v name="mx.$p" '$1 == name && $2 == "IN" && $3 == "A" { print $4 }' "$zone_file")
    [ "$zone_addr" = "${address[$p]}" ] ||
        die "pf.zone gives mx.$p '${zone_addr}', run.sh gives ${address[$p]}"
done

# Nothing may already listen where the suite will (a stale run, a system MTA on *:25).
if command -v ss >/dev/null; then
    busy=$(ss -Hltnu | awk '{ print $5 }' |
        grep -E "^(127\.0\.26\.[0-9]+|0\.0\.0\.0|\*|\[::\]):(25|$dns_port)$" || true)
    [ -z "$busy" ] || die "ports in use: $(echo $busy) (stop whatever listens there)"
fi

# ---------------------------------------------------------------------------------------------------
# Test PKI: a CA, and one certificate per personality (openssl CLI; faketime for the expired one).
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
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$ENV::CERT_NAME
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[self_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$ENV::CERT_NAME
subjectKeyIdentifier = hash
EOF

# openssl.cnf is parsed whole on every use, so CERT_NAME must always have a value.
export CERT_NAME=unused
ossl() { openssl "$@" -config "$pki/openssl.cnf" 2>>"$pki/openssl.log" || die "openssl $1 failed (see $pki/openssl.log)"; }

log "making the test PKI"
ossl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=mxtls Postfix suite CA" \
    -extensions ca_ext -keyout "$pki/ca.key" -out "$pki/ca.pem"

# issue FILE NAME [FAKETIME]: key + CA-signed leaf for NAME into FILE.pem (key first, as Postfix wants).
issue() {
    local file=$1 name=$2 when=${3:-}
    local -a clock=()
    [ -n "$when" ] && clock=(faketime "$when")
    ossl req -new -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$pki/$file.key" -out "$pki/$file.csr"
    CERT_NAME=$name "${clock[@]}" openssl x509 -req -sha256 -days 30 -in "$pki/$file.csr" \
        -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
        -extfile "$pki/openssl.cnf" -extensions leaf_ext -out "$pki/$file.crt" 2>>"$pki/openssl.log" ||
        die "signing $file failed (see $pki/openssl.log)"
    cat "$pki/$file.key" "$pki/$file.crt" > "$pki/$file.pem"
}
issue good mx.good.pf.test
issue wrongname mx.other.pf.test
issue expired mx.expired.pf.test '2020-01-01 00:00:00'
issue tls12 mx.tls12.pf.test
issue tls10 mx.tls10.pf.test
issue anon mx.anon.pf.test     # smtpd wants a certificate to offer STARTTLS; aNULL suites never send it
CERT_NAME=mx.selfsigned.pf.test ossl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 \
    -subj "/CN=mx.selfsigned.pf.test" -extensions self_ext \
    -keyout "$pki/selfsigned.key" -out "$pki/selfsigned.crt"
cat "$pki/selfsigned.key" "$pki/selfsigned.crt" > "$pki/selfsigned.pem"

# The expired certificate must really be expired (faketime could silently do nothing).
if openssl x509 -in "$pki/expired.crt" -noout -checkend 0 >/dev/null; then
    die "the 'expired' certificate is still valid: $(openssl x509 -in "$pki/expired.crt" -noout -enddate)"
fi
openssl x509 -in "$pki/good.crt" -noout -checkend 86400 >/dev/null || die "the 'good' certificate is not valid"

# ---------------------------------------------------------------------------------------------------
# Postfix: one instance, one smtpd per personality, no delivery anywhere, logging to a file.
{
    postfix_main_cf
    cat <<EOF
myhostname = mx.pf.test
mydomain = pf.test
# No reverse lookups of clients: the test never needs them.
smtpd_peername_lookup = no
smtpd_tls_loglevel = 1
# The server picks the cipher from what the client offers, so the cipher is a property of the server
# (what a scanner reports), not of which client asked.
tls_preempt_cipherlist = yes
EOF
} > "$pfconf/main.cf"

personality_options() {
    local p=$1
    printf -- ' -o syslog_name=postfix/%s' "$p"
    if [ "$p" = notls ]; then
        printf -- ' -o smtpd_tls_security_level=none'
        return
    fi
    printf -- ' -o smtpd_tls_security_level=may -o smtpd_tls_chain_files=%s' "$pki/$p.pem"
    case $p in
        anon)
            # Only anonymous (aNULL) suites, so TLS 1.2 at most (TLS 1.3 has none).
            printf -- ' -o smtpd_tls_protocols=!SSLv2,!SSLv3,!TLSv1,!TLSv1.1,!TLSv1.3'
            printf -- ' -o tls_medium_cipherlist=aNULL:@SECLEVEL=0'
            ;;
        *)
            # A client at level "may" prefers anonymous suites when offered: exclude them where a
            # certificate verdict is wanted.
            printf -- ' -o smtpd_tls_exclude_ciphers=aNULL'
            ;;
    esac
    case $p in
        tls12) printf -- ' -o smtpd_tls_protocols=!SSLv2,!SSLv3,!TLSv1,!TLSv1.1,!TLSv1.3' ;;
        tls10) printf -- ' -o smtpd_tls_protocols=!SSLv2,!SSLv3,!TLSv1.1,!TLSv1.2,!TLSv1.3'
               printf -- ' -o tls_medium_cipherlist=%s' "$legacy_cipherlist" ;;
    esac
}

{
    for p in "${personalities[@]}"; do
        echo "${address[$p]}:smtp inet n - n - 4 smtpd$(personality_options "$p")"
    done
    postfix_master_services
} > "$pfconf/master.cf"

# ---------------------------------------------------------------------------------------------------
# DNS: mxtls lab serves pf.zone on 127.0.26.53:53 for mxtls, Postfix and posttls-finger alike.
log "starting mxtls lab (DNS on $dns_address:$dns_port)"
"$mxtls" lab --no-smtp --zone "$zone_file" --dns "$dns_address:$dns_port" > "$work/lab.log" 2>&1 &
lab_pid=$!
for i in $(seq 100); do
    grep -q ready "$work/lab.log" 2>/dev/null && break
    kill -0 "$lab_pid" 2>/dev/null || die "mxtls lab exited early"
    sleep 0.2
done
grep -q ready "$work/lab.log" || die "mxtls lab did not print 'ready' within 20 s"

postfix_start

# Ready = every smtpd answers with its 220 greeting.
banner() {
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/25" || exit 1
        IFS= read -r -t 2 line <&3 || exit 1
        printf "QUIT\r\n" >&3
        [[ $line == 220* ]]' _ "$1" 2>/dev/null
}
for p in "${personalities[@]}"; do
    for i in $(seq 60); do
        banner "${address[$p]}" && continue 2
        sleep 0.5
    done
    die "smtpd '$p' on ${address[$p]}:25 does not greet"
done
log "all ${#personalities[@]} smtpd personalities greet"

# ---------------------------------------------------------------------------------------------------
# The oracle: posttls-finger, twice per domain (see compare.py for why "may" and "verify").
cat > "$finger/main.cf" <<EOF
compatibility_level = 3.6
myhostname = $ehlo_name
inet_protocols = ipv4
# No DNSSEC self-test query for the root zone: nothing to learn here.
dnssec_probe =
EOF
domains=()
for p in "${personalities[@]}"; do
    domain=$p.pf.test
    domains+=("$domain")
    MAIL_CONFIG=$finger timeout 60 posttls-finger -t 10 -T 10 -a ipv4 -l may -F "$pki/ca.pem" \
        -o "tls_medium_cipherlist=$legacy_cipherlist" "$domain" > "$finger/$p.may.log" 2>&1 || true
    MAIL_CONFIG=$finger timeout 60 posttls-finger -c -t 10 -T 10 -a ipv4 -l verify -F "$pki/ca.pem" \
        -o "tls_medium_cipherlist=$legacy_cipherlist" "$domain" > "$finger/$p.verify.log" 2>&1 || true
done
log "posttls-finger done"

# ---------------------------------------------------------------------------------------------------
# mxtls, all domains in one run (its probes are concurrent).
mxtls_rc=0
timeout 300 "$mxtls" check --resolver "$dns_address:$dns_port" --ca-file "$pki/ca.pem" --format jsonl \
    --ehlo-name "$ehlo_name" -4 --connect-timeout 10 --command-timeout 10 --handshake-timeout 10 \
    --probe-timeout 60 "${domains[@]}" > "$work/mxtls.jsonl" 2> "$work/mxtls.err" || mxtls_rc=$?
log "mxtls check exited with $mxtls_rc"

status=0
python3 "$here/compare.py" --mxtls-jsonl "$work/mxtls.jsonl" --finger-dir "$finger" \
    "${personalities[@]}" || status=1
# Several personalities have findings (no STARTTLS, bad certificates): DESIGN.md's exit code is 1.
if [ "$mxtls_rc" -ne 1 ]; then
    echo "FAIL: mxtls check exited with $mxtls_rc; with these personalities it must report findings (1)"
    status=1
fi
exit "$status"
