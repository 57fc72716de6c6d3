// Certificate facts and name matching: OpenSSL objects in, plain result structs out.
// Name matching follows RFC 6125 as Postfix applies it to MX host names.
#pragma once

#include "core/result.hpp"

#include <openssl/x509.h>

#include <string>
#include <string_view>

namespace mxtls::tls {

// Subject, issuer, SANs, validity, key, signature algorithm, SHA-256 of DER and SPKI.
CertFacts describe_certificate(X509* leaf, int chain_length);

// Does the certificate name `host` (DNS SANs; the CN only when there is no DNS SAN)?
// Wildcards only as the whole left-most label ("*.example.jp" matches "mx.example.jp",
// not "a.mx.example.jp" nor "example.jp"); case-insensitive; a trailing dot is ignored.
bool certificate_matches_host(X509* leaf, std::string_view host);

// The pure rule behind it, on one presented identifier (for unit tests and fuzzing).
bool dns_name_matches(std::string_view pattern, std::string_view host);

}  // namespace mxtls::tls
