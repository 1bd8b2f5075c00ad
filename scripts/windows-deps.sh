#!/usr/bin/env bash
# The Windows build's C libraries, built for x86_64-w64-mingw32 from Debian's own source packages
# (nothing vendored): OpenSSL (static, hardened), the SQLite amalgamation and utf8proc. Header-only
# libraries (Boost, nlohmann/json, CLI11, tl::expected, stb) are Debian's -dev headers, linked one by one
# into a staging include directory: never all of /usr/include, whose glibc headers would shadow
# mingw's.
#
# Sources come through a private deb-src list made from the machine's own deb822 entries, so the
# machine's apt configuration is untouched. The tarballs and the built libraries are cached under
# ${PLEXSYNC_CACHE:-~/.cache/plexsync}, keyed on the source versions: a second run costs nothing, a
# Debian security update rebuilds, and a mirror hiccup falls back on the tarballs cached before.
#
#   scripts/windows-deps.sh [OUT_DIR]    (default build/win64-deps; prints nothing else on success)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/win64-deps}
cache=${PLEXSYNC_CACHE:-${HOME:-/tmp}/.cache/plexsync}
src_cache=$cache/debian-src
mkdir -p "$src_cache"
host=x86_64-w64-mingw32
cc=$host-gcc-posix
command -v "$cc" >/dev/null || { echo "windows-deps: $cc is missing (scripts/windows.sh installs it)" >&2; exit 1; }

# 1. Fetch the current source tarballs (whatever version Debian has now, security updates included).
work=$(mktemp -d /tmp/plexsync-win64-deps-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/parts" "$work/lists/partial"
list=/etc/apt/sources.list.d/debian.sources
if [[ -f $list ]]; then
  sed 's/^Types: deb$/Types: deb-src/' "$list" >"$work/parts/src.sources"
  apt_opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$work/parts" -o Dir::State::Lists="$work/lists")
  if apt-get "${apt_opts[@]}" update -qq >"$work/apt.log" 2>&1; then
    # apt's exit status is not trusted: a .dsc may 404 while the orig tarball arrives (seen on the
    # security mirror). What counts is the orig tarball on disk.
    (cd "$src_cache" && apt-get "${apt_opts[@]}" source --download-only -qq openssl sqlite3 utf8proc \
      >>"$work/apt.log" 2>&1) || echo "windows-deps: apt-get source reported an error (the mirror sometimes lacks a .dsc); using the tarballs on disk" >&2
  else
    echo "windows-deps: cannot read Debian's source index; using cached tarballs" >&2
  fi
fi
newest() { # newest cached orig tarball of a source package
  find "$src_cache" -maxdepth 1 -name "$1_*.orig.tar.*" ! -name '*.asc' -printf '%f\n' | sort -V | tail -1
}
openssl_tar=$(newest openssl)
sqlite_tar=$(newest sqlite3)
utf8proc_tar=$(newest utf8proc)
for t in openssl_tar sqlite_tar utf8proc_tar; do
  [[ -n ${!t} ]] || {
    echo "windows-deps: no ${t%_tar} source tarball (Debian's deb-src unreachable and nothing cached); see $work/apt.log" >&2
    cat "$work/apt.log" >&2 2>/dev/null || true
    exit 1
  }
done

# 2. Build, unless the cache holds this exact set. The key also covers this script's recipe.
key=$( (echo "$openssl_tar $sqlite_tar $utf8proc_tar $($cc -dumpversion)"; cat "$0") | sha256sum | cut -c1-16)
prefix=$cache/win64-deps-$key
if [[ ! -f $prefix/.complete ]]; then
  echo "windows-deps: building $openssl_tar, $sqlite_tar, $utf8proc_tar for $host (about 2 minutes)"
  rm -rf "$prefix" && mkdir -p "$prefix/lib" "$prefix/include"
  jobs=$(nproc)

  # OpenSSL: static, no engines/DSO (nothing loaded at run time) and no-autoload-config: a static
  # OpenSSL would otherwise read openssl.cnf from its OPENSSLDIR. Prefix and OPENSSLDIR are fixed
  # admin-only Windows paths, never this build machine's (reproducible, and no path a user could
  # create). Only the libraries and headers are taken from the tree; nothing is installed.
  mkdir "$work/openssl" && tar -xf "$src_cache/$openssl_tar" -C "$work/openssl" --strip-components=1
  (cd "$work/openssl" &&
    ./Configure mingw64 no-shared no-tests no-engine no-dso no-legacy no-comp no-ssl3 no-dtls no-srp \
      no-ui-console no-autoload-config --cross-compile-prefix=$host- CC=gcc-posix \
      --prefix="C:/Program Files/PlexSync/openssl" --openssldir="C:/Program Files/PlexSync/openssl/ssl" \
      >"$work/openssl.log" 2>&1 &&
    make -j"$jobs" build_libs >>"$work/openssl.log" 2>&1) || {
    tail -30 "$work/openssl.log" >&2
    echo "windows-deps: the OpenSSL build failed" >&2
    exit 1
  }
  cp "$work/openssl/libssl.a" "$work/openssl/libcrypto.a" "$prefix/lib/"
  cp -r "$work/openssl/include/openssl" "$prefix/include/"

  # SQLite: the amalgamation generated from Debian's tree (needs tclsh), the same release as Linux's.
  mkdir -p "$work/sqlite/build" && tar -xf "$src_cache/$sqlite_tar" -C "$work/sqlite" --strip-components=1
  (cd "$work/sqlite/build" && ../configure --disable-tcl >"$work/sqlite.log" 2>&1 && make sqlite3.c >>"$work/sqlite.log" 2>&1) || {
    tail -30 "$work/sqlite.log" >&2
    echo "windows-deps: generating sqlite3.c failed (is tcl installed?)" >&2
    exit 1
  }
  $cc -O2 -c "$work/sqlite/build/sqlite3.c" -o "$work/sqlite3.o" -DSQLITE_THREADSAFE=1 -DSQLITE_OMIT_LOAD_EXTENSION \
    -DSQLITE_DEFAULT_FOREIGN_KEYS=0 -DSQLITE_ENABLE_JSON1
  $host-ar rcs "$prefix/lib/libsqlite3.a" "$work/sqlite3.o"
  cp "$work/sqlite/build/sqlite3.h" "$work/sqlite/sqlite3ext.h" "$prefix/include/" 2>/dev/null ||
    cp "$work/sqlite/build/sqlite3.h" "$prefix/include/"

  # utf8proc: one C file.
  mkdir "$work/utf8proc" && tar -xf "$src_cache/$utf8proc_tar" -C "$work/utf8proc" --strip-components=1
  $cc -O2 -DUTF8PROC_STATIC -c "$work/utf8proc/utf8proc.c" -o "$work/utf8proc.o"
  $host-ar rcs "$prefix/lib/libutf8proc.a" "$work/utf8proc.o"
  cp "$work/utf8proc/utf8proc.h" "$prefix/include/"

  echo "$openssl_tar $sqlite_tar $utf8proc_tar" >"$prefix/.complete"
fi

# 3. The build tree's view: the cached libraries plus the header-only libraries, staged.
rm -rf "$out" && mkdir -p "$out/include"
ln -s "$prefix/lib" "$out/lib"
for d in openssl sqlite3.h sqlite3ext.h utf8proc.h; do
  [[ -e $prefix/include/$d ]] && ln -s "$prefix/include/$d" "$out/include/$d"
done
for d in boost nlohmann CLI tl stb; do
  [[ -e /usr/include/$d ]] || { echo "windows-deps: /usr/include/$d is missing (scripts/setup.sh installs it)" >&2; exit 1; }
  ln -s "/usr/include/$d" "$out/include/$d"
done
cp "$prefix/.complete" "$out/versions.txt"
