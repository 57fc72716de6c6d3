// Domain list reading and splitting: see input.hpp. Hostile input (binary, endless lines)
// costs at most max_line_bytes of memory per line and yields a problem report, not a stop.
#include "scan/input.hpp"

#include "core/bounded_line.hpp"
#include "core/domain_name.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace mxtls::scan {

std::uint64_t stable_domain_hash(std::string_view ascii_domain) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a 64 offset basis
  for (const unsigned char c : ascii_domain) {
    hash ^= c;
    hash *= 0x100000001b3ULL;  // FNV 64 prime
  }
  // FNV-1a's low bits mix poorly for short inputs; a final avalanche (from MurmurHash3's
  // fmix64) makes `hash % N` balanced for shards.
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  hash *= 0xc4ceb9fe1a85ec53ULL;
  hash ^= hash >> 33;
  return hash;
}

bool Shard::contains(std::string_view ascii_domain) const {
  if (count <= 1) return true;
  return stable_domain_hash(ascii_domain) % count == index - 1;
}

Shard parse_shard(const std::string& text) {
  const auto bad = [&](const char* why) { return std::invalid_argument("bad --shard '" + text + "': " + why); };
  const auto slash = text.find('/');
  if (slash == std::string::npos) throw bad("expected K/N, e.g. 1/4");
  const auto number = [&](std::string_view part) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc{} || end != part.data() + part.size()) throw bad("K and N must be numbers");
    return value;
  };
  Shard shard{number(std::string_view(text).substr(0, slash)), number(std::string_view(text).substr(slash + 1))};
  if (shard.count == 0) throw bad("N must be at least 1");
  if (shard.index == 0 || shard.index > shard.count) throw bad("K must be between 1 and N");
  return shard;
}

// ---- DomainSet --------------------------------------------------------------------------------

bool DomainSet::contains(std::string_view ascii_domain) const {
  if (slots_.empty()) return false;
  std::uint64_t hash = stable_domain_hash(ascii_domain);
  if (hash == 0) hash = 1;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    if (slots_[i] == hash) return true;
    if (slots_[i] == 0) return false;
  }
}

bool DomainSet::insert_hash(std::uint64_t hash) {
  if (hash == 0) hash = 1;
  if ((size_ + 1) * 2 > slots_.size()) grow();  // load factor ≤ 1/2: short probe sequences
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    if (slots_[i] == hash) return false;
    if (slots_[i] == 0) {
      slots_[i] = hash;
      ++size_;
      return true;
    }
  }
}

void DomainSet::grow() {
  std::vector<std::uint64_t> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, 0);
  const std::size_t mask = slots_.size() - 1;
  for (const std::uint64_t hash : old) {
    if (hash == 0) continue;
    std::size_t i = hash & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = hash;
  }
}

// ---- DomainListReader -------------------------------------------------------------------------

DomainListReader::DomainListReader(std::istream& in, std::string source_name)
    : in_(in), source_(std::move(source_name)) {}

DomainListReader::DomainListReader(std::unique_ptr<std::istream> in, std::string source_name)
    : owned_(std::move(in)), in_(*owned_), source_(std::move(source_name)) {}

namespace {

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

DomainListReader::Item DomainListReader::next() {
  std::string line;
  bool too_long = false;
  while (read_bounded_line(in_.rdbuf(), line, max_line_bytes, too_long)) {
    ++line_;
    const auto problem = [&](std::string reason) {
      Item item;
      item.kind = Item::Kind::problem;
      item.problem = {source_ + ":" + std::to_string(line_), printable(line, 80), std::move(reason)};
      return item;
    };
    if (too_long) return problem("line longer than " + std::to_string(max_line_bytes) + " bytes");
    std::string_view text(line);
    if (const auto hash = text.find('#'); hash != std::string_view::npos) text = text.substr(0, hash);
    const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; };
    while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
    while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
    if (text.empty()) continue;
    // Top lists come as "RANK,DOMAIN".
    if (const auto comma = text.find(','); comma != std::string_view::npos && all_digits(text.substr(0, comma)))
      text = text.substr(comma + 1);
    if (text.find_first_of(" \t,") != std::string_view::npos)
      return problem("more than one field; expected one domain per line");
    auto normalised = normalize_domain(text);
    if (auto* error = std::get_if<NameError>(&normalised)) return problem(error->reason);
    std::string ascii = std::move(std::get<std::string>(normalised));
    if (!seen_.insert(ascii)) {
      ++duplicates_;
      continue;
    }
    Item item;
    item.kind = Item::Kind::domain;
    item.domain = {std::string(text), std::move(ascii), line_};
    return item;
  }
  return Item{};
}

}  // namespace mxtls::scan
