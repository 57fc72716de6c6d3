// DNS wire format with ldns: query building and response parsing for the stub resolver.
// Before ldns sees a response, a small structural walk of our own rejects what ldns handles
// badly (compression pointers that do not point backwards, TSIG records, rdata overruns).
#include "dns/wire.hpp"

#include "dns/ldns_handles.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <tuple>

namespace mxtls::dns::wire {

using detail::LdnsPktPtr;
using detail::LdnsRdfPtr;
using detail::MallocPtr;

const char* to_string(RecordType type) {
  switch (type) {
    case RecordType::a: return "A";
    case RecordType::cname: return "CNAME";
    case RecordType::soa: return "SOA";
    case RecordType::mx: return "MX";
    case RecordType::txt: return "TXT";
    case RecordType::aaaa: return "AAAA";
    case RecordType::tlsa: return "TLSA";
  }
  return "?";
}

std::string rcode_name(unsigned rcode) {
  switch (rcode) {
    case rcode_noerror: return "NOERROR";
    case rcode_formerr: return "FORMERR";
    case rcode_servfail: return "SERVFAIL";
    case rcode_nxdomain: return "NXDOMAIN";
    case rcode_notimp: return "NOTIMP";
    case rcode_refused: return "REFUSED";
    default: return "RCODE " + std::to_string(rcode);
  }
}

namespace {

constexpr std::size_t header_size = 12;
constexpr std::size_t max_name_length = 255;
constexpr std::uint16_t class_in = 1;
constexpr std::uint16_t type_opt = 41;
constexpr std::uint16_t type_tsig = 250;

// ---- names as text -------------------------------------------------------------------------

void append_label_byte(std::string& out, std::uint8_t byte) {
  if (byte >= 'A' && byte <= 'Z') {
    out += static_cast<char>(byte - 'A' + 'a');
  } else if ((byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9') || byte == '-' ||
             byte == '_' || byte == '*') {
    out += static_cast<char>(byte);
  } else {
    // Escaping everything else (also '.', '\\', spaces, control bytes) keeps hostile names
    // printable and makes '.' an unambiguous label separator.
    std::array<char, 5> escaped{};
    std::snprintf(escaped.data(), escaped.size(), "\\%03u", static_cast<unsigned>(byte));
    out += escaped.data();
  }
}

std::string name_text(const std::uint8_t* data, std::size_t size) {
  std::string out;
  std::size_t pos = 0;
  while (pos < size && data[pos] != 0) {
    const std::size_t length = data[pos];
    if (pos + 1 + length > size) break;
    if (!out.empty()) out += '.';
    for (std::size_t i = 0; i < length; ++i) append_label_byte(out, data[pos + 1 + i]);
    pos += 1 + length;
  }
  return out;
}

std::optional<std::string> rdf_name(const ldns_rdf* rdf) {
  if (rdf == nullptr || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME) return std::nullopt;
  return name_text(ldns_rdf_data(rdf), ldns_rdf_size(rdf));
}

std::uint16_t read_u16(std::span<const std::uint8_t> m, std::size_t pos) {
  return static_cast<std::uint16_t>((m[pos] << 8) | m[pos + 1]);
}

// ---- structural walk -----------------------------------------------------------------------

// Position just after the (possibly compressed) name at `pos`, or nullopt when the name is
// bad. Every compression pointer must point before the stretch of labels being read, so the
// walk moves strictly backwards at each jump and cannot loop, whatever the bytes say.
std::optional<std::size_t> skip_name(std::span<const std::uint8_t> m, std::size_t pos) {
  std::size_t segment_start = pos;
  std::size_t name_length = 1;  // the root label
  std::optional<std::size_t> after;
  for (;;) {
    if (pos >= m.size()) return std::nullopt;
    const std::uint8_t length = m[pos];
    if (length == 0) return after ? *after : pos + 1;
    if ((length & 0xC0) == 0xC0) {
      if (pos + 1 >= m.size()) return std::nullopt;
      const std::size_t target = (static_cast<std::size_t>(length & 0x3F) << 8) | m[pos + 1];
      if (target < header_size || target >= segment_start) return std::nullopt;
      if (!after) after = pos + 2;
      pos = segment_start = target;
      continue;
    }
    if ((length & 0xC0) != 0) return std::nullopt;  // extended label types (RFC 6891 §5)
    name_length += 1 + length;
    if (name_length > max_name_length) return std::nullopt;
    pos += 1 + length;
  }
}

// True when one name fills the rdata from `start` exactly to `end`.
bool name_fills(std::span<const std::uint8_t> m, std::size_t start, std::size_t end) {
  const auto after = skip_name(m, start);
  return after && *after == end;
}

// Checks the rdata of the types whose contents we read, so that ldns (which trusts names in
// rdata to stay inside it) cannot drift out of step with the record boundaries.
std::optional<std::string> check_rdata(std::span<const std::uint8_t> m, std::uint16_t type,
                                       std::size_t start, std::size_t end) {
  const std::size_t length = end - start;
  switch (static_cast<RecordType>(type)) {
    case RecordType::a:
      if (length != 4) return "A record with rdata length " + std::to_string(length);
      break;
    case RecordType::aaaa:
      if (length != 16) return "AAAA record with rdata length " + std::to_string(length);
      break;
    case RecordType::cname:
      if (!name_fills(m, start, end)) return "CNAME record with a bad target name";
      break;
    case RecordType::mx:
      if (length < 3 || !name_fills(m, start + 2, end)) return "MX record with bad rdata";
      break;
    case RecordType::soa: {
      const auto mname_end = skip_name(m, start);
      const auto rname_end = mname_end ? skip_name(m, *mname_end) : std::nullopt;
      if (!rname_end || *rname_end + 20 != end) return "SOA record with bad rdata";
      break;
    }
    case RecordType::txt:
    case RecordType::tlsa: break;  // no names inside; ldns checks the character-string lengths
  }
  return std::nullopt;
}

struct MessageShape {
  std::vector<std::uint16_t> answer_types;  // record types of the answer section, in order
};

// Walks header, question and all records; returns the reason when the message is unsound.
std::optional<std::string> check_structure(std::span<const std::uint8_t> m, MessageShape& shape) {
  const std::array<std::uint16_t, 4> counts{read_u16(m, 4), read_u16(m, 6), read_u16(m, 8),
                                            read_u16(m, 10)};
  std::size_t pos = header_size;
  for (std::uint16_t i = 0; i < counts[0]; ++i) {
    const auto after = skip_name(m, pos);
    if (!after || *after + 4 > m.size()) return "bad question section";
    pos = *after + 4;
  }
  int opt_records = 0;
  for (int section = 1; section <= 3; ++section) {
    for (std::uint16_t i = 0; i < counts[section]; ++i) {
      const auto after = skip_name(m, pos);
      if (!after || *after + 10 > m.size()) return "bad record owner or header";
      const std::uint16_t type = read_u16(m, *after);
      const std::size_t rdata_start = *after + 10;
      const std::size_t rdata_end = rdata_start + read_u16(m, *after + 8);
      if (rdata_end > m.size()) return "record data runs past the end of the message";
      // We never sign queries, so a TSIG can only be an attack on ldns (which keeps just one).
      if (type == type_tsig) return "unexpected TSIG record";
      if (type == type_opt && (section != 3 || ++opt_records > 1)) return "misplaced OPT record";
      if (auto problem = check_rdata(m, type, rdata_start, rdata_end)) return problem;
      if (section == 1) shape.answer_types.push_back(type);
      pos = rdata_end;
    }
  }
  return std::nullopt;
}

// ---- reading records -----------------------------------------------------------------------

bool owned_by(const ldns_rr* rr, const std::string& name) {
  const auto owner = rdf_name(ldns_rr_owner(rr));
  return owner && *owner == name;
}

const ldns_rr* find_record(const ldns_rr_list* list, const std::string& owner, RecordType type) {
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(list, i);
    if (ldns_rr_get_type(rr) == static_cast<ldns_rr_type>(type) &&
        ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN && owned_by(rr, owner)) {
      return rr;
    }
  }
  return nullptr;
}

// Follows CNAMEs inside the answer from the question name. Records owned by names off the
// chain are ignored later: they were not asked for and must not be believed (poisoning).
void follow_cnames(const ldns_rr_list* answer, const Question& question, ParsedResponse& out) {
  std::string current = question.name;
  std::vector<std::string> seen{current};
  while (const ldns_rr* cname = find_record(answer, current, RecordType::cname)) {
    const auto target = rdf_name(ldns_rr_rdf(cname, 0));
    if (!target) {
      out.status = ParseStatus::malformed;
      out.problem = "CNAME record without a target";
      return;
    }
    if (std::find(seen.begin(), seen.end(), *target) != seen.end()) {
      out.cname_loop = true;
      out.problem = "CNAME loop at " + *target;
      break;
    }
    if (static_cast<int>(out.cnames.size()) >= max_cname_hops) {
      out.cname_loop = true;
      out.problem = "CNAME chain longer than " + std::to_string(max_cname_hops);
      break;
    }
    out.cnames.push_back(*target);
    seen.push_back(*target);
    current = *target;
  }
  out.final_name = current;
}

bool read_mx(const ldns_rr* rr, ParsedResponse& out) {
  const ldns_rdf* preference = ldns_rr_rdf(rr, 0);
  const auto host = rdf_name(ldns_rr_rdf(rr, 1));
  if (ldns_rr_rd_count(rr) != 2 || preference == nullptr || ldns_rdf_size(preference) != 2 ||
      !host) {
    return false;
  }
  out.mx.push_back(MxRecord{ldns_rdf2native_int16(preference), *host});
  return true;
}

bool read_address(const ldns_rr* rr, RecordType type, ParsedResponse& out) {
  const ldns_rdf* rdf = ldns_rr_rdf(rr, 0);
  if (rdf == nullptr) return false;
  const std::uint8_t* data = ldns_rdf_data(rdf);
  if (type == RecordType::a && ldns_rdf_size(rdf) == 4) {
    asio::ip::address_v4::bytes_type bytes;
    std::copy(data, data + 4, bytes.begin());
    out.addresses.emplace_back(asio::ip::address_v4(bytes));
    return true;
  }
  if (type == RecordType::aaaa && ldns_rdf_size(rdf) == 16) {
    asio::ip::address_v6::bytes_type bytes;
    std::copy(data, data + 16, bytes.begin());
    out.addresses.emplace_back(asio::ip::address_v6(bytes));
    return true;
  }
  return false;
}

// The character-strings of one TXT record, concatenated raw (RFC 7208 §3.3 and RFC 8461 §3.1
// both read a record this way); bytes are kept as they are, not escaped.
bool read_txt(const ldns_rr* rr, ParsedResponse& out) {
  std::string text;
  for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    const ldns_rdf* rdf = ldns_rr_rdf(rr, i);
    if (ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_STR || ldns_rdf_size(rdf) < 1) return false;
    const std::uint8_t* data = ldns_rdf_data(rdf);
    if (static_cast<std::size_t>(data[0]) + 1 != ldns_rdf_size(rdf)) return false;
    text.append(reinterpret_cast<const char*>(data + 1), data[0]);
  }
  out.texts.push_back(std::move(text));
  return true;
}

// A TLSA record whose association data is missing is kept with empty data rather than
// dropped: "records exist but are unusable" must not turn into "no records" (a downgrade).
bool read_tlsa(const ldns_rr* rr, ParsedResponse& out) {
  if (ldns_rr_rd_count(rr) < 3) return false;
  TlsaRecord record;
  std::array<std::uint8_t*, 3> fields{&record.usage, &record.selector, &record.matching_type};
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const ldns_rdf* rdf = ldns_rr_rdf(rr, i);
    if (ldns_rdf_size(rdf) != 1) return false;
    *fields[i] = ldns_rdf_data(rdf)[0];
  }
  if (const ldns_rdf* data = ldns_rr_rdf(rr, 3)) {
    record.data.assign(ldns_rdf_data(data), ldns_rdf_data(data) + ldns_rdf_size(data));
  }
  out.tlsa.push_back(std::move(record));
  return true;
}

void collect_records(const ldns_rr_list* answer, const Question& question, ParsedResponse& out) {
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(answer); ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(answer, i);
    if (ldns_rr_get_type(rr) != static_cast<ldns_rr_type>(question.type) ||
        ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN || !owned_by(rr, out.final_name)) {
      continue;
    }
    bool ok = false;
    switch (question.type) {
      case RecordType::mx: ok = read_mx(rr, out); break;
      case RecordType::a:
      case RecordType::aaaa: ok = read_address(rr, question.type, out); break;
      case RecordType::txt: ok = read_txt(rr, out); break;
      case RecordType::tlsa: ok = read_tlsa(rr, out); break;
      case RecordType::cname:
      case RecordType::soa: ok = true; break;  // not read as data by this layer
    }
    if (!ok) {
      out.status = ParseStatus::malformed;
      out.problem = std::string(to_string(question.type)) + " record with bad rdata";
      return;
    }
  }
  std::sort(out.mx.begin(), out.mx.end(), [](const MxRecord& a, const MxRecord& b) {
    return std::tie(a.preference, a.host) < std::tie(b.preference, b.host);
  });
}

bool has_soa(const ldns_rr_list* authority) {
  for (std::size_t i = 0; i < ldns_rr_list_rr_count(authority); ++i) {
    if (ldns_rr_get_type(ldns_rr_list_rr(authority, i)) == LDNS_RR_TYPE_SOA) return true;
  }
  return false;
}

// Same types in the same order as our own walk saw: otherwise ldns parsed something else.
bool same_answer_types(const ldns_rr_list* answer, const MessageShape& shape) {
  if (ldns_rr_list_rr_count(answer) != shape.answer_types.size()) return false;
  for (std::size_t i = 0; i < shape.answer_types.size(); ++i) {
    if (ldns_rr_get_type(ldns_rr_list_rr(answer, i)) != shape.answer_types[i]) return false;
  }
  return true;
}

std::optional<std::string> question_mismatch(const ldns_pkt* packet, const Question& question) {
  if (ldns_pkt_get_opcode(packet) != LDNS_PACKET_QUERY) return "not a QUERY response";
  const ldns_rr_list* questions = ldns_pkt_question(packet);
  if (ldns_rr_list_rr_count(questions) != 1) return "QDCOUNT is not 1";
  const ldns_rr* asked = ldns_rr_list_rr(questions, 0);
  // Names compare case-insensitively: name_text lower-cases (and some resolvers randomise
  // case, draft-vixie-dnsext-dns0x20).
  if (!owned_by(asked, question.name)) return "question name differs";
  if (ldns_rr_get_type(asked) != static_cast<ldns_rr_type>(question.type)) {
    return "question type differs";
  }
  if (ldns_rr_get_class(asked) != LDNS_RR_CLASS_IN) return "question class is not IN";
  return std::nullopt;
}

ParsedResponse rejected(ParseStatus status, std::string problem) {
  ParsedResponse out;
  out.status = status;
  out.problem = std::move(problem);
  return out;
}

}  // namespace

std::string name_text(std::span<const std::uint8_t> wire_name) {
  return name_text(wire_name.data(), wire_name.size());
}

std::optional<std::string> structure_problem(std::span<const std::uint8_t> message) {
  if (message.size() < header_size) return "shorter than a header";
  MessageShape shape;
  return check_structure(message, shape);
}

std::optional<std::string> canonical_name(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  // A second trailing dot would be an empty label; ldns would quietly accept "a..".
  if (text.empty() || text.back() == '.' || text.size() > 4 * max_name_length) {
    return std::nullopt;
  }
  const std::string copy(text);
  LdnsRdfPtr name(ldns_dname_new_frm_str(copy.c_str()));
  if (!name || ldns_rdf_size(name.get()) > max_name_length) return std::nullopt;
  std::string canonical = name_text(ldns_rdf_data(name.get()), ldns_rdf_size(name.get()));
  if (canonical.empty()) return std::nullopt;
  return canonical;
}

namespace {

// A name in the form name_text() writes (labels of [a-z0-9-_*] and \DDD escapes, '.' between
// labels, an optional final '.'), appended in wire form. Written by hand rather than through
// ldns: a bulk scan builds tens of thousands of queries a second, and ldns_pkt_query_new plus
// ldns_pkt2wire were a few per cent of its CPU. False on an empty label, a label over 63
// bytes, a name over 255, or a bad escape.
bool append_wire_name(std::vector<std::uint8_t>& out, std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty()) return false;
  std::size_t name_length = 1;  // the root label
  std::size_t i = 0;
  for (;;) {
    const std::size_t length_at = out.size();
    out.push_back(0);
    std::size_t label = 0;
    while (i < text.size() && text[i] != '.') {
      std::uint8_t byte = static_cast<std::uint8_t>(text[i]);
      if (byte == '\\') {
        if (i + 3 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1])) &&
            std::isdigit(static_cast<unsigned char>(text[i + 2])) && std::isdigit(static_cast<unsigned char>(text[i + 3]))) {
          const int value = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
          if (value > 255) return false;
          byte = static_cast<std::uint8_t>(value);
          i += 4;
        } else if (i + 1 < text.size() && !std::isdigit(static_cast<unsigned char>(text[i + 1]))) {
          byte = static_cast<std::uint8_t>(text[i + 1]);  // \X stands for X
          i += 2;
        } else {
          return false;
        }
      } else {
        ++i;
      }
      if (++label > 63) return false;
      out.push_back(byte);
    }
    if (label == 0) return false;
    out[length_at] = static_cast<std::uint8_t>(label);
    name_length += 1 + label;
    if (name_length > max_name_length) return false;
    if (i == text.size()) break;
    ++i;  // the '.'
    if (i == text.size()) return false;  // "a.." : an empty label before the end
  }
  out.push_back(0);
  return true;
}

void append_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xFF));
}

}  // namespace

std::vector<std::uint8_t> build_query(const Question& question, bool dnssec) {
  std::vector<std::uint8_t> out;
  out.reserve(header_size + question.name.size() + 2 + 4 + 11);
  append_u16(out, question.id);
  // RD; with dnssec also AD, which asks a validating resolver to report the outcome in the AD
  // bit (RFC 6840 §5.7): the only DNSSEC signal a stub like ours relies on.
  append_u16(out, static_cast<std::uint16_t>(0x0100 | (dnssec ? 0x0020 : 0)));
  append_u16(out, 1);             // QDCOUNT
  append_u16(out, 0);             // ANCOUNT
  append_u16(out, 0);             // NSCOUNT
  append_u16(out, dnssec ? 1 : 0);  // ARCOUNT: the OPT record
  if (!append_wire_name(out, question.name)) return {};
  append_u16(out, static_cast<std::uint16_t>(question.type));
  append_u16(out, 1);  // class IN
  if (dnssec) {
    // EDNS0 OPT (RFC 6891): root owner, our UDP size in CLASS, TTL = extended RCODE 0,
    // version 0, flags with DO (RFC 3225); no options.
    out.push_back(0);
    append_u16(out, 41);
    append_u16(out, edns_udp_size);
    append_u16(out, 0);
    append_u16(out, 0x8000);
    append_u16(out, 0);
  }
  return out;
}

ParsedResponse parse_response(std::span<const std::uint8_t> message, const Question& question) {
  if (message.size() < header_size) return rejected(ParseStatus::mismatch, "shorter than a header");
  // Cheap header checks first: anyone can send us datagrams, most spoofs fail right here.
  if (read_u16(message, 0) != question.id) return rejected(ParseStatus::mismatch, "ID differs");
  if ((message[2] & 0x80) == 0) return rejected(ParseStatus::mismatch, "QR bit not set");
  if (read_u16(message, 4) != 1) return rejected(ParseStatus::mismatch, "QDCOUNT is not 1");

  MessageShape shape;
  if (auto problem = check_structure(message, shape)) {
    return rejected(ParseStatus::malformed, *problem);
  }
  ldns_pkt* raw = nullptr;
  const ldns_status status = ldns_wire2pkt(&raw, message.data(), message.size());
  LdnsPktPtr packet(raw);
  if (status != LDNS_STATUS_OK || !packet) {
    const char* reason = ldns_get_errorstr_by_id(status);
    return rejected(ParseStatus::malformed, reason != nullptr ? reason : "unparseable message");
  }
  if (auto problem = question_mismatch(packet.get(), question)) {
    return rejected(ParseStatus::mismatch, *problem);
  }
  const ldns_rr_list* answer = ldns_pkt_answer(packet.get());
  if (!same_answer_types(answer, shape)) {
    return rejected(ParseStatus::malformed, "answer section does not parse consistently");
  }

  ParsedResponse out;
  out.status = ParseStatus::accepted;
  out.rcode = (static_cast<unsigned>(ldns_pkt_edns_extended_rcode(packet.get())) << 4) |
              static_cast<unsigned>(ldns_pkt_get_rcode(packet.get()));
  out.truncated = ldns_pkt_tc(packet.get());
  out.authenticated = ldns_pkt_ad(packet.get());
  out.negative_proof = has_soa(ldns_pkt_authority(packet.get()));
  follow_cnames(answer, question, out);
  if (out.status != ParseStatus::accepted || out.cname_loop) return out;
  collect_records(answer, question, out);
  return out;
}

}  // namespace mxtls::dns::wire
