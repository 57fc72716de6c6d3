// Hand-built probe and domain results for the report tests: one helper per server behaviour,
// so each test states only what differs. Addresses are loopback, names under .test.
#pragma once

#include "core/result.hpp"

#include <string>

namespace mxtls::report::testing {

inline DomainResult make_domain(const std::string& domain, DomainKind kind = DomainKind::mx) {
  DomainResult d;
  d.input = domain;
  d.domain = domain;
  d.kind = kind;
  return d;
}

inline void add_mx(DomainResult& d, const std::string& name, int preference,
                   std::vector<std::string> addresses, std::string error = {}) {
  d.mx_hosts.push_back(MxHost{name, preference, std::move(addresses), std::move(error), {}});
}

inline ProbeResult base_probe(const std::string& mx, const std::string& ip, int preference) {
  ProbeResult p;
  p.domain = "example.test";
  p.mx = mx;
  p.preference = preference;
  p.ip = ip;
  p.port = 25;
  return p;
}

// Connection refused at connect.
inline ProbeResult refused_probe(const std::string& mx, const std::string& ip, int preference) {
  ProbeResult p = base_probe(mx, ip, preference);
  p.status = Status::refused;
  p.failed_phase = Phase::connect;
  p.error = "Connection refused";
  p.elapsed_ms = 1;
  p.phase_ms = {{Phase::connect, 1}};
  return p;
}

// Greeting and EHLO fine, STARTTLS not in the EHLO reply.
inline ProbeResult plain_probe(const std::string& mx, const std::string& ip, int preference) {
  ProbeResult p = base_probe(mx, ip, preference);
  p.status = Status::not_offered;
  p.failed_phase = Phase::ehlo;  // as the probe records it: the EHLO reply lacked STARTTLS
  p.error = "STARTTLS not offered";
  p.greeting_code = 220;
  p.banner = mx + " ESMTP";
  p.starttls = false;
  p.ehlo_keywords = {"PIPELINING", "SIZE 10240000", "8BITMIME"};
  p.elapsed_ms = 4;
  p.phase_ms = {{Phase::connect, 1}, {Phase::greeting, 2}, {Phase::ehlo, 1}};
  return p;
}

// A complete, verified TLS 1.3 session.
inline ProbeResult tls_probe(const std::string& mx, const std::string& ip, int preference) {
  ProbeResult p = base_probe(mx, ip, preference);
  p.status = Status::ok;
  p.started_at = "2024-05-01T00:00:00Z";
  p.greeting_code = 220;
  p.banner = mx + " ESMTP";
  p.starttls = true;
  p.ehlo_keywords = {"PIPELINING", "SIZE 10240000", "STARTTLS"};
  p.starttls_code = 220;
  p.starttls_reply = "2.0.0 Ready to start TLS";
  TlsFacts tls;
  tls.version = "TLSv1.3";
  tls.cipher = "TLS_AES_256_GCM_SHA384";
  tls.group = "X25519";
  tls.cipher_bits = 256;
  CertFacts cert;
  cert.subject = "CN=" + mx;
  cert.issuer = "CN=mxtls test CA,O=mxtls";
  cert.sans = {mx};
  cert.not_before = "2024-01-01T00:00:00Z";
  cert.not_after = "2034-01-01T00:00:00Z";
  cert.key_type = "EC";
  cert.key_bits = 256;
  cert.signature_algorithm = "ecdsa-with-SHA256";
  cert.chain_length = 2;
  cert.sha256 = "aa11";
  cert.spki_sha256 = "bb22";
  tls.cert = cert;
  tls.verdict = CertVerdict::verified;
  tls.name_matched = true;
  p.tls = tls;
  p.ehlo_after_tls = {"PIPELINING", "SIZE 10240000"};
  p.elapsed_ms = 10;
  p.phase_ms = {{Phase::connect, 1}, {Phase::greeting, 2}, {Phase::ehlo, 1},
                {Phase::starttls, 1}, {Phase::handshake, 5}};
  return p;
}

}  // namespace mxtls::report::testing
