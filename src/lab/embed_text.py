#!/usr/bin/env python3
# Build step: turns a text file (data/lab.zone) into a C++ source defining a function that
# returns it, so `mxtls lab` carries its zone inside the binary and needs no data files.
import sys


def main() -> int:
    if len(sys.argv) != 4:
        print("usage: embed_text.py INPUT OUTPUT FUNCTION", file=sys.stderr)
        return 2
    source, target, function = sys.argv[1:]
    with open(source, encoding="utf-8") as f:
        text = f.read()
    delimiter = "mxtls_embed"
    # A raw string literal ends at )delimiter" - the text must not contain that sequence.
    if ")" + delimiter + '"' in text:
        print(f"{source}: contains the raw-string delimiter", file=sys.stderr)
        return 1
    with open(target, "w", encoding="utf-8") as f:
        f.write(f"// Generated from {source.rsplit('/', 1)[-1]} by src/lab/embed_text.py at build time. Do not edit.\n")
        f.write('#include "lab/builtin_zone.hpp"\n\n')
        f.write("namespace mxtls::lab {\n\n")
        f.write(f"std::string_view {function}() {{\n")
        f.write(f'  static constexpr char text[] = R"{delimiter}({text}){delimiter}";\n')
        f.write("  return {text, sizeof text - 1};\n}\n\n}  // namespace mxtls::lab\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
