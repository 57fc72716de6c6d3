// Output blocks and resume: see output.hpp. Why one write(2) per domain: a write to a regular
// file is not interrupted by signals, so even kill -9 leaves a block either whole or absent;
// only a full disk can cut one, and prepare_resume() removes such a cut tail.
#include "scan/output.hpp"

#include "core/text.hpp"
#include "report/csv.hpp"
#include "report/json_read.hpp"
#include "report/jsonl.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace mxtls::scan {

ResultWriter::ResultWriter(const std::string& path, OutputFormat format) : path_(path), format_(format) {
  if (path == "-") {
    fd_ = STDOUT_FILENO;
  } else {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "cannot open output '" + path + "'");
    owns_fd_ = true;
  }
  if (format_ == OutputFormat::csv) {
    struct stat st {};
    const bool empty = ::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0;
    if (empty) {
      std::ostringstream header;
      report::write_csv_header(header);
      write_all(header.str());
    }
  }
}

ResultWriter::~ResultWriter() {
  if (owns_fd_) ::close(fd_);
}

void ResultWriter::write(const DomainResult& d) {
  std::ostringstream block;
  if (format_ == OutputFormat::jsonl) report::write_jsonl(block, d);
  else report::write_csv_rows(block, d);
  write_all(block.str());
}

void ResultWriter::write_all(const std::string& block) {
  std::size_t done = 0;
  while (done < block.size()) {
    const ssize_t n = ::write(fd_, block.data() + done, block.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "writing '" + path_ + "'");
    }
    done += static_cast<std::size_t>(n);
  }
  bytes_ += block.size();
}

namespace {

constexpr std::size_t max_record_bytes = 1 << 20;

// Splits a file into records: JSON Lines end at LF; CSV records end at CRLF/LF outside quotes.
// Calls on_record(text, end_offset, line_number) for each terminated record and returns the
// offset where an unterminated tail starts.
template <typename OnRecord>
std::uint64_t for_each_record(std::istream& in, bool csv_quotes, OnRecord on_record) {
  std::string record;
  std::uint64_t offset = 0, line = 1, record_line = 1, end_of_last = 0;
  bool in_quotes = false;
  char chunk[65536];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    const auto n = static_cast<std::size_t>(in.gcount());
    for (std::size_t i = 0; i < n; ++i) {
      const char c = chunk[i];
      ++offset;
      if (csv_quotes && c == '"') in_quotes = !in_quotes;
      if (c == '\n') {
        ++line;
        if (!in_quotes) {
          if (!record.empty() && record.back() == '\r') record.pop_back();
          on_record(record, offset, record_line);
          record.clear();
          end_of_last = offset;
          record_line = line;
          continue;
        }
      }
      if (record.size() > max_record_bytes)
        throw std::runtime_error("record at line " + std::to_string(record_line) + " is longer than 1 MiB");
      record.push_back(c);
    }
  }
  return end_of_last;
}

// CSV fields of one record (RFC 4180).
std::vector<std::string> csv_split(const std::string& record) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < record.size(); ++i) {
    const char c = record[i];
    if (quoted) {
      if (c == '"' && i + 1 < record.size() && record[i + 1] == '"') fields.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else fields.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

}  // namespace

ResumeState prepare_resume(const std::string& path, OutputFormat format) {
  ResumeState state;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    state.notes.push_back(path + " does not exist yet: starting from the beginning");
    return state;
  }
  const std::string kind = format == OutputFormat::jsonl ? "mxtls JSON Lines" : "mxtls CSV";
  std::uint64_t keep = 0;        // offset after the last finished block
  std::uint64_t records = 0;
  std::uint64_t open_probes = 0;  // probe records after the last domain record
  std::uint64_t end = 0;
  if (format == OutputFormat::jsonl) {
    end = for_each_record(in, false, [&](const std::string& text, std::uint64_t at, std::uint64_t line) {
      if (text.empty()) return;
      const auto value = report::parse_json(text);
      const auto record = value ? value->string_at("record") : std::nullopt;
      const auto domain = value ? value->string_at("domain") : std::nullopt;
      if (!record || !domain || (*record != "probe" && *record != "domain"))
        throw std::runtime_error(path + ":" + std::to_string(line) + ": not " + kind +
                                 " output; refusing to resume into it (nothing was changed)");
      ++records;
      if (*record == "probe") {
        ++open_probes;
        return;
      }
      if (state.done.insert(*domain)) ++state.domains;
      keep = at;
      open_probes = 0;
    });
  } else {
    const auto& columns = report::csv_columns();
    end = for_each_record(in, true, [&](const std::string& text, std::uint64_t at, std::uint64_t line) {
      const auto fields = csv_split(text);
      if (records++ == 0) {
        if (fields.size() < 2 || fields[0] != columns[0] || fields[1] != columns[1])
          throw std::runtime_error(path + ":1: not " + kind + " output (no header); refusing to resume into it");
        keep = at;
        return;
      }
      if (fields.size() != columns.size())
        throw std::runtime_error(path + ":" + std::to_string(line) + ": " + std::to_string(fields.size()) +
                                 " fields, expected " + std::to_string(columns.size()) + "; refusing to resume into it");
      if (state.done.insert(fields[1])) ++state.domains;
      keep = at;
    });
  }
  in.close();
  std::error_code ec;
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  (void)end;
  if (!ec && size > keep) {
    if (::truncate(path.c_str(), static_cast<off_t>(keep)) != 0)
      throw std::system_error(errno, std::generic_category(), "cannot cut the incomplete end of '" + path + "'");
    state.dropped_bytes = size - keep;
    state.notes.push_back(path + ": removed an incomplete last block (" + std::to_string(state.dropped_bytes) +
                          " bytes" + (open_probes ? ", " + std::to_string(open_probes) + " probe records" : "") +
                          "); that domain is scanned again");
  }
  state.kept_bytes = keep;
  state.notes.push_back(path + ": " + std::to_string(state.domains) + " finished domains kept; continuing after them");
  return state;
}

}  // namespace mxtls::scan
