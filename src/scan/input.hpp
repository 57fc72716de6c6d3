// Bulk-scan input: a domain list streamed line by line (file or stdin), normalised to A-labels,
// with every rejected line reported as file:line and reason, duplicates dropped, and a stable
// hash that splits the list into shards. Memory does not grow with line length.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls::scan {

// 64-bit FNV-1a of the A-label: stable across machines, builds and runs, unlike std::hash, so
// `--shard K/N` on N machines splits one list the same way everywhere.
std::uint64_t stable_domain_hash(std::string_view ascii_domain);

struct Shard {
  unsigned index = 1;  // K, 1-based
  unsigned count = 1;  // N
  bool contains(std::string_view ascii_domain) const;
};
// "K/N" with 1 ≤ K ≤ N; throws std::invalid_argument naming the text.
Shard parse_shard(const std::string& text);

// The set of domains already seen (or already finished, for --resume), as 64-bit hashes in an
// open-addressing table (8-byte slots, between a quarter and a half in use): 16 to 32 bytes
// per domain, not a string each. Two different names
// sharing a hash (about 1 in 10^8 for ten million names) would make the second one skipped.
class DomainSet {
 public:
  // True if the domain was not in the set (and now is).
  bool insert(std::string_view ascii_domain) { return insert_hash(stable_domain_hash(ascii_domain)); }
  bool contains(std::string_view ascii_domain) const;
  bool insert_hash(std::uint64_t hash);
  std::size_t size() const { return size_; }
  std::size_t memory_bytes() const { return slots_.size() * sizeof(std::uint64_t); }

 private:
  void grow();
  std::vector<std::uint64_t> slots_;  // 0 = empty (a real hash of 0 is stored as 1)
  std::size_t size_ = 0;
};

struct InputDomain {
  std::string input;  // as written (trimmed), e.g. the U-label 例え.jp
  std::string ascii;  // A-label
  std::size_t line = 0;
};

struct InputProblem {
  std::string where;  // "domains.txt:17"
  std::string text;   // the offending line, shortened and made printable
  std::string reason;
};

// Reads "one domain per line". Accepted: comments (# to end of line), blank lines, CRLF,
// surrounding spaces, upper case, trailing dots, IDNs, and "RANK,DOMAIN" lines of top lists
// (Tranco, Umbrella). Lines longer than max_line_bytes are rejected without being buffered.
class DomainListReader {
 public:
  static constexpr std::size_t max_line_bytes = 1024;

  DomainListReader(std::istream& in, std::string source_name);
  // Owns the stream: for readers handed to another thread.
  DomainListReader(std::unique_ptr<std::istream> in, std::string source_name);

  struct Item {
    enum class Kind { domain, problem, end } kind = Kind::end;
    InputDomain domain;
    InputProblem problem;
  };
  // The next domain or problem; blank lines, comments and duplicates are skipped silently.
  Item next();

  std::size_t lines_read() const { return line_; }
  std::size_t duplicates() const { return duplicates_; }
  const std::string& source_name() const { return source_; }

 private:
  std::unique_ptr<std::istream> owned_;
  std::istream& in_;
  std::string source_;
  std::size_t line_ = 0;
  std::size_t duplicates_ = 0;
  DomainSet seen_;
};

}  // namespace mxtls::scan
