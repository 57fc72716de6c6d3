// `mxtls listen`: credentials (given or self-signed), the receiver on one io_context, a
// reverse lookup through the DNS resolver, and one report per session on standard output.
#include "cli/listen.hpp"

#include "dns/resolver.hpp"
#include "listen/receiver.hpp"
#include "listen/session_report.hpp"
#include "report/utf8.hpp"
#include "tls/pki.hpp"

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <sys/stat.h>

#include <charconv>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace mxtls::cli {

namespace {

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + what + " " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

asio::ip::tcp::endpoint parse_listen(const std::string& text) {
  std::string host, port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw std::invalid_argument("--listen: expected [IPv6]:PORT, got '" + text + "'");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("--listen: expected ADDR:PORT, got '" + text + "'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535)
    throw std::invalid_argument("--listen: bad port in '" + text + "'");
  std::error_code address_error;
  const auto address = asio::ip::make_address(host, address_error);
  if (address_error) throw std::invalid_argument("--listen: '" + host + "' is not an IP address");
  return {address, static_cast<std::uint16_t>(value)};
}

std::chrono::milliseconds seconds(double value, const char* name) {
  if (!(value > 0) || value > 86400) throw std::invalid_argument(std::string(name) + " must be between 0 and 86400 seconds");
  return std::chrono::milliseconds(static_cast<long long>(value * 1000));
}

}  // namespace

void add_listen_command(CLI::App& app, ListenOptions& o) {
  auto* c = app.add_subcommand("listen", "receive a test mail and report whether the sending server used TLS (Gmail's lock)");
  c->add_option("--listen", o.listen, "address and port to listen on, ADDR:PORT or [IPv6]:PORT")->capture_default_str();
  auto* cert = c->add_option("--cert", o.cert_file, "certificate chain (PEM) for STARTTLS")->check(CLI::ExistingFile);
  auto* key = c->add_option("--key", o.key_file, "private key (PEM) for STARTTLS")->check(CLI::ExistingFile);
  cert->needs(key);
  key->needs(cert);
  c->add_option("--hostname", o.hostname, "name in the banner, the EHLO reply and the self-signed certificate");
  c->add_flag("--once", o.once, "exit after the first session that delivered a message (exit 0 grey, 1 red)");
  c->add_option("--save", o.save_dir, "keep each received message in this directory (mode 0600)")->check(CLI::ExistingDirectory);
  c->add_option("--max-size", o.max_size, "largest message accepted, bytes (suffixes k, M)")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  c->add_option("--max-sessions", o.max_sessions, "sessions at a time")->check(CLI::Range(1, 1000))->capture_default_str();
  c->add_option("--command-timeout", o.command_timeout, "seconds to wait for each command")->capture_default_str();
  c->add_option("--session-timeout", o.session_timeout, "seconds a whole session may last")->capture_default_str();
  c->add_option("--resolver", o.resolvers, "DNS server IP[:PORT] for the peer's reverse name (default: /etc/resolv.conf)");
  c->add_flag("--no-reverse", o.no_reverse, "do not look up the peer's reverse name");
  c->add_option("--reverse-timeout", o.reverse_timeout, "seconds for the reverse lookup")->capture_default_str();
  const std::map<std::string, Format> names{{"text", Format::text}, {"jsonl", Format::jsonl}};
  c->add_option("--format", o.format, "output: text or jsonl")->transform(CLI::CheckedTransformer(names, CLI::ignore_case));
  c->add_flag("--no-color", o.no_color, "no ANSI colours in text output");
}

int run_listen(const ListenOptions& o) {
  listen::ReceiverOptions options;
  asio::ip::tcp::endpoint endpoint;
  std::optional<dns::ResolverConfig> reverse_config;
  std::string certificate_note;
  try {
    endpoint = parse_listen(o.listen);
    options.hostname = o.hostname.empty() ? local_fqdn() : o.hostname;
    if (o.max_size < 1024) throw std::invalid_argument("--max-size must be at least 1k");
    options.max_message_bytes = o.max_size;
    options.max_sessions = o.max_sessions;
    options.command_timeout = seconds(o.command_timeout, "--command-timeout");
    options.session_timeout = seconds(o.session_timeout, "--session-timeout");
    options.reverse_timeout = seconds(o.reverse_timeout, "--reverse-timeout");
    options.save_dir = o.save_dir;
    if (!o.cert_file.empty()) {
      tls::Credentials credentials;
      credentials.cert_pem = read_file(o.cert_file, "certificate");
      credentials.key_pem = read_file(o.key_file, "private key");
      options.credentials = std::move(credentials);
      certificate_note = "certificate from " + o.cert_file;
    } else {
      // What an unconfigured receiver presents; senders at "may" accept it (Gmail does too).
      tls::CertSpec spec;
      spec.common_name = options.hostname;
      spec.dns_names = {options.hostname};
      spec.key_type = tls::KeyType::rsa2048;  // the widest compatibility with old senders
      options.credentials = tls::self_signed(spec);
      certificate_note = "self-signed certificate for " + options.hostname;
    }
    if (!o.no_reverse) {
      ProbeOptions probe;
      probe.resolvers = o.resolvers;
      probe.dns_timeout = std::min(o.reverse_timeout, 3600.0);
      probe.dns_attempts = 1;
      try {
        reverse_config = resolver_config(probe);
      } catch (const std::runtime_error& e) {
        // No usable resolver is no reason not to receive mail: the report says "lookup disabled".
        if (!o.resolvers.empty()) throw;
        std::cerr << "mxtls listen: reverse lookups disabled: " << e.what() << "\n";
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "mxtls listen: " << e.what() << "\n";
    return 2;
  }

  asio::io_context io;
  std::optional<dns::Resolver> resolver;
  if (reverse_config) {
    resolver.emplace(io.get_executor(), *reverse_config);
    options.reverse_lookup = [&resolver](asio::ip::address address) -> asio::awaitable<listen::ReverseName> {
      const dns::PtrAnswer answer = co_await resolver->ptr(address);
      listen::ReverseName name;
      if (!answer.names.empty()) name.name = answer.names.front();
      else name.error = answer.detail.empty() ? std::string(dns::to_string(answer.outcome)) : answer.detail;
      co_return name;
    };
  }

  const bool color = use_color(o.format, o.no_color);
  int exit_code = 0;
  bool finished = false;
  std::optional<listen::Receiver> receiver;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  auto on_session = [&](const listen::SessionReport& report) {
    if (o.format == Format::jsonl) std::cout << listen::session_json(report) << "\n";
    else std::cout << listen::session_text(report, color) << "\n";
    std::cout.flush();
    if (o.once && !report.messages.empty() && !finished) {
      finished = true;
      exit_code = report.gmail_lock() == GmailLock::grey ? 0 : 1;
      receiver->stop();
      signals.cancel();
    }
  };
  try {
    receiver.emplace(io.get_executor(), endpoint, options, on_session);
    receiver->start();
  } catch (const std::exception& e) {
    std::cerr << "mxtls listen: " << e.what() << "\n";
    return 2;
  }
  signals.async_wait([&](const std::error_code& ec, int) {
    if (ec) return;
    receiver->stop();
  });
  std::cerr << "mxtls listen: ready on " << receiver->endpoint().address().to_string() << ":" << receiver->endpoint().port()
            << " as " << report::terminal_safe(options.hostname) << ", STARTTLS with a " << report::terminal_safe(certificate_note)
            << (o.once ? "; exits after the first message" : "; Ctrl-C stops") << "\n";
  io.run();
  return exit_code;
}

}  // namespace mxtls::cli
