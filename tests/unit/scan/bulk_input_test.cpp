// Bulk-scan input and bookkeeping: the domain list reader (comments, CRLF, IDN, top-list
// ranks, duplicates, hostile lines with file:line), the stable shard split, the compact domain
// set, and the exclusion list (addresses, networks, domains).
#include "scan/exclude.hpp"
#include "scan/input.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

using namespace mxtls;
using namespace mxtls::scan;

namespace {

struct ReadAll {
  std::vector<InputDomain> domains;
  std::vector<InputProblem> problems;
  std::size_t duplicates = 0;
};

ReadAll read_all(const std::string& text) {
  std::istringstream in(text);
  DomainListReader reader(in, "list.txt");
  ReadAll out;
  for (;;) {
    auto item = reader.next();
    if (item.kind == DomainListReader::Item::Kind::end) break;
    if (item.kind == DomainListReader::Item::Kind::domain) out.domains.push_back(item.domain);
    else out.problems.push_back(item.problem);
  }
  out.duplicates = reader.duplicates();
  return out;
}

}  // namespace

TEST_SUITE("scan") {

TEST_CASE("domain lists: comments, CRLF, case, trailing dots, IDN, ranks and duplicates") {
  const auto r = read_all(
      "# a list\r\n"
      "Example.JP.\r\n"
      "\r\n"
      "   good.test   # trailing comment\n"
      "例え.jp\n"
      "1,ranked.test\n"
      "EXAMPLE.jp\n"            // duplicate of line 2
      "xn--r8jz45g.jp\n"        // duplicate of 例え.jp in A-label form
      "\tlast.test");           // no final newline
  REQUIRE(r.domains.size() == 5);
  CHECK(r.domains[0].ascii == "example.jp");
  CHECK(r.domains[0].input == "Example.JP.");
  CHECK(r.domains[0].line == 2);
  CHECK(r.domains[1].ascii == "good.test");
  CHECK(r.domains[2].ascii == "xn--r8jz45g.jp");
  CHECK(r.domains[2].input == "例え.jp");
  CHECK(r.domains[3].ascii == "ranked.test");
  CHECK(r.domains[4].ascii == "last.test");
  CHECK(r.domains[4].line == 9);
  CHECK(r.duplicates == 2);
  CHECK(r.problems.empty());
}

TEST_CASE("bad lines are reported with file:line and reason, and reading goes on") {
  const std::string long_line(5000, 'a');
  const auto r = read_all("ok1.test\nbad..test\n" + long_line + "\nhas space.test\n\x01\xff\nok2.test\n");
  REQUIRE(r.domains.size() == 2);
  CHECK(r.domains[1].ascii == "ok2.test");
  CHECK(r.domains[1].line == 6);
  REQUIRE(r.problems.size() == 4);
  CHECK(r.problems[0].where == "list.txt:2");
  CHECK(r.problems[1].where == "list.txt:3");
  CHECK(r.problems[1].reason.find("longer than 1024") != std::string::npos);
  CHECK(r.problems[1].text.size() <= 90);  // shortened, never the whole 5000 bytes
  CHECK(r.problems[2].where == "list.txt:4");
  CHECK(r.problems[2].reason.find("one domain per line") != std::string::npos);
  CHECK(r.problems[3].where == "list.txt:5");
  CHECK(r.problems[3].text == "\\x01\\xFF");  // hostile bytes shown escaped
  for (const auto& p : r.problems) CHECK_FALSE(p.reason.empty());
}

TEST_CASE("shards: a stable split whose parts are disjoint and cover the list") {
  CHECK(parse_shard("1/1").count == 1);
  CHECK(parse_shard("3/4").index == 3);
  CHECK_THROWS_AS(parse_shard("0/4"), std::invalid_argument);
  CHECK_THROWS_AS(parse_shard("5/4"), std::invalid_argument);
  CHECK_THROWS_AS(parse_shard("1/0"), std::invalid_argument);
  CHECK_THROWS_AS(parse_shard("a/b"), std::invalid_argument);
  CHECK_THROWS_AS(parse_shard("2"), std::invalid_argument);
  // The hash is part of the file format of a sharded scan: pinned, so a change is deliberate.
  CHECK(stable_domain_hash("example.jp") == stable_domain_hash("example.jp"));
  CHECK(stable_domain_hash("example.jp") != stable_domain_hash("example.co.jp"));
  CHECK(stable_domain_hash("") == 0xefd01f60ba992926ULL);

  std::array<std::size_t, 4> sizes{};
  for (int i = 0; i < 10000; ++i) {
    const std::string name = "d" + std::to_string(i) + ".test";
    int owners = 0;
    for (unsigned k = 1; k <= 4; ++k) {
      if (Shard{k, 4}.contains(name)) {
        ++owners;
        ++sizes[k - 1];
      }
    }
    CHECK(owners == 1);
  }
  for (const auto n : sizes) CHECK(n > 2200);  // balanced: each near 2500
}

TEST_CASE("DomainSet remembers a hundred thousand names in at most 32 bytes each") {
  DomainSet set;
  for (int i = 0; i < 100000; ++i) CHECK(set.insert("d" + std::to_string(i) + ".test"));
  CHECK(set.size() == 100000);
  CHECK_FALSE(set.insert("d5.test"));
  CHECK(set.contains("d99999.test"));
  CHECK_FALSE(set.contains("d100000.test"));
  CHECK(set.memory_bytes() <= 100000 * 32);  // 8-byte slots, at least a quarter in use
}

TEST_CASE("exclusion list: addresses, networks, IPv6, mapped IPv4, domains and their subdomains") {
  const auto dir = std::filesystem::temp_directory_path() / ("mxtls-exclude-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "exclude.txt").string();
  std::ofstream(path) << "# opt-outs\n127.0.9.9\n127.1.0.0/16\n::1\n2001:db8::/32\noptout.test\nnot an entry\n10.0.0.0/33\n";
  ExclusionList list;
  std::vector<InputProblem> problems;
  list.load(path, problems);
  CHECK(list.size() == 5);
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].where == path + ":7");
  CHECK(problems[1].where == path + ":8");
  CHECK(problems[1].reason.find("prefix") != std::string::npos);

  const auto ip = [](const char* text) { return asio::ip::make_address(text); };
  CHECK(list.match_address(ip("127.0.9.9")) == path + ":2 127.0.9.9");
  CHECK_FALSE(list.match_address(ip("127.0.9.10")));
  CHECK(list.match_address(ip("127.1.200.3")).has_value());
  CHECK_FALSE(list.match_address(ip("127.2.0.1")));
  CHECK(list.match_address(ip("::1")).has_value());
  CHECK(list.match_address(ip("2001:db8:ffff::25")).has_value());
  CHECK_FALSE(list.match_address(ip("2001:db9::25")));
  CHECK(list.match_address(ip("::ffff:127.1.0.5")).has_value());  // IPv4-mapped
  CHECK(list.match_domain("optout.test").has_value());
  CHECK(list.match_domain("mx1.optout.test").has_value());
  CHECK_FALSE(list.match_domain("notoptout.test"));
  CHECK_FALSE(list.match_domain("test"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("an empty exclusion list matches nothing; a missing file is an error naming it") {
  ExclusionList list;
  CHECK(list.empty());
  CHECK_FALSE(list.match_address(asio::ip::make_address("127.0.0.1")));
  std::vector<InputProblem> problems;
  CHECK_THROWS_WITH_AS(list.load("/nonexistent/exclude.txt", problems), doctest::Contains("/nonexistent/exclude.txt"),
                       std::runtime_error);
}

}  // TEST_SUITE
