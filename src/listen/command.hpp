// Parsing of the SMTP commands `mxtls listen` receives from untrusted senders: verb and
// argument, EHLO/HELO names, STARTTLS, `MAIL FROM:` / `RCPT TO:` paths and the SIZE= parameter.
// Pure functions on bytes (no I/O), so they can be unit-tested and fuzzed on their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mxtls::listen {

// Peer-supplied words (EHLO name, addresses) are kept short and printable: printable() cuts
// them at this many bytes and appends "…" (3 bytes), so a kept word is never longer than
// max_kept_argument + 3 bytes.
inline constexpr std::size_t max_kept_argument = 255;

// One command line (CRLF already removed) split at its first space. The verb is upper-cased
// (ASCII letters only; other bytes are left as they are) so it can be compared to "EHLO" etc.;
// the argument is everything after that space, untouched ("EHLO  x" has the argument " x").
// Without a space the whole line is the verb and the argument is empty.
struct Command {
  std::string verb;
  std::string argument;
};
Command split_command(std::string_view line);

// The EHLO/HELO argument as it goes into the report (printable, cut at max_kept_argument),
// or nullopt when there is none (the command is a syntax error: 501).
std::optional<std::string> hello_name(std::string_view argument);

// STARTTLS takes no argument (RFC 3207 §4); anything after it is a syntax error.
bool starttls_argument_valid(std::string_view argument);

// `FROM:<a@b> SIZE=123` (after MAIL) or `TO:<a@b>` (after RCPT).
struct MailPath {
  std::string path;    // the first word after the prefix, brackets included, printable and
                       // cut at max_kept_argument; never empty
  std::string params;  // the raw ESMTP parameters after the path's first following space
};
// The prefix ("FROM:", "TO:", given in upper case) is matched case-insensitively; spaces
// after it are skipped (Postfix accepts `MAIL FROM: <a@b>` too). The path is taken as
// written: this is a test receiver that relays nothing, so an unbracketed or null path is
// recorded rather than refused. nullopt when the prefix is missing or no path follows it.
std::optional<MailPath> parse_path_argument(std::string_view argument, std::string_view prefix);
inline std::optional<MailPath> parse_mail_from(std::string_view argument) {
  return parse_path_argument(argument, "FROM:");
}
inline std::optional<MailPath> parse_rcpt_to(std::string_view argument) {
  return parse_path_argument(argument, "TO:");
}

// Values of SIZE= stop growing once past this, so absurd digit strings cannot overflow; the
// result is then still far above any message limit. size_parameter() never exceeds
// max_size_parameter.
inline constexpr std::uint64_t size_parameter_cutoff = std::uint64_t{1} << 40;
inline constexpr std::uint64_t max_size_parameter = size_parameter_cutoff * 10 + 9;

// The announced message size (RFC 1870) from MAIL FROM's parameters: the first
// space-separated parameter whose keyword is SIZE (any case), its leading decimal digits.
// 0 when there is no SIZE parameter or its value does not start with a digit.
std::uint64_t size_parameter(std::string_view params);

}  // namespace mxtls::listen
