"""An emulated arm64 Android-like device that the real ``adb`` server talks to (tests and users without a phone).

A background daemon speaks adbd's side of the adb protocol on a loopback port; ``adb connect
127.0.0.1:PORT`` makes it a device like any other (``adb devices``, ``shell``, ``push``, ``pull``).
Commands run in a sandbox directory laid out like a phone (``/data/local/tmp``, no glibc in ``/lib``)
and aarch64 programs run under ``qemu-aarch64-static`` with a fake arm64 CPU description.

Modules, one concern each:

- ``protocol``: message framing and constants;
- ``adbd``: the TCP transport (CNXN, streams, flow control) and service dispatch;
- ``services``: the device's banner and which handler serves an OPEN;
- ``shell``: ``shell:``, ``shell,v2,...:`` and ``exec:``;
- ``sync``: ``sync:`` (STAT/STA2/LST2/LIST/LIS2/SEND/SND2/RECV/RCV2/QUIT);
- ``sandbox`` and ``devshell``: the phone-like root and how device commands run in it;
- ``fake_cpu``: ``/proc/cpuinfo`` and ``/sys/devices/system/cpu`` for ONNX Runtime under qemu;
- ``faults``: fault injection (full disk, unplug mid-push, crash mid-run);
- ``daemon``: start/stop/status of the background process and its adb connection;
- ``cli``: ``rep-deploy emulator start | stop | status``; ``__main__``: the daemon entry point.

Nothing is imported here, so ``import rep_deploy.emulator`` stays cheap.
"""
