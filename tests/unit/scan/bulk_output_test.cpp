// Bulk-scan output and read-back: whole blocks per domain, --resume cutting an incomplete
// tail and refusing foreign files, the strict JSON reader, JSON Lines read back into domains,
// and the summary (the same from live results as from saved and sharded files).
#include "report/json_read.hpp"
#include "report/jsonl.hpp"
#include "report/jsonl_read.hpp"
#include "report/summary.hpp"
#include "report/verdict.hpp"
#include "scan/output.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace mxtls;
using namespace mxtls::scan;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("mxtls-bulk-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

ProbeResult probe(const std::string& domain, const std::string& mx, const std::string& ip, int preference,
                  const std::string& version, CertVerdict verdict) {
  ProbeResult p;
  p.domain = domain;
  p.mx = mx;
  p.ip = ip;
  p.preference = preference;
  p.status = Status::ok;
  p.greeting_code = 220;
  p.banner = "220 " + mx + " ESMTP";
  p.starttls = !version.empty();
  if (!version.empty()) {
    TlsFacts tls;
    tls.version = version;
    tls.cipher = "TLS_AES_256_GCM_SHA384";
    tls.verdict = verdict;
    CertFacts cert;
    cert.subject = "CN=" + mx;
    cert.issuer = "CN=Lab CA";
    tls.cert = cert;
    p.tls = tls;
  } else {
    p.status = Status::not_offered;
    p.failed_phase = Phase::ehlo;
  }
  return p;
}

// A small population: two provider domains, one self-hosted cleartext, one null MX, and one
// with a CJK name.
std::vector<DomainResult> population() {
  std::vector<DomainResult> out;
  const auto add = [&](std::string domain, DomainKind kind, std::vector<ProbeResult> probes) {
    DomainResult d;
    d.input = domain;
    d.domain = domain;
    d.kind = kind;
    for (const auto& p : probes) {
      if (std::none_of(d.mx_hosts.begin(), d.mx_hosts.end(), [&](const MxHost& h) { return h.name == p.mx; }))
        d.mx_hosts.push_back(MxHost{p.mx, p.preference, {p.ip}, {}});
    }
    d.probes = std::move(probes);
    report::judge_domain(d);
    out.push_back(std::move(d));
  };
  add("a.test", DomainKind::mx, {probe("a.test", "mx1.provider.co.jp", "127.0.0.1", 10, "TLSv1.3", CertVerdict::verified),
                                 probe("a.test", "mx2.provider.co.jp", "127.0.0.2", 20, "TLSv1.2", CertVerdict::verified)});
  add("b.test", DomainKind::mx, {probe("b.test", "mx1.provider.co.jp", "127.0.0.1", 10, "TLSv1.3", CertVerdict::verified)});
  add("c.test", DomainKind::mx, {probe("c.test", "mail.c.test", "127.0.0.3", 10, "", CertVerdict::anonymous)});
  add("d.test", DomainKind::mx, {probe("d.test", "mx.d.test", "127.0.0.4", 10, "TLSv1.2", CertVerdict::untrusted),
                                 probe("d.test", "mx2.d.test", "127.0.0.5", 20, "", CertVerdict::anonymous)});
  add("nullmx.test", DomainKind::null_mx, {});
  add("xn--r8jz45g.test", DomainKind::mx, {probe("xn--r8jz45g.test", "mx.xn--r8jz45g.test", "127.0.0.6", 0, "TLSv1.3", CertVerdict::verified)});
  // Policies: a.test signed with DANE on both MX (one stale) and MTA-STS enforce passing with
  // TLS-RPT; b.test MTA-STS testing failing; d.test a broken MTA-STS and an invalid TLS-RPT.
  DomainResult& a = out[0];
  a.dnssec_mx = true;
  for (auto& p : a.probes) p.dnssec_addr = true;
  a.probes[0].dane.state = DaneState::matched;
  a.probes[1].dane.state = DaneState::failed;
  a.mta_sts.mode = MtaStsMode::enforce;
  a.mta_sts.verdict = MtaStsVerdict::pass;
  a.tls_rpt.state = TlsRptState::valid;
  out[1].mta_sts.mode = MtaStsMode::testing;
  out[1].mta_sts.verdict = MtaStsVerdict::fail;
  out[3].mta_sts.verdict = MtaStsVerdict::error;
  out[3].tls_rpt.state = TlsRptState::invalid;
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string summary_of(const std::vector<DomainResult>& domains) {
  report::SummaryBuilder builder;
  for (const auto& d : domains) builder.add(d);
  std::ostringstream out;
  builder.write_text(out);
  return out.str();
}

}  // namespace

TEST_SUITE("scan") {

TEST_CASE("JSON reader: values, escapes, surrogate pairs, and clear errors") {
  const auto v = report::parse_json(R"( {"a":1,"b":[true,false,null],"s":"x\"\\\/\n\u00e9\u4f8b\ud83d\ude00","n":-1.5e0,"i":-1.5e2} )");
  REQUIRE(v.has_value());
  CHECK(v->integer_at("a") == 1);
  CHECK(v->find("b")->items.size() == 3);
  CHECK(v->string_at("s") == "x\"\\/\n\xc3\xa9\xe4\xbe\x8b\xf0\x9f\x98\x80");
  CHECK(v->find("n")->number == -1.5);
  CHECK(v->integer_at("i") == -150);
  CHECK_FALSE(v->integer_at("n").has_value());
  CHECK_FALSE(v->string_at("a").has_value());
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\":1,}", "01", "\"\\ud800\"", "\"\\udc00x\"", "nul", "\"a\nb\"",
                          "1 2", "{'a':1}", "[1e]", "\"\\x\""}) {
    std::string error;
    CHECK_MESSAGE(!report::parse_json(bad, &error).has_value(), bad);
    CHECK_FALSE(error.empty());
  }
  std::string deep(100, '[');
  deep += std::string(100, ']');
  std::string error;
  CHECK_FALSE(report::parse_json(deep, &error).has_value());
  CHECK(error.find("deeply") != std::string::npos);
}

TEST_CASE("each domain is one block; --resume keeps whole blocks and cuts an incomplete tail") {
  TempDir dir;
  const std::string path = dir.file("out.jsonl");
  const auto domains = population();
  {
    ResultWriter writer(path, OutputFormat::jsonl);
    for (int i = 0; i < 3; ++i) writer.write(domains[static_cast<std::size_t>(i)]);
  }
  const std::string whole = slurp(path);
  // A crash while the fourth block was being written (only a full disk can do this to us).
  std::ostringstream fourth;
  report::write_jsonl(fourth, domains[3]);
  {
    std::ofstream(path, std::ios::app) << fourth.str().substr(0, fourth.str().size() / 2);
  }
  auto state = prepare_resume(path, OutputFormat::jsonl);
  CHECK(state.domains == 3);
  CHECK(state.done.contains("a.test"));
  CHECK(state.done.contains("c.test"));
  CHECK_FALSE(state.done.contains("d.test"));
  CHECK(state.dropped_bytes == fourth.str().size() / 2);
  CHECK(slurp(path) == whole);
  // Continuing appends after the whole blocks; the result equals an uninterrupted run.
  {
    ResultWriter writer(path, OutputFormat::jsonl);
    for (std::size_t i = 3; i < domains.size(); ++i) writer.write(domains[i]);
  }
  TempDir other;
  {
    ResultWriter writer(other.file("all.jsonl"), OutputFormat::jsonl);
    for (const auto& d : domains) writer.write(d);
  }
  CHECK(slurp(path) == slurp(other.file("all.jsonl")));
  // Resuming a finished file changes nothing.
  state = prepare_resume(path, OutputFormat::jsonl);
  CHECK(state.domains == domains.size());
  CHECK(state.dropped_bytes == 0);
}

TEST_CASE("--resume refuses files that are not our output, and starts fresh without a file") {
  TempDir dir;
  const std::string path = dir.file("notes.txt");
  std::ofstream(path) << "my precious notes\nmore\n";
  CHECK_THROWS_WITH_AS(prepare_resume(path, OutputFormat::jsonl), doctest::Contains("notes.txt:1"), std::runtime_error);
  CHECK(slurp(path) == "my precious notes\nmore\n");
  CHECK_THROWS_AS(prepare_resume(path, OutputFormat::csv), std::runtime_error);
  CHECK(slurp(path) == "my precious notes\nmore\n");
  const auto fresh = prepare_resume(dir.file("missing.jsonl"), OutputFormat::jsonl);
  CHECK(fresh.domains == 0);
}

TEST_CASE("CSV output: header once, rows per domain, resume by the domain column") {
  TempDir dir;
  const std::string path = dir.file("out.csv");
  const auto domains = population();
  {
    ResultWriter writer(path, OutputFormat::csv);
    writer.write(domains[0]);
    writer.write(domains[1]);
  }
  { ResultWriter writer(path, OutputFormat::csv); }  // reopening adds no second header
  const std::string text = slurp(path);
  CHECK(text.rfind("schema_version,domain,", 0) == 0);
  CHECK(text.find("schema_version", 10) == std::string::npos);
  std::ofstream(path, std::ios::app) << "1,c.test,\"cut in the mid";  // a torn last row
  const auto state = prepare_resume(path, OutputFormat::csv);
  CHECK(state.domains == 2);
  CHECK(state.done.contains("b.test"));
  CHECK(slurp(path) == text);
}

TEST_CASE("JSON Lines read back give the same domains and the same summary") {
  const auto domains = population();
  std::ostringstream file;
  for (const auto& d : domains) report::write_jsonl(file, d);
  std::istringstream in(file.str());
  report::JsonlDomainReader reader(in, "out.jsonl");
  std::vector<DomainResult> back;
  while (auto d = reader.next()) back.push_back(std::move(*d));
  CHECK(reader.problems().empty());
  REQUIRE(back.size() == domains.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    CHECK(back[i].domain == domains[i].domain);
    CHECK(back[i].kind == domains[i].kind);
    CHECK(back[i].gmail_lock == domains[i].gmail_lock);
    CHECK(back[i].probes.size() == domains[i].probes.size());
    const auto a = report::digest_of(back[i]);
    const auto b = report::digest_of(domains[i]);
    CHECK(a.starttls_every_mx == b.starttls_every_mx);
    CHECK(a.tls_version == b.tls_version);
    CHECK(a.verdict == b.verdict);
    CHECK(a.mx_operator == b.mx_operator);
  }
  CHECK(summary_of(back) == summary_of(domains));
}

TEST_CASE("read-back reports broken lines and orphaned probe records with file:line") {
  const auto domains = population();
  std::ostringstream file;
  report::write_jsonl(file, domains[0]);
  file << "{not json\n";
  file << report::probe_record_json(domains[1], domains[1].probes[0]) << "\n";  // block without its domain record
  report::write_jsonl(file, domains[2]);
  std::istringstream in(file.str());
  report::JsonlDomainReader reader(in, "x.jsonl");
  std::vector<std::string> names;
  while (auto d = reader.next()) names.push_back(d->domain);
  CHECK(names == std::vector<std::string>{"a.test", "c.test"});
  REQUIRE(reader.problems().size() == 2);
  CHECK(reader.problems()[0].rfind("x.jsonl:4:", 0) == 0);
  CHECK(reader.problems()[1].find("b.test") != std::string::npos);
}

TEST_CASE("summary: shares of encrypted domains, STARTTLS everywhere, versions, verdicts, operators") {
  const auto domains = population();
  const auto digest = report::digest_of(domains[3]);  // d.test: TLS on mx, none on mx2
  CHECK(digest.lock == GmailLock::grey);
  CHECK_FALSE(digest.starttls_every_mx);
  CHECK(digest.tls_version == "TLSv1.2");
  CHECK(digest.verdict == CertVerdict::untrusted);
  CHECK(report::digest_of(domains[0]).mx_operator == "provider.co.jp");
  CHECK(report::registered_domain("mx1.mail.example.co.jp.") == "example.co.jp");
  CHECK(report::registered_domain("mx.provider.test") == "provider.test");

  const std::string text = summary_of(domains);
  CHECK(text.find("Summary: 6 domains") != std::string::npos);
  CHECK(text.find("can receive mail                  5") != std::string::npos);
  CHECK(text.find("encrypted (grey lock)             4   80.0%") != std::string::npos);
  CHECK(text.find("cleartext (red lock)              1   20.0%") != std::string::npos);
  CHECK(text.find("STARTTLS on every MX              3   60.0%") != std::string::npos);
  CHECK(text.find("null-mx 1") != std::string::npos);
  CHECK(text.find("TLSv1.3                         3   75.0%") != std::string::npos);
  CHECK(text.find("provider.co.jp                   2  100.0%") != std::string::npos);
  CHECK(text.find("例え.test") != std::string::npos);  // operators shown as people write them
  // Adoption, of the 5 domains that can receive mail; DANE counts a domain by its worst MX.
  CHECK(text.find("DNSSEC-signed MX                  1   20.0%") != std::string::npos);
  CHECK(text.find("DANE (TLSA published)             1   20.0%  (failed 1)") != std::string::npos);
  CHECK(text.find("MTA-STS published                 3   60.0%  (error 1, fail 1, pass 1)") != std::string::npos);
  CHECK(text.find("valid policies                  2   40.0%  (enforce 1, testing 1)") != std::string::npos);
  CHECK(text.find("TLS-RPT published                 2   40.0%  (invalid 1, valid 1)") != std::string::npos);
}

}  // TEST_SUITE
