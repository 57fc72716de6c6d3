#!/usr/bin/env python3
# The cases of the policy integration suite and what `mxtls check --format jsonl` must say for each.
# `check.py --list` prints "CASE DOMAIN" lines for run.sh; `check.py --results DIR` reads DIR/CASE.jsonl
# and DIR/CASE.rc, prints the table (case | expected | got | ok) and exits 0 only when every case holds.
"""
Every DANE state of data/schema.md ("DANE states") and every MTA-STS verdict ("MTA-STS verdicts") has
at least one case, served by the real servers run.sh starts: nsd + validating unbound (signed.test
secure, unsigned.test insecure, bogus.test bogus), Postfix smtpd per MX host, nginx for the policies.

For each case the probe record's fields named in PROBE_FIELDS are compared with the expectation (a
value, None for JSON null, Re(...) for a string that must match a regular expression, or a function
that must return true for the value); so are the domain record's fields in `domain_fields`, and
`finding` is a regular expression that one of the domain's findings ("what") must match.
The exit code of mxtls must be 1 exactly when the domain has a warning or critical finding (DESIGN.md).
"""

import argparse
import json
import os
import re
import sys

PROBE_FIELDS = ("status", "cert_verdict", "dnssec_mx", "dnssec_addr", "dane", "dane_match", "dane_detail",
                "mta_sts_mode", "mta_sts_mx_match", "mta_sts_verdict", "tls_rpt")


class Re:
    """A string field that must match `pattern` (re.search, case-insensitive)."""

    def __init__(self, pattern):
        self.pattern = pattern

    def holds(self, value):
        return isinstance(value, str) and re.search(self.pattern, value, re.IGNORECASE) is not None

    def __str__(self):
        return "/%s/" % self.pattern

    def brief(self):
        """The pattern as plain words for the table: anchors dropped, ".*" as an ellipsis."""
        return self.pattern.strip("^$").replace(".*", "…").replace("\\", "")


def holds(want, got):
    if isinstance(want, Re):
        return want.holds(got)
    if isinstance(want, bool) or want is None:
        return got is want
    return type(got) is type(want) and got == want   # 0 is not false, 1 is not true


def show(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# Defaults: a domain in the signed zone without MTA-STS, and one in the unsigned zone.
SIGNED = dict(status="ok", cert_verdict="verified", dnssec_mx=True, dnssec_addr=True, dane_match=None,
              mta_sts_mode=None, mta_sts_mx_match=None, mta_sts_verdict="no-policy", tls_rpt="absent")
UNSIGNED = dict(status="ok", cert_verdict="verified", dnssec_mx=False, dnssec_addr=False, dane="not-applicable",
                dane_match=None, dane_detail=Re(r"^the MX host's address records are not DNSSEC-validated$"),
                mta_sts_mode=None, mta_sts_mx_match=None, mta_sts_verdict="no-policy", tls_rpt="absent")


def case(name, domain, base, headline, finding=None, domain_fields=None, **probe):
    fields = dict(base)
    fields.update(probe)
    missing = [f for f in PROBE_FIELDS if f not in fields]
    if missing:
        raise SystemExit("case %s: no expectation for %s" % (name, ", ".join(missing)))
    return dict(name=name, domain=domain, probe=fields, domain_fields=domain_fields or {}, finding=finding,
                headline=headline)


CASES = [
    # ---- DANE states (signed.test unless noted) ------------------------------------------------------
    case("dane-matched-ee", "ee.signed.test", SIGNED, ("dane", "dane_detail", "cert_verdict"),
         dane="matched", dane_match=True, dane_detail=Re(r"^matched 3 1 1 at depth 0$"), tls_rpt="valid",
         domain_fields=dict(dane=["matched"], tls_rpt_rua=["mailto:tlsrpt@ee.signed.test"]),
         dane_record=Re(r"^3 1 1 [0-9a-f]{64}$"), dane_depth=0),
    case("dane-matched-ta", "ta.signed.test", SIGNED, ("dane", "dane_detail", "cert_verdict"),
         dane="matched", dane_match=True, dane_detail=Re(r"^matched 2 0 1 at depth 1$"),
         dane_record=Re(r"^2 0 1 [0-9a-f]{64}$"), dane_depth=1),
    case("dane-matched-selfsigned", "selfee.signed.test", SIGNED, ("dane", "dane_detail", "cert_verdict"),
         finding=r"not trusted|untrusted|self.signed|does not verify",
         dane="matched", dane_match=True, dane_detail=Re(r"^matched 3 1 1 at depth 0$"), cert_verdict="untrusted",
         dane_depth=0),
    case("dane-failed-cert-changed", "changed.signed.test", SIGNED, ("dane", "dane_detail", "cert_verdict"),
         finding=r"^DANE: the TLSA records no longer match",
         dane="failed", dane_match=False, dane_detail=Re(r"no matching DANE TLSA"), dane_record=None,
         dane_depth=None),
    case("dane-unusable-pkix-only", "pkix.signed.test", SIGNED, ("dane", "dane_detail", "cert_verdict"),
         finding=r"^DANE: TLSA records exist but none is usable",
         dane="unusable", dane_detail=Re(r"^no usable TLSA record: usage 0/1"),
         dane_tlsa=lambda v: isinstance(v, list) and len(v) == 2),
    case("dane-no-records", "notlsa.signed.test", SIGNED, ("dane", "dane_detail", "cert_verdict"),
         finding=r"publishes no TLSA record",
         dane="no-records", dane_detail=Re(r"^no TLSA records$"), dane_tlsa=[]),
    case("dane-lookup-error-bogus-tlsa", "tlsabogus.signed.test", SIGNED, ("dane", "dane_detail", "cert_verdict"),
         finding=r"^DANE: the TLSA lookup failed",
         dane="lookup-error", dane_detail=Re(r"^TLSA lookup failed: servfail")),
    case("dane-not-applicable-unsigned", "plain.unsigned.test", UNSIGNED, ("dnssec_mx", "dane", "dane_detail"),
         dane_detail=Re(r"^the MX host's address records are not DNSSEC-validated$"), dane_tlsa=[]),
    case("halfdane-insecure-address", "halfna.signed.test", SIGNED, ("dnssec_addr", "dane", "dane_detail"),
         finding=r"halfdane",
         dnssec_addr=False, dane="not-applicable",
         dane_detail=Re(r"^the MX host's address records are not DNSSEC-validated; its TLSA records are.*halfdane")),
    case("halfdane-insecure-tlsa", "halfnr.signed.test", SIGNED, ("dnssec_addr", "dane", "dane_detail"),
         finding=r"halfdane",
         dane="no-records", dane_detail=Re(r"^TLSA records exist but are not DNSSEC-validated.*halfdane")),
    case("dnssec-bogus-zone", "bogus.test", UNSIGNED, ("status", "dnssec_mx", "dane", "domain.kind"),
         status="dns-error", cert_verdict=None, dnssec_addr=None, dane=None, dane_detail=None,
         failed_phase="resolve_mx", error=Re(r"servfail"),
         domain_fields=dict(kind="dns-error", error=Re(r"servfail"))),

    # ---- MTA-STS verdicts and TLS-RPT (unsigned.test) ------------------------------------------------
    case("sts-enforce-pass", "enforce.unsigned.test", UNSIGNED, ("mta_sts_mode", "mta_sts_verdict", "tls_rpt"),
         mta_sts_mode="enforce", mta_sts_mx_match=True, mta_sts_verdict="pass", tls_rpt="valid",
         domain_fields=dict(mta_sts_id="20240501T000000", mta_sts_mx=["mx.sts.unsigned.test"],
                            mta_sts_max_age=604800, mta_sts_mx_match=True, mta_sts_error=None,
                            mta_sts_url="https://mta-sts.enforce.unsigned.test/.well-known/mta-sts.txt",
                            tls_rpt_rua=["mailto:tls-reports@enforce.unsigned.test",
                                         "https://reports.enforce.unsigned.test/tlsrpt"])),
    case("sts-testing-pass-wildcard", "testing.unsigned.test", UNSIGNED,
         ("mta_sts_mode", "mta_sts_verdict", "tls_rpt"),
         finding=r"testing mode and every MX passes",
         mta_sts_mode="testing", mta_sts_mx_match=True, mta_sts_verdict="pass", tls_rpt="invalid",
         domain_fields=dict(mta_sts_mx=["*.sts.unsigned.test"], tls_rpt_error=Re(r"mailto: or https:"))),
    case("sts-testing-fail-cert", "testfail.unsigned.test", UNSIGNED,
         ("mta_sts_mode", "mta_sts_verdict", "cert_verdict"),
         finding=r"^MTA-STS: the certificate is not Verified",
         cert_verdict="trusted", mta_sts_mode="testing", mta_sts_mx_match=True, mta_sts_verdict="fail"),
    case("sts-enforce-fail-not-listed", "notlisted.unsigned.test", UNSIGNED,
         ("mta_sts_mode", "mta_sts_mx_match", "mta_sts_verdict"),
         finding=r"^MTA-STS: the MX is not listed",
         mta_sts_mode="enforce", mta_sts_mx_match=False, mta_sts_verdict="fail",
         domain_fields=dict(mta_sts_mx_match=False)),
    case("sts-mode-none", "none.unsigned.test", UNSIGNED, ("mta_sts_mode", "mta_sts_verdict"),
         mta_sts_mode="none", mta_sts_mx_match=True, mta_sts_verdict="none",
         domain_fields=dict(mta_sts_mx_match=None)),
    case("sts-error-malformed-policy", "malformed.unsigned.test", UNSIGNED,
         ("mta_sts_mode", "mta_sts_verdict", "domain.mta_sts_error"),
         finding=r"^MTA-STS published but unusable: policy invalid: line 2:",
         mta_sts_verdict="error",
         domain_fields=dict(mta_sts_error=Re(r"^policy invalid: line 2: mode must be enforce, testing or none"),
                            mta_sts_problems=lambda v: any(p.startswith("line 2: ") for p in v or []))),
    case("sts-error-malformed-txt", "badtxt.unsigned.test", UNSIGNED, ("mta_sts_verdict", "domain.mta_sts_error"),
         mta_sts_verdict="error",
         domain_fields=dict(mta_sts_error=Re(r"_mta-sts\.badtxt\.unsigned\.test TXT: no id= field"),
                            mta_sts_url=None)),
    case("sts-error-certificate", "wrongcert.unsigned.test", UNSIGNED, ("mta_sts_verdict", "domain.mta_sts_error"),
         mta_sts_verdict="error",
         domain_fields=dict(mta_sts_error=Re(r"certificate not valid for mta-sts\.wrongcert\.unsigned\.test"))),
    case("sts-error-media-type", "mediatype.unsigned.test", UNSIGNED, ("mta_sts_verdict", "domain.mta_sts_error"),
         mta_sts_verdict="error",
         domain_fields=dict(mta_sts_error=Re(r'media type "text/html.*not text/plain'))),
    case("sts-error-redirect", "redirect.unsigned.test", UNSIGNED, ("mta_sts_verdict", "domain.mta_sts_error"),
         mta_sts_verdict="error", domain_fields=dict(mta_sts_error=Re(r"HTTP 301 redirect to .*must not follow redirects"))),
    case("sts-no-policy", "nopolicy.unsigned.test", UNSIGNED, ("mta_sts_verdict", "tls_rpt"),
         domain_fields=dict(mta_sts_txt=None, tls_rpt_txt=None)),
]


def load(path):
    probes, domains = [], []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError("%s:%d: not JSON (%s)" % (path, number, e))
            (domains if record.get("record") == "domain" else probes).append(record)
    return probes, domains


def judge(c, results_dir):
    """(got headline, list of problems) for one case."""
    base = os.path.join(results_dir, c["name"])
    try:
        probes, domains = load(base + ".jsonl")
        with open(base + ".rc") as f:
            rc = int(f.read().strip() or "-1")
    except (OSError, ValueError) as e:
        return "(no result)", [str(e)]
    problems = []
    if len(probes) != 1 or len(domains) != 1:
        return "(%d probe, %d domain records)" % (len(probes), len(domains)), \
            ["expected exactly one probe record and one domain record"]
    p, d = probes[0], domains[0]
    if p.get("domain") != c["domain"] or d.get("domain") != c["domain"]:
        problems.append("records are for %s, not %s" % (p.get("domain"), c["domain"]))

    def compare(where, record, field, want):
        got = record.get(field, "(missing)")
        ok = want(got) if callable(want) and not isinstance(want, Re) else holds(want, got)
        if not ok:
            shown_want = "(predicate)" if callable(want) and not isinstance(want, Re) else show(want)
            problems.append("%s.%s: expected %s, got %s" % (where, field, shown_want, show(got)))

    for field, want in c["probe"].items():
        compare("probe", p, field, want)
    for field, want in c["domain_fields"].items():
        compare("domain", d, field, want)
    # Fields the domain record repeats must agree with the (only) probe record.
    for field in ("dnssec_mx", "mta_sts_mode", "mta_sts_verdict", "tls_rpt"):
        if d.get(field) != p.get(field):
            problems.append("domain.%s = %s but probe.%s = %s" % (field, show(d.get(field)), field,
                                                                   show(p.get(field))))
    findings = d.get("findings") or []
    if c["finding"] and not any(re.search(c["finding"], f.get("what", ""), re.IGNORECASE) for f in findings):
        problems.append("no finding matches /%s/; findings: %s"
                        % (c["finding"], "; ".join(f.get("what", "") for f in findings) or "none"))
    serious = any(f.get("severity") in ("warning", "critical") for f in findings)
    if rc != (1 if serious else 0):
        problems.append("exit code %d, but the domain %s warning/critical findings" % (rc, "has" if serious else "has no"))
    got = " ".join("%s=%s" % (field, clip(show(headline_value(field, p, d)))) for field in c["headline"])
    return got, problems


def clip(text, width=44):
    """Long texts keep their start and end (where "halfdane" or the reason is)."""
    if len(text) <= width:
        return text
    tail = width // 2
    return text[:width - tail - 1] + "…" + text[-tail:]


def headline_value(field, probe, domain):
    """A headline field: a probe field, or "domain.X" for a field of the domain record."""
    if field.startswith("domain."):
        return domain.get(field[len("domain."):])
    return probe.get(field)


def headline_want(c, field):
    if field.startswith("domain."):
        return c["domain_fields"][field[len("domain."):]]
    return c["probe"][field]


def brief(want):
    return want.brief() if isinstance(want, Re) else show(want)


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--list", action="store_true", help="print CASE DOMAIN lines")
    group.add_argument("--results", metavar="DIR", help="directory with CASE.jsonl and CASE.rc")
    ap.add_argument("--summary-file", help="write the `integration: N passed, M failed` line here, not to stdout")
    args = ap.parse_args()
    if args.list:
        for c in CASES:
            print(c["name"], c["domain"])
        return 0

    rows, failures = [], []
    for c in CASES:
        expected = " ".join("%s=%s" % (field, clip(brief(headline_want(c, field)))) for field in c["headline"])
        got, problems = judge(c, args.results)
        rows.append((c["name"], expected, got, "yes" if not problems else "NO"))
        failures.extend("%s: %s" % (c["name"], problem) for problem in problems)
    header = ("case", "expected", "got", "ok")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    print("-+-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    print("(every case also checks %s, the domain record and the exit code)" % ", ".join(PROBE_FIELDS))
    for failure in failures:
        print("FAILED " + failure)
    failed = sum(1 for r in rows if r[3] != "yes")
    summary = "integration: %d passed, %d failed" % (len(rows) - failed, failed)
    if args.summary_file:
        # run.sh prints it as the very last line, after the servers are stopped (CI greps it).
        with open(args.summary_file, "w") as f:
            f.write(summary + "\n")
    else:
        print(summary)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
