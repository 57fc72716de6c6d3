// Packing a Resolution into one string for the resolver's cache, and back. Layout: the
// outcome and AD flag as bytes, then each string and list as a LEB128 length followed by its
// contents; an address is its family (4 or 6) and its bytes.
#include "dns/resolution.hpp"

#include <cstdint>
#include <stdexcept>

namespace mxtls::dns {
namespace {

class Writer {
 public:
  void byte(std::uint8_t value) { out_.push_back(static_cast<char>(value)); }
  void count(std::size_t value) {
    while (value >= 0x80) {
      byte(static_cast<std::uint8_t>(value | 0x80));
      value >>= 7;
    }
    byte(static_cast<std::uint8_t>(value));
  }
  void bytes(std::string_view value) {
    count(value.size());
    out_.append(value);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint8_t byte() {
    if (in_.empty()) throw std::invalid_argument("packed DNS answer: cut short");
    const auto value = static_cast<std::uint8_t>(in_.front());
    in_.remove_prefix(1);
    return value;
  }
  std::size_t count() {
    std::size_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = byte();
      value |= std::size_t{b & 0x7Fu} << shift;
      if ((b & 0x80) == 0) {
        // A count can never exceed the bytes left (each element takes at least one).
        if (value > in_.size()) throw std::invalid_argument("packed DNS answer: count past the end");
        return value;
      }
    }
    throw std::invalid_argument("packed DNS answer: overlong count");
  }
  std::string_view bytes() {
    const std::size_t size = count();
    const std::string_view value = in_.substr(0, size);
    in_.remove_prefix(size);
    return value;
  }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

}  // namespace

std::string pack(const Resolution& r) {
  Writer w;
  w.byte(static_cast<std::uint8_t>(r.answer.outcome));
  w.byte(r.answer.authenticated ? 1 : 0);
  w.bytes(r.answer.detail);
  w.count(r.answer.cnames.size());
  for (const auto& name : r.answer.cnames) w.bytes(name);
  w.bytes(r.answer.canonical_name);
  w.count(r.mx.size());
  for (const auto& mx : r.mx) {
    w.byte(static_cast<std::uint8_t>(mx.preference >> 8));
    w.byte(static_cast<std::uint8_t>(mx.preference & 0xFF));
    w.bytes(mx.host);
  }
  w.count(r.addresses.size());
  for (const auto& address : r.addresses) {
    if (address.is_v4()) {
      const auto b = address.to_v4().to_bytes();
      w.byte(4);
      w.bytes(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
    } else {
      const auto b = address.to_v6().to_bytes();
      w.byte(6);
      w.bytes(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
    }
  }
  w.count(r.texts.size());
  for (const auto& text : r.texts) w.bytes(text);
  w.count(r.tlsa.size());
  for (const auto& t : r.tlsa) {
    w.byte(t.usage);
    w.byte(t.selector);
    w.byte(t.matching_type);
    w.bytes(std::string_view(reinterpret_cast<const char*>(t.data.data()), t.data.size()));
  }
  return w.take();
}

Resolution unpack(std::string_view packed) {
  Reader in(packed);
  Resolution r;
  const std::uint8_t outcome = in.byte();
  if (outcome > static_cast<std::uint8_t>(Outcome::error)) throw std::invalid_argument("packed DNS answer: bad outcome");
  r.answer.outcome = static_cast<Outcome>(outcome);
  r.answer.authenticated = in.byte() != 0;
  r.answer.detail = in.bytes();
  for (std::size_t n = in.count(); n > 0; --n) r.answer.cnames.emplace_back(in.bytes());
  r.answer.canonical_name = in.bytes();
  for (std::size_t n = in.count(); n > 0; --n) {
    MxRecord mx;
    const std::uint8_t high = in.byte();
    mx.preference = static_cast<std::uint16_t>((high << 8) | in.byte());
    mx.host = in.bytes();
    r.mx.push_back(std::move(mx));
  }
  for (std::size_t n = in.count(); n > 0; --n) {
    const std::uint8_t family = in.byte();
    const std::string_view b = in.bytes();
    if (family == 4 && b.size() == 4) {
      asio::ip::address_v4::bytes_type v4;
      std::copy(b.begin(), b.end(), v4.begin());
      r.addresses.emplace_back(asio::ip::address_v4(v4));
    } else if (family == 6 && b.size() == 16) {
      asio::ip::address_v6::bytes_type v6;
      std::copy(b.begin(), b.end(), v6.begin());
      r.addresses.emplace_back(asio::ip::address_v6(v6));
    } else {
      throw std::invalid_argument("packed DNS answer: bad address");
    }
  }
  for (std::size_t n = in.count(); n > 0; --n) r.texts.emplace_back(in.bytes());
  for (std::size_t n = in.count(); n > 0; --n) {
    TlsaRecord t;
    t.usage = in.byte();
    t.selector = in.byte();
    t.matching_type = in.byte();
    const std::string_view data = in.bytes();
    t.data.assign(data.begin(), data.end());
    r.tlsa.push_back(std::move(t));
  }
  if (!in.done()) throw std::invalid_argument("packed DNS answer: bytes left over");
  return r;
}

}  // namespace mxtls::dns
