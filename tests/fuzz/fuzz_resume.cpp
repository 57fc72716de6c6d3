// libFuzzer target for `scan --resume` (scan::prepare_resume): the input is an existing output
// file (first byte picks JSON Lines or CSV) that may be cut, edited or not ours at all. It is
// written to a private temp file; afterwards the file must be either untouched (refused) or
// cut exactly after its last whole record, never anything else.
#include "scan/output.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>

namespace {

// The output file under test: one per fuzzer process, removed when the process exits (a crash
// leaves it behind, so run.sh points TMPDIR at a directory it deletes). Without TMPDIR it goes
// to /dev/shm when there is one: tens of thousands of rewrites a second should not hit a disk.
struct TempFile {
  std::string path;
  TempFile() {
    const bool use_shm = std::getenv("TMPDIR") == nullptr && std::filesystem::is_directory("/dev/shm");
    const std::filesystem::path dir = use_shm ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path();
    path = (dir / ("mxtls-fuzz-resume-" + std::to_string(::getpid()) + ".out")).string();
  }
  ~TempFile() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
};

const std::string& temp_path() {
  static const TempFile file;
  return file.path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto format = data[0] & 1 ? mxtls::scan::OutputFormat::csv : mxtls::scan::OutputFormat::jsonl;
  const std::string original(reinterpret_cast<const char*>(data + 1), size - 1);
  {
    std::ofstream out(temp_path(), std::ios::binary | std::ios::trunc);
    out << original;
    if (!out.flush()) std::abort();  // the harness's own failure, not a finding
  }
  try {
    const auto state = mxtls::scan::prepare_resume(temp_path(), format);
    const std::string after = read_file(temp_path());
    // Only a tail is ever removed, and only up to a record boundary.
    if (state.kept_bytes > original.size() || after.size() != state.kept_bytes) std::abort();
    if (original.compare(0, after.size(), after) != 0) std::abort();
    if (!after.empty() && after.back() != '\n') std::abort();
    if (state.dropped_bytes != original.size() - after.size()) std::abort();
    if (state.domains != state.done.size()) std::abort();
  } catch (const std::runtime_error&) {
    // Refused: the file must be exactly as it was.
    if (read_file(temp_path()) != original) std::abort();
  }
  return 0;
}
