#!/usr/bin/env bash
# The AVX-512 kernel paths (avx512, avx512vpopcnt) on a machine without AVX-512: the core's C++
# tests (test_core, test_lce), built static, run inside Bochs, a full-system x86 emulator whose
# `tigerlake` CPU model executes AVX-512 (F/BW/VL/VBMI, VPOPCNTDQ) and GFNI. A Linux kernel boots
# from an ISO with the tests in its initramfs; its /init runs them and prints to the emulated serial
# port, which this script reads back. Timings under Bochs mean nothing; this checks exactness.
#
# Bochs is 3.0, built here from Debian's source package (trixie) with no GUI, no debugger and no
# instrumentation: Debian 12's own package, Bochs 2.7, returns the complement of every
# VGF2P8AFFINEQB byte (fixed upstream in Bochs 2.8), the instruction the avx512vpopcnt path's bit
# transpose is built on, and it emulated the tests 3x slower. gfni_check runs first: where the
# emulator's GFNI is wrong, test_core runs that path with avx512's transpose (--transpose avx512)
# and this script says that transpose_bits_avx512_gfni was not verified.
#
# Needs (installed here when missing and running as root with apt-get): bochsbios, vgabios (the
# BIOS images), isolinux, syslinux-common, genisoimage, busybox-static, cpio; g++ and make to build
# Bochs (about 2 minutes on 2 cores, once per build directory); and a guest kernel, Debian's cloud
# kernel, downloaded into the build directory (on Debian 12 the 6.12 one of bookworm-backports: the
# 6.1 kernel never reached /init under Bochs 2.7, looping on a page fault in early boot). Both
# downloads use apt with their own sources and state; the system's apt configuration is not touched.
# Usage: runtimes/ort/emulate_avx512.sh
# Env:   BUILD_DIR (default build/ort-avx512-emu), CASES (random cases per test, default 20),
#        TIMEOUT (seconds for the emulator run, default 1500)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$repo/build/ort-avx512-emu}
cases=${CASES:-20}
timeout_s=${TIMEOUT:-1500}
mkdir -p "$build"
build=$(cd "$build" && pwd)

packages=(bochsbios vgabios isolinux syslinux-common genisoimage busybox-static cpio)
missing=()
for p in "${packages[@]}"; do  # installed, not just known (a removed package keeps its config)
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "emulate_avx512: needs the Debian packages ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
fi

for tool in g++ make; do
  command -v "$tool" >/dev/null || { echo "emulate_avx512: needs $tool to build Bochs" >&2; exit 1; }
done

# apt with its own sources and state in $build/apt/NAME: apt_own NAME SOURCES_LINE sets apt_dir and
# apt_opts and reads the index
apt_own() {
  apt_dir=$build/apt/$1
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  echo "$2" > "$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o Debug::NoLocking=1)
  apt-get "${apt_opts[@]}" update -qq
}

# The guest kernel, once per build directory
kernel=$build/guest/vmlinuz
if [ ! -s "$kernel" ]; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  suite=$codename
  [ "$codename" = bookworm ] && suite=bookworm-backports
  echo "emulate_avx512: downloading the guest kernel (linux-image-cloud-amd64 from $suite)" >&2
  apt_own kernel "deb http://deb.debian.org/debian $suite main"
  mkdir -p "$build/guest"
  pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-cloud-amd64 |
        awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  if [ -z "$pkg" ]; then
    echo "emulate_avx512: no linux-image-cloud-amd64 in $suite" >&2
    exit 1
  fi
  (cd "$apt_dir" && apt-get "${apt_opts[@]}" download "$pkg" 2>&1 | grep -v unsandboxed >&2 || true)
  rm -rf "$apt_dir/x" && dpkg -x "$apt_dir/${pkg}"_*.deb "$apt_dir/x"
  cp "$apt_dir"/x/boot/vmlinuz-* "$kernel.part" && mv "$kernel.part" "$kernel"
  rm -rf "$apt_dir/x"
fi

# Bochs, once per build directory: the upstream source of Debian's package (apt checks it against
# the signed index), configured for this job alone. The CPU model needs x86-64, AVX, EVEX (AVX-512),
# VMX, CET and protection keys compiled in.
bochs=$build/bochs/bochs
if [ ! -x "$bochs" ]; then
  echo "emulate_avx512: building Bochs 3 from Debian's source package (trixie; about 2 minutes)" >&2
  apt_own bochs-source "deb-src http://deb.debian.org/debian trixie main"
  # (the mirror may not serve the .dsc, which apt then reports; the tarball is what is needed)
  (cd "$apt_dir" && rm -f bochs_* &&
     apt-get "${apt_opts[@]}" source --download-only bochs > "$apt_dir/source.log" 2>&1 || true)
  src=("$apt_dir"/bochs_3.*.orig.tar.*)
  if [ ! -f "${src[0]}" ]; then
    echo "emulate_avx512: could not download Bochs 3's source from Debian's trixie:" \
         "$(grep -m1 '^E:' "$apt_dir/source.log" || tail -n 1 "$apt_dir/source.log")" >&2
    exit 1
  fi
  rm -rf "$build/bochs" && mkdir -p "$build/bochs/src"
  tar -xf "${src[0]}" -C "$build/bochs/src" --strip-components=1
  if ! (cd "$build/bochs/src" &&
        ./configure --with-nogui --enable-x86-64 --enable-cpu-level=6 --enable-avx --enable-evex \
          --enable-vmx=2 --enable-cet --enable-protection-keys --enable-all-optimizations \
          --enable-cdrom --enable-pci --disable-plugins --disable-docbook --disable-sb16 \
          --disable-gameport --disable-usb && make -j"$(nproc)") > "$build/bochs-build.log" 2>&1; then
    echo "emulate_avx512: building Bochs failed: $(tail -n 1 "$build/bochs-build.log")" \
         "(see $build/bochs-build.log)" >&2
    exit 1
  fi
  cp "$build/bochs/src/bochs" "$bochs.part" && mv "$bochs.part" "$bochs"
  rm -rf "$build/bochs/src"
fi

# The tests, static (the initramfs has no libraries)
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$repo/runtimes/core" -B "$build/static" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_EXE_LINKER_FLAGS=-static >/dev/null
cmake --build "$build/static" -j2 --target test_core test_lce gfni_check >/dev/null

# The initramfs: busybox, the tests, and an /init that runs them and powers the guest off
root=$build/initramfs
rm -rf "$root" && mkdir -p "$root/bin" "$root/proc"
cp /bin/busybox "$build/static/test_core" "$build/static/test_lce" "$build/static/gfni_check" \
  "$root/bin/"
cat > "$root/init" <<EOF
#!/bin/busybox sh
export PATH=/bin
busybox mount -t proc proc /proc
echo "== cpu: \$(busybox grep -m1 'model name' /proc/cpuinfo | busybox cut -d: -f2)"
run() { name=\$1; shift; echo "== run \$name: \$*"; "\$@" 2>&1; echo "== result \$name \$?"; }
gfni_check; g=\$?
echo "== result gfni_check \$g"
transpose=""
[ \$g = 0 ] || transpose="--transpose avx512"
run core_avx512 test_core --kernel avx512 --cases $cases
run lce_avx512 test_lce --kernel avx512 --cases $cases
run core_avx512vpopcnt test_core --kernel avx512vpopcnt \$transpose --cases $cases
run lce_avx512vpopcnt test_lce --kernel avx512vpopcnt --cases $cases
echo "== done"
busybox sleep 2  # the emulated UART drains its buffer before the power goes
busybox poweroff -f
EOF
chmod +x "$root/init"
iso=$build/iso
rm -rf "$iso" && mkdir -p "$iso/isolinux"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1 > "$iso/isolinux/initrd.gz")
cp "$kernel" "$iso/isolinux/vmlinuz"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$iso/isolinux/"
# clearcpuid: Bochs 2.7 reported a zero-sized PKRU state and a compacted XSAVE size that does not
# add up, after which Linux turned XSAVE (and so AVX) off, and implements no APERF/MPERF (kept for
# Bochs 3: the features cleared are none the tests use).
cat > "$iso/isolinux/isolinux.cfg" <<'EOF'
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  APPEND initrd=initrd.gz rdinit=/init console=ttyS0,115200 quiet loglevel=0 mitigations=off clearcpuid=pku,ospke,xsaves,xsavec,aperfmperf,tsc_deadline_timer lsm=capability lpj=1000000 nowatchdog
EOF
genisoimage -quiet -o "$build/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
  -no-emul-boot -boot-load-size 4 -boot-info-table "$iso"

cat > "$build/bochsrc" <<EOF
megs: 512
cpu: model=tigerlake, count=1, ips=200000000
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
ata0-master: type=cdrom, path=$build/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$build/serial.log
display_library: nogui
log: $build/bochs.log
clock: sync=none, time0=local
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
EOF
rm -f "$build/serial.log"
echo "emulate_avx512: booting the guest in Bochs (a few minutes; log: $build/serial.log)" >&2
start=$SECONDS
bochs_rc=0
timeout "$timeout_s" "$bochs" -q -f "$build/bochsrc" < /dev/null \
  > "$build/bochs.out" 2>&1 || bochs_rc=$?
log=$build/serial.log
touch "$log"
out=$(tr -d '\r' < "$log")
grep -E '^(== |gfni_check: |kernels under test|[0-9]+ random cases)' <<< "$out" || true
fails=$(grep -c '^FAIL ' <<< "$out" || true)
if [ "$fails" -gt 0 ]; then
  grep '^FAIL ' <<< "$out" | head -20
  echo "($fails FAIL lines in all: $log)"
fi

if ! grep -q '^== done' <<< "$out"; then
  if [ "$bochs_rc" = 124 ]; then
    echo "emulate_avx512: the guest did not finish within ${timeout_s} s (see $log, $build/bochs.log)" >&2
  else
    echo "emulate_avx512: Bochs stopped (exit status $bochs_rc) before the guest finished:" \
         "$(tail -n 1 "$build/bochs.out") (see $build/bochs.out, $log)" >&2
  fi
  exit 1
fi
status=0
results=$(awk '/^== result / {print $3, $4}' <<< "$out")
while read -r name rc; do
  case "$name:$rc" in
    *:0) ;;
    gfni_check:1)
      echo "emulate_avx512: NOT VERIFIED: transpose_bits_avx512_gfni (this emulator's" \
           "VGF2P8AFFINEQB is wrong; avx512vpopcnt ran with avx512's transpose)" ;;
    *) echo "emulate_avx512: $name failed (exit status $rc)" >&2; status=1 ;;
  esac
done <<< "$results"
for name in core_avx512 lce_avx512 core_avx512vpopcnt lce_avx512vpopcnt; do
  grep -q "^$name " <<< "$results" || { echo "emulate_avx512: $name did not run" >&2; status=1; }
done
echo "emulate_avx512: $( [ $status = 0 ] && echo passed || echo FAILED ) in $((SECONDS - start)) s" \
     "of emulation, CASES=$cases"
exit $status
