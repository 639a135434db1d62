"""The emulated device's file system: a host directory laid out like a phone's.

Layout under the sandbox ``base`` directory::

    base/root/               the device's "/" (qemu-user's -L prefix)
        data/local/tmp/      where adb pushes and benchmarks run
        sdcard/
        system/bin/getprop   prints the device properties (ro.product.cpu.abi=arm64-v8a, ...)
        system/bin/uname     the host's uname with the machine reported as aarch64
        system/bin/sh        the host's sh, translating ``sh -c TEXT`` and scripts like device commands
        proc/cpuinfo, sys/devices/system/cpu/...   a fake arm64 CPU (fake_cpu.py)
    base/host/rdrun          runs a device program: aarch64 ELF via qemu-aarch64-static, scripts
                             starting ``#!/system/bin/sh`` via the sandbox's sh, else directly

There is deliberately no ``root/lib``: like a phone without glibc, a dynamically linked glibc program
only runs when it brings its own loader and libraries (``./ld-linux-aarch64.so.1 --library-path .``).
The helper lives outside ``root`` so that listing the device shows only phone-like directories.
"""
from __future__ import annotations

import os
import posixpath
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from rep_deploy.emulator.devshell import translate
from rep_deploy.emulator.fake_cpu import write_fake_cpu_tree

__all__ = ["DEFAULT_PROPS", "Sandbox", "SandboxError", "QEMU_PACKAGE_HINT", "find_qemu"]

QEMU = "qemu-aarch64-static"
QEMU_PACKAGE_HINT = "qemu-aarch64-static not found: install the Debian package qemu-user-static (apt-get install qemu-user-static)"

DEFAULT_PROPS: dict[str, str] = {
    "ro.product.model": "rep-deploy emulated arm64 (qemu)",
    "ro.product.name": "rep_deploy_emu_arm64",
    "ro.product.device": "emu_arm64",
    "ro.product.brand": "rep-deploy",
    "ro.product.manufacturer": "rep-deploy",
    "ro.product.board": "qemu",
    "ro.product.cpu.abi": "arm64-v8a",
    "ro.product.cpu.abilist": "arm64-v8a",
    "ro.product.cpu.abilist64": "arm64-v8a",
    "ro.product.cpu.abilist32": "",
    "ro.build.version.release": "14",
    "ro.build.version.sdk": "34",
    "ro.build.type": "userdebug",
    "ro.build.fingerprint": "rep-deploy/rep_deploy_emu_arm64/emu_arm64:14/EMU/1:userdebug/test-keys",
    "ro.hardware": "qemu",
    "ro.kernel.qemu": "1",
    "ro.rep_deploy.emulated": "1",
    "ro.adb.secure": "0",
    "sys.boot_completed": "1",
}

# The sandbox path is pasted into shell text unquoted (device paths become host paths textually).
_SHELL_SAFE = re.compile(r"^[A-Za-z0-9_./+@%,:=-]+$")


class SandboxError(Exception):
    """The sandbox cannot be set up (unsafe path, qemu missing)."""


def find_qemu() -> str:
    """The absolute path of qemu-aarch64-static, or SandboxError naming the Debian package."""
    path = shutil.which(QEMU)
    if path is None:
        raise SandboxError(QEMU_PACKAGE_HINT)
    return path


def _getprop_script(props: dict[str, str]) -> str:
    listing = "\n".join(f"[{k}]: [{v}]" for k, v in sorted(props.items()))
    cases = "\n".join(f"  {shlex.quote(k)}) printf '%s\\n' {shlex.quote(v)} ;;" for k, v in sorted(props.items()))
    return (
        "#!/bin/sh\n"
        "# getprop of the rep-deploy emulated device: all properties, or one (with an optional default).\n"
        'if [ $# -eq 0 ]; then\n'
        "cat <<'__PROPS__'\n"
        f"{listing}\n"
        "__PROPS__\n"
        "exit 0\n"
        "fi\n"
        'case "$1" in\n'
        f"{cases}\n"
        '  *) printf \'%s\\n\' "${2-}" ;;\n'
        "esac\n"
    )


def _uname_script(host_uname: str) -> str:
    return (
        "#!/bin/sh\n"
        "# uname of the emulated device: the host kernel, an aarch64 machine.\n"
        f'out=$({shlex.quote(host_uname)} "$@") || exit $?\n'
        "printf '%s\\n' \"$out\" | sed 's/x86_64/aarch64/g'\n"
    )


def _sh_script(python: str, pythonpath: str, root: str, runner: str) -> str:
    # Translate `sh -c TEXT` and `sh SCRIPT` like the outer device command; everything else
    # (interactive, -s, options) goes to the host shell unchanged.
    translate = (f"PYTHONPATH={shlex.quote(pythonpath)} {shlex.quote(python)} -m rep_deploy.emulator.devshell "
                 f"{shlex.quote(root)} {shlex.quote(runner)}")
    return (
        "#!/bin/sh\n"
        "# sh of the emulated device: device paths and aarch64 programs work inside `sh -c` and scripts too.\n"
        'if [ "$1" = "-c" ] && [ $# -ge 2 ]; then\n'
        '  shift; text=$1; shift\n'
        f'  text=$({translate} "$text") || exit 126\n'
        '  exec /bin/sh -c "$text" "$@"\n'
        "fi\n"
        'if [ $# -ge 1 ] && [ -f "$1" ]; then\n'
        '  script=$1; shift\n'
        f'  text=$({translate} "$(cat "$script")") || exit 126\n'
        '  exec /bin/sh -c "$text" "$script" "$@"\n'
        "fi\n"
        'exec /bin/sh "$@"\n'
    )


def _runner_script(qemu: str, root: str) -> str:
    # od prints the first 20 bytes as 40 hex digits: ELF magic at 0..3, e_machine (LE u16) at 18..19;
    # 0x00b7 is EM_AARCH64. For a guest program the sandbox prefix is taken back out of its
    # arguments (the command text had device paths mapped for the host shell): qemu's -L resolves
    # the device paths, and the program sees and reports the same paths as on a phone.
    return (
        "#!/bin/sh\n"
        "# Run a device program: aarch64 ELF files through qemu-user with the sandbox as /,\n"
        "# #!/system/bin/sh scripts through the sandbox's sh, anything else directly.\n"
        f"R={shlex.quote(root)}\n"
        'if [ -f "$1" ] && [ -x "$1" ]; then\n'
        '  head=$(od -An -tx1 -N20 "$1" 2>/dev/null | tr -d \' \\n\')\n'
        '  case $head in\n'
        "    7f454c46????????????????????????????b700)\n"
        '      exe=$1; n=$#\n'
        '      for a do\n'
        '        out=\n'
        '        while :; do\n'
        '          case $a in\n'
        '            *"$R"/*) out=$out${a%%"$R"/*}/; a=${a#*"$R"/} ;;\n'
        '            *"$R") out=$out${a%"$R"}/; a= ;;\n'
        '            *) break ;;\n'
        '          esac\n'
        '        done\n'
        '        set -- "$@" "$out$a"\n'
        '      done\n'
        '      shift "$n"\n'
        '      argv0=$1; shift\n'
        f'      exec {shlex.quote(qemu)} -L "$R" -0 "$argv0" "$exe" "$@" ;;\n'
        '    23212f73797374656d2f62696e2f7368*) exec "$R"/system/bin/sh "$@" ;;\n'
        "  esac\n"
        "fi\n"
        'exec "$@"\n'
    )


@dataclass(frozen=True)
class Sandbox:
    """A phone-like root on the host and how to run device commands in it."""

    base: Path
    qemu: str

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def runner(self) -> Path:
        return self.base / "host" / "rdrun"

    @property
    def data_tmp(self) -> Path:
        """The host directory behind ``/data/local/tmp`` (the quota applies to it)."""
        return self.root / "data" / "local" / "tmp"

    @classmethod
    def create(cls, base: str | Path, *, cores: int = 4, qemu: str | None = None,
               props: dict[str, str] | None = None) -> Sandbox:
        """Lay out ``base`` (created if missing; existing device files are kept)."""
        base = Path(base).resolve()
        if not _SHELL_SAFE.match(str(base)):
            raise SandboxError(
                f"sandbox path {str(base)!r} has characters a shell would split; "
                "set REP_DEPLOY_EMULATOR_DIR to a plain path"
            )
        box = cls(base=base, qemu=qemu or find_qemu())
        for sub in ("data/local/tmp", "sdcard", "system/bin"):
            (box.root / sub).mkdir(parents=True, exist_ok=True)
        write_fake_cpu_tree(box.root, cores)
        host_uname = shutil.which("uname") or "/bin/uname"
        all_props = {**DEFAULT_PROPS, **(props or {})}
        scripts = {
            box.root / "system" / "bin" / "getprop": _getprop_script(all_props),
            box.root / "system" / "bin" / "uname": _uname_script(host_uname),
            box.runner: _runner_script(box.qemu, str(box.root)),
            box.root / "system" / "bin" / "sh": _sh_script(
                sys.executable, str(Path(__file__).resolve().parents[2]), str(box.root), str(box.runner)),
        }
        for path, text in scripts.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            path.chmod(0o755)
        return box

    def host_path(self, device_path: str) -> Path:
        """The host file behind an absolute (or root-relative) device path; ``..`` cannot leave the root."""
        norm = posixpath.normpath("/" + device_path.lstrip("/"))
        norm = norm.lstrip("/")
        return self.root / norm if norm and norm != "." else self.root

    def shell_command(self, device_command: str) -> str:
        """The host ``sh -c`` text that runs ``device_command`` on this device."""
        return translate(device_command, str(self.root), str(self.runner))

    def env(self, term: str | None = None) -> dict[str, str]:
        """A clean device-like environment (nothing of the daemon's own environment leaks in)."""
        host_path = os.environ.get("PATH") or "/usr/local/bin:/usr/bin:/bin"
        env = {
            "PATH": f"{self.root / 'system' / 'bin'}:{host_path}",
            "HOME": str(self.data_tmp),
            "TMPDIR": str(self.data_tmp),
            "ANDROID_ROOT": "/system",
            "ANDROID_DATA": "/data",
            "EXTERNAL_STORAGE": "/sdcard",
            "LANG": "C.UTF-8",
            "REP_DEPLOY_EMULATED": "1",
        }
        if term:
            env["TERM"] = term
        return env
