// DNS wire format, pure functions: build a query, parse a response into the resolver's structs.
// Responses are hostile input: parse_response() never crashes, and an answer that does not match
// its question (ID, QR, question name/type/class) is reported as a mismatch so it can be ignored.
#pragma once

#include "dns/resolver.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls::dns::wire {

// RR types this layer asks for or looks at (IANA numbers).
enum class RecordType : std::uint16_t {
  a = 1,
  cname = 5,
  soa = 6,
  mx = 15,
  txt = 16,
  aaaa = 28,
  tlsa = 52,
};
const char* to_string(RecordType);

// RCODE values (with the EDNS extended bits folded in).
inline constexpr unsigned rcode_noerror = 0;
inline constexpr unsigned rcode_formerr = 1;
inline constexpr unsigned rcode_servfail = 2;
inline constexpr unsigned rcode_nxdomain = 3;
inline constexpr unsigned rcode_notimp = 4;
inline constexpr unsigned rcode_refused = 5;
std::string rcode_name(unsigned rcode);

// The UDP payload size we advertise with EDNS0 (the DNS flag day 2020 value: avoids IP
// fragmentation, which off-path attackers use to splice forged records into answers).
inline constexpr std::uint16_t edns_udp_size = 1232;
// Largest message a DNS server may send without EDNS.
inline constexpr std::size_t classic_udp_size = 512;
// Longest CNAME chain we follow, inside one answer and across re-queries together.
inline constexpr int max_cname_hops = 8;

// One question as sent: the name in canonical text (see canonical_name), its type, the ID.
// The class is always IN.
struct Question {
  std::string name;
  RecordType type = RecordType::a;
  std::uint16_t id = 0;
};

// "Example.TEST." → "example.test". Lower-case ASCII, no trailing dot; bytes that are not
// letters, digits, '-', '_' or '*' are written as \DDD, so '.' only ever separates labels.
// nullopt for text that is not a domain name (empty, empty label, label > 63, name > 255).
std::optional<std::string> canonical_name(std::string_view text);

// Text (as canonical_name writes it) of an uncompressed wire-format name, the form ldns keeps
// names in; the root is "".
std::string name_text(std::span<const std::uint8_t> wire_name);

// Why `message` is structurally unsound (header, names, compression pointers, record bounds,
// TSIG/OPT placement), or nullopt. parse_response applies it; servers use it on queries.
std::optional<std::string> structure_problem(std::span<const std::uint8_t> message);

// The query message: RD set; with `dnssec`, EDNS0 (UDP size 1232) with the DO bit and the AD
// flag, so a validating resolver tells us whether the answer is secure. Empty on a bad name.
std::vector<std::uint8_t> build_query(const Question& question, bool dnssec);

enum class ParseStatus {
  accepted,   // the answer to our question
  mismatch,   // not an answer to our question: ignore it and keep waiting
  malformed,  // claims to answer our question (ID matches) but cannot be parsed safely
};

struct ParsedResponse {
  ParseStatus status = ParseStatus::malformed;
  std::string problem;  // why mismatch/malformed, or what is wrong with an accepted answer
  unsigned rcode = 0;
  bool truncated = false;      // TC bit: retry over TCP
  bool authenticated = false;  // AD bit
  // CNAMEs followed inside this answer, from the question name on, in order.
  std::vector<std::string> cnames;
  std::string final_name;       // question name, or the last CNAME target
  bool cname_loop = false;      // the chain inside the answer revisits a name, or is too long
  bool negative_proof = false;  // an SOA in the authority section (RFC 2308 NXDOMAIN/NODATA)
  // Records of the asked type owned by final_name; only the vector for that type is filled.
  std::vector<MxRecord> mx;  // sorted by preference, then host
  std::vector<asio::ip::address> addresses;
  std::vector<std::string> texts;
  std::vector<TlsaRecord> tlsa;

  bool has_records() const {
    return !mx.empty() || !addresses.empty() || !texts.empty() || !tlsa.empty();
  }
  // The answer stops at a CNAME whose target it does not resolve (an authoritative server
  // answering for a target outside its zones): the caller should ask for the target itself.
  bool stops_at_cname() const {
    return status == ParseStatus::accepted && rcode == rcode_noerror && !cnames.empty() &&
           !cname_loop && !has_records() && !negative_proof;
  }
};

// Parse `message` as the answer to `question`. Never throws on any input (it is the fuzzing
// entry point); allocation failure is the only exception that can escape.
ParsedResponse parse_response(std::span<const std::uint8_t> message, const Question& question);

}  // namespace mxtls::dns::wire
