// Error-queue draining for OpenSSL: every queued entry becomes "library: reason (detail)".
// The detail strings can carry text from parsed input, so they are sanitised and bounded.
#include "ossl/errors.hpp"

#include <openssl/err.h>


namespace mxtls::ossl {
namespace {

// The queue holds at most 16 entries, but a detail string can echo attacker-controlled input
// (a name, a PEM header): keep the whole message short and printable.
constexpr std::size_t max_message_length = 2048;

void append_printable(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (out.size() >= max_message_length) return;
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte >= 0x20 && byte < 0x7f ? c : '?');
  }
}

}  // namespace

std::string take_openssl_errors() {
  std::string message;
  const char* data = nullptr;
  int flags = 0;
  for (;;) {
    const unsigned long code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags);
    if (code == 0) break;
    if (!message.empty()) append_printable(message, "; ");
    const char* library = ERR_lib_error_string(code);
    const char* reason = ERR_reason_error_string(code);
    if (reason != nullptr) {
      if (library != nullptr) {
        append_printable(message, library);
        append_printable(message, ": ");
      }
      append_printable(message, reason);
    } else {
      // No registered text (e.g. a provider-specific code): OpenSSL's generic form still
      // names the library and the numeric code.
      char generic[256];
      ERR_error_string_n(code, generic, sizeof generic);
      append_printable(message, generic);
    }
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
      append_printable(message, " (");
      append_printable(message, data);
      append_printable(message, ")");
    }
  }
  return message;
}

void clear_openssl_errors() { ERR_clear_error(); }

ScopedErrorMark::ScopedErrorMark() { ERR_set_mark(); }
ScopedErrorMark::~ScopedErrorMark() { ERR_pop_to_mark(); }

namespace {
std::string with_openssl_errors(std::string_view context) {
  std::string message{context};
  std::string queued = take_openssl_errors();
  message += ": ";
  message += queued.empty() ? std::string{"no OpenSSL error detail"} : queued;
  return message;
}
}  // namespace

OpensslError::OpensslError(std::string_view context)
    : std::runtime_error(with_openssl_errors(context)) {}

}  // namespace mxtls::ossl
