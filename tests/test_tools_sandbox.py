"""The python tool's sandbox against code that attacks it. Each case says what it proves; every
attack must end as an error (or harmless output) while this process carries on."""

import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from dentro.chat.tools import sandbox
from dentro.chat.tools.sandbox import run_python

REPO = Path(__file__).resolve().parents[1]
NAMESPACES = sandbox.isolation() == "namespaces"
needs_ns = pytest.mark.skipif(not NAMESPACES, reason="this machine forbids user namespaces: rlimits only")
FAST = {"timeout_s": 1, "memory_mb": 128, "max_output": 500}


def _sandbox_processes(runs: list[str]) -> int:
    """Processes on this machine still running one of these sandbox runs (their temp folders: the
    folder is in the command line of the run's python and of every process it forks). Only this
    test's own runs count, so a sandbox that another program runs at the same moment (a benchmark,
    a speedrun's tool stage) is not taken for one that escaped."""
    n = 0
    for p in Path("/proc").iterdir():
        try:
            cmdline = (p / "cmdline").read_bytes() if p.name.isdigit() else b""
        except OSError:
            continue
        n += any(run.encode() in cmdline for run in runs)
    return n


@pytest.fixture
def sandbox_runs(monkeypatch) -> list[str]:
    """The temp folders of the sandbox runs made during the test, in order."""
    runs, mkdtemp = [], tempfile.mkdtemp

    def recording(*args, **kwargs):
        runs.append(mkdtemp(*args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(sandbox, "tempfile", SimpleNamespace(mkdtemp=recording))
    return runs


def test_normal_code_gives_the_right_answer():  # proves: the sandbox still runs ordinary code
    r = run_python("print(12345*6789)\nimport math, json, re\nprint(math.comb(10, 3), json.dumps({'é': 1}))")
    assert r["ok"] and r["error"] is None
    assert r["stdout"].split("\n")[:2] == ["83810205", '120 {"\\u00e9": 1}']


def test_output_before_an_error_is_kept_and_the_error_is_the_last_traceback_line():
    r = run_python("print('partial')\n1/0", **FAST)
    assert not r["ok"] and r["stdout"] == "partial\n" and r["error"] == "ZeroDivisionError: division by zero"


def test_protections_are_reported():  # proves: the caller can see which layers are on
    p = sandbox.protections()
    assert p == run_python("pass")["protections"]
    assert any("rlimit CPU" in x for x in p) and any("rlimit memory" in x for x in p)
    assert any("network namespace" in x for x in p) == NAMESPACES
    assert any("NOT isolated" in x for x in p) == (not NAMESPACES)


ATTACKS = [
    # (id, code, what proves it was stopped: the error starts with this, or None: see `harmless`)
    pytest.param("while True: pass", "TimeoutError", id="cpu-loop: RLIMIT_CPU / wall kill"),
    pytest.param("import time; time.sleep(60)", "TimeoutError", id="sleep-forever: wall-time kill"),
    pytest.param("import os\nwhile True:\n    try: os.fork()\n    except OSError: pass", "TimeoutError",
                 id="fork-bomb: RLIMIT_NPROC, then the whole group/pid namespace killed"),
    pytest.param("x = bytearray(1 << 34)", "MemoryError", id="memory-bomb-one-block: RLIMIT_AS"),
    pytest.param("l = []\nwhile True: l.append(' ' * 10**6)", "MemoryError", id="memory-bomb-growing: RLIMIT_AS"),
    pytest.param("def f(): return f()\nf()", "RecursionError", id="deep-recursion: Python's recursion limit"),
    pytest.param("import ctypes; ctypes.string_at(0)", "Killed by SIGSEGV", id="ctypes-segfault: only the child dies"),
    pytest.param("open('big', 'wb').write(b'x' * (8 << 20))", "OSError: [Errno 27] File too large",
                 id="huge-file: RLIMIT_FSIZE"),
    pytest.param("import dentro", "ModuleNotFoundError", id="import-project: python -I -S, no site-packages"),
]


def test_a_run_in_progress_is_counted(sandbox_runs):  # proves: the check below can see a live sandbox
    done = threading.Thread(target=run_python, args=("import time; time.sleep(1.5)",), kwargs={"timeout_s": 3})
    done.start()
    seen, t0 = 0, time.time()
    while not seen and time.time() - t0 < 1.4:
        seen = _sandbox_processes(sandbox_runs) if sandbox_runs else 0
        time.sleep(0.05)
    done.join()
    assert seen >= 1 and _sandbox_processes(sandbox_runs) == 0


@pytest.mark.parametrize("code,error", ATTACKS)
def test_attack_is_stopped_with_an_error(code, error, sandbox_runs):
    r = run_python(code, **FAST)
    assert not r["ok"] and r["error"].startswith(error), r
    assert len(sandbox_runs) == 1 and _sandbox_processes(sandbox_runs) == 0  # nothing it started outlives the run


def test_huge_output_is_truncated():  # proves: stdout is capped (RLIMIT_FSIZE) and cut to max_output
    r = run_python("while True: print('x' * 1000)", **FAST)
    assert not r["ok"] and len(r["stdout"]) < 600 and "[output truncated" in r["stdout"]


def test_environment_secrets_are_not_visible(monkeypatch):  # proves: the child gets an empty environment
    monkeypatch.setenv("DENTRO_FAKE_SECRET", "hunter2-s3cr3t")
    r = run_python("import os; print(dict(os.environ))\n"
                   "try: print(open(f'/proc/{os.getppid()}/environ').read())\nexcept OSError as e: print(e)", **FAST)
    assert r["ok"] and "hunter2" not in r["stdout"] and "DENTRO_FAKE_SECRET" not in r["stdout"]


@needs_ns
@pytest.mark.parametrize("path", ["/etc/passwd", str(REPO / "pyproject.toml"), str(Path(__file__))],
                         ids=["etc-passwd", "repo-file", "this-test"])
def test_files_outside_are_hidden(path):  # proves: mount namespace, only /usr, /lib and Python visible
    r = run_python(f"print(open({path!r}).read())", **FAST)
    assert not r["ok"] and r["error"].startswith("FileNotFoundError") and r["stdout"] == ""


@needs_ns
def test_home_and_repo_folders_are_hidden():  # proves: no user files beyond Python's own install
    home, prefix = Path.home(), Path(os.path.realpath(sys.base_prefix))
    allowed = {prefix.relative_to(home).parts[0]} if prefix.is_relative_to(home) else set()
    r = run_python(f"import os\nfor d in [{str(home)!r}, {str(REPO)!r}, '/tmp']:\n"
                   "    try: print(sorted(os.listdir(d)))\n    except OSError as e: print('hidden')", **FAST)
    lines = r["stdout"].splitlines()
    assert r["ok"] and len(lines) == 3
    assert lines[0] == "hidden" or set(eval(lines[0])) <= allowed  # at most the folder holding Python
    assert lines[1] == "hidden" and lines[2] == "hidden"


@needs_ns
def test_writing_outside_the_temp_dir_fails(tmp_path):  # proves: read-only binds, host dirs not mounted
    target = tmp_path / "pwned"
    r = run_python(f"import os\nfor p in [{str(target)!r}, '/usr/pwned', '/pwned', {str(REPO / 'pwned')!r}]:\n"
                   "    try: open(p, 'w').write('x'); print('wrote', p)\n    except OSError as e: print(type(e).__name__)\n"
                   "open('ok.txt', 'w').write('fine'); print(open('ok.txt').read())", **FAST)
    assert r["ok"] and "wrote" not in r["stdout"] and r["stdout"].endswith("fine\n")
    assert not target.exists() and not (REPO / "pwned").exists() and not Path("/usr/pwned").exists()


@needs_ns
def test_network_is_off():  # proves: network namespace, even loopback to a server this process runs
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        r = run_python("import socket\nfor addr in [('127.0.0.1', %d), ('1.1.1.1', 80)]:\n"
                       "    try: socket.create_connection(addr, timeout=0.5); print('connected')\n"
                       "    except OSError as e: print(type(e).__name__)" % port, **FAST)
    finally:
        server.close()
    assert r["ok"] and "connected" not in r["stdout"], r


@needs_ns
def test_shell_and_subprocess_see_nothing():  # proves: child processes are inside the same sandbox
    r = run_python("import os, subprocess\nos.system('cat /etc/passwd; ls /root /work/main 2>&1')\n"
                   "print(subprocess.run(['ls', '/'], capture_output=True, text=True).stdout.split())", **FAST)
    assert "root:x:0" not in r["stdout"] and "pyproject.toml" not in r["stdout"] and "etc" not in r["stdout"]


@needs_ns
def test_no_privileges_and_no_escape():  # proves: capabilities dropped, no nested namespaces, no parent
    r = run_python(f"import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                   "print('unshare', libc.unshare(0x10000000))\n"  # CLONE_NEWUSER
                   "print('mount', libc.mount(b'none', b'/work', b'tmpfs', 0, None))\n"
                   "try: os.chroot('/work'); print('chroot ok')\nexcept OSError as e: print(type(e).__name__)\n"
                   f"try: os.kill({os.getpid()}, 9); print('killed parent')\nexcept OSError as e: print(type(e).__name__)",
                   **FAST)
    assert r["ok"], r
    assert r["stdout"].splitlines() == ["unshare -1", "mount -1", "PermissionError", "ProcessLookupError"]


# Machines without user namespaces: the rlimits-only fallback must still stop what rlimits can.
@pytest.mark.parametrize("code,error", [
    pytest.param("while True: pass", "TimeoutError", id="cpu-loop"),
    pytest.param("x = bytearray(1 << 34)", "MemoryError", id="memory-bomb"),
    pytest.param("import dentro", "ModuleNotFoundError", id="import-project"),
    pytest.param("open('big', 'wb').write(b'x' * (8 << 20))", "OSError: [Errno 27]", id="huge-file"),
])
def test_rlimits_fallback_stops_resource_attacks(code, error):
    r = run_python(code, mode="rlimits", **FAST)
    assert not r["ok"] and r["error"].startswith(error), r
    assert any("NOT isolated" in p for p in r["protections"])


def test_rlimits_fallback_runs_code_with_an_empty_environment(monkeypatch):
    monkeypatch.setenv("DENTRO_FAKE_SECRET", "hunter2-s3cr3t")
    r = run_python("import os; print(12345*6789, 'hunter2' in str(os.environ))", mode="rlimits", **FAST)
    assert r["ok"] and r["stdout"] == "83810205 False\n"
