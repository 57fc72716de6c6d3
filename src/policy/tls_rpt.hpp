// TLS-RPT (RFC 8460 §3): the `_smtp._tls` TXT record that tells senders where to report TLS
// failures. A pure parser over bytes from the DNS; errors say what is wrong in words.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls::policy {

struct TlsRptRecord {
  std::vector<std::string> rua;  // mailto: and https: URIs, in order
};

// One TXT string (character-strings joined): "v=TLSRPTv1; rua=mailto:a@example.com,https://…".
std::optional<TlsRptRecord> parse_tls_rpt_txt(std::string_view text, std::string& error);

// RFC 8460 §3: records not starting with "v=TLSRPTv1" are discarded; anything but exactly
// one left means the domain does not implement TLS-RPT. `chosen` gets that one record's text.
std::optional<TlsRptRecord> select_tls_rpt_record(const std::vector<std::string>& texts, std::string& chosen,
                                                  std::string& error);

}  // namespace mxtls::policy
