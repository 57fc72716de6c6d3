// Reading saved JSON Lines back into domains (for `mxtls report` over one or many shard files):
// a domain's probe records come right before its domain record, because the scanner appends
// each domain as one block. Only the facts reports need are restored.
#pragma once

#include "core/result.hpp"
#include "report/json_read.hpp"

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

namespace mxtls::report {

class JsonlDomainReader {
 public:
  static constexpr std::size_t max_line_bytes = 1 << 20;

  JsonlDomainReader(std::istream& in, std::string source_name);

  // The next complete domain (judged as saved: gmail_lock and kind come from the file), or
  // nullopt at the end. Bad lines and incomplete blocks are reported in problems().
  std::optional<DomainResult> next();

  const std::vector<std::string>& problems() const { return problems_; }
  std::uint64_t lines() const { return line_; }

 private:
  std::istream& in_;
  std::string source_;
  std::uint64_t line_ = 0;
  std::vector<ProbeResult> pending_;  // probe records of the block being read
  std::vector<std::string> problems_;
};

// The restored form of one probe record (exposed for tests).
ProbeResult probe_from_record(const JsonValue& record);

}  // namespace mxtls::report
