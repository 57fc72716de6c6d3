// SMTP command parsing of the `mxtls listen` receiver (listen/command.hpp): verb and argument,
// EHLO/HELO names, STARTTLS, MAIL FROM / RCPT TO paths and SIZE=, with hostile input (case,
// odd brackets, overflow, over-long words, NUL and 8-bit bytes).
#include "listen/command.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

using namespace mxtls::listen;
using namespace std::string_literals;

}  // namespace

TEST_SUITE("listen") {

TEST_CASE("listen command: the verb is split at the first space and upper-cased") {
  Command c = split_command("MAIL FROM:<a@b.test> SIZE=10");
  CHECK(c.verb == "MAIL");
  CHECK(c.argument == "FROM:<a@b.test> SIZE=10");

  c = split_command("ehlo client.test");
  CHECK(c.verb == "EHLO");
  CHECK(c.argument == "client.test");  // the argument keeps its case

  c = split_command("StartTLS");
  CHECK(c.verb == "STARTTLS");
  CHECK(c.argument.empty());

  c = split_command("QUIT ");
  CHECK(c.verb == "QUIT");
  CHECK(c.argument.empty());

  c = split_command("EHLO  two.spaces.test");
  CHECK(c.verb == "EHLO");
  CHECK(c.argument == " two.spaces.test");  // only the first space separates

  c = split_command("");
  CHECK(c.verb.empty());
  CHECK(c.argument.empty());

  c = split_command(" leading");
  CHECK(c.verb.empty());
  CHECK(c.argument == "leading");

  // A tab is no separator (RFC 5321 uses SP): the whole line is one unknown verb.
  c = split_command("HELO\tclient.test");
  CHECK(c.verb == "HELO\tCLIENT.TEST");
  CHECK(c.argument.empty());
}

TEST_CASE("listen command: NUL and 8-bit bytes in the verb are kept, only ASCII letters change case") {
  const Command nul = split_command("EH\0lo x"s);
  CHECK(nul.verb == "EH\0LO"s);
  CHECK(nul.verb != "EHLO");
  CHECK(nul.argument == "x");

  // 0xE9 ('é' in Latin-1) and the UTF-8 bytes of 'ü' are not letters to ascii_upper.
  const Command eight = split_command("qu\xE9t \xC3\xBC");
  CHECK(eight.verb == "QU\xE9T");
  CHECK(eight.argument == "\xC3\xBC");

  // The Turkish dotless i (U+0131) must not turn into "QUIT" by Unicode case folding.
  CHECK(split_command("qu\xC4\xB1t").verb != "QUIT");
}

TEST_CASE("listen command: an over-long line splits without loss") {
  const std::string word(5000, 'a');
  const Command c = split_command(word + " " + word);
  CHECK(c.verb == std::string(5000, 'A'));
  CHECK(c.argument == word);
}

TEST_CASE("listen command: EHLO/HELO names are required, printable and cut") {
  CHECK_FALSE(hello_name("").has_value());
  REQUIRE(hello_name("client.example.test").has_value());
  CHECK(*hello_name("client.example.test") == "client.example.test");
  CHECK(*hello_name("[127.0.0.1]") == "[127.0.0.1]");
  CHECK(*hello_name(" ") == " ");  // "EHLO  " says something, if only a space
  // Control bytes and NUL become \xNN; UTF-8 stays.
  CHECK(*hello_name("a\0b\x1b[31m"s) == "a\\x00b\\x1B[31m");
  CHECK(*hello_name("m\xC3\xBCnchen.test") == "m\xC3\xBCnchen.test");
  CHECK(*hello_name("bad\xFF") == "bad\\xFF");
  // Over-long: cut at max_kept_argument bytes plus "…".
  const std::string name = *hello_name(std::string(2000, 'x'));
  CHECK(name == std::string(max_kept_argument, 'x') + "…");
  CHECK(name.size() <= max_kept_argument + 3);
}

TEST_CASE("listen command: STARTTLS takes no argument") {
  CHECK(starttls_argument_valid(""));
  CHECK_FALSE(starttls_argument_valid("now"));
  CHECK_FALSE(starttls_argument_valid(" "));
  CHECK_FALSE(starttls_argument_valid("\0"s));
}

TEST_CASE("listen command: MAIL FROM and RCPT TO paths") {
  auto from = parse_mail_from("FROM:<sender@sender.test>");
  REQUIRE(from.has_value());
  CHECK(from->path == "<sender@sender.test>");
  CHECK(from->params.empty());

  from = parse_mail_from("FROM:<sender@sender.test> SIZE=123 BODY=8BITMIME");
  REQUIRE(from.has_value());
  CHECK(from->path == "<sender@sender.test>");
  CHECK(from->params == "SIZE=123 BODY=8BITMIME");

  // Case-insensitive prefix, spaces after the colon skipped (as Postfix does).
  from = parse_mail_from("from:   <a@b.test>");
  REQUIRE(from.has_value());
  CHECK(from->path == "<a@b.test>");
  from = parse_mail_from("FrOm:<a@b.test>");
  REQUIRE(from.has_value());

  // The null reverse path is a path.
  from = parse_mail_from("FROM:<>");
  REQUIRE(from.has_value());
  CHECK(from->path == "<>");

  auto to = parse_rcpt_to("TO:<taro@listen.test>");
  REQUIRE(to.has_value());
  CHECK(to->path == "<taro@listen.test>");
  to = parse_rcpt_to("to:<taro@listen.test> NOTIFY=NEVER");
  REQUIRE(to.has_value());
  CHECK(to->params == "NOTIFY=NEVER");

  // The prefixes are not interchangeable.
  CHECK_FALSE(parse_rcpt_to("FROM:<a@b.test>").has_value());
  CHECK_FALSE(parse_mail_from("TO:<a@b.test>").has_value());
}

TEST_CASE("listen command: missing prefix or path, odd brackets") {
  CHECK_FALSE(parse_mail_from("").has_value());
  CHECK_FALSE(parse_mail_from("FROM").has_value());
  CHECK_FALSE(parse_mail_from("FROM:").has_value());
  CHECK_FALSE(parse_mail_from("FROM:    ").has_value());
  CHECK_FALSE(parse_mail_from("FROM :<a@b.test>").has_value());
  CHECK_FALSE(parse_mail_from("<a@b.test>").has_value());
  CHECK_FALSE(parse_mail_from("FRO").has_value());
  CHECK_FALSE(parse_rcpt_to("T").has_value());
  // Without a path the first parameter is taken for one (and recorded as the sender).
  auto no_path = parse_mail_from("FROM:  SIZE=5");
  REQUIRE(no_path.has_value());
  CHECK(no_path->path == "SIZE=5");
  CHECK(no_path->params.empty());

  // Brackets are recorded as written: a test receiver records, it does not judge syntax.
  auto bare = parse_mail_from("FROM:a@b.test");
  REQUIRE(bare.has_value());
  CHECK(bare->path == "a@b.test");
  auto open = parse_rcpt_to("TO:<a@b.test");
  REQUIRE(open.has_value());
  CHECK(open->path == "<a@b.test");
  auto reversed = parse_rcpt_to("TO:>a@b.test<");
  REQUIRE(reversed.has_value());
  CHECK(reversed->path == ">a@b.test<");
  // A space inside the brackets ends the path; the rest counts as parameters.
  auto spaced = parse_mail_from("FROM:<a b@c.test> SIZE=1");
  REQUIRE(spaced.has_value());
  CHECK(spaced->path == "<a");
  CHECK(spaced->params == "b@c.test> SIZE=1");
}

TEST_CASE("listen command: paths are printable and cut at max_kept_argument") {
  auto nul = parse_rcpt_to("TO:<a\0b@c.test>"s);
  REQUIRE(nul.has_value());
  CHECK(nul->path == "<a\\x00b@c.test>");
  auto high = parse_rcpt_to("TO:<\xC3\xA9t\xE9@c.test>");
  REQUIRE(high.has_value());
  CHECK(high->path == "<\xC3\xA9t\\xE9@c.test>");
  auto crlf = parse_mail_from("FROM:<a@b.test>\r\nRCPT");
  REQUIRE(crlf.has_value());
  CHECK(crlf->path == "<a@b.test>\\x0D\\x0ARCPT");

  const std::string local(3000, 'l');
  auto longest = parse_mail_from("FROM:<" + local + "@b.test> SIZE=7");
  REQUIRE(longest.has_value());
  CHECK(longest->path == "<" + std::string(max_kept_argument - 1, 'l') + "…");
  CHECK(longest->params == "SIZE=7");
  CHECK(size_parameter(longest->params) == 7);
}

TEST_CASE("listen command: SIZE= values") {
  CHECK(size_parameter("") == 0);
  CHECK(size_parameter("SIZE=123") == 123);
  CHECK(size_parameter("size=123") == 123);
  CHECK(size_parameter("Size=0") == 0);
  CHECK(size_parameter("BODY=8BITMIME SIZE=4096") == 4096);
  CHECK(size_parameter("SIZE=4096 BODY=8BITMIME") == 4096);
  CHECK(size_parameter("  SIZE=12") == 12);
  // The first SIZE= counts.
  CHECK(size_parameter("SIZE=5 SIZE=999999999") == 5);
  // Garbage: no digits, a sign, no '=', leading digits only.
  CHECK(size_parameter("SIZE=") == 0);
  CHECK(size_parameter("SIZE=abc") == 0);
  CHECK(size_parameter("SIZE=-5") == 0);
  CHECK(size_parameter("SIZE=+5") == 0);
  CHECK(size_parameter("SIZE 5") == 0);
  CHECK(size_parameter("SIZE") == 0);
  CHECK(size_parameter("SIZE=12abc") == 12);
  CHECK(size_parameter("SIZE=1\0" "99"s) == 1);
  CHECK(size_parameter("SIZE=\xEF\xBC\x91") == 0);  // a full-width digit is no digit
  // A tab is no parameter separator.
  CHECK(size_parameter("BODY=7BIT\tSIZE=5") == 0);
}

TEST_CASE("listen command: SIZE= overflow stops at a bound far above any limit") {
  CHECK(size_parameter("SIZE=1099511627776") == size_parameter_cutoff);  // 2^40 exactly
  CHECK(size_parameter("SIZE=18446744073709551615") <= max_size_parameter);
  CHECK(size_parameter("SIZE=18446744073709551616") > size_parameter_cutoff);
  CHECK(size_parameter("SIZE=" + std::string(10000, '9')) <= max_size_parameter);
  CHECK(size_parameter("SIZE=" + std::string(10000, '9')) > size_parameter_cutoff);
  CHECK(size_parameter("SIZE=" + std::string(500, '0') + "42") == 42);  // leading zeros are fine
}

// Regression: the parameter scan once looked only at the first "SIZE=" anywhere in the
// parameters and gave up when that one was not at a parameter's start, so a parameter whose
// keyword ends in SIZE, or whose value contains it, hid the real announcement.
TEST_CASE("listen command: SIZE is a keyword, not a substring") {
  CHECK(size_parameter("XSIZE=1 SIZE=99999999") == 99999999);
  CHECK(size_parameter("ENVID=SIZE=1 SIZE=7") == 7);
  CHECK(size_parameter("XSIZE=1") == 0);
  CHECK(size_parameter("ENVID=SIZE=1") == 0);
  CHECK(size_parameter("SIZES=5") == 0);
}

}  // TEST_SUITE
