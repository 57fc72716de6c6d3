// MTA-STS (RFC 8461) parsing: the `_mta-sts` TXT record, the policy file and the MX pattern
// rule. Pure functions over bytes a hostile server chose: bounded, no I/O, every problem named
// with its line so an admin can find it.
#pragma once

#include "core/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls::policy {

// RFC 8461 §3.2: max_age "MUST be representable as an integer between 0 and 31557600".
inline constexpr std::int64_t max_age_limit = 31'557'600;
// RFC 8461 §3.3 suggests senders bound the policy body; 64 KiB is the usual figure.
inline constexpr std::size_t max_policy_bytes = 64 * 1024;

struct StsRecord {
  std::string id;  // 1–32 letters and digits
};

// One TXT string (character-strings already joined). nullopt and `error` set when it is not a
// valid STSv1 record.
std::optional<StsRecord> parse_sts_txt(std::string_view text, std::string& error);

// RFC 8461 §3.1 over every TXT record at `_mta-sts.<domain>`: records not starting with
// "v=STSv1" are discarded; anything but exactly one left means no policy. `chosen` receives
// the record text when exactly one starts with v=STSv1 (valid or not).
std::optional<StsRecord> select_sts_record(const std::vector<std::string>& texts, std::string& chosen,
                                           std::string& error);

struct StsPolicy {
  std::optional<MtaStsMode> mode;
  std::optional<std::int64_t> max_age;
  std::vector<std::string> mx;  // patterns, lower-case
  bool version_ok = false;
};

struct PolicyProblem {
  int line = 0;        // 1-based; 0 for the policy as a whole
  bool fatal = true;   // the policy is unusable (senders treat it as absent)
  std::string what;
  std::string text() const;  // "line 3: …" or the bare text for line 0
};

struct PolicyParse {
  StsPolicy policy;
  std::vector<PolicyProblem> problems;
  bool valid() const;  // no fatal problem
};

// The policy file of RFC 8461 §3.2: "key: value" lines ended by LF or CRLF; version STSv1,
// mode, max_age and at least one mx required (mx may be absent with mode none); unknown keys
// ignored; a repeated key other than mx is an error.
PolicyParse parse_sts_policy(std::string_view body);

// Is `pattern` a well-formed mx: value ("mail.example.com" or "*.example.com")? Empty when
// fine, else why not.
std::string check_mx_pattern(std::string_view pattern);

// RFC 8461 §4.1: case-insensitive; "*.example.com" matches exactly one extra left-most label
// ("mx.example.com", not "example.com" nor "a.mx.example.com"). A trailing dot on the host is
// ignored.
bool mx_pattern_matches(std::string_view pattern, std::string_view host);
bool mx_matches_any(const std::vector<std::string>& patterns, std::string_view host);

}  // namespace mxtls::policy
