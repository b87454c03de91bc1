"""Run a submission's Jupyter kernel inside bubblewrap (Debian package ``bubblewrap``).

What the kernel sees (everything else of the host does not exist for it):

- read-only: the system (``/usr``, the ``/bin``, ``/lib`` links, a few files of ``/etc``), the Python
  installation and the virtual environment, and the packages learners are given anyway
  (``coursekit``, ``widgets``). Not the repository, so not ``solutions/``, not the course root
  (``source/``, ``release/``, ``submitted/``, ``autograded/``, ``gradebook.db``), not other students.
- writable: its working directory, a size-capped tmpfs holding a scratch copy of its own
  submission's files (notebooks left out: the autograded notebook holds the hidden tests), a
  private ``/tmp`` and ``/dev/shm`` (tmpfs with a size cap), and the folder of its ZMQ sockets.
  Nothing it writes reaches the host's disk except in-place changes to its scratch copies.
- no network: a new network namespace with only its own loopback. The kernel therefore talks to
  nbgrader over ZMQ's ``ipc`` transport (unix sockets in the bound socket folder), not TCP.
- its own PID namespace (it sees only its own processes; when the sandbox ends, all of them die)
  and rlimits: CPU seconds, address space, processes, file size, open files, no core dumps.
- an unprivileged user. When the grader runs as root, bwrap keeps only CAP_SETUID/CAP_SETGID for
  ``setpriv``, which switches to a uid of its own (one per concurrently running sandbox, so a fork
  bomb in one sandbox cannot exhaust the process limit of another; root would ignore RLIMIT_NPROC).
  As an ordinary user, bwrap makes a user namespace instead.
"""
from __future__ import annotations

import fcntl
import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Enum, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

HOOKS = Path(__file__).with_name("kernel_hooks.py")
WORKDIR = "/home/learner/work"
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "nsswitch.conf",
             "ssl", "ca-certificates", "alternatives", "mime.types", "fonts")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxError(RuntimeError):
    """The sandbox is required but cannot be used; the message says why and what to install."""


class Sandbox(LoggingConfigurable):
    """Settings of the kernel sandbox (``c.Sandbox.<name>`` in nbgrader_config.py)."""

    mode = Enum(["auto", "required", "off"], "auto", help=(
        "required: refuse to run student code without the sandbox; auto: use it when bubblewrap "
        "works, else run unsandboxed with a warning; off: never (trusted code only).")).tag(config=True)
    cpu_seconds = Integer(600, help="CPU time limit of each kernel process (RLIMIT_CPU)").tag(config=True)
    memory_mb = Integer(4096, help="Address-space limit of each kernel process (RLIMIT_AS)").tag(config=True)
    processes = Integer(128, help="Processes and threads of the sandbox user (RLIMIT_NPROC)").tag(config=True)
    file_size_mb = Integer(256, help="Largest file the kernel may write (RLIMIT_FSIZE)").tag(config=True)
    tmp_mb = Integer(256, help="Size of the sandbox's private /tmp and /dev/shm").tag(config=True)
    work_mb = Integer(512, help="Size of the working directory (a tmpfs with the submission's files)").tag(config=True)
    threads = Integer(1, help="OMP/MKL/torch threads inside the kernel (parallel graders share the cores)").tag(config=True)
    learner_packages = List(Unicode(), ["coursekit", "widgets"], help=(
        "Importable packages the kernel may read (learners have them anyway). Never solutions.")).tag(config=True)
    readonly_paths = List(Unicode(), [], help="Extra host paths bound read-only").tag(config=True)
    forbidden_paths = List(Unicode(), [], help=(
        "Host paths that must stay invisible (checked: no bound path may contain them). The course "
        "root and the solutions package are always forbidden.")).tag(config=True)
    uid_base = Integer(62000, help="First uid used for sandboxes when the grader runs as root").tag(config=True)
    uid_count = Integer(1000).tag(config=True)
    run_root = Unicode("", help="Folder for per-kernel scratch folders (default: the system temp dir)").tag(config=True)
    bwrap = Unicode("bwrap", help="The bubblewrap executable").tag(config=True)

    def active(self) -> bool:
        """Whether kernels run sandboxed; raises SandboxError when required but unavailable."""
        if self.mode == "off":
            return False
        ok, why = probe(self.bwrap)
        if ok:
            return True
        if self.mode == "required":
            raise SandboxError(why)
        self.log.warning("Running student code WITHOUT a sandbox: %s", why)
        return False


@functools.lru_cache(maxsize=None)
def probe(bwrap: str = "bwrap") -> tuple[bool, str]:
    """(True, '') if bubblewrap can make a sandbox here, else (False, reason with the fix)."""
    exe = shutil.which(bwrap)
    if not exe:
        return False, ("bubblewrap is not installed: `sudo apt-get install bubblewrap` "
                       "(scripts/ensure-system-deps.sh installs it when run as root)")
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        return False, "setpriv (util-linux) is missing"
    # The options the real sandbox needs (--perms/--size: bubblewrap >= 0.5; Debian 12 has 0.8).
    cmd = [exe, *system_binds(), "--unshare-pid", "--unshare-net", "--die-with-parent", "--new-session",
           "--perms", "1777", "--size", "1048576", "--tmpfs", "/tmp"]
    if os.geteuid() != 0:
        cmd.append("--unshare-user")
    else:
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    proc = subprocess.run([*cmd, "--", "/bin/sh", "-c", "exit 0"], capture_output=True, text=True)
    if proc.returncode != 0:
        return False, f"bubblewrap cannot create a sandbox here: {proc.stderr.strip() or proc.returncode}"
    return True, ""


@functools.lru_cache(maxsize=None)
def supports(bwrap: str, option: str) -> bool:
    """Whether this bubblewrap knows ``option`` (e.g. --disable-userns, new in 0.8)."""
    proc = subprocess.run([shutil.which(bwrap) or bwrap, "--help"], capture_output=True, text=True)
    return option in proc.stdout + proc.stderr


def system_binds() -> list[str]:
    args = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for name in ETC_FILES:
        p = os.path.join("/etc", name)
        if os.path.exists(p):
            args += ["--ro-bind", p, p]
    return args


def package_dir(name: str) -> str | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.realpath(list(spec.submodule_search_locations)[0])


def python_dirs() -> list[str]:
    dirs = []
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        for q in (p, os.path.realpath(p)):
            if q not in dirs:
                dirs.append(q)
    return dirs


def _contains(parent: str, child: str) -> bool:
    parent, child = os.path.realpath(parent), os.path.realpath(child)
    return child == parent or child.startswith(parent.rstrip("/") + "/")


def sweep_stale(root: str, max_age_without_owner: float = 3600.0) -> None:
    """Remove the scratch folders of sandboxes whose grader died (killed with SIGKILL, say)."""
    import time
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if not name.startswith("kernel-") or not os.path.isdir(path):
            continue
        owner = os.path.join(path, ".owner")
        try:
            fd = os.open(owner, os.O_RDWR)
        except FileNotFoundError:
            try:
                if time.time() - os.path.getmtime(path) > max_age_without_owner:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # alive
        finally:
            os.close(fd)
        shutil.rmtree(path, ignore_errors=True)


class _UidLease:
    """An exclusive uid for one sandbox, held with a lock file for the sandbox's lifetime."""

    def __init__(self, base: int, count: int):
        lock_dir = Path(tempfile.gettempdir()) / "autograder-sandbox-uids"
        lock_dir.mkdir(mode=0o700, exist_ok=True)
        start = os.getpid() % count  # spread the search; any free uid will do
        for i in range(count):
            uid = base + (start + i) % count
            fd = os.open(lock_dir / str(uid), os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # per open file: also between threads
            except OSError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return
        raise SandboxError(f"no free sandbox uid in {base}..{base + count - 1}")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SandboxedKernel:
    """The host-side resources of one sandboxed kernel: scratch folder, socket folder, uid."""

    def __init__(self, settings: Sandbox, submission_dir: str | None, course_root: str | None = None,
                 course_source: str | None = None):
        self.settings = settings
        # One scratch root per grading user: a root made by another user's grader (root's, say) would
        # refuse this one (found by the JupyterHub class test, where an instructor and root both grade).
        root = settings.run_root or os.path.join(tempfile.gettempdir(), f"autograder-sandbox-{os.geteuid()}")
        os.makedirs(root, mode=0o711, exist_ok=True)
        sweep_stale(root)
        self.run_dir = tempfile.mkdtemp(prefix="kernel-", dir=root)
        os.chmod(self.run_dir, 0o711)
        # Held while this sandbox lives; a folder whose lock is free belongs to a dead grader.
        self._owner = os.open(os.path.join(self.run_dir, ".owner"), os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._owner, fcntl.LOCK_EX)
        self.work = os.path.join(self.run_dir, "work")
        self.conn = os.path.join(self.run_dir, "conn")
        self.lease = _UidLease(settings.uid_base, settings.uid_count) if os.geteuid() == 0 else None
        self.uid = self.lease.uid if self.lease else os.getuid()
        self.gid = self.uid if self.lease else os.getgid()
        os.mkdir(self.conn, 0o700)
        os.mkdir(self.work)
        if submission_dir and os.path.isdir(submission_dir):
            self._copy_submission(submission_dir, root)
        os.chmod(self.work, 0o700)
        self.forbidden = [p for p in [course_root, course_source, package_dir("solutions") if importlib.util.find_spec("solutions") else None,
                                      *settings.forbidden_paths] if p]
        if self.lease:
            for base, dirs, files in os.walk(self.run_dir):
                for name in [*dirs, *files]:
                    os.lchown(os.path.join(base, name), self.uid, self.gid)
            self._write_identity()

    def _copy_submission(self, src: str, run_root: str, max_bytes: int = 200 * 2**20, max_files: int = 2000) -> None:
        """The scratch copy: the submission's own files, without notebooks (the autograded notebook
        next to them holds the hidden tests), hidden entries and symlinks, within size limits."""
        total = count = 0
        for base, dirs, files in os.walk(src):
            dirs[:] = [d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(base, d))
                       and not _contains(os.path.join(base, d), run_root)
                       and not _contains(run_root, os.path.join(base, d))]
            rel = os.path.relpath(base, src)
            for name in files:
                path = os.path.join(base, name)
                if name.startswith(".") or name.endswith(".ipynb") or os.path.islink(path):
                    continue
                size = os.path.getsize(path)
                if total + size > max_bytes or count >= max_files:
                    return
                dest = os.path.normpath(os.path.join(self.work, rel, name))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copyfile(path, dest)
                total, count = total + size, count + 1

    def _write_identity(self) -> None:
        """A passwd/group for the sandbox: the learner user and nothing of the host's."""
        etc = os.path.join(self.run_dir, "etc")
        os.mkdir(etc, 0o755)
        with open(os.path.join(etc, "passwd"), "w") as f:
            f.write(f"root:x:0:0::/nonexistent:/usr/sbin/nologin\nlearner:x:{self.uid}:{self.gid}::/home/learner:/bin/sh\n")
        with open(os.path.join(etc, "group"), "w") as f:
            f.write(f"root:x:0:\nlearner:x:{self.gid}:\n")

    def readonly_dirs(self) -> list[str]:
        dirs = python_dirs()
        for name in self.settings.learner_packages:
            d = package_dir(name)
            if d:
                dirs.append(d)
        dirs += [os.path.realpath(p) for p in self.settings.readonly_paths]
        for d in dirs:
            for f in self.forbidden:
                if _contains(d, f):
                    raise SandboxError(f"refusing to bind {d} into the sandbox: it contains {f}")
        return dirs

    def wrap(self, cmd: list[str]) -> list[str]:
        s = self.settings
        made: set[str] = {"/"}

        def bind(kind: str, src: str, dest: str) -> list[str]:
            # bwrap creates missing parents with mode 0700, which the sandbox user could not
            # traverse: create them 0755 first.
            out, parents = [], []
            parent = os.path.dirname(dest)
            while parent not in made:
                parents.append(parent)
                parent = os.path.dirname(parent)
            for d in reversed(parents):
                out += ["--perms", "0777" if _contains(WORKDIR, d) else "0755", "--dir", d]
                made.add(d)
            made.add(dest)
            return out + [kind, src, dest]

        tmp_bytes = str(s.tmp_mb * 2**20)
        venv_bin = os.path.join(sys.prefix, "bin")
        args = [shutil.which(s.bwrap) or s.bwrap, "--die-with-parent", "--new-session",
                "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--hostname", "sandbox", *system_binds()]
        # The private /tmp comes before the read-only binds: the repository or its .venv may live
        # under /tmp (a CI clone), and a tmpfs mounted later would hide them.
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", "--size", tmp_bytes, "--tmpfs", "/tmp",
                 "--perms", "1777", "--size", tmp_bytes, "--tmpfs", "/dev/shm"]
        made.update({"/proc", "/dev", "/tmp", "/dev/shm"})
        for d in self.readonly_dirs():
            args += bind("--ro-bind", d, d)
        # The working directory is a size-capped tmpfs (what the kernel writes costs no host disk
        # and vanishes with the sandbox) holding the scratch copy's files, bound one by one.
        args += bind("--perms", "0777", WORKDIR)[:-3] + ["--perms", "0777", "--size", str(s.work_mb * 2**20),
                                                        "--tmpfs", WORKDIR]
        for base, _, files in os.walk(self.work):
            for name in sorted(files):
                host = os.path.join(base, name)
                args += bind("--bind", host, os.path.join(WORKDIR, os.path.relpath(host, self.work)))
        args += bind("--bind", self.conn, self.conn)
        args += bind("--ro-bind", str(HOOKS), "/opt/autograder/autograder_kernel_hooks.py")
        args += ["--chdir", WORKDIR, "--clearenv"]
        env = {"PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": WORKDIR, "LANG": "C.UTF-8",
               "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": "/opt/autograder",
               "MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": str(s.threads), "MKL_NUM_THREADS": str(s.threads),
               "OPENBLAS_NUM_THREADS": str(s.threads), "PLOTLY_RENDERER": "plotly_mimetype",
               "IPYTHONDIR": "/tmp/.ipython", "MPLCONFIGDIR": "/tmp/.matplotlib", "XDG_CACHE_HOME": "/tmp/.cache",
               "NBGRADER_EXECUTION": "autograde", "AUTOGRADER_SANDBOX": "1",
               "JPY_PARENT_PID": "1"}  # 1: no parent poller (the PID namespace ends the kernel anyway)
        for k, v in env.items():
            args += ["--setenv", k, v]
        limits = ["prlimit", f"--cpu={s.cpu_seconds}:{s.cpu_seconds + 5}",
                  f"--as={s.memory_mb * 2**20}", f"--nproc={s.processes}",
                  f"--fsize={s.file_size_mb * 2**20}", "--nofile=1024", "--core=0", "--"]
        if self.lease:
            etc = os.path.join(self.run_dir, "etc")
            args += ["--ro-bind", os.path.join(etc, "passwd"), "/etc/passwd",
                     "--ro-bind", os.path.join(etc, "group"), "/etc/group",
                     "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--"]
            args += limits + ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                              "--inh-caps=-all", "--"]
        else:
            args += ["--unshare-user"] + (["--disable-userns"] if supports(s.bwrap, "--disable-userns") else [])
            args += ["--"] + limits
        return args + cmd

    def chown_connection_file(self, path: str) -> None:
        if self.lease and os.path.exists(path):
            os.chown(path, self.uid, self.gid)
            os.chmod(path, 0o400)

    def cleanup(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)
        if self._owner is not None:
            os.close(self._owner)
            self._owner = None
        if self.lease:
            self.lease.release()


class SandboxKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel runs in a :class:`SandboxedKernel` over the ipc transport.

    ``course_root`` (the nbgrader course root) and ``course_source`` (the instructor notebooks,
    when they live outside the root) are forbidden in the sandbox; set by the Execute
    preprocessor. Interrupts are sent as messages (the kernel lives in another PID namespace).
    """

    course_root = Unicode("", allow_none=True).tag(config=True)
    course_source = Unicode("", allow_none=True).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.settings = Sandbox(config=self.config)
        self.box: SandboxedKernel | None = None
        self.sandboxed = self.settings.active()

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None and self.sandboxed:
            spec.interrupt_mode = "message"
        return spec

    async def _async_pre_start_kernel(self, **kw):
        if self.sandboxed and self.box is None:
            self.box = SandboxedKernel(self.settings, kw.get("cwd"), self.course_root or None,
                                       self.course_source or None)
            self.transport = "ipc"
            self.ip = os.path.join(self.box.conn, "k")
            self.connection_file = os.path.join(self.box.conn, "kernel.json")
            kw["cwd"] = self.box.run_dir
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        if not self.box:
            return cmd
        self.box.chown_connection_file(self.connection_file)
        return self.box.wrap(cmd + ["--IPKernelApp.exec_lines=__import__('autograder_kernel_hooks').install()"])

    def exit_status(self) -> int | None:
        """The sandbox's exit status once the kernel is gone (bwrap reports 128+N for signal N)."""
        process = getattr(self.provisioner, "process", None)
        return None if process is None else process.poll()

    async def cleanup_resources(self, restart: bool = False) -> None:
        await self._async_cleanup_resources(restart=restart)
        if self.box and not restart:
            self.box.cleanup()
            self.box = None
