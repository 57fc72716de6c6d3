// SMTP command parsing for the `mxtls listen` receiver. Every input here comes from an
// untrusted sender (bounded only by the receiver's line limit), so nothing indexes past the
// input, numbers cannot overflow, and words that reach a report pass through printable().
#include "listen/command.hpp"

#include "core/text.hpp"

namespace mxtls::listen {
namespace {

bool equals_ignoring_ascii_case(std::string_view text, std::string_view upper) {
  return text.size() == upper.size() && ascii_upper(text) == upper;
}

}  // namespace

Command split_command(std::string_view line) {
  const auto space = line.find(' ');
  Command command;
  command.verb = ascii_upper(line.substr(0, space));
  if (space != std::string_view::npos) command.argument = std::string(line.substr(space + 1));
  return command;
}

std::optional<std::string> hello_name(std::string_view argument) {
  if (argument.empty()) return std::nullopt;
  return printable(argument, max_kept_argument);
}

bool starttls_argument_valid(std::string_view argument) { return argument.empty(); }

std::optional<MailPath> parse_path_argument(std::string_view argument, std::string_view prefix) {
  if (argument.size() < prefix.size() || !equals_ignoring_ascii_case(argument.substr(0, prefix.size()), prefix))
    return std::nullopt;
  std::string_view rest = argument.substr(prefix.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  const auto space = rest.find(' ');
  const std::string_view path = rest.substr(0, space);
  if (path.empty()) return std::nullopt;
  MailPath out;
  out.path = printable(path, max_kept_argument);
  if (space != std::string_view::npos) out.params = std::string(rest.substr(space + 1));
  return out;
}

std::uint64_t size_parameter(std::string_view params) {
  // Parameter by parameter: a keyword that merely ends in SIZE (`XSIZE=1`) or a value that
  // contains it (`ENVID=SIZE=1`) must not hide the real SIZE= that follows.
  while (!params.empty()) {
    const auto space = params.find(' ');
    const std::string_view parameter = params.substr(0, space);
    params = space == std::string_view::npos ? std::string_view() : params.substr(space + 1);
    constexpr std::string_view keyword = "SIZE=";
    if (parameter.size() < keyword.size() || !equals_ignoring_ascii_case(parameter.substr(0, keyword.size()), keyword))
      continue;
    std::uint64_t value = 0;
    for (std::size_t i = keyword.size(); i < parameter.size() && parameter[i] >= '0' && parameter[i] <= '9'; ++i) {
      if (value > size_parameter_cutoff) break;  // absurd: stop growing, it is "too big" anyway
      value = value * 10 + static_cast<std::uint64_t>(parameter[i] - '0');
    }
    return value;
  }
  return 0;
}

}  // namespace mxtls::listen
