"""Turn a device shell command into one the host's ``/bin/sh`` runs inside the sandbox.

The emulated device has no root file system of its own and no binfmt_misc handler may be assumed,
so a command such as ``cd /data/local/tmp/run && ./ld-linux-aarch64.so.1 --library-path . ./bench``
is rewritten in two steps before the host shell sees it:

1. device paths (``/data``, ``/sdcard``, ``/system``, ``/proc/cpuinfo``, ``/sys/devices/system/cpu``,
   and ``/`` standing alone) become the sandbox's host paths wherever they start a path, so ``cd``, ``rm -rf``, ``chmod``,
   redirections and program arguments all land in the sandbox. Guest programs that receive such a
   host path still find the file: qemu-user's ``-L ROOT`` only *prefers* ``ROOT/path`` and falls back
   to the path itself;
2. every word in command position that names a file by path (contains ``/``) is prefixed with the
   runner script, which execs aarch64 ELF files through ``qemu-aarch64-static -L ROOT`` and anything
   else directly. Bare names (``ls``, ``getprop``) are host programs or the sandbox's shims on PATH.

The scanner knows quoting, the control operators, redirections (whose targets are not commands),
assignments and the reserved words that keep command position, plus the usual command prefixes
(``exec``, ``nice``, ``env``, ``taskset MASK``, ``timeout DURATION``...). It does not descend into
``$(...)`` or backquotes and does not treat here-document bodies specially.
"""
from __future__ import annotations

import re
import shlex

__all__ = ["DEVICE_PREFIXES", "rewrite_paths", "wrap_commands", "translate"]

DEVICE_PREFIXES = ("/data", "/sdcard", "/system", "/proc/cpuinfo", "/sys/devices/system/cpu")

# A device prefix counts only where a path starts (not inside a longer host path or word) and only
# as a whole path component (``/database`` is not ``/data``).
_PATH_RE = re.compile(
    r"(?<![\w./~$-])(" + "|".join(re.escape(p) for p in DEVICE_PREFIXES) + r")(?![\w.-])"
)

_OPERATORS = ("&&", "||", ";;", "|&", ";", "&", "|", "(", ")", "\n")
_REDIRECT_RE = re.compile(r"\d*(?:<<-|<<|>>|>&|<&|<>|>\||>|<)")
_ASSIGNMENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
# Reserved words after which the next word is still a command.
_KEEP_POSITION = frozenset({"if", "then", "else", "elif", "do", "while", "until", "!", "{", "}"})
# Reserved words whose following words are not commands (until an operator).
_NOT_COMMANDS = frozenset({"for", "case", "select"})
# Command prefixes: how many positional arguments they take before the real command, and their
# options that take a separate value.
_PREFIXES: dict[str, tuple[int, frozenset[str]]] = {
    "exec": (0, frozenset({"-a"})),
    "nice": (0, frozenset({"-n", "--adjustment"})),
    "nohup": (0, frozenset()),
    "time": (0, frozenset()),
    "command": (0, frozenset()),
    "env": (0, frozenset({"-u", "--unset", "-C", "--chdir"})),
    "taskset": (1, frozenset()),
    "timeout": (1, frozenset({"-s", "--signal", "-k", "--kill-after"})),
    "chrt": (1, frozenset()),
}
_WORD_END = " \t\n;&|()<>"


# The device's "/" itself, as a word of its own (``ls /``, ``cd /``).
_ROOT_RE = re.compile(r"""(?<![^\s'"=;&|(<>])/(?=$|[\s'";&|)<>])""")


def rewrite_paths(command: str, root: str) -> str:
    """Replace every device path prefix in ``command`` (and a lone ``/``) by the same path under ``root``."""
    root = root.rstrip("/")
    command = _PATH_RE.sub(lambda m: root + m.group(1), command)
    return _ROOT_RE.sub(lambda _m: root + "/", command)


def _scan_word(text: str, i: int) -> int:
    """End index of the shell word starting at ``i`` (quotes, escapes, ``$(..)``, ``${..}``, backquotes)."""
    n = len(text)
    while i < n:
        c = text[i]
        if c in _WORD_END:
            return i
        if c == "\\":
            i += 2
        elif c == "'":
            end = text.find("'", i + 1)
            i = n if end < 0 else end + 1
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
        elif c == "`":
            end = text.find("`", i + 1)
            i = n if end < 0 else end + 1
        elif c == "$" and i + 1 < n and text[i + 1] in "({":
            opening = text[i + 1]
            closing = ")" if opening == "(" else "}"
            depth, i = 0, i + 1
            while i < n:
                ch = text[i]
                if ch == opening:
                    depth += 1
                elif ch == closing:
                    depth -= 1
                    if depth == 0:
                        break
                elif ch in "'\"":
                    end = text.find(ch, i + 1)
                    i = n - 1 if end < 0 else end
                i += 1
            i += 1
        else:
            i += 1
    return min(i, n)


class _Scanner:
    """Command-position bookkeeping for one command line."""

    def __init__(self, runner: str) -> None:
        self.runner = runner
        self.reset()

    def reset(self) -> None:
        """After a control operator: the next word is a command again."""
        self.expect_command = True
        self.redirect_target = False
        self.prefix: tuple[int, frozenset[str]] | None = None  # inside "taskset f0 ..." etc.
        self.skip_value = False  # the next word is the value of a prefix command's option

    def word(self, word: str) -> str:
        """The text to emit for ``word``."""
        if self.redirect_target:
            self.redirect_target = False
            return word
        if not self.expect_command:
            return word
        if self.prefix is not None:
            positional, valued = self.prefix
            if self.skip_value:
                self.skip_value = False
                return word
            if word.startswith("-"):
                self.skip_value = word in valued
                return word
            if _ASSIGNMENT_RE.match(word):
                return word
            if positional:
                self.prefix = (positional - 1, valued)
                return word
            self.prefix = None
        elif _ASSIGNMENT_RE.match(word) or word in _KEEP_POSITION:
            return word
        elif word in _NOT_COMMANDS:
            self.expect_command = False
            return word
        elif word in _PREFIXES:
            self.prefix = _PREFIXES[word]
            return word
        self.expect_command = False
        return f"{self.runner} {word}" if "/" in word else word


def wrap_commands(command: str, runner: str) -> str:
    """Prefix each command word that is a path with ``runner`` (already shell-quoted by the caller)."""
    out: list[str] = []
    scanner = _Scanner(runner)
    i, n = 0, len(command)
    while i < n:
        c = command[i]
        if c in " \t":
            out.append(c)
            i += 1
            continue
        if command.startswith("\\\n", i):
            out.append("\\\n")
            i += 2
            continue
        if c == "#" and (i == 0 or command[i - 1] in " \t\n;&|()"):
            end = command.find("\n", i)
            end = n if end < 0 else end
            out.append(command[i:end])
            i = end
            continue
        op = next((o for o in _OPERATORS if command.startswith(o, i)), None)
        if op is not None:
            out.append(op)
            i += len(op)
            scanner.reset()
            continue
        redirect = _REDIRECT_RE.match(command, i)
        if redirect is not None:
            out.append(redirect.group(0))
            i = redirect.end()
            if i < n and command[i] not in " \t\n;&|()":
                end = _scan_word(command, i)
                out.append(command[i:end])
                i = end
            else:
                scanner.redirect_target = True
            continue
        end = max(_scan_word(command, i), i + 1)
        out.append(scanner.word(command[i:end]))
        i = end
    return "".join(out)


def translate(command: str, root: str, runner: str) -> str:
    """The host ``sh -c`` text for a device command: paths into ``root``, path commands via ``runner``."""
    return wrap_commands(rewrite_paths(command, root), shlex.quote(runner))


def main(argv: list[str] | None = None) -> int:
    """``python -m rep_deploy.emulator.devshell ROOT RUNNER TEXT``: print the translation of TEXT.

    The sandbox's ``/system/bin/sh`` uses this so that ``sh -c '...'`` inside a device command (and
    scripts run with it) get the same path mapping and qemu routing as the outer command.
    """
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m rep_deploy.emulator.devshell ROOT RUNNER TEXT", file=sys.stderr)
        return 2
    root, runner, text = args
    sys.stdout.write(translate(text, root, runner))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
