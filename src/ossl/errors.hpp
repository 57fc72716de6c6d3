// OpenSSL's thread-local error queue turned into one readable line, and the exception used on
// setup paths (loading keys, building contexts). Probe outcomes are values, never exceptions.
// Deliberately free of OpenSSL headers so any area can catch OpensslError.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace mxtls::ossl {

// Drains the calling thread's OpenSSL error queue, oldest first, as
// "library: reason (detail); library: reason" — empty when the queue was empty.
// Draining matters: a stale entry would otherwise be blamed on the next, unrelated failure.
std::string take_openssl_errors();

// Empties the queue without reading it (before an operation whose errors we want alone).
void clear_openssl_errors();

// Errors pushed onto the queue while a mark lives are dropped when it ends; older entries stay.
// Used around best-effort parsing of peer data, whose failures are recorded as facts: a stale
// entry left behind would make a later SSL_get_error() report SSL_ERROR_SSL for no reason.
class ScopedErrorMark {
 public:
  ScopedErrorMark();
  ~ScopedErrorMark();
  ScopedErrorMark(const ScopedErrorMark&) = delete;
  ScopedErrorMark& operator=(const ScopedErrorMark&) = delete;
};

// Thrown where a failure means our own setup is broken (a key we generated will not sign,
// a PEM we were given does not parse). The message is "<context>: <drained OpenSSL errors>".
class OpensslError : public std::runtime_error {
 public:
  explicit OpensslError(std::string_view context);
};

}  // namespace mxtls::ossl
