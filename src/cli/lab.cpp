// `mxtls lab` and `mxtls demo`. The demo starts the lab fleet on this process's io_context,
// checks every lab domain through the lab's DNS exactly as `check` would check a real one,
// prints the transparency table and says, per domain, whether the expected verdict came out.
#include "cli/lab.hpp"

#include "cli/check.hpp"
#include "core/domain_name.hpp"
#include "core/endpoint_text.hpp"
#include "lab/fleet.hpp"
#include "report/text.hpp"
#include "report/verdict.hpp"
#include "tls/https_client.hpp"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

namespace mxtls::cli {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read zone file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// What the scanner saw for a domain, in a few words: the probe a sender would use decides.
std::string observed_summary(const DomainResult& d) {
  switch (d.kind) {
    case DomainKind::null_mx: return "null MX";
    case DomainKind::nxdomain: return "no such domain";
    case DomainKind::dns_error: return "DNS error";
    default: break;
  }
  if (d.probes.empty()) return "no probe";
  const auto order = report::delivery_order(d);
  const ProbeResult* decisive = &d.probes[order.front()];
  for (auto i : order)
    if (report::greeting_accepted(d.probes[i])) {
      decisive = &d.probes[i];
      break;
    }
  const ProbeResult& p = *decisive;
  std::string text;
  if (p.tls) {
    text = std::string(report::postfix_word(p.tls->verdict)) + " " + p.tls->version;
    if (!p.tls->verify_error.empty()) text += " (" + p.tls->verify_error + ")";
    else if (p.tls->verdict == CertVerdict::trusted) text += " (name mismatch)";
  } else {
    text = std::string(to_string(p.status));
    if (p.failed_phase) text += " at " + std::string(to_string(*p.failed_phase));
  }
  if (&p != &d.probes[order.front()]) text += " via " + p.mx + " (MX " + std::to_string(p.preference) + ")";
  if (p.dnssec_addr) text += ", DANE " + std::string(to_string(p.dane.state));
  if (d.mta_sts.verdict != MtaStsVerdict::no_policy) text += ", MTA-STS " + std::string(to_string(d.mta_sts.verdict));
  return text;
}

}  // namespace

std::vector<DomainResult> check_lab_domains(asio::io_context& io, const lab::Fleet& fleet) {
  ProbeOptions probe;
  const auto dns = fleet.dns_endpoint();
  probe.resolvers = {endpoint_text(dns)};
  probe.port = fleet.smtp_port();
  probe.ehlo_name = "demo.mxtls.test";
  probe.connect_timeout = 3;
  probe.greeting_timeout = 8;  // the drip personality never finishes; the tarpit never starts
  probe.command_timeout = 5;
  probe.handshake_timeout = 5;
  probe.probe_timeout = 20;
  probe.dns_timeout = 2;
  if (fleet.https_port() != 0) probe.mta_sts_port = fleet.https_port();
  probe.mta_sts_timeout = 5;
  probe.no_policies = true;  // the policy fetcher is set up below, trusting the lab CA
  auto tls = tls_options(probe);
  tls.ca_pem = fleet.ca_pem();
  tls::ClientTlsContext tls_context(tls);

  std::vector<NamedDomain> names;
  for (const auto& d : fleet.domains()) {
    auto ascii = normalize_domain(d.domain);
    if (auto* error = std::get_if<NameError>(&ascii))
      throw std::runtime_error("lab domain " + d.domain + ": " + error->reason);
    names.push_back({d.domain, std::get<std::string>(ascii)});
  }
  auto settings = scan_settings(probe);
  settings.https = std::make_shared<tls::HttpsContext>(tls);
  return check_domains(io, names, resolver_config(probe), settings, tls_context);
}

void add_lab_command(CLI::App& app, LabOptions& o) {
  auto* lab = app.add_subcommand("lab", "run the simulated fleet of MX hosts and its DNS on loopback until stopped");
  lab->add_option("--zone", o.zone_file, "zone file to serve instead of the built-in lab zone")->check(CLI::ExistingFile);
  lab->add_option("--dns", o.dns, "DNS listen address IP:PORT (loopback)")->capture_default_str();
  lab->add_option("--smtp-port", o.smtp_port, "port every lab SMTP server listens on")->capture_default_str();
  lab->add_flag("--no-smtp", o.no_smtp, "serve DNS only");
  lab->add_option("--ca-out", o.ca_out, "write the lab CA certificate (PEM) here");
  add_scale_options(*lab, o.scale);
  // The scale lab has a DNS address of its own unless --dns is given.
  lab->final_callback([lab, &o] { o.dns_given = lab->count("--dns") > 0; });
}

void add_demo_command(CLI::App& app, DemoOptions& o) {
  auto* demo = app.add_subcommand("demo", "start the lab fleet and check every lab domain: the offline first run");
  demo->add_option("--smtp-port", o.smtp_port, "lab SMTP port (0: any free port)")->capture_default_str();
  demo->add_option("--dns-port", o.dns_port, "lab DNS port (0: any free port)")->capture_default_str();
  add_format_option(*demo, o.format);
  demo->add_flag("--no-color", o.no_color, "no ANSI colours");
}

int run_lab(const LabOptions& o) {
  if (o.scale.domains > 0) {
    ScaleLabOptions scale = o.scale;
    scale.smtp_port = o.smtp_port;
    scale.ca_out = o.ca_out;
    if (o.dns_given) scale.dns = o.dns;
    return run_scale_lab(scale);
  }
  try {
    asio::io_context io(1);
    lab::FleetOptions options;
    const auto dns = dns::parse_server(o.dns);
    options.dns_address = dns.address();
    options.dns_port = dns.port();
    options.smtp_port = o.smtp_port;
    options.start_smtp = !o.no_smtp;
    if (!o.zone_file.empty()) options.zone_text = read_file(o.zone_file);
    lab::Fleet fleet(io.get_executor(), options);
    fleet.start();
    if (!o.ca_out.empty()) {
      std::ofstream out(o.ca_out, std::ios::binary | std::ios::trunc);
      out << fleet.ca_pem();
      if (!out) throw std::runtime_error("cannot write " + o.ca_out);
    }
    std::cout << fleet.describe() << "mxtls lab: ready (DNS " << fleet.dns_endpoint() << ")" << std::endl;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](std::error_code, int) {
      fleet.stop();
      io.stop();
    });
    io.run();
    std::cout << "mxtls lab: stopped" << std::endl;
  } catch (const std::exception& e) {
    std::cerr << "mxtls lab: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

int run_demo(const DemoOptions& o) {
  try {
    asio::io_context io(1);
    lab::FleetOptions options;
    options.smtp_port = o.smtp_port;
    options.dns_port = o.dns_port;
    options.https_port = o.smtp_port == 0 ? 0 : options.https_port;
    lab::Fleet fleet(io.get_executor(), options);
    fleet.start();

    auto results = check_lab_domains(io, fleet);
    const auto counters = fleet.totals();
    fleet.stop();

    if (o.format != Format::text) {
      write_results(std::cout, results, o.format, false);
    } else {
      const bool color = use_color(o.format, o.no_color);
      std::cout << "mxtls demo: " << results.size() << " lab domains on 127.25.0.0/16, DNS "
                << fleet.dns_endpoint() << ", SMTP port " << fleet.smtp_port() << "\n\n";
      report::write_summary_table(std::cout, results, {color});
      std::cout << "\n";
    }
    // Each lab domain against what it is set up to show.
    int mismatches = 0;
    std::ostream& log = o.format == Format::text ? std::cout : std::cerr;
    log << "Expected verdicts:\n";
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& want = fleet.domains()[i];
      const DomainResult& d = results[i];
      const ProbeResult* first = d.probes.empty() ? nullptr : &d.probes[report::delivery_order(d).front()];
      const bool ok = d.gmail_lock == want.expected_lock &&
                      (!want.expected_dane || (first && first->dane.state == *want.expected_dane)) &&
                      (!want.expected_mta_sts || d.mta_sts.verdict == *want.expected_mta_sts);
      mismatches += !ok;
      auto lock = [](const std::optional<GmailLock>& l) { return l ? std::string(to_string(*l)) : std::string("none"); };
      log << (ok ? "  ok   " : "  FAIL ") << want.domain << ": lock " << lock(results[i].gmail_lock)
          << (ok ? "" : " (expected " + lock(want.expected_lock) + ")") << "; expected " << want.expected
          << "; observed " << observed_summary(results[i]) << "\n";
    }
    log << (mismatches == 0 ? "All " + std::to_string(results.size()) + " lab domains got their expected verdict."
                            : std::to_string(mismatches) + " lab domain(s) did not get the expected verdict.")
        << "\nThe scanner sent " << counters.mail_commands << " MAIL/RCPT/DATA commands (must be 0).\n";
    if (o.format == Format::text)
      log << "\nThe full report for one domain: start `mxtls lab --ca-out lab-ca.pem` and, beside it,\n"
             "  mxtls check --resolver 127.25.0.53:5353 --port 2525 --ca-file lab-ca.pem good.test selfsigned.test\n";
    return mismatches == 0 && counters.mail_commands == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "mxtls demo: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace mxtls::cli
