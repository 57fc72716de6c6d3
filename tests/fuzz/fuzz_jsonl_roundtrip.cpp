// libFuzzer target for the promise `--resume` and `mxtls report` rest on: whatever bytes a
// server sent (banner, EHLO lines, certificate names, error text), the JSON Lines block written
// for a domain is valid JSON, one record per line, and reads back to the same facts with
// ill-formed UTF-8 replaced by U+FFFD (report::sanitize_utf8) and nothing else changed.
#include "report/json_read.hpp"
#include "report/jsonl.hpp"
#include "report/jsonl_read.hpp"
#include "report/utf8.hpp"
#include "report/verdict.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace {

using mxtls::report::sanitize_utf8;

void check(bool condition) {
  if (!condition) std::abort();
}

mxtls::ProbeResult hostile_probe(FuzzedDataProvider& in, const std::string& domain) {
  mxtls::ProbeResult p;
  p.domain = domain;
  p.mx = in.ConsumeRandomLengthString(64);
  p.ip = in.ConsumeRandomLengthString(40);
  p.port = in.ConsumeIntegral<std::uint16_t>();
  p.preference = in.ConsumeIntegralInRange<int>(0, 65535);
  p.status = static_cast<mxtls::Status>(in.ConsumeIntegralInRange<int>(0, 10));
  if (in.ConsumeBool()) p.failed_phase = static_cast<mxtls::Phase>(in.ConsumeIntegralInRange<int>(0, 10));
  p.error = in.ConsumeRandomLengthString(128);
  p.banner = in.ConsumeRandomLengthString(256);
  p.greeting_code = in.ConsumeIntegralInRange<int>(0, 999);
  if (in.ConsumeBool()) p.starttls = in.ConsumeBool();
  for (int n = in.ConsumeIntegralInRange<int>(0, 4); n > 0; --n) p.ehlo_keywords.push_back(in.ConsumeRandomLengthString(48));
  for (int n = in.ConsumeIntegralInRange<int>(0, 2); n > 0; --n) p.auth_before_tls.push_back(in.ConsumeRandomLengthString(16));
  p.injected_after_starttls = in.ConsumeRandomLengthString(64);
  p.starttls_code = in.ConsumeIntegralInRange<int>(0, 999);
  p.starttls_reply = in.ConsumeRandomLengthString(64);
  if (in.ConsumeBool()) {
    mxtls::TlsFacts tls;
    tls.version = in.ConsumeRandomLengthString(16);
    tls.cipher = in.ConsumeRandomLengthString(32);
    tls.verdict = static_cast<mxtls::CertVerdict>(in.ConsumeIntegralInRange<int>(0, 3));
    tls.verify_error = in.ConsumeRandomLengthString(64);
    if (in.ConsumeBool()) {
      mxtls::CertFacts cert;
      cert.subject = in.ConsumeRandomLengthString(128);
      cert.issuer = in.ConsumeRandomLengthString(128);
      for (int n = in.ConsumeIntegralInRange<int>(0, 3); n > 0; --n) cert.sans.push_back(in.ConsumeRandomLengthString(64));
      cert.not_after = in.ConsumeRandomLengthString(24);
      cert.sha256 = in.ConsumeRandomLengthString(64);
      tls.cert = std::move(cert);
    }
    p.tls = std::move(tls);
  }
  p.elapsed_ms = in.ConsumeIntegralInRange<std::int64_t>(0, 1'000'000);
  p.attempts = in.ConsumeIntegralInRange<int>(0, 5);
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  mxtls::DomainResult d;
  // Never empty: a record without a domain is rejected by design, not a round-trip failure.
  d.domain = "d" + in.ConsumeRandomLengthString(64);
  d.input = in.ConsumeRandomLengthString(64);
  d.error = in.ConsumeRandomLengthString(64);
  for (int n = in.ConsumeIntegralInRange<int>(0, 2); n > 0; --n) {
    mxtls::MxHost host;
    host.name = in.ConsumeRandomLengthString(64);
    host.preference = in.ConsumeIntegralInRange<int>(0, 65535);
    host.addresses.push_back(in.ConsumeRandomLengthString(40));
    host.error = in.ConsumeRandomLengthString(40);
    d.mx_hosts.push_back(std::move(host));
  }
  for (int n = in.ConsumeIntegralInRange<int>(0, 3); n > 0; --n) d.probes.push_back(hostile_probe(in, d.domain));
  mxtls::report::judge_domain(d);

  std::ostringstream written;
  mxtls::report::write_jsonl(written, d);
  const std::string block = written.str();

  // One record per line, each a JSON object, with no raw control byte anywhere.
  std::size_t records = 0;
  for (std::size_t start = 0; start < block.size();) {
    const std::size_t end = block.find('\n', start);
    check(end != std::string::npos);
    const std::string_view line(block.data() + start, end - start);
    for (const char c : line) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7F);
    std::string error;
    const auto record = mxtls::report::parse_json(line, &error);
    check(record && record->type == mxtls::report::JsonValue::Type::object);
    ++records;
    start = end + 1;
  }
  check(records == d.probes.size() + 1);

  // Read back: one domain, its probes in delivery order, every string as sanitised.
  std::istringstream back(block);
  mxtls::report::JsonlDomainReader reader(back, "roundtrip.jsonl");
  const auto restored = reader.next();
  check(restored.has_value() && reader.problems().empty());
  check(!reader.next().has_value() && reader.problems().empty());
  check(restored->domain == sanitize_utf8(d.domain));
  check(restored->input == sanitize_utf8(d.input));
  check(restored->error == sanitize_utf8(d.error));
  check(restored->kind == d.kind && restored->gmail_lock == d.gmail_lock);
  check(restored->mx_hosts.size() == d.mx_hosts.size());
  for (std::size_t i = 0; i < d.mx_hosts.size(); ++i) {
    check(restored->mx_hosts[i].name == sanitize_utf8(d.mx_hosts[i].name));
    check(restored->mx_hosts[i].addresses.size() == 1 &&
          restored->mx_hosts[i].addresses[0] == sanitize_utf8(d.mx_hosts[i].addresses[0]));
  }
  const auto order = mxtls::report::delivery_order(d);
  check(restored->probes.size() == order.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    const mxtls::ProbeResult& p = d.probes[order[k]];
    const mxtls::ProbeResult& r = restored->probes[k];
    check(r.mx == sanitize_utf8(p.mx) && r.ip == sanitize_utf8(p.ip) && r.port == p.port);
    check(r.preference == p.preference && r.status == p.status && r.failed_phase == p.failed_phase);
    check(r.error == sanitize_utf8(p.error) && r.banner == sanitize_utf8(p.banner));
    check(r.starttls == p.starttls && r.elapsed_ms == p.elapsed_ms && r.attempts == p.attempts);
    check(r.greeting_code == p.greeting_code && r.starttls_code == p.starttls_code);
    check(r.tls.has_value() == p.tls.has_value());
    if (p.tls) {
      check(r.tls->version == sanitize_utf8(p.tls->version) && r.tls->cipher == sanitize_utf8(p.tls->cipher));
      check(r.tls->verdict == p.tls->verdict && r.tls->verify_error == sanitize_utf8(p.tls->verify_error));
      check(r.tls->cert.has_value() == p.tls->cert.has_value());
      if (p.tls->cert) {
        check(r.tls->cert->subject == sanitize_utf8(p.tls->cert->subject));
        check(r.tls->cert->issuer == sanitize_utf8(p.tls->cert->issuer));
        check(r.tls->cert->not_after == sanitize_utf8(p.tls->cert->not_after));
      }
    }
  }

  // The terminal form of the same hostile text: well-formed, no control bytes, bounded.
  for (const std::string* text : {&d.domain, &d.error}) {
    const std::string shown = mxtls::report::terminal_safe(*text, 64);
    check(sanitize_utf8(shown) == shown);
    for (const char c : shown) check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7F);
    (void)mxtls::report::display_width(shown);
    (void)mxtls::report::pad_to_width(shown, 40);
  }
  return 0;
}
