#!/usr/bin/env python3
# Compares `mxtls check --format jsonl` with Postfix's posttls-finger, personality by personality.
# Called by run.sh with the logs it collected; prints the agreement table, exits 0 only if all agree.
"""
Oracle rules (why each posttls-finger run is done the way it is):

* The `may` run (with SMTP chat) is the opportunistic sender: it tells whether STARTTLS is
  offered (EHLO keywords), which MX/IP Postfix's own resolver picked, and the TLS protocol and
  cipher. At `may` Postfix checks the chain against -F CAfile but never matches names, so its
  word is Trusted (chain OK), Untrusted (chain fails) or Anonymous (no certificate); it never
  says Verified.
* The `verify` run adds the name check ("hostname" strategy = the MX host name, the name
  mxtls matches). Postfix hands the name to OpenSSL (SSL_set1_host), so at `verify` a name
  mismatch is reported as "Untrusted ... num=62:hostname mismatch", not as Trusted.
  Postfix's word Trusted means "chain trusted, name not checked or not matched", which is what
  mxtls's `trusted` means; so: may=Trusted and verify=Verified -> verified; may=Trusted and
  verify=Untrusted(hostname mismatch) -> trusted.
* Postfix forces OpenSSL security level 1 at authenticated levels (tls_client.c: "When
  authenticating the peer, use 80-bit plus OpenSSL security level"), and OpenSSL 3 refuses
  the SHA-1/MD5 signatures of TLS 1.0/1.1 there. Against a TLS 1.0-only server the `verify`
  run therefore fails by design, and only the chain verdict is known: mxtls agrees when it
  says verified or trusted (both mean "chain OK").
* Anonymous servers are only reachable at `may` (Postfix excludes aNULL suites at `verify`).
"""

import argparse
import json
import re
import sys

PREFIX = r"^posttls-finger: "
TLS_ESTABLISHED = re.compile(
    PREFIX + r"(Verified|Trusted|Untrusted|Anonymous) TLS connection established to "
    r"(\S+?)\[([^\]]+)\]:(\d+): (\S+) with cipher (\S+)")
CONNECTED = re.compile(PREFIX + r"Connected to (\S+?)\[([^\]]+)\]:(\d+)\s*$")
SERVER_REPLY = re.compile(PREFIX + r"< (\d{3})([- ])(.*)$")
CLIENT_COMMAND = re.compile(PREFIX + r"> (\S+)")
VERIFY_FAILED = re.compile(PREFIX + r"(?:server )?certificate verification failed for \S+: "
                           r"(?:num=\d+:)?(.*)$")
PEERNAME_MATCHED = re.compile(PREFIX + r"\S+: matched peername: (\S+)")
HANDSHAKE_FAILED = re.compile(PREFIX + r"(SSL_connect error to .*|warning: TLS library problem: .*)$")

# What each personality is built to be (run.sh's master.cf). If posttls-finger itself does not
# see this, the harness is broken and no comparison is meaningful.
EXPECTED_ORACLE = {
    "notls":      dict(starttls=False, tls_version=None,      cert_verdict=None),
    "good":       dict(starttls=True,  tls_version="TLSv1.3", cert_verdict={"verified"}),
    "selfsigned": dict(starttls=True,  tls_version="TLSv1.3", cert_verdict={"untrusted"}),
    "wrongname":  dict(starttls=True,  tls_version="TLSv1.3", cert_verdict={"trusted"}),
    "expired":    dict(starttls=True,  tls_version="TLSv1.3", cert_verdict={"untrusted"}),
    "tls12":      dict(starttls=True,  tls_version="TLSv1.2", cert_verdict={"verified"}),
    "tls10":      dict(starttls=True,  tls_version="TLSv1",   cert_verdict={"verified", "trusted"}),
    "anon":       dict(starttls=True,  tls_version="TLSv1.2", cert_verdict={"anonymous"}),
}


def read_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\r\n") for line in f]


def parse_finger_log(path):
    """Facts from one posttls-finger run; absent facts stay None."""
    facts = dict(mx=None, ip=None, port=None, starttls=None, word=None, tls_version=None,
                 cipher=None, verify_reason=None, matched=None, handshake_error=None)
    ehlo_keywords = None
    in_first_ehlo = False
    first_reply_line = True
    for line in read_lines(path):
        m = CONNECTED.match(line)
        if m:
            facts["mx"], facts["ip"], facts["port"] = m.group(1), m.group(2), int(m.group(3))
            continue
        m = CLIENT_COMMAND.match(line)
        if m:
            # Only the EHLO before STARTTLS says whether STARTTLS is offered.
            in_first_ehlo = m.group(1).upper() == "EHLO" and ehlo_keywords is None
            if in_first_ehlo:
                ehlo_keywords = []
                first_reply_line = True
            continue
        m = SERVER_REPLY.match(line)
        if m and in_first_ehlo:
            if m.group(1) == "250" and not first_reply_line:
                words = m.group(3).split()
                if words:
                    ehlo_keywords.append(words[0].upper())
            first_reply_line = False
            continue
        m = TLS_ESTABLISHED.match(line)
        if m:
            facts["word"] = m.group(1).lower()
            facts["mx"], facts["ip"], facts["port"] = m.group(2), m.group(3), int(m.group(4))
            facts["tls_version"], facts["cipher"] = m.group(5), m.group(6)
            continue
        m = VERIFY_FAILED.match(line)
        if m:
            facts["verify_reason"] = m.group(1).strip()
            continue
        m = PEERNAME_MATCHED.match(line)
        if m:
            facts["matched"] = m.group(1)
            continue
        m = HANDSHAKE_FAILED.match(line)
        if m:
            # Keep OpenSSL's reason, the line that says why the handshake failed.
            if facts["handshake_error"] is None or "TLS library problem" in m.group(1):
                facts["handshake_error"] = m.group(1)
    if ehlo_keywords is not None:
        facts["starttls"] = "STARTTLS" in ehlo_keywords
    return facts


def oracle_for(personality, may_log, verify_log):
    """posttls-finger's answer for one personality, in mxtls's vocabulary (see module doc)."""
    may = parse_finger_log(may_log)
    ver = parse_finger_log(verify_log)
    o = dict(mx=may["mx"], ip=may["ip"], starttls=may["starttls"], tls_version=may["tls_version"],
             cipher=may["cipher"], cert_verdict=None, cert_error=None, gmail_lock=None, note="")
    if may["starttls"] is None:
        o["note"] = "posttls-finger saw no EHLO reply"
        return o
    # Gmail's grey lock = the opportunistic (may) sender used TLS.
    o["gmail_lock"] = "grey" if may["word"] else "red"
    if not may["starttls"]:
        return o
    if may["word"] is None:
        o["note"] = "may: no TLS session: %s" % (may["handshake_error"] or "unknown")
        return o
    if may["word"] in ("anonymous", "untrusted"):
        o["cert_verdict"] = {may["word"]}
        if may["word"] == "untrusted":
            o["cert_error"] = ver["verify_reason"]
        return o
    # may said Trusted: the chain is good; the verify run decides about the name.
    if ver["word"] == "verified":
        o["cert_verdict"] = {"verified"}
    elif ver["word"] == "untrusted" and ver["verify_reason"] == "hostname mismatch":
        o["cert_verdict"] = {"trusted"}
    elif ver["word"] is not None:
        o["cert_verdict"] = {ver["word"]}
        o["cert_error"] = ver["verify_reason"]
    else:
        o["cert_verdict"] = {"verified", "trusted"}
        o["note"] = ("verify level refused the handshake (%s): chain verdict only"
                     % (ver["handshake_error"] or "no TLS"))
    return o


def load_mxtls(path):
    probes, domains = {}, {}
    for number, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise SystemExit("%s:%d: not JSON (%s): %s" % (path, number, e, line[:200]))
        kind = record.get("record")
        domain = (record.get("domain") or "").rstrip(".").lower()
        if kind == "domain":
            domains[domain] = record
        elif kind == "probe":
            probes.setdefault(domain, []).append(record)
    return probes, domains


def show(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, set):
        return "|".join(sorted(value))
    return str(value)


def norm_name(name):
    return name.rstrip(".").lower() if isinstance(name, str) else name


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--mxtls-jsonl", required=True)
    ap.add_argument("--finger-dir", required=True, help="holds <p>.may.log and <p>.verify.log")
    ap.add_argument("--suffix", default="pf.test", help="domain of personality p is p.SUFFIX")
    ap.add_argument("personalities", nargs="+")
    args = ap.parse_args()

    probes, domains = load_mxtls(args.mxtls_jsonl)
    rows, disagreements, sanity_failures, notes = [], 0, [], []

    for p in args.personalities:
        if p not in EXPECTED_ORACLE:
            raise SystemExit("unknown personality %r (add it to EXPECTED_ORACLE)" % p)
        domain = "%s.%s" % (p, args.suffix)
        o = oracle_for(p, "%s/%s.may.log" % (args.finger_dir, p),
                       "%s/%s.verify.log" % (args.finger_dir, p))
        if o["note"]:
            notes.append("%s: posttls-finger: %s" % (p, o["note"]))

        expected = EXPECTED_ORACLE[p]
        for field, want in expected.items():
            if o[field] != want:
                sanity_failures.append("%s: posttls-finger %s = %s, the personality is built for %s"
                                       % (p, field, show(o[field]), show(want)))

        candidates = probes.get(domain, [])
        if o["ip"] is not None:
            same_ip = [r for r in candidates if r.get("ip") == o["ip"]]
            candidates = same_ip or candidates
        if not candidates:
            rows.append((p, "probe", "(no probe record)", domain, False))
            disagreements += 1
            continue
        if len(candidates) > 1:
            notes.append("%s: mxtls wrote %d probe records for %s; comparing the first"
                         % (p, len(candidates), o["ip"]))
        r = candidates[0]
        if r.get("status") not in ("ok", "not-offered"):
            notes.append("%s: mxtls status %s at %s: %s" % (p, r.get("status"),
                                                             r.get("failed_phase"), r.get("error")))
        lock = r.get("gmail_lock", domains.get(domain, {}).get("gmail_lock"))

        def row(field, mine, theirs, agree):
            nonlocal disagreements
            rows.append((p, field, show(mine), show(theirs), agree))
            if not agree:
                disagreements += 1

        row("mx", r.get("mx"), o["mx"], norm_name(r.get("mx")) == norm_name(o["mx"]))
        row("ip", r.get("ip"), o["ip"], r.get("ip") == o["ip"])
        row("starttls", r.get("starttls"), o["starttls"], r.get("starttls") is o["starttls"])
        row("tls_version", r.get("tls_version"), o["tls_version"],
            r.get("tls_version") == o["tls_version"])
        row("cipher", r.get("cipher"), o["cipher"], r.get("cipher") == o["cipher"])
        verdict = r.get("cert_verdict")
        row("cert_verdict", verdict, o["cert_verdict"],
            verdict is None if o["cert_verdict"] is None else verdict in o["cert_verdict"])
        if o["cert_error"]:
            # Both sides print OpenSSL's X509_verify_cert_error_string(); mxtls may add context.
            mine = r.get("cert_error")
            row("cert_error", mine, o["cert_error"],
                isinstance(mine, str) and o["cert_error"].lower() in mine.lower())
        row("gmail_lock", lock, o["gmail_lock"], lock == o["gmail_lock"])

    widths = [max(len(str(x[i])) for x in rows + [("personality", "field", "mxtls",
                                                   "posttls-finger", "agree")])
              for i in range(4)]
    header = ("personality", "field", "mxtls", "posttls-finger")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)) + " | agree")
    print("-+-".join("-" * w for w in widths) + "-+------")
    for p, field, mine, theirs, agree in rows:
        print(" | ".join(str(v).ljust(w) for v, w in zip((p, field, mine, theirs), widths))
              + " | " + ("yes" if agree else "NO"))
    print()
    for note in notes:
        print("note: " + note)
    for failure in sanity_failures:
        print("ORACLE SANITY: " + failure)
    compared = len(rows)
    print("%d fields compared, %d disagreements, %d oracle sanity failures"
          % (compared, disagreements, len(sanity_failures)))
    # One check per personality: all of its fields agree. Read by .ci/summarize.
    personalities = sorted({row[0] for row in rows})
    failed = sorted({row[0] for row in rows if not row[4]})
    print("integration: %d passed, %d failed" % (len(personalities) - len(failed), len(failed)))
    return 0 if disagreements == 0 and not sanity_failures else 1


if __name__ == "__main__":
    sys.exit(main())
