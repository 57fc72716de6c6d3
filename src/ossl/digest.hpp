// SHA-256 fingerprints as lower-case hex, the form used for cert_sha256/spki_sha256 and TLSA data.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace mxtls::ossl {

std::string sha256_hex(std::span<const unsigned char> bytes);
std::string sha256_hex(std::string_view bytes);

// Lower-case hex of raw bytes (no separators).
std::string to_hex(std::span<const unsigned char> bytes);

}  // namespace mxtls::ossl
