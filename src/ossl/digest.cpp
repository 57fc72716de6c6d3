// SHA-256 via EVP (the provider-aware OpenSSL 3 API) and hex formatting.
#include "ossl/digest.hpp"

#include "ossl/errors.hpp"

#include <openssl/evp.h>

namespace mxtls::ossl {

std::string to_hex(std::span<const unsigned char> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (const unsigned char byte : bytes) {
    hex.push_back(digits[byte >> 4]);
    hex.push_back(digits[byte & 0x0f]);
  }
  return hex;
}

std::string sha256_hex(std::span<const unsigned char> bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // A failure here means the default provider is unusable: a broken installation, not a
  // property of the data, so it is an exception.
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw OpensslError("SHA-256 digest failed");
  }
  return to_hex(std::span<const unsigned char>(digest, length));
}

std::string sha256_hex(std::string_view bytes) {
  return sha256_hex(std::span<const unsigned char>(
      reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()));
}

}  // namespace mxtls::ossl
