// Reports on a message's Received: hops (text for admins, JSON for machines) and the fix a
// sender's MTA needs when it delivered in cleartext. Shared by `mxtls headers` and `mxtls listen`.
#pragma once

#include "mail/received.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace mxtls::mail {

// What to change on the sending MTA so it uses STARTTLS (Postfix ≥ 2.3 and 2.2, its log
// level, Exim, Sendmail), one line each, ready to print under a heading.
const std::vector<std::string>& cleartext_sender_fixes();

struct HopTextOptions {
  bool color = false;
  std::string indent = "  ";
};

// One block per hop, sender first: number, TLS/CLEARTEXT/UNKNOWN/local, from → by, with,
// TLS version/cipher/bits, the evidence. Every header byte passes report::terminal_safe().
std::string hops_text(const std::vector<ReceivedHop>& hops, const HopTextOptions& options);

// {"hop":1,"from":…,"encrypted":"yes",…}; hop numbers count from 1 at the sender.
std::string hop_json(const ReceivedHop& hop, std::size_t number);
std::string hops_json(const std::vector<ReceivedHop>& hops);  // a JSON array

// `mxtls headers`: the whole report for one input (a file name or "-").
std::string headers_report_text(const ParsedHeaders& headers, std::string_view source, bool color);
// One JSON Lines record ("record":"headers") without the trailing newline.
std::string headers_report_json(const ParsedHeaders& headers, std::string_view source);

}  // namespace mxtls::mail
