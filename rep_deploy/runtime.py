"""Where the ONNX Runtime custom-op library lives, and session options that load it.

The library (``runtimes/ort``, built by the package build into ``rep_deploy/_native/``) implements
the ``rep_deploy`` op domain for ORT's CPU provider. Without it ORT falls back to the ops' ONNX
function bodies: correct, but float convolutions instead of bit-packed ones.

Kernel selection: the library picks the fastest instruction set this CPU supports; the environment
variable ``REP_DEPLOY_KERNEL`` (``reference``, ``portable``, ``avx2``, ``avx512``, ``avx512vpopcnt``,
``neon``) forces one. It is read when ORT creates the op kernels, i.e. at ``InferenceSession(...)``
creation, so set it before creating a session; an unknown or unsupported value fails the session
creation with a message listing the valid choices.
"""
from __future__ import annotations

import ctypes
import importlib.metadata
import os
import pathlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx
    import onnxruntime

__all__ = ["LIBRARY_NAME", "KERNEL_ENV", "library_path", "kernel_path", "cache_line_round_trip_ns",
           "make_session_options", "session_model"]

LIBRARY_NAME = "librep_deploy_ort.so"
#: Environment variable that forces a kernel path (read at session creation).
KERNEL_ENV = "REP_DEPLOY_KERNEL"
#: Environment variable that points at a library built elsewhere (e.g. a sanitizer build).
LIBRARY_ENV = "REP_DEPLOY_ORT_LIBRARY"

_BUILD_HINT = ("Build it with the package: `bash scripts/setup.sh` from a clone (or "
               "`pip install --no-build-isolation -e .`; the build fetches the ONNX Runtime headers "
               "with runtimes/ort/fetch_ort_headers.sh), or point {env} at a built "
               "librep_deploy_ort.so.")


def _candidates() -> list[pathlib.Path]:
    """Install locations, most specific first.

    An editable install (scikit-build-core "redirect" mode) keeps the Python sources in the
    checkout and the CMake-installed library in site-packages; both directories are on the
    package's ``__path__``. The installed-files record of the distribution is the fallback.
    """
    import rep_deploy

    found = [pathlib.Path(p) / "_native" / LIBRARY_NAME for p in rep_deploy.__path__]
    try:
        files = importlib.metadata.files("rep-deploy") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    found += [pathlib.Path(str(f.locate())) for f in files if f.name == LIBRARY_NAME]
    return found


def library_path() -> pathlib.Path:
    """Absolute path of the built custom-op library.

    Returns:
        The path of ``librep_deploy_ort.so``: ``$REP_DEPLOY_ORT_LIBRARY`` when set, else the copy
        installed in the ``rep_deploy`` package.

    Raises:
        FileNotFoundError: the library was not built (or the override points nowhere); the
            message says how to build it.
    """
    override = os.environ.get(LIBRARY_ENV)
    if override:
        path = pathlib.Path(override).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"{LIBRARY_ENV}={override!r} is not a file. "
                                    + _BUILD_HINT.format(env=LIBRARY_ENV))
        return path
    candidates = _candidates()
    for path in candidates:
        if path.is_file():
            return path.resolve()
    looked = ", ".join(str(p) for p in candidates) or "(no install location found)"
    raise FileNotFoundError(f"{LIBRARY_NAME} not found (looked in {looked}). "
                            + _BUILD_HINT.format(env=LIBRARY_ENV))


def kernel_path() -> str:
    """The kernel path that sessions created now run (``avx512vpopcnt``, ``avx512``, ``avx2``,
    ``neon``, ``portable`` or ``reference``).

    Asked of the built library itself (its ``RepDeployKernelPath``), so it is the choice its
    dispatch makes on this CPU under the current ``REP_DEPLOY_KERNEL``, not a guess from Python.

    Raises:
        FileNotFoundError: the library is not built.
        RuntimeError: ``REP_DEPLOY_KERNEL`` forces a path that this build or CPU cannot run (the
            message is the one session creation would give).
    """
    lib = ctypes.CDLL(str(library_path()))
    query = lib.RepDeployKernelPath
    query.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    query.restype = ctypes.c_int
    buf = ctypes.create_string_buffer(512)
    if query(buf, len(buf)) != 0:
        raise RuntimeError(buf.value.decode())
    return buf.value.decode()


def cache_line_round_trip_ns(cpu_a: int, cpu_b: int, rounds: int = 20000) -> float:
    """How far apart two CPUs are: the round trip, in ns, of one cache line bounced between a thread
    pinned to ``cpu_a`` and one pinned to ``cpu_b`` (the median of 9 batches of ``rounds`` / 9).

    Measured by the built library (``RepDeployCacheLineRoundTrip``), in native threads. A cloud
    guest's vCPUs move between host cores: on an AMD EPYC Zen 4 guest the same two vCPUs measured
    50-80 ns (sharing an L3) and, for tens of seconds at a time, ~330 ns (not), and two-thread
    inference ran ~1.6x slower then, stock ONNX Runtime's alike. Multi-threaded timings record it
    (``benchmarks/bench_end_to_end.py``) so that such runs can be told apart.

    Raises:
        FileNotFoundError: the library is not built.
        RuntimeError: a CPU this process may not run on (see ``os.sched_getaffinity``), the same CPU
            twice, or a platform without thread pinning.
    """
    lib = ctypes.CDLL(str(library_path()))
    probe = lib.RepDeployCacheLineRoundTrip
    probe.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_double),
                      ctypes.c_char_p, ctypes.c_size_t]
    probe.restype = ctypes.c_int
    ns = ctypes.c_double(0.0)
    buf = ctypes.create_string_buffer(512)
    if probe(int(cpu_a), int(cpu_b), int(rounds), ctypes.byref(ns), buf, len(buf)) != 0:
        raise RuntimeError(buf.value.decode())
    return ns.value


def make_session_options(threads: int | None = None) -> onnxruntime.SessionOptions:
    """ORT session options with the custom-op library registered.

    Args:
        threads: intra-op thread count (the pool the BinaryConv kernels split their rows over);
            None keeps ORT's default (one thread per physical core).

    Returns:
        A fresh ``onnxruntime.SessionOptions``; pass it to ``onnxruntime.InferenceSession``.
    """
    import onnxruntime

    so = onnxruntime.SessionOptions()
    so.register_custom_ops_library(str(library_path()))
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        so.intra_op_num_threads = int(threads)
    return so


def session_model(model: str | os.PathLike[str] | onnx.ModelProto, path: str | None = None,
                  fuse_pairs: bool = True) -> str | bytes:
    """What to create an ONNX Runtime session from when it loads the kernel library.

    The graph with its block pairs linked (:mod:`rep_deploy.link_signs`: each BinaryConvBlock writes
    the next one's sign bits) and each block's two convs run as one node (:mod:`rep_deploy.block_pairs`;
    ``fuse_pairs=False`` leaves them linked), as bytes; outputs bit-identical. Fused, rep-reactnet-a
    and reactnet-a ran 2.6-4% faster at 1 thread on a VPOPCNTDQ Xeon (docs/speed_history.md, session 13),
    -3% / 0% by minimums on a Zen 3 (session 12). A file is read with
    :func:`rep_deploy.onnx_file.read_onnx`; when it has nothing to link, or keeps weights in external
    data (which only its path can resolve), its path comes back instead. ``path``: the file a
    ModelProto was read from, for the same fallback. Sessions without the library load the model as is.
    """
    import onnx

    from rep_deploy.block_pairs import fuse_block_pairs
    from rep_deploy.link_signs import link_signs
    from rep_deploy.onnx_file import read_onnx

    if isinstance(model, onnx.ModelProto):
        proto = model
    else:
        path = os.fspath(model)
        proto = read_onnx(path)
    external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    linked, done = link_signs(proto) if not external else (proto, None)
    if path is not None and not any(done or ()):
        return path
    return (fuse_block_pairs(linked)[0] if fuse_pairs else linked).SerializeToString()
