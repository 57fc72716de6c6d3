// B1 baseline: the least a STARTTLS prober can do, written plainly — blocking sockets and
// OpenSSL, one target after another: greeting, EHLO, STARTTLS, handshake (chain verified
// against the CA and the name checked, never aborting), EHLO, QUIT. Never MAIL/RCPT/DATA.
// Prints the probes done and the CPU time (getrusage user+sys) per probe, to compare with
// what `mxtls scan` spends per probe against the same scale lab.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

// Every byte from the network is hostile: one reply is at most this long, else the probe fails.
constexpr std::size_t max_reply_bytes = 64 * 1024;

struct Target {
  std::string ip;
  int port = 0;
  std::string sni;
};

struct Options {
  std::string targets_file;
  std::string ca_file;
  std::string ehlo = "bench.mxtls.test";
  int timeout_ms = 10000;
  long limit = -1;  // targets to use; -1 all
  int repeat = 1;
  bool verbose = false;
};

[[noreturn]] void usage(const char* problem) {
  if (problem != nullptr) std::cerr << "minimal_client: " << problem << "\n";
  std::cerr << "usage: minimal_client --targets FILE [--ca-file CA.pem] [--ehlo NAME] [--timeout-ms MS]\n"
               "                      [--limit N] [--repeat R] [--verbose]\n"
               "FILE: one 'IP PORT SNI [anything]' per line ('#' comments); loopback addresses only.\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + arg).c_str());
      return argv[++i];
    };
    if (arg == "--targets") o.targets_file = value();
    else if (arg == "--ca-file") o.ca_file = value();
    else if (arg == "--ehlo") o.ehlo = value();
    else if (arg == "--timeout-ms") o.timeout_ms = std::atoi(value().c_str());
    else if (arg == "--limit") o.limit = std::atol(value().c_str());
    else if (arg == "--repeat") o.repeat = std::atoi(value().c_str());
    else if (arg == "--verbose") o.verbose = true;
    else if (arg == "-h" || arg == "--help") usage(nullptr);
    else usage(("unknown argument " + arg).c_str());
  }
  if (o.targets_file.empty()) usage("--targets is required");
  if (o.timeout_ms <= 0 || o.repeat <= 0) usage("--timeout-ms and --repeat must be positive");
  return o;
}

bool is_loopback(const std::string& ip) {
  in_addr v4{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return ip == "::1";
}

std::vector<Target> read_targets(const Options& o) {
  std::ifstream in(o.targets_file);
  if (!in) usage(("cannot read " + o.targets_file).c_str());
  std::vector<Target> targets;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Target t;
    if (!(fields >> t.ip >> t.port >> t.sni) || t.port <= 0 || t.port > 65535) {
      std::cerr << "minimal_client: " << o.targets_file << ":" << number << ": not 'IP PORT SNI'\n";
      continue;
    }
    // The benchmark only ever talks to the local lab.
    if (!is_loopback(t.ip)) {
      std::cerr << "minimal_client: " << o.targets_file << ":" << number << ": " << t.ip << " is not loopback\n";
      continue;
    }
    targets.push_back(t);
    if (o.limit >= 0 && static_cast<long>(targets.size()) >= o.limit) break;
  }
  return targets;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

// Plain or TLS I/O on one connection, each call bounded by SO_RCVTIMEO/SO_SNDTIMEO.
struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  std::string pending;

  bool send_line(const std::string& line) {
    const std::string data = line + "\r\n";
    if (ssl != nullptr) return SSL_write(ssl, data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  // One SMTP reply (possibly multi-line). Returns the code (0 on failure); lines collected.
  int read_reply(std::vector<std::string>& lines) {
    lines.clear();
    char chunk[4096];
    std::size_t total = 0;
    for (;;) {
      const auto lf = pending.find('\n');
      if (lf != std::string::npos) {
        std::string line = pending.substr(0, lf);
        pending.erase(0, lf + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.size() < 3) return 0;
        lines.push_back(line);
        if (line.size() == 3 || line[3] == ' ') return std::atoi(line.substr(0, 3).c_str());
        if (line[3] != '-') return 0;
        continue;
      }
      if (pending.size() + total > max_reply_bytes) return 0;
      int n = 0;
      if (ssl != nullptr) n = SSL_read(ssl, chunk, sizeof chunk);
      else n = static_cast<int>(::recv(fd, chunk, sizeof chunk, 0));
      if (n <= 0) return 0;
      total += static_cast<std::size_t>(n);
      pending.append(chunk, static_cast<std::size_t>(n));
    }
  }
};

enum class Outcome { ok, connect, greeting, ehlo, no_starttls, starttls, handshake, ehlo_after_tls };
const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::ok: return "ok";
    case Outcome::connect: return "connect";
    case Outcome::greeting: return "greeting";
    case Outcome::ehlo: return "ehlo";
    case Outcome::no_starttls: return "no-starttls";
    case Outcome::starttls: return "starttls";
    case Outcome::handshake: return "handshake";
    case Outcome::ehlo_after_tls: return "ehlo-after-tls";
  }
  return "?";
}

int connect_with_timeout(const Target& t, int timeout_ms) {
  sockaddr_storage address{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, t.ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(t.port));
    length = sizeof *v4;
  } else if (inet_pton(AF_INET6, t.ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(t.port));
    length = sizeof *v6;
  } else {
    return -1;
  }
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&address), length);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = poll(&p, 1, timeout_ms) == 1 ? 0 : -1;
    int error = 0;
    socklen_t size = sizeof error;
    if (rc == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error != 0)) rc = -1;
  }
  if (rc != 0) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool has_starttls(const std::vector<std::string>& lines) {
  for (const auto& line : lines) {
    if (line.size() < 12) continue;
    std::string keyword = line.substr(4, 8);
    for (char& c : keyword) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (keyword == "STARTTLS" && (line.size() == 12 || line[12] == ' ')) return true;
  }
  return false;
}

// Records the chain's verdict, never aborts the handshake on it (as the scanner does).
int keep_going(int, X509_STORE_CTX*) { return 1; }

Outcome probe(const Target& t, SSL_CTX* ctx, const Options& o, bool& verified) {
  verified = false;
  Fd socket{connect_with_timeout(t, o.timeout_ms)};
  if (socket.fd < 0) return Outcome::connect;
  Conn conn{socket.fd, nullptr, {}};
  std::vector<std::string> lines;
  if (conn.read_reply(lines) != 220) return Outcome::greeting;
  if (!conn.send_line("EHLO " + o.ehlo) || conn.read_reply(lines) != 250) return Outcome::ehlo;
  if (!has_starttls(lines)) {
    if (conn.send_line("QUIT")) conn.read_reply(lines);
    return Outcome::no_starttls;
  }
  if (!conn.send_line("STARTTLS") || conn.read_reply(lines) != 220) return Outcome::starttls;
  conn.pending.clear();  // never carry cleartext bytes into the TLS session

  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx));
  if (!ssl) return Outcome::handshake;
  SSL_set_fd(ssl.get(), socket.fd);
  SSL_set_tlsext_host_name(ssl.get(), t.sni.c_str());
  SSL_set1_host(ssl.get(), t.sni.c_str());
  SSL_set_hostflags(ssl.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_connect(ssl.get()) != 1) {
    ERR_clear_error();
    return Outcome::handshake;
  }
  verified = SSL_get_verify_result(ssl.get()) == X509_V_OK;
  conn.ssl = ssl.get();
  if (!conn.send_line("EHLO " + o.ehlo) || conn.read_reply(lines) != 250) return Outcome::ehlo_after_tls;
  if (conn.send_line("QUIT")) conn.read_reply(lines);
  return Outcome::ok;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const std::vector<Target> targets = read_targets(o);
  if (targets.empty()) usage("no usable targets");

  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    std::cerr << "minimal_client: SSL_CTX_new failed\n";
    return 2;
  }
  // Like the scanner: a fresh full handshake per probe, no session resumption.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, keep_going);
  if (!o.ca_file.empty() && SSL_CTX_load_verify_locations(ctx.get(), o.ca_file.c_str(), nullptr) != 1) {
    std::cerr << "minimal_client: cannot load " << o.ca_file << "\n";
    return 2;
  }
  if (o.ca_file.empty()) SSL_CTX_set_default_verify_paths(ctx.get());

  std::map<std::string, long> outcomes;
  long done = 0, verified_count = 0;
  const double cpu_before = cpu_seconds();
  const auto wall_before = std::chrono::steady_clock::now();
  for (int round = 0; round < o.repeat; ++round) {
    for (const auto& target : targets) {
      bool verified = false;
      const Outcome outcome = probe(target, ctx.get(), o, verified);
      ++done;
      ++outcomes[outcome_name(outcome)];
      verified_count += verified;
      if (o.verbose) std::cerr << target.ip << " " << target.sni << ": " << outcome_name(outcome) << (verified ? " verified" : "") << "\n";
    }
  }
  const double cpu = cpu_seconds() - cpu_before;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  const long ok = outcomes["ok"];
  std::printf("minimal_client: %ld probes (%ld ok, %ld verified) in %.3f s wall, %.3f s CPU\n", done, ok,
              verified_count, wall, cpu);
  std::printf("minimal_client: outcomes:");
  for (const auto& [name, count] : outcomes)
    if (count > 0) std::printf(" %s=%ld", name.c_str(), count);
  std::printf("\n");
  std::printf("minimal_client: cpu_us_per_probe=%.1f cpu_us_per_ok_probe=%.1f wall_ms_per_probe=%.2f\n",
              done > 0 ? cpu * 1e6 / static_cast<double>(done) : 0.0,
              ok > 0 ? cpu * 1e6 / static_cast<double>(ok) : 0.0,
              done > 0 ? wall * 1e3 / static_cast<double>(done) : 0.0);
  return ok > 0 ? 0 : 1;
}
