"""The python tool: run model-written code in a sandbox and return its output.

Layers, strongest first (docs/tools.md has the threat model):

    namespaces  `unshare` puts the code in new user, network, pid, mount, ipc and uts
                namespaces. A trusted prelude (_PRELUDE, runs inside) builds a new root on a
                small tmpfs holding only /usr, /lib*, /bin and the Python install, read-only;
                no /etc, /home, /root (beyond Python's own folder), repo, /proc or /dev
                besides null/zero/urandom; /work is a fresh tmpfs. It moves into that root,
                forbids nested user namespaces, drops every capability (bounding set too),
                sets no_new_privs, then the rlimits, then execs `python -I -S main.py`.
    rlimits     machines that forbid user namespaces: the same prelude without the mounts;
                only the rlimits, the clean environment and the temp dir protect the machine.

Always: a separate process in its own session (the wall-time kill takes its process group),
an empty environment, `python -I -S` (no site-packages, no PYTHON* variables, no cwd on
sys.path, so `import dentro` fails), stdout/stderr into files capped by RLIMIT_FSIZE and
truncated to max_output characters, a temp dir deleted afterwards.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Runs inside the sandbox as `python -I -S -c _PRELUDE CONFIG_JSON`, before the user's code.
# It is trusted code: it may use ctypes; the user's code starts only at the final execve.
_PRELUDE = r"""
import ctypes, json, os, resource, sys
cfg = json.loads(sys.argv[1])
if cfg["mount"]:
    libc = ctypes.CDLL(None, use_errno=True)
    MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT = 1, 2, 4, 32
    MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 4096, 8192, 16384, 1 << 18
    def mount(src, dst, fstype, flags, data=None):
        enc = lambda s: None if s is None else s.encode()
        if libc.mount(enc(src), enc(dst), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "mount %s on %s: %s" % (src, dst, os.strerror(e)))
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks to the host
    new = cfg["root"]
    mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    for src in cfg["binds"]:  # read-only views of what Python needs
        dst = new + src
        if os.path.islink(src):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.symlink(os.readlink(src), dst)
        elif os.path.isdir(src):
            os.makedirs(dst, exist_ok=True)
            mount(src, dst, None, MS_BIND | MS_REC)
            mount(None, dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.makedirs(new + "/dev")
    for dev in ("null", "zero", "urandom"):
        open(new + "/dev/" + dev, "w").close()
        mount("/dev/" + dev, new + "/dev/" + dev, None, MS_BIND)
    os.makedirs(new + "/work")
    mount("tmpfs", new + "/work", "tmpfs", MS_NOSUID | MS_NODEV, "size=%dk,mode=777" % cfg["work_kb"])
    code = open(cfg["code"], "rb").read()
    with open(new + "/work/main.py", "wb") as f:
        f.write(code)
    # No nested user namespaces: a nested one would hand the code its capabilities back.
    os.makedirs(new + "/proc")
    mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV)
    with open(new + "/proc/sys/user/max_user_namespaces", "w") as f:
        f.write("0")
    if libc.umount2((new + "/proc").encode(), 2) != 0:  # MNT_DETACH; no /proc for the code
        raise OSError(ctypes.get_errno(), "umount /proc")
    os.chdir(new)
    mount(new, "/", None, MS_MOVE)
    os.chroot(".")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir("/work")
    # Drop every capability: the bounding set (so execve gives none back), then the sets.
    cap = 0
    while libc.prctl(24, cap, 0, 0, 0) == 0:  # PR_CAPBSET_DROP
        cap += 1
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
    if libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "no_new_privs")
    main = "main.py"
else:
    main = cfg["code"]
for name, (soft, hard) in cfg["limits"].items():
    resource.setrlimit(getattr(resource, name), (soft, hard))
os.execve(cfg["python"], [cfg["python"], "-I", "-S", main], cfg["env"])
"""

_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/work"}
_NS_FLAGS = ["--user", "--map-root-user", "--net", "--pid", "--mount", "--ipc", "--uts", "--fork", "--kill-child"]
_MAX_PROCS = 16  # processes and threads the code may have at once (RLIMIT_NPROC)
_MAX_FILE = 1 << 20  # bytes, any one file the code writes, its stdout and stderr included


def _python() -> str:
    return os.path.realpath(sys.executable)  # a venv's python is a link to the base install


def _binds() -> list[str]:
    paths = ["/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"]
    prefix = os.path.realpath(sys.base_prefix)
    if not any(prefix == p or prefix.startswith(p + "/") for p in paths):
        paths.append(prefix)  # e.g. /root/.pyenv/versions/3.11.7: only that folder, not /root
    return [p for p in paths if os.path.lexists(p)]


def _protections(isolation: str) -> list[str]:
    common = ["separate process (python -I -S: no site-packages, no PYTHON* variables)",
              "empty environment", "fresh temp dir, deleted afterwards",
              "wall-time kill of the process group", "rlimit CPU time", "rlimit memory (address space)",
              "rlimit file size (1 MB)", "output truncated"]
    if isolation == "namespaces":
        return common + [
            "rlimit processes (16)",
            "network namespace: no network",
            "mount namespace: read-only /usr, /lib and Python only; no /etc, home, repo or /proc",
            "pid namespace: sees and signals only itself; all its processes die with it",
            "ipc and uts namespaces", "all capabilities dropped, no_new_privs, no nested user namespaces"]
    if os.geteuid() != 0:  # root bypasses RLIMIT_NPROC outside a user namespace
        common.append("rlimit processes (this user's count + 16)")
    return common + ["NOT isolated: network, files readable by this user, other processes"]


def _limits(isolation: str, timeout_s: float, memory_mb: int) -> dict:
    nproc = _MAX_PROCS
    if isolation != "namespaces":  # outside a user namespace RLIMIT_NPROC counts all the user's processes
        uid = os.getuid()
        nproc += sum(1 for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid)
    cpu_s = max(1, int(timeout_s + 0.999))
    limits = {"RLIMIT_CPU": cpu_s, "RLIMIT_AS": memory_mb << 20, "RLIMIT_NPROC": nproc,
              "RLIMIT_FSIZE": _MAX_FILE, "RLIMIT_NOFILE": 64, "RLIMIT_CORE": 0}
    limits = {name: (value, value) for name, value in limits.items()}
    limits["RLIMIT_CPU"] = (cpu_s, cpu_s + 1)  # SIGXCPU at the soft limit; at the hard one, SIGKILL
    return limits


def _owner(p: Path) -> int:
    try:
        return p.stat().st_uid
    except OSError:
        return -1


def _command(isolation: str, config: dict) -> list[str]:
    inner = [_python(), "-I", "-S", "-c", _PRELUDE, json.dumps(config)]
    return (["unshare", *_NS_FLAGS, "--", *inner]) if isolation == "namespaces" else inner


def _run(code: str, isolation: str, timeout_s: float, memory_mb: int, max_output: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="dentro-sandbox-"))
    try:
        (tmp / "main.py").write_text(code, encoding="utf-8")
        (tmp / "root").mkdir()
        (tmp / "work").mkdir()  # the code's cwd without namespaces; a tmpfs replaces it with them
        config = {"mount": isolation == "namespaces", "root": str(tmp / "root"), "binds": _binds(),
                  "code": str(tmp / "main.py"), "work_kb": 4 * _MAX_FILE >> 10, "python": _python(),
                  "env": _ENV, "limits": _limits(isolation, timeout_s, memory_mb)}
        with open(tmp / "stdout", "wb") as out, open(tmp / "stderr", "wb") as err:
            proc = subprocess.Popen(_command(isolation, config), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err, cwd=tmp / "work", env=_ENV, start_new_session=True)
            timed_out = False
            try:
                proc.wait(timeout=timeout_s + 0.5)  # + the namespace setup, ~50 ms
            except subprocess.TimeoutExpired:
                timed_out = True
            _kill_group(proc)
        stdout = _read(tmp / "stdout", max_output)
        stderr = _read(tmp / "stderr", 16_000)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    error = None if proc.returncode == 0 and not timed_out else _error(proc.returncode, timed_out, stderr, timeout_s)
    return {"ok": error is None, "stdout": stdout, "error": error, "protections": _protections(isolation)}


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL what is left of the run's process group and wait until it is gone (at most 2 s):
    in a pid namespace the kernel kills the rest when its pid 1 dies, but not instantly."""
    for i in range(200):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            break
        if i == 0:
            proc.wait()  # reap the leader, else its zombie keeps the group alive
        time.sleep(0.01)
    proc.wait()


def _read(path: Path, max_chars: int) -> str:
    size = path.stat().st_size
    with open(path, "rb") as f:
        text = f.read(4 * max_chars).decode("utf-8", errors="replace")
    if len(text) > max_chars or size > 4 * max_chars:
        text = text[:max_chars] + f"\n... [output truncated: {size} bytes in all]"
    return text


def _error(returncode: int, timed_out: bool, stderr: str, timeout_s: float) -> str:
    """A short error: the last line of the traceback, or what the kernel did."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    # unshare reports a signalled child as 128 + signal; a direct child as -signal
    sig = -returncode if returncode < 0 else returncode - 128 if returncode > 128 and not lines else 0
    if timed_out or sig == signal.SIGXCPU:
        return f"TimeoutError: ran past {timeout_s:g} s"
    if sig == signal.SIGXFSZ:
        return f"OutputError: wrote more than the {_MAX_FILE >> 20} MB file limit"
    if lines:
        return lines[-1][:300]
    if sig:
        return f"Killed by {signal.Signals(sig).name}" if sig in signal.valid_signals() else f"Killed by signal {sig}"
    return f"exit status {returncode}"


@functools.cache
def isolation() -> str:
    """The strongest isolation this machine allows: "namespaces" or "rlimits"."""
    if shutil.which("unshare") is None:
        return "rlimits"
    probe = _run("print('ok')", "namespaces", timeout_s=5, memory_mb=256, max_output=100)
    return "namespaces" if probe["ok"] and probe["stdout"].strip() == "ok" else "rlimits"


def protections() -> list[str]:
    """What protects the machine from the code on this machine, in words."""
    return _protections(isolation())


def run_python(code: str, timeout_s: float = 5, memory_mb: int = 256, max_output: int = 4000,
               *, mode: str | None = None) -> dict:
    """Run code, return {"ok", "stdout", "error", "protections"}. mode forces "namespaces" or
    "rlimits" (tests); by default the strongest the machine allows."""
    mode = mode or isolation()
    assert mode in ("namespaces", "rlimits"), f"unknown sandbox mode {mode!r}"
    return _run(code, mode, timeout_s, memory_mb, max_output)
