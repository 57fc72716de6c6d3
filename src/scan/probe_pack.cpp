// One field list per result struct, walked by a writer (pack) and by a reader (unpack), so the
// two directions cannot disagree on order or types.
#include "scan/probe_pack.hpp"

#include <concepts>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <vector>

namespace mxtls::scan {
namespace {

template <class T, class U>
concept same_struct = std::same_as<std::remove_const_t<T>, U>;

// The field lists. A field added to one of these structs and not here would be lost from every
// result handed out by the probe cache: the size check below makes such a change fail to build
// on the platform we ship (update the list, then the size).
template <class Io, same_struct<PhaseTime> T>
void visit(Io& io, T& t) {
  io(t.phase, t.ms);
}

template <class Io, same_struct<CertFacts> T>
void visit(Io& io, T& c) {
  io(c.subject, c.issuer, c.sans, c.not_before, c.not_after, c.key_type, c.key_bits, c.signature_algorithm,
     c.chain_length, c.sha256, c.spki_sha256);
}

template <class Io, same_struct<TlsFacts> T>
void visit(Io& io, T& t) {
  io(t.version, t.cipher, t.group, t.cipher_bits, t.cert, t.verdict, t.verify_error, t.name_matched);
}

template <class Io, same_struct<DaneFacts> T>
void visit(Io& io, T& d) {
  io(d.state, d.tlsa, d.matched_record, d.matched_depth, d.detail, d.halfdane);
}

template <class Io, same_struct<ProbeResult> T>
void visit(Io& io, T& p) {
  io(p.domain, p.mx, p.preference, p.ip, p.port, p.status, p.failed_phase, p.error, p.started_at, p.banner,
     p.greeting_code, p.used_helo, p.ehlo_keywords, p.starttls, p.auth_before_tls, p.injected_after_starttls,
     p.starttls_code, p.starttls_reply, p.tls, p.ehlo_after_tls, p.phase_ms, p.elapsed_ms, p.dnssec_addr, p.dane,
     p.attempts, p.earlier_attempts);
}

#if defined(__x86_64__) && defined(__GLIBCXX__)
static_assert(sizeof(PhaseTime) == 16 && sizeof(CertFacts) == 296 && sizeof(TlsFacts) == 456 &&
                  sizeof(DaneFacts) == 112 && sizeof(ProbeResult) == 568,
              "a result struct changed: update the field lists above, then these sizes");
#endif

template <class T>
concept scalar = std::is_arithmetic_v<T> || std::is_enum_v<T>;

// std::optional and HeapOptional: a presence flag, then the value when there is one.
template <class T>
concept optional_like = requires(T& o) {
  o.has_value();
  *o;
  o.reset();
  o.emplace();
};

class Writer {
 public:
  std::string bytes;

  template <class... Fields>
  void operator()(const Fields&... fields) {
    (put(fields), ...);
  }

 private:
  template <scalar T>
  void put(T value) {
    char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    bytes.append(raw, sizeof(T));
  }
  void put(const std::string& text) {
    put(static_cast<std::uint32_t>(text.size()));
    bytes.append(text);
  }
  template <optional_like T>
  void put(const T& value) {
    put(value.has_value());
    if (value.has_value()) put(*value);
  }
  template <class T>
  void put(const std::vector<T>& items) {
    put(static_cast<std::uint32_t>(items.size()));
    for (const T& item : items) put(item);
  }
  template <class T>
    requires(std::is_class_v<T> && !optional_like<T>)
  void put(const T& facts) {
    visit(*this, facts);
  }
};

class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  bool done() const { return rest_.empty(); }

  template <class... Fields>
  void operator()(Fields&... fields) {
    (get(fields), ...);
  }

 private:
  std::string_view take(std::size_t n) {
    if (n > rest_.size()) throw std::runtime_error("packed probe result is truncated");
    const std::string_view part = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return part;
  }
  template <scalar T>
  void get(T& value) {
    std::memcpy(&value, take(sizeof(T)).data(), sizeof(T));
  }
  void get(std::string& text) {
    std::uint32_t size = 0;
    get(size);
    text.assign(take(size));
  }
  bool present() {
    bool flag = false;
    get(flag);
    return flag;
  }
  template <optional_like T>
  void get(T& value) {
    if (present()) get(value.emplace());
    else value.reset();
  }
  template <class T>
  void get(std::vector<T>& items) {
    std::uint32_t count = 0;
    get(count);
    // Each item takes at least one byte: a count beyond what is left is corrupt, and must not
    // reserve memory for it.
    if (count > rest_.size()) throw std::runtime_error("packed probe result is truncated");
    items.clear();
    items.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) get(items.emplace_back());
  }
  template <class T>
    requires(std::is_class_v<T> && !optional_like<T>)
  void get(T& facts) {
    visit(*this, facts);
  }

  std::string_view rest_;
};

}  // namespace

std::string pack_probe(const ProbeResult& result) {
  Writer writer;
  writer.bytes.reserve(1024);
  writer(result);
  writer.bytes.shrink_to_fit();
  return std::move(writer.bytes);
}

ProbeResult unpack_probe(std::string_view packed) {
  ProbeResult result;
  Reader reader(packed);
  reader(result);
  if (!reader.done()) throw std::runtime_error("packed probe result has trailing bytes");
  return result;
}

}  // namespace mxtls::scan
