// libFuzzer target for what we read out of a server's certificate (tls::describe_certificate,
// certificate_matches_host): the input is DER, decoded by OpenSSL as a handshake would, and
// every field our code extracts (names, SANs, validity, key, fingerprints) is exercised.
#include "tls/certificate.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const unsigned char* cursor = data;
  std::unique_ptr<X509, decltype(&X509_free)> cert(d2i_X509(nullptr, &cursor, static_cast<long>(size)), &X509_free);
  if (!cert) {
    // d2i leaves its complaint on the thread's error queue. Left there, the queue's text buffers
    // make each input end with more allocations than frees, and libFuzzer then runs a full leak
    // check (a fork of the whole process) after nearly every input: 5x slower, nothing found.
    ERR_clear_error();
    return 0;
  }
  const mxtls::CertFacts facts = mxtls::tls::describe_certificate(cert.get(), 3);
  // Fingerprints are SHA-256 in lower-case hex (or empty when the DER cannot be re-encoded).
  for (const auto* hex : {&facts.sha256, &facts.spki_sha256}) {
    if (!hex->empty() && hex->size() != 64) std::abort();
    for (const char c : *hex)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) std::abort();
  }
  if (facts.chain_length != 3 || facts.key_bits < 0) std::abort();
  for (const char* host : {"mx.example.test", "a.b.example.test", "xn--r8jz45g.test", "127.0.0.1", "", "."})
    (void)mxtls::tls::certificate_matches_host(cert.get(), host);
  // Reading a certificate must leave no error behind: a stale entry would be reported later as
  // the reason for some unrelated TLS failure on this thread.
  if (ERR_peek_error() != 0) std::abort();
  return 0;
}
