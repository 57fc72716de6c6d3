#!/usr/bin/env python3
"""Compare the records of mxtls scan outputs: REFERENCE -- OTHER... must hold the same
records (as a multiset, in any order), volatile fields aside, with no domain twice."""
import collections
import json
import sys

# Facts of the moment, not of the server: when, how long, how many tries.
VOLATILE = {"started_at", "elapsed_ms", "phase_ms", "attempts", "earlier_attempts"}


def records(paths):
    out = collections.Counter()
    domains = collections.Counter()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                except ValueError as e:
                    sys.exit(f"{path}:{number}: not JSON: {e}")
                if record.get("record") == "domain":
                    domains[record["domain"]] += 1
                out[json.dumps({k: v for k, v in record.items() if k not in VOLATILE}, sort_keys=True)] += 1
    twice = [d for d, n in domains.items() if n > 1]
    if twice:
        sys.exit(f"domains written twice in {paths}: {twice[:5]}")
    return out, domains


def main():
    sep = sys.argv.index("--")
    reference, others = sys.argv[1:sep], sys.argv[sep + 1:]
    want, want_domains = records(reference)
    got, got_domains = records(others)
    print(f"reference: {sum(want_domains.values())} domains, {sum(want.values())} records; "
          f"other: {sum(got_domains.values())} domains, {sum(got.values())} records")
    missing, extra = want - got, got - want
    for label, diff in (("missing", missing), ("unexpected", extra)):
        for text, n in list(diff.items())[:5]:
            print(f"{label} ({n}x): {text[:300]}")
    return 0 if not missing and not extra else 1


if __name__ == "__main__":
    sys.exit(main())
