#!/usr/bin/env bash
# Runs every libFuzzer target (or some) for a bounded time over a copy of its seed corpus and
# prints a table; exits non-zero on any crash, leak, timeout or out-of-memory, naming the file
# that reproduces it. CI: `bash tests/fuzz/run.sh --seconds 8` (every target: 16, about 3 minutes).
#
#   bash tests/fuzz/run.sh [--seconds N] [--build-dir DIR] [--only NAME,...]
#
# The build is a separate clang build (-Dfuzz=true); it is configured when DIR has none.
# Reproduce a finding with: DIR/tests/fuzz/fuzz_NAME CRASH_FILE
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
seconds=15
build_dir="${TMPDIR:-/tmp}/mxtls-build-fuzz"
only=""

usage() {
  sed -n '5,6p' "${BASH_SOURCE[0]}" | sed 's/^# *//'
  exit 2
}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="${2:?}"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    --build-dir) build_dir="${2:?}"; shift 2 ;;
    --build-dir=*) build_dir="${1#*=}"; shift ;;
    --only) only="${2:?}"; shift 2 ;;
    --only=*) only="${1#*=}"; shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage ;;
  esac
done
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --seconds needs a positive whole number" >&2; exit 2; }
build_dir="$(mkdir -p "$build_dir" && cd "$build_dir" && pwd)"

# ---- toolchain: clang with the libFuzzer runtime ----------------------------------------------
apt_install() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "run.sh: missing $*; install it (apt-get install $*) or run as root" >&2
    exit 1
  fi
  # `apt-get update` only when the plain install fails (stale or empty package lists).
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null ||
    { DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >/dev/null; }
}
libfuzzer_links() {
  local probe
  probe="$(mktemp -d)"
  printf '%s\n' '#include <cstddef>' '#include <cstdint>' '#include <fuzzer/FuzzedDataProvider.h>' \
    'extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }' > "$probe/t.cpp"
  clang++ -fsanitize=fuzzer,address,undefined "$probe/t.cpp" -o "$probe/t" >/dev/null 2>&1
  local rc=$?
  rm -rf "$probe"
  return $rc
}
if ! command -v clang++ >/dev/null; then
  echo "run.sh: installing clang" >&2
  apt_install clang
fi
if ! libfuzzer_links; then
  # Debian ships the sanitizer and libFuzzer runtimes in libclang-rt-V-dev (only recommended).
  major="$(clang++ -dumpversion | cut -d. -f1)"
  echo "run.sh: installing the libFuzzer runtime (libclang-rt-$major-dev)" >&2
  apt_install "libclang-rt-$major-dev"
  libfuzzer_links || { echo "run.sh: clang++ cannot link -fsanitize=fuzzer programs" >&2; exit 1; }
fi

# ---- configure and build only the fuzz targets ------------------------------------------------
if [[ ! -f "$build_dir/build.ninja" ]]; then
  echo "run.sh: configuring $build_dir" >&2
  CXX=clang++ meson setup "$build_dir" "$repo" -Dfuzz=true -Db_lundef=false --buildtype=debugoptimized >/dev/null
else
  if ! grep -q '"command": "[^ "]*clang' "$build_dir/compile_commands.json" 2>/dev/null; then
    echo "run.sh: $build_dir is not a clang build; give another --build-dir" >&2
    exit 1
  fi
  meson configure "$build_dir" -Dfuzz=true >/dev/null
  # Regenerate now if a meson.build changed, so the target list below is current.
  ninja -C "$build_dir" build.ninja >/dev/null
fi

# Targets, their dictionaries and seed corpora come from the meson tests of suite "fuzz".
mapfile -t specs < <(meson introspect "$build_dir" --tests | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if not any(s.split(":")[-1] == "fuzz" for s in t["suite"]): continue
    name = t["name"][len("fuzz_"):]
    dicts = [a for a in t["cmd"][1:] if a.startswith("-dict=")]
    print(name, t["cmd"][0], dicts[0][len("-dict="):] if dicts else "-")
')
if [[ -n "$only" ]]; then
  declare -A wanted=()
  IFS=',' read -ra names <<< "$only"
  for n in "${names[@]}"; do wanted["${n#fuzz_}"]=1; done
  selected=()
  for spec in "${specs[@]}"; do
    read -r name _ <<< "$spec"
    [[ -n "${wanted[$name]:-}" ]] && { selected+=("$spec"); unset "wanted[$name]"; }
  done
  if [[ ${#wanted[@]} -gt 0 ]]; then
    echo "run.sh: no fuzz target named: ${!wanted[*]}" >&2
    exit 2
  fi
  specs=("${selected[@]}")
fi
[[ ${#specs[@]} -gt 0 ]] || { echo "run.sh: no fuzz targets found in $build_dir" >&2; exit 1; }

build_targets=()
for spec in "${specs[@]}"; do
  read -r name _ <<< "$spec"
  build_targets+=("tests/fuzz/fuzz_$name")
done
echo "run.sh: building ${#build_targets[@]} fuzz targets in $build_dir" >&2
ninja -C "$build_dir" -j "${FUZZ_BUILD_JOBS:-2}" "${build_targets[@]}" >"$build_dir/fuzz-build.log" 2>&1 ||
  { grep -E "FAILED|error:" "$build_dir/fuzz-build.log" | head -n 20 >&2; echo "run.sh: build failed (log: $build_dir/fuzz-build.log)" >&2; exit 1; }

# ---- run each target, one at a time -----------------------------------------------------------
artifacts="$build_dir/fuzz-artifacts"
mkdir -p "$artifacts"
shm=/tmp
[[ -d /dev/shm && -w /dev/shm ]] && shm=/dev/shm
work="$(mktemp -d "$shm/mxtls-fuzz.XXXXXX")"
child=""
cleanup() {
  [[ -n "$child" ]] && kill "$child" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:alloc_dealloc_mismatch=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

rows=()
failures=()
for spec in "${specs[@]}"; do
  read -r name exe dict <<< "$spec"
  corpus="$work/corpus-$name"
  mkdir -p "$corpus" "$work/tmp-$name"
  [[ -d "$here/corpus/$name" ]] && cp "$here/corpus/$name"/* "$corpus"/ 2>/dev/null || true
  log="$artifacts/$name.log"
  args=(-max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts/$name-")
  [[ "$dict" != "-" ]] && args+=(-dict="$dict")
  echo "run.sh: fuzz_$name for ${seconds}s" >&2
  set +e
  TMPDIR="$work/tmp-$name" "$exe" "${args[@]}" "$corpus" >"$log" 2>&1 &
  child=$!
  wait "$child"
  rc=$?
  child=""
  set -e
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  if [[ -z "$execs" ]]; then
    execs="$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n 1)"
  fi
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  size="$(find "$corpus" -type f | wc -l)"
  artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
  if [[ $rc -eq 0 && -z "$artifact" ]]; then
    result="ok"
  else
    case "$(basename "${artifact:-none}")" in
      crash-*) result="CRASH" ;;
      leak-*) result="LEAK" ;;
      timeout-*) result="TIMEOUT" ;;
      oom-*) result="OOM" ;;
      slow-unit-*) result="SLOW" ;;
      *) result="FAILED (exit $rc)" ;;
    esac
    failures+=("fuzz_$name: $result ${artifact:+$artifact }(log: $log)")
    echo "---- fuzz_$name: $result; last lines of $log" >&2
    grep -v '^#[0-9]' "$log" | tail -n 60 >&2
  fi
  rows+=("fuzz_$name|${execs:-0}|${rate:-0}|$size|$result")
done

# ---- table and verdict ------------------------------------------------------------------------
printf '\n%-22s | %12s | %8s | %11s | %s\n' "target" "execs" "execs/s" "corpus size" "result"
printf '%s\n' "-----------------------+--------------+----------+-------------+---------"
total=0
for row in "${rows[@]}"; do
  IFS='|' read -r t e r s res <<< "$row"
  printf '%-22s | %12s | %8s | %11s | %s\n' "$t" "$e" "$r" "$s" "$res"
  total=$((total + e))
done
echo "fuzz: ${#rows[@]} targets, $total execs, ${seconds}s each, ${#failures[@]} failed"
if [[ ${#failures[@]} -gt 0 ]]; then
  printf 'fuzz finding: %s\n' "${failures[@]}"
  echo "reproduce: <build-dir>/tests/fuzz/fuzz_NAME <artifact file>"
  exit 1
fi
