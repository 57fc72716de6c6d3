// Resolver configuration: --resolver IP[:PORT] parsing and /etc/resolv.conf reading, where
// every bad line is reported as file:line and the good lines are still used.
#include "dns/resolver.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace mxtls::dns;

asio::ip::udp::endpoint endpoint(const char* address, std::uint16_t port) {
  return {asio::ip::make_address(address), port};
}

// A resolv.conf in the temp directory, removed again at the end of the test.
struct TempFile {
  std::filesystem::path path;
  explicit TempFile(const std::string& text)
      : path(std::filesystem::temp_directory_path() / "mxtls-dns-test-resolv.conf") {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  ~TempFile() { std::filesystem::remove(path); }
};

bool contains(const std::vector<std::string>& errors, const std::string& text) {
  for (const auto& error : errors) {
    if (error.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_SUITE("dns") {
  TEST_CASE("parse_server accepts IP, IP:PORT, [IPv6]:PORT and bare IPv6") {
    CHECK(parse_server("127.0.0.1") == endpoint("127.0.0.1", 53));
    CHECK(parse_server("127.0.0.53:5353") == endpoint("127.0.0.53", 5353));
    CHECK(parse_server("[::1]:5353") == endpoint("::1", 5353));
    CHECK(parse_server("[::1]") == endpoint("::1", 53));
    CHECK(parse_server("::1") == endpoint("::1", 53));
  }

  TEST_CASE("parse_server rejects bad input, naming it") {
    for (const char* bad :
         {"", "localhost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:53x", "[::1",
          "[::1]5353", "[::1]:", "127.0.0.256", "dns.example.test:53"}) {
      CAPTURE(bad);
      try {
        (void)parse_server(bad);
        FAIL("accepted");
      } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("'" + std::string(bad) + "'") != std::string::npos);
      }
    }
  }

  TEST_CASE("servers_from_resolv_conf reads nameservers and reports bad lines as file:line") {
    const TempFile file(
        "# generated for a test\r\n"
        "search example.test\n"
        "nameserver 127.0.0.53\n"
        "; another comment style\n"
        "nameserver\n"
        "nameserver dns.example.test\n"
        "\n"
        "nameserver ::1   # trailing comment\n"
        "nameserver 127.0.0.54 127.0.0.55\n"
        "options edns0 trust-ad\n"
        "nameserver 127.0.0.56\r\n");
    std::vector<std::string> errors;
    const auto servers = servers_from_resolv_conf(file.path.string(), errors);
    REQUIRE(servers.size() == 3);
    CHECK(servers[0] == endpoint("127.0.0.53", 53));
    CHECK(servers[1] == endpoint("::1", 53));
    CHECK(servers[2] == endpoint("127.0.0.56", 53));
    REQUIRE(errors.size() == 3);
    const std::string prefix = file.path.string() + ":";
    CHECK(contains(errors, prefix + "5: nameserver without an address"));
    CHECK(contains(errors, prefix + "6: not an IP address: 'dns.example.test'"));
    CHECK(contains(errors, prefix + "9: unexpected text"));
  }

  TEST_CASE("servers_from_resolv_conf on a missing file reports it") {
    std::vector<std::string> errors;
    const auto servers = servers_from_resolv_conf("/nonexistent/mxtls/resolv.conf", errors);
    CHECK(servers.empty());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("/nonexistent/mxtls/resolv.conf") != std::string::npos);
  }

}  // TEST_SUITE
