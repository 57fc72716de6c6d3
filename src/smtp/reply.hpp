// SMTP reply parsing (RFC 5321 §4.2): an incremental parser fed with raw bytes from the peer,
// and EHLO extension parsing by keyword. Pure code, no I/O: it is fuzzed (tests/fuzz).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mxtls::smtp {

struct Reply {
  int code = 0;                    // 3-digit reply code
  std::vector<std::string> lines;  // text after "NNN-"/"NNN ", printable()-sanitised
  bool positive() const { return code >= 200 && code < 300; }
  bool transient_failure() const { return code >= 400 && code < 500; }
  // First line, or all lines joined with " / " — for reports.
  std::string text() const;
};

// Bounds on what one reply may cost us. A hostile server can send a 10 MB "line" or an
// endless multi-line reply; the parser stops at these limits instead of buffering.
struct ReplyLimits {
  std::size_t max_line_bytes = 2048;    // RFC 5321 says 512; real servers exceed it a little
  std::size_t max_lines = 128;
  std::size_t max_reply_bytes = 64 * 1024;
};

class ReplyParser {
 public:
  enum class State { need_more, complete, error };

  explicit ReplyParser(ReplyLimits limits = {}) : limits_(limits) {}

  // Consumes bytes up to and including the line that completes the reply and returns how
  // many it consumed; bytes after a complete reply are left to the caller (they may be a
  // pipelined or injected next reply). In need_more every byte is consumed.
  std::size_t feed(std::string_view bytes);

  State state() const { return state_; }
  const std::string& error() const { return error_; }
  // Valid in `complete`; resets the parser for the next reply.
  Reply take();
  // Start over (after an error or to discard state).
  void reset();

 private:
  void finish_line();
  void fail(std::string why);

  ReplyLimits limits_;
  State state_ = State::need_more;
  std::string line_;  // the current partial line, without CR/LF
  std::size_t reply_bytes_ = 0;
  Reply reply_;
  std::string error_;
};

// Extensions announced in an EHLO reply: every line after the first, as keyword + params.
struct Extensions {
  std::vector<std::string> lines;  // "PIPELINING", "SIZE 10240000", "AUTH PLAIN LOGIN", upper-cased keyword
  bool has(std::string_view keyword) const;
  // Parameters of a keyword ("AUTH" → {"PLAIN","LOGIN"}); also reads the old "AUTH=PLAIN" form.
  std::vector<std::string> params(std::string_view keyword) const;
};
Extensions parse_ehlo(const Reply& reply);

}  // namespace mxtls::smtp
