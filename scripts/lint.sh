#!/usr/bin/env bash
# Cheap gates that need no build: formatting and the module layering rule.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find src tools tests bench -name '*.[ch]pp')
command -v clang-format >/dev/null || { echo "lint: clang-format is missing (scripts/setup.sh installs it)" >&2; exit 1; }
clang-format --dry-run --Werror "${files[@]}"
# A module includes only modules listed above it (docs/ARCHITECTURE.md).
order=(util net config stash plex store queue match sync image provider activity worker cli)
status=0
for ((i = 0; i < ${#order[@]}; i++)); do
  module=${order[$i]}
  allowed="${order[*]:0:$((i + 1))}"
  while IFS= read -r line; do
    dep=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"${line#*:}")
    if [[ " $allowed " != *" $dep "* ]]; then
      echo "layering: ${line%%:*} includes $dep/ but $module/ may only use: $allowed" >&2
      status=1
    fi
  done < <(grep -HE '#include "[a-z_]+/' src/"$module"/*.[ch]pp || true)
done
# A file name held in a std::string reaches std::filesystem only through util::fs_path: on Windows
# a plain std::string is read in the ANSI code page and "ü" becomes "Ã¼" (docs/ARCHITECTURE.md).
while IFS= read -r line; do
  echo "paths: ${line%%:*}: pass util::fs_path(...) (or an entry's .path(); mark a std::filesystem::path argument with '// path:')" >&2
  echo "  ${line#*:}" >&2
  status=1
done < <(grep -nE '(std::filesystem|fs)::(create_directories|create_directory|exists|file_size|rename|remove|remove_all|is_regular_file|is_directory|directory_iterator|last_write_time|absolute|read_symlink)\(' src/*/*.cpp src/*.cpp |
  grep -vE 'fs_path\(|\.path\(\)|// path:|_posix\.cpp:' || true)
# ... and leaves it only through util::utf8_path: path::string() converts through the code page too.
while IFS= read -r line; do
  echo "paths: ${line%%:*}: use util::fs_path / util::utf8_path / util::parent_dir instead" >&2
  echo "  ${line#*:}" >&2
  status=1
done < <(grep -nE '(std::filesystem|fs)::path\(|\.string\(\)' src/*/*.cpp src/*.cpp | grep -v '^src/util/path\.cpp:' || true)
exit $status
