// libFuzzer target for the `mxtls listen` command parsers (listen/command.hpp): the input is
// split into lines as the receiver reads them, and every line goes through every parser, the
// way the receiver dispatches it and also directly, with invariants checked on each result.
#include "listen/command.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace mxtls::listen;

void check(bool ok) {
  if (!ok) std::abort();
}

char upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool starts_with_ignoring_case(std::string_view text, std::string_view upper_prefix) {
  if (text.size() < upper_prefix.size()) return false;
  for (std::size_t i = 0; i < upper_prefix.size(); ++i)
    if (upper(text[i]) != upper_prefix[i]) return false;
  return true;
}

// A word kept for a report: non-empty, bounded, and free of control bytes (printable()
// escapes those; bytes >= 0x80 survive only as well-formed UTF-8, which it checks itself).
void check_kept_word(const std::string& word) {
  check(!word.empty());
  check(word.size() <= max_kept_argument + 3);
  for (const char ch : word) {
    const auto c = static_cast<unsigned char>(ch);
    check(c >= 0x20 && c != 0x7F);
  }
}

void check_hello(std::string_view argument) {
  const auto name = hello_name(argument);
  check(name.has_value() == !argument.empty());
  if (!name) return;
  check_kept_word(*name);
  bool plain = argument.size() <= max_kept_argument;
  for (const char c : argument) plain = plain && c >= 0x20 && c < 0x7F;
  if (plain) check(*name == argument);  // nothing to escape or cut: kept as sent
}

// Reference for size_parameter(): the first ' '-separated word starting with SIZE= (any case)
// and its leading digits. While the value stays below 10^12 (under the 2^40 cut-off) it must
// come out exactly; a longer run must come out at least 10^12 and within the bound.
void check_size(std::string_view params) {
  const std::uint64_t value = size_parameter(params);
  check(value <= max_size_parameter);
  std::size_t start = 0;
  while (start <= params.size()) {
    std::size_t end = params.find(' ', start);
    if (end == std::string_view::npos) end = params.size();
    const std::string_view word = params.substr(start, end - start);
    if (starts_with_ignoring_case(word, "SIZE=")) {
      std::uint64_t expected = 0;
      bool exact = true;
      for (std::size_t i = 5; i < word.size() && word[i] >= '0' && word[i] <= '9'; ++i) {
        if (expected >= 100000000000ULL) {
          exact = false;
          break;
        }
        expected = expected * 10 + static_cast<std::uint64_t>(word[i] - '0');
      }
      check(exact ? value == expected : value >= 1000000000000ULL);
      return;
    }
    start = end + 1;
  }
  check(value == 0);
}

void check_path(std::string_view argument, std::string_view prefix) {
  const auto parsed = parse_path_argument(argument, prefix);
  // Defined outcome: a path exists exactly when the prefix matches and something other
  // than spaces follows it.
  const bool prefix_matches = starts_with_ignoring_case(argument, prefix);
  const bool something_follows =
      prefix_matches && argument.find_first_not_of(' ', prefix.size()) != std::string_view::npos;
  check(parsed.has_value() == something_follows);
  if (!parsed) return;
  check_kept_word(parsed->path);
  check(parsed->path.find(' ') == std::string::npos);  // a path ends at the first space
  // The parameters are the argument's tail, never more.
  check(parsed->params.size() < argument.size());
  check(argument.substr(argument.size() - parsed->params.size()) == parsed->params);
  check_size(parsed->params);
}

void check_line(std::string_view line) {
  const Command command = split_command(line);
  const auto space = line.find(' ');
  // The split: the verb is the line up to the first space, upper-cased ASCII; the argument
  // is the rest after that space, unchanged.
  check(command.verb.size() == (space == std::string_view::npos ? line.size() : space));
  for (std::size_t i = 0; i < command.verb.size(); ++i) {
    check(command.verb[i] == upper(line[i]));
    check(!(command.verb[i] >= 'a' && command.verb[i] <= 'z'));
    check(command.verb[i] != ' ');
  }
  if (space == std::string_view::npos) check(command.argument.empty());
  else check(command.argument == line.substr(space + 1));
  check(command.verb.size() + command.argument.size() <= line.size());

  // As the receiver dispatches it.
  if (command.verb == "EHLO" || command.verb == "HELO") check_hello(command.argument);
  if (command.verb == "STARTTLS") check(starttls_argument_valid(command.argument) == command.argument.empty());
  if (command.verb == "MAIL") {
    check_path(command.argument, "FROM:");
    const auto from = parse_mail_from(command.argument);
    const auto direct = parse_path_argument(command.argument, "FROM:");
    check(from.has_value() == direct.has_value());
    if (from) check(from->path == direct->path && from->params == direct->params);
  }
  if (command.verb == "RCPT") {
    check_path(command.argument, "TO:");
    check(parse_rcpt_to(command.argument).has_value() == parse_path_argument(command.argument, "TO:").has_value());
  }
  // And every parser on raw bytes, whatever the verb.
  check_hello(line);
  check(starttls_argument_valid(line) == line.empty());
  check_path(line, "FROM:");
  check_path(line, "TO:");
  check_path(command.argument, "FROM:");
  check_size(line);
  check_size(command.argument);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The whole input as one line (a line may hold any byte but LF), then its lines as the
  // receiver's reader cuts them: at LF, one CR before it dropped.
  check_line(input);
  std::size_t start = 0, lines = 0;
  while (start < input.size() && lines++ < 64) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    std::string_view line = input.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    check_line(line);
    start = end + 1;
  }
  return 0;
}
