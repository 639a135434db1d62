#!/usr/bin/env bash
# Fetch the ONNX Runtime C/C++ API headers the custom-op library compiles against.
#
# The onnxruntime wheel ships no headers; Debian trixie's libonnxruntime-dev 1.21.0+dfsg-1 (API 21,
# 85 KB) does. We download that one .deb with apt-get through a private sources list (nothing is
# installed, the system's apt state is untouched), check its pinned sha256 and unpack only
# usr/include/onnxruntime with dpkg-deb -x. The library targets API 17 (GetApi(17)), so any header
# set >= 17 works: point ORT_INCLUDE_DIR at a directory holding onnxruntime_c_api.h to skip this.
#
# Usage: fetch_ort_headers.sh [CACHE_DIR]      (default: <repo>/.third_party)
# Prints the include directory on stdout (last line). Idempotent: a verified cache is reused.
set -euo pipefail

VERSION=1.21.0+dfsg-1
SUITE=trixie
# The headers are architecture-independent; always fetch the amd64 .deb so one checksum pins them.
ARCH=amd64
SHA256=14f7d959d5deacbcf1504830d4189f91fc67382b399ed9ae9d3aa9c4050ced08

log() { printf '[fetch_ort_headers] %s\n' "$*" >&2; }

if [ -n "${ORT_INCLUDE_DIR:-}" ]; then
  if [ -f "$ORT_INCLUDE_DIR/onnxruntime_c_api.h" ]; then
    log "using ORT_INCLUDE_DIR=$ORT_INCLUDE_DIR"
    echo "$ORT_INCLUDE_DIR"; exit 0
  fi
  log "ORT_INCLUDE_DIR=$ORT_INCLUDE_DIR has no onnxruntime_c_api.h"; exit 1
fi

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${1:-$repo/.third_party}
dest="$cache/onnxruntime-${VERSION%%+*}"
inc="$dest/include/onnxruntime"
if [ -f "$dest/.sha256" ] && [ "$(cat "$dest/.sha256")" = "$SHA256" ] && [ -f "$inc/onnxruntime_c_api.h" ]; then
  echo "$inc"; exit 0
fi

for tool in apt-get dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || {
    log "needs $tool (Debian/Ubuntu). Elsewhere, set ORT_INCLUDE_DIR to an onnxruntime include dir (API >= 17)."
    exit 1; }
done

# Reuse the mirror this machine already trusts, with the suite swapped for trixie.
uri=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  uri=$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ {print $2; exit}' "$f")
  [ -n "$uri" ] && break
done
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
  uri=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$uri" ] || { log "no Debian mirror found in /etc/apt sources; set ORT_INCLUDE_DIR"; exit 1; }
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || { log "missing $keyring (package debian-archive-keyring)"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc"
printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
  "$uri" "$SUITE" "$keyring" > "$work/etc/trixie.sources"
apt_opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/etc"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
          -o "Dir::State::status=/dev/null" -o "APT::Architecture=$ARCH"
          -o "APT::Architectures::=$ARCH" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
log "downloading libonnxruntime-dev=$VERSION ($SUITE, $ARCH)"
apt-get -qq "${apt_opts[@]}" update >&2
(cd "$work" && apt-get -qq "${apt_opts[@]}" download "libonnxruntime-dev:$ARCH=$VERSION" >&2)
deb=$(ls "$work"/libonnxruntime-dev_*.deb)
got=$(sha256sum "$deb" | cut -d' ' -f1)
if [ "$got" != "$SHA256" ]; then
  log "checksum mismatch for $(basename "$deb"): got $got, expected $SHA256"; exit 1
fi
dpkg-deb -x "$deb" "$work/root"
rm -rf "$dest"
mkdir -p "$dest/include"
cp -r "$work/root/usr/include/onnxruntime" "$dest/include/"
cp "$work/root/usr/share/doc/libonnxruntime-dev/copyright" "$dest/" 2>/dev/null || true
echo "$SHA256" > "$dest/.sha256"
log "headers in $inc"
echo "$inc"
