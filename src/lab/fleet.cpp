// The lab fleet: a CA made at start, the DNS zone server and one SMTP server per personality.
// Certificates are named after the zone's A records, so editing data/lab.zone (or passing a
// custom zone) keeps "good" verified for every name that points at the good server.
#include "lab/fleet.hpp"

#include "core/text.hpp"

#include "dns/zone_server.hpp"
#include "lab/text.hpp"
#include "lab/policy_server.hpp"
#include "lab/zone_hosts.hpp"
#include "tls/pki.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace mxtls::lab {

namespace {

using namespace std::chrono_literals;

// 127.25.0.0/16 keeps the lab clear of other loopback services (127.0.0.1, 127.0.0.53, …).
struct AddressPlan {
  Personality personality;
  const char* address;
};
constexpr std::array<AddressPlan, 15> address_plan{{
    {Personality::good, "127.25.0.10"},
    {Personality::no_starttls, "127.25.0.11"},
    {Personality::self_signed, "127.25.0.12"},
    {Personality::wrong_name, "127.25.0.13"},
    {Personality::expired, "127.25.0.14"},
    {Personality::tls12_only, "127.25.0.15"},
    {Personality::starttls_454, "127.25.0.16"},
    {Personality::tarpit, "127.25.0.17"},
    {Personality::auth_plain_before_tls, "127.25.0.18"},
    {Personality::injection, "127.25.0.19"},
    {Personality::garbage_banner, "127.25.0.20"},
    {Personality::drip, "127.25.0.21"},
    {Personality::close_mid_handshake, "127.25.0.22"},
    {Personality::greeting_554, "127.25.0.23"},
    {Personality::refuse, "127.25.0.99"},
}};

// The built-in zone's signed zones (the lab DNS sets AD there) and its MTA-STS policies.
const std::vector<std::string> builtin_signed_zones{"dane.test", "danestale.test"};
std::vector<PolicyDocument> builtin_policies() {
  return {
      {"mta-sts.dane.test", 200, "text/plain", "", "version: STSv1\r\nmode: enforce\r\nmx: mx.dane.test\r\nmax_age: 604800\r\n", false},
      {"mta-sts.stsnotlisted.test", 200, "text/plain", "", "version: STSv1\nmode: enforce\nmx: mx.elsewhere.test\nmax_age: 86400\n", false},
      {"mta-sts.ststesting.test", 200, "text/plain; charset=utf-8", "", "version: STSv1\nmode: testing\nmx: *.ststesting.test\nmax_age: 86400\n", true},
  };
}

// The wrong_name server's certificate names a host no lab domain uses.
constexpr const char* unrelated_name = "mx.elsewhere.test";

std::string fallback_hostname(Personality p) {
  std::string name(to_string(p));
  std::replace(name.begin(), name.end(), '_', '-');  // '_' is not allowed in host names
  return "lab-" + name + ".test";
}

tls::Credentials make_credentials(Personality p, const std::vector<std::string>& names,
                                  const tls::CertificateAuthority& ca) {
  tls::CertSpec spec;
  spec.common_name = names.front();
  spec.dns_names = names;
  switch (p) {
    case Personality::self_signed:
      return tls::self_signed(spec);
    case Personality::wrong_name:
      spec.common_name = unrelated_name;
      spec.dns_names = {unrelated_name};
      return ca.issue(spec);
    case Personality::expired:
      spec.not_before = -std::chrono::duration_cast<std::chrono::seconds>(24h * 2 * 365);
      spec.not_after = -std::chrono::duration_cast<std::chrono::seconds>(24h);
      return ca.issue(spec);
    case Personality::tls12_only:
      // RSA here: an old-style TLS 1.2 server, so the lab also shows ECDHE-RSA ciphers.
      spec.key_type = tls::KeyType::rsa2048;
      return ca.issue(spec);
    default:
      return ca.issue(spec);
  }
}

}  // namespace

asio::ip::address personality_address(Personality p) {
  for (const auto& entry : address_plan)
    if (entry.personality == p) return asio::ip::make_address(entry.address);
  throw std::invalid_argument("no lab address for personality " + std::string(to_string(p)));
}

const std::vector<LabDomain>& builtin_domains() {
  using L = GmailLock;
  static const std::vector<LabDomain> domains = {
      {"good.test", "STARTTLS, certificate from the lab CA naming the MX", L::grey, "verified"},
      {"nostarttls.test", "plain ESMTP without STARTTLS", L::red, "not offered"},
      {"selfsigned.test", "STARTTLS with a self-signed certificate", L::grey, "untrusted (self-signed)"},
      {"wrongname.test", "lab-CA certificate for another host name", L::grey, "trusted (name mismatch)"},
      {"expired.test", "lab-CA certificate that expired yesterday", L::grey, "untrusted (expired)"},
      {"tls12.test", "TLS 1.2 at most, RSA certificate from the lab CA", L::grey, "verified, TLSv1.2"},
      {"starttls454.test", "STARTTLS advertised, answered 454 4.7.0", L::red, "STARTTLS failed (454)"},
      {"tarpit.test", "accepts connections and never speaks", std::nullopt, "timeout (greeting)"},
      {"multi.test", "MX 10 refuses connections, MX 20 is good", L::grey, "refused, then verified"},
      {"nullmx.test", "null MX (RFC 7505): accepts no mail", std::nullopt, "null MX"},
      {"implicit.test", "no MX: the domain's own A record (RFC 5321 5.1)", L::grey, "implicit MX, verified"},
      {"missinghost.test", "MX names a host that does not exist", std::nullopt, "MX host not found"},
      {"auth.test", "AUTH PLAIN LOGIN offered before STARTTLS", L::grey, "verified, AUTH before TLS"},
      {"injection.test", "plaintext injected after 220 to STARTTLS", L::grey, "verified, injection recorded"},
      {"garbage.test", "binary garbage instead of a banner", std::nullopt, "protocol error (garbage)"},
      {"drip.test", "banner dripping one byte every 200 ms, never finished", std::nullopt, "timeout (greeting)"},
      {"closemid.test", "connection closed in the middle of the TLS handshake", L::red,
       "TLS handshake failed"},
      {"greeting554.test", "554 banner: no SMTP service", std::nullopt, "rejected (554 greeting)"},
      {"例え.test", "internationalised domain (xn--r8jz45g.test), good MX", L::grey, "verified (IDN)"},
      {"nosuchdomain.test", "a domain that does not exist", std::nullopt, "no such domain"},
      {"dane.test", "signed zone, TLSA 3 1 1 matching, MTA-STS enforce, TLS-RPT", L::grey,
       "DANE matched, MTA-STS pass", DaneState::matched, MtaStsVerdict::pass},
      {"danestale.test", "signed zone, TLSA for the key before a certificate change", L::grey, "DANE failed",
       DaneState::failed, MtaStsVerdict::no_policy},
      {"stsnotlisted.test", "MTA-STS enforce with a policy that does not list the MX", L::grey,
       "MTA-STS fail (MX not listed)", DaneState::not_applicable, MtaStsVerdict::fail},
      {"ststesting.test", "MTA-STS testing, self-signed MX certificate, malformed TLS-RPT", L::grey,
       "MTA-STS fail (testing)", DaneState::not_applicable, MtaStsVerdict::fail},
  };
  return domains;
}

struct Fleet::Impl {
  Impl(asio::any_io_executor ex, FleetOptions opts)
      : executor(std::move(ex)),
        options(std::move(opts)),
        builtin(options.zone_text.empty()),
        zone_text(builtin ? std::string(builtin_zone_text()) : options.zone_text),
        ca(tls::CertificateAuthority::create("mxtls lab CA")) {}

  asio::any_io_executor executor;
  FleetOptions options;
  bool builtin;
  std::string zone_text;
  tls::CertificateAuthority ca;
  std::vector<LabHost> hosts;
  std::map<Personality, SmtpServerOptions> server_options;
  std::vector<std::pair<Personality, std::unique_ptr<SmtpServer>>> servers;
  std::unique_ptr<dns::ZoneServer> dns;
  asio::ip::udp::endpoint dns_endpoint;
  std::uint16_t smtp_port = 0;
  std::vector<LabDomain> no_domains;
  std::unique_ptr<PolicyServer> https;
  std::uint16_t https_port = 0;
  // The "previous" certificate of danestale.test: its TLSA still names this key.
  tls::Credentials stale_credentials = ca.issue({.common_name = "mx.danestale.test", .dns_names = {"mx.danestale.test"}});

  // TLSA records for the built-in DANE domains, for the SMTP port now in use.
  std::string tlsa_text() const {
    const auto good = server_options.find(Personality::good);
    if (!builtin || good == server_options.end() || !good->second.credentials) return {};
    const std::string port = std::to_string(smtp_port == 0 ? 25 : smtp_port);
    return "\n$ORIGIN dane.test.\n_" + port + "._tcp.mx 300 IN TLSA 3 1 1 " +
           tls::spki_sha256(good->second.credentials->cert_pem) + "\n$ORIGIN danestale.test.\n_" + port +
           "._tcp.mx 300 IN TLSA 3 1 1 " + tls::spki_sha256(stale_credentials.cert_pem) + "\n";
  }

  void stop_smtp() {
    for (auto& [p, server] : servers) server->stop();
    servers.clear();
  }

  // All servers on one port; with port 0 the first one picks it and the rest follow. Should a
  // later address find that port taken, the whole set is retried on a fresh one.
  void start_smtp() {
    const int attempts = options.smtp_port == 0 ? 8 : 1;
    for (int attempt = 1;; ++attempt) {
      std::uint16_t port = options.smtp_port;
      try {
        for (const auto& host : hosts) {
          if (!host.listening) continue;
          auto server = std::make_unique<SmtpServer>(executor, asio::ip::tcp::endpoint(host.address, port),
                                                     server_options.at(host.personality));
          server->start();
          if (port == 0) port = server->endpoint().port();
          servers.emplace_back(host.personality, std::move(server));
        }
        smtp_port = port;
        return;
      } catch (const std::runtime_error&) {
        stop_smtp();
        if (attempt >= attempts) throw;
      }
    }
  }
};

Fleet::Fleet(asio::any_io_executor executor, FleetOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), std::move(options))) {
  const auto records = address_records(impl_->zone_text);
  for (const auto& entry : address_plan) {
    LabHost host;
    host.personality = entry.personality;
    host.address = asio::ip::make_address(entry.address);
    host.listening = entry.personality != Personality::refuse;
    for (const auto& record : records)
      if (record.address == host.address &&
          std::find(host.names.begin(), host.names.end(), record.name) == host.names.end())
        host.names.push_back(record.name);
    if (host.listening) {
      SmtpServerOptions opts;
      opts.personality = entry.personality;
      opts.hostname = host.names.empty() ? fallback_hostname(entry.personality) : host.names.front();
      opts.idle_timeout = impl_->options.idle_timeout;
      opts.session_timeout = impl_->options.session_timeout;
      opts.drip_interval = impl_->options.drip_interval;
      if (personality_serves_tls(entry.personality)) {
        const std::vector<std::string> cert_names = host.names.empty() ? std::vector{opts.hostname} : host.names;
        opts.credentials = make_credentials(entry.personality, cert_names, impl_->ca);
      }
      impl_->server_options.emplace(entry.personality, std::move(opts));
    }
    impl_->hosts.push_back(std::move(host));
  }
}

Fleet::~Fleet() { stop(); }

void Fleet::start() {
  Impl& im = *impl_;
  try {
    // SMTP first: the TLSA records name its port.
    if (im.options.start_smtp && im.servers.empty()) im.start_smtp();
    if (im.builtin && im.options.start_smtp && !im.https) {
      std::vector<std::string> names;
      for (const auto& record : address_records(im.zone_text))
        if (record.address == im.options.https_address) names.push_back(record.name);
      if (!names.empty()) {
        tls::CertSpec spec;
        spec.common_name = names.front();
        spec.dns_names = names;
        im.https = std::make_unique<PolicyServer>(im.executor, asio::ip::tcp::endpoint(im.options.https_address, im.options.https_port),
                                                  im.ca.issue(spec), builtin_policies());
        im.https->start();
        im.https_port = im.https->endpoint().port();
      }
    }
    if (im.options.start_dns && !im.dns) {
      dns::ZoneServerOptions zone_options;
      zone_options.signed_zones = im.options.signed_zones;
      if (im.builtin && zone_options.signed_zones.empty()) zone_options.signed_zones = builtin_signed_zones;
      im.dns = std::make_unique<dns::ZoneServer>(im.executor, im.options.dns_address, im.options.dns_port,
                                                 im.zone_text + im.tlsa_text(), zone_options);
      try {
        im.dns->start();
      } catch (const std::system_error& e) {
        throw std::runtime_error("lab DNS: cannot listen on " +
                                 endpoint_text(im.options.dns_address, im.options.dns_port) + ": " +
                                 e.code().message());
      }
      im.dns_endpoint = im.dns->endpoint();
    }
  } catch (...) {
    stop();
    throw;
  }
}

void Fleet::stop() {
  if (!impl_) return;
  impl_->stop_smtp();
  if (impl_->https) {
    impl_->https->stop();
    impl_->https.reset();
  }
  if (impl_->dns) {
    impl_->dns->stop();
    impl_->dns.reset();
  }
}

asio::ip::udp::endpoint Fleet::dns_endpoint() const { return impl_->dns_endpoint; }
std::uint16_t Fleet::smtp_port() const { return impl_->smtp_port; }
std::uint16_t Fleet::https_port() const { return impl_->https_port; }
const std::string& Fleet::ca_pem() const { return impl_->ca.cert_pem(); }
const std::vector<LabDomain>& Fleet::domains() const {
  return impl_->builtin ? builtin_domains() : impl_->no_domains;
}
const std::vector<LabHost>& Fleet::hosts() const { return impl_->hosts; }

const SmtpServer* Fleet::server(Personality p) const {
  for (const auto& [personality, server] : impl_->servers)
    if (personality == p) return server.get();
  return nullptr;
}

SmtpCounters Fleet::totals() const {
  SmtpCounters sum;
  for (const auto& [p, server] : impl_->servers) {
    const SmtpCounters c = server->counters();
    sum.sessions += c.sessions;
    sum.active += c.active;
    sum.rejected_busy += c.rejected_busy;
    sum.commands += c.commands;
    sum.ehlo += c.ehlo;
    sum.starttls += c.starttls;
    sum.tls_handshakes += c.tls_handshakes;
    sum.tls_failures += c.tls_failures;
    sum.mail_commands += c.mail_commands;
    sum.quits += c.quits;
    sum.timeouts += c.timeouts;
  }
  return sum;
}

std::string Fleet::describe() const {
  const Impl& im = *impl_;
  std::ostringstream out;
  out << "mxtls lab (everything on loopback)\n";
  if (im.dns)
    out << "  DNS   " << endpoint_text(im.dns_endpoint.address(), im.dns_endpoint.port()) << "  (UDP+TCP, zones: "
        << [&] {
             std::string z;
             for (const auto& apex : im.dns->zones()) z += (z.empty() ? "" : ", ") + apex;
             return z;
           }()
        << ")\n";
  if (!im.servers.empty()) out << "  SMTP  port " << im.smtp_port << " on each address below\n";
  if (im.https)
    out << "  HTTPS " << endpoint_text(im.options.https_address, im.https_port)
        << "  (MTA-STS policies for mta-sts.dane.test, mta-sts.stsnotlisted.test, mta-sts.ststesting.test)\n";
  for (const auto& host : im.hosts) {
    std::string address = host.address.to_string();
    out << "  " << address << std::string(address.size() < 13 ? 13 - address.size() : 1, ' ');
    std::string name(to_string(host.personality));
    out << name << std::string(name.size() < 23 ? 23 - name.size() : 1, ' ');
    if (!host.listening) {
      out << "(nothing listens: connections are refused)";
    } else {
      out << (host.names.empty() ? std::string("(no zone name points here)") : join(host.names, ", "));
      if (host.personality == Personality::wrong_name) out << "  [certificate: " << unrelated_name << "]";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace mxtls::lab
