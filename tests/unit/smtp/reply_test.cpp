// SMTP reply and EHLO parsing: well-formed replies, the shapes real servers send, and
// hostile input (oversized lines, endless replies, garbage, code changes mid-reply).
#include "smtp/reply.hpp"

#include <doctest/doctest.h>

#include <string>

using mxtls::smtp::ReplyLimits;
using mxtls::smtp::ReplyParser;

TEST_SUITE("smtp") {

TEST_CASE("single-line reply, CRLF") {
  ReplyParser p;
  const std::string in = "220 mx.example.jp ESMTP Postfix\r\n";
  CHECK(p.feed(in) == in.size());
  REQUIRE(p.state() == ReplyParser::State::complete);
  auto r = p.take();
  CHECK(r.code == 220);
  REQUIRE(r.lines.size() == 1);
  CHECK(r.lines[0] == "mx.example.jp ESMTP Postfix");
  CHECK(p.state() == ReplyParser::State::need_more);
}

TEST_CASE("multi-line reply split across arbitrary reads") {
  const std::string in = "250-mx.example.jp\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n";
  for (std::size_t chunk = 1; chunk <= in.size(); ++chunk) {
    ReplyParser p;
    std::size_t pos = 0;
    while (pos < in.size() && p.state() == ReplyParser::State::need_more)
      pos += p.feed(std::string_view(in).substr(pos, chunk));
    REQUIRE(p.state() == ReplyParser::State::complete);
    CHECK(pos == in.size());
    auto r = p.take();
    CHECK(r.code == 250);
    CHECK(r.lines.size() == 4);
    CHECK(r.lines[3] == "STARTTLS");
  }
}

TEST_CASE("bytes after a complete reply are left to the caller") {
  ReplyParser p;
  const std::string in = "220 go ahead\r\n250 injected\r\n";
  const auto used = p.feed(in);
  CHECK(used == std::string("220 go ahead\r\n").size());
  CHECK(p.take().code == 220);
  CHECK(p.feed(std::string_view(in).substr(used)) == in.size() - used);
  CHECK(p.take().code == 250);
}

TEST_CASE("bare LF, code-only lines and empty text are accepted") {
  ReplyParser p;
  p.feed("250-first\n250\n");
  REQUIRE(p.state() == ReplyParser::State::complete);
  auto r = p.take();
  CHECK(r.lines.size() == 2);
  CHECK(r.lines[1].empty());
}

TEST_CASE("hostile replies end in an error with a reason") {
  SUBCASE("garbage instead of a code") {
    ReplyParser p;
    p.feed("HTTP/1.1 400 Bad Request\r\n");
    CHECK(p.state() == ReplyParser::State::error);
    CHECK(p.error().find("not an SMTP reply") != std::string::npos);
  }
  SUBCASE("binary bytes and NUL") {
    ReplyParser p;
    p.feed(std::string("\x00\xff\x16\x03\x01\r\n", 7));
    CHECK(p.state() == ReplyParser::State::error);
  }
  SUBCASE("a code outside 2xx-5xx") {
    ReplyParser p;
    p.feed("999 what\r\n");
    CHECK(p.state() == ReplyParser::State::error);
  }
  SUBCASE("bad separator") {
    ReplyParser p;
    p.feed("220xhello\r\n");
    CHECK(p.state() == ReplyParser::State::error);
  }
  SUBCASE("code changes in a multi-line reply") {
    ReplyParser p;
    p.feed("250-a\r\n550 b\r\n");
    CHECK(p.state() == ReplyParser::State::error);
  }
  SUBCASE("a 10 MB line stops at the line bound without buffering it") {
    ReplyParser p(ReplyLimits{.max_line_bytes = 2048});
    const std::string big(10 * 1024 * 1024, 'A');
    const auto used = p.feed("220 " + big);
    CHECK(p.state() == ReplyParser::State::error);
    CHECK(used <= 2048 + 1);
  }
  SUBCASE("endless multi-line reply stops at the line count") {
    ReplyParser p(ReplyLimits{.max_line_bytes = 100, .max_lines = 10, .max_reply_bytes = 1 << 20});
    std::string in;
    for (int i = 0; i < 50; ++i) in += "250-more\r\n";
    p.feed(in);
    CHECK(p.state() == ReplyParser::State::error);
    CHECK(p.error().find("more than 10 lines") != std::string::npos);
  }
  SUBCASE("total reply size bound") {
    ReplyParser p(ReplyLimits{.max_line_bytes = 100, .max_lines = 1000, .max_reply_bytes = 200});
    std::string in;
    for (int i = 0; i < 50; ++i) in += "250-more\r\n";
    p.feed(in);
    CHECK(p.state() == ReplyParser::State::error);
  }
}

TEST_CASE("reply text is sanitised") {
  ReplyParser p;
  p.feed(std::string("220 evil\x1b[31m\x01 name\r\n"));
  REQUIRE(p.state() == ReplyParser::State::complete);
  CHECK(p.take().lines[0] == "evil\\x1B[31m\\x01 name");
}

TEST_CASE("EHLO extensions are keywords, not substrings") {
  ReplyParser p;
  p.feed(
      "250-mx.example.jp Hello STARTTLS friend\r\n"
      "250-PIPELINING\r\n"
      "250-X-STARTTLS-LIKE\r\n"
      "250-auth PLAIN LOGIN\r\n"
      "250-AUTH=CRAM-MD5 PLAIN\r\n"
      "250-SIZE 10240000\r\n"
      "250 8BITMIME\r\n");
  REQUIRE(p.state() == ReplyParser::State::complete);
  auto ext = mxtls::smtp::parse_ehlo(p.take());
  CHECK_FALSE(ext.has("STARTTLS"));  // only in the greeting line and inside another keyword
  CHECK(ext.has("pipelining"));
  CHECK(ext.has("SIZE"));
  CHECK(ext.params("SIZE") == std::vector<std::string>{"10240000"});
  CHECK(ext.params("AUTH") == std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5"});
  CHECK(ext.lines.front() == "PIPELINING");
}

TEST_CASE("EHLO with STARTTLS as the last line") {
  ReplyParser p;
  p.feed("250-mx\r\n250 STARTTLS\r\n");
  auto ext = mxtls::smtp::parse_ehlo(p.take());
  CHECK(ext.has("STARTTLS"));
  CHECK(ext.params("STARTTLS").empty());
}

}  // TEST_SUITE
