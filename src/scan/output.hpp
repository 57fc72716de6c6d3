// Bulk-scan output: each finished domain is appended as one block (its probe records, then its
// domain record) with a single write(2) on an O_APPEND descriptor, so a killed scan leaves only
// whole blocks behind; and the read-back that lets `--resume` skip finished domains.
#pragma once

#include "core/result.hpp"
#include "scan/input.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace mxtls::scan {

enum class OutputFormat { jsonl, csv };

class ResultWriter {
 public:
  // "-" is standard output. A file is created if missing and appended to; a CSV header is
  // written when it is empty. Throws std::system_error naming the path.
  ResultWriter(const std::string& path, OutputFormat format);
  ~ResultWriter();
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  // Appends every record of `d` (judged) at once. Throws std::system_error (disk full, …).
  void write(const DomainResult& d);

  std::uint64_t bytes_written() const { return bytes_; }
  const std::string& path() const { return path_; }

 private:
  void write_all(const std::string& block);

  std::string path_;
  OutputFormat format_;
  int fd_ = -1;
  bool owns_fd_ = false;
  std::uint64_t bytes_ = 0;
};

struct ResumeState {
  DomainSet done;                // finished domains found in the file
  std::uint64_t domains = 0;
  std::uint64_t kept_bytes = 0;
  std::uint64_t dropped_bytes = 0;  // an incomplete last block, cut off
  std::vector<std::string> notes;   // what was found and done, for the user
};

// Reads an existing output file for --resume: collects its finished domains and cuts off an
// incomplete tail so that appending continues cleanly. A missing or empty file is a fresh
// start. Refuses (std::runtime_error naming file:line) to touch a file that is not our
// output in this format, rather than truncate someone's data.
ResumeState prepare_resume(const std::string& path, OutputFormat format);

}  // namespace mxtls::scan
