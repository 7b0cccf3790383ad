"""The sandbox every agent command runs in: bubblewrap namespaces, a narrow view of the file system, no
network unless allowed, limits on processes, memory and file size, and a scrubbed environment."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Self

from shipyard.agent import cgroup
from shipyard.agent.mount import View, git_layout, mount_args
from shipyard.errors import SetupError

ENV_ALLOW = (
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "TZ",
    "USER",
    "LOGNAME",
    "SHELL",
)
_NAMESPACES = ("--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try")
_BASE = ("--die-with-parent", "--new-session", *_NAMESPACES, "--cap-drop", "ALL")
_MODERN = (0, 8)  # --disable-userns and --size
MB = 1024 * 1024
# Joins the command's pids cgroup, then becomes bwrap: everything the command starts is counted.
_JOIN = 'echo $$ > "$0" && exec "$@"'


def scrubbed_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Only the allow-listed variables: no API keys, tokens or secrets reach agent commands."""
    env = {name: environ[name] for name in ENV_ALLOW if name in environ}
    env["PATH"] = command_path(environ)
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


def command_path(environ: Mapping[str, str]) -> str:
    """The `PATH` of every agent command (shell tool, check, CLI agents' shells): the project's activated
    virtualenv and the one Shipyard runs from first, then the caller's `PATH`."""
    first = [f"{environ['VIRTUAL_ENV']}/bin"] if environ.get("VIRTUAL_ENV") else []
    if sys.prefix != sys.base_prefix:
        first.append(str(Path(sys.prefix) / "bin"))
    rest = [p for p in environ.get("PATH", os.defpath).split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys([*first, *rest]))


class SandboxSettings(Protocol):
    """What `[sandbox]` in shipyard.toml holds (`config.SandboxConfig`), as the agent package reads it."""

    @property
    def enabled(self) -> bool: ...
    @property
    def network(self) -> bool: ...
    @property
    def allow_unsandboxed(self) -> bool: ...
    @property
    def max_processes(self) -> int: ...
    @property
    def memory_mb(self) -> int: ...
    @property
    def max_file_mb(self) -> int: ...
    @property
    def tmp_mb(self) -> int: ...
    @property
    def extra_ro_paths(self) -> Sequence[str]: ...
    @property
    def hidden_paths(self) -> Sequence[str]: ...
    @property
    def bwrap(self) -> str: ...


@dataclass(frozen=True)
class SandboxPolicy:
    """How agent commands are confined; 0 turns a limit off."""

    enabled: bool = True
    network: bool = False
    allow_unsandboxed: bool = False
    max_processes: int = 512
    memory_mb: int = 8192
    max_file_mb: int = 4096
    tmp_mb: int = 1024
    extra_ro_paths: tuple[str, ...] = ()
    hidden_paths: tuple[str, ...] = ()
    bwrap: str = "bwrap"

    @classmethod
    def of(cls, s: SandboxSettings) -> SandboxPolicy:
        """The policy for the `[sandbox]` settings of a project."""
        return cls(
            s.enabled, s.network, s.allow_unsandboxed, s.max_processes, s.memory_mb, s.max_file_mb,
            s.tmp_mb, tuple(s.extra_ro_paths), tuple(s.hidden_paths), s.bwrap,
        )  # fmt: skip


@dataclass(frozen=True)
class HostSupport:
    """What this machine offers: a working bwrap (or the problem why not), prlimit, a pids cgroup."""

    bwrap: str = ""
    prlimit: str = ""
    modern: bool = False
    pids_cgroup: Path | None = None
    problem: str = ""


def probe(bwrap: str = "bwrap") -> HostSupport:
    """Whether `bwrap` is installed and can build a sandbox here (the check runs once per binary)."""
    found = shutil.which(bwrap)
    if found is None:
        return HostSupport(problem=f"bubblewrap is not installed (no `{bwrap}` found)")
    return _probe_binary(os.path.realpath(found))


@functools.cache
def _probe_binary(path: str) -> HostSupport:
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        return HostSupport(problem="`prlimit` (util-linux) is not installed; it sets the sandbox's limits")
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
        modern = _version(version) >= _MODERN
        trial = [path, *_BASE, "--unshare-net", "--ro-bind", "/", "/", "--", "true"]
        done = subprocess.run(trial, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return HostSupport(problem=f"`{path}` cannot be run: {exc}")
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[0]
        return HostSupport(problem=f"bubblewrap cannot create a sandbox on this machine ({why})")
    pids = cgroup.pids_parent() if os.geteuid() == 0 else None
    return HostSupport(path, prlimit, modern, pids)


def _version(text: str) -> tuple[int, ...]:
    digits = text.split()[-1] if text.split() else ""
    try:
        return tuple(int(part) for part in digits.split(".")[:2])
    except ValueError:
        return (0,)


def unavailable_message(problem: str) -> str:
    """The one line that says the sandbox cannot run and how to fix it."""
    fix = (
        "install it (Debian/Ubuntu: apt-get install bubblewrap)"
        if "not installed" in problem
        else "allow it user namespaces (sysctl kernel.unprivileged_userns_clone=1, or outside a container)"
    )
    return (
        f"sandbox: {problem}; {fix} or set `allow_unsandboxed = true` under [sandbox] in shipyard.toml "
        "to run agent commands unsandboxed"
    )


def require_sandbox(settings: SandboxSettings) -> None:
    """`SetupError` (one line, with the fix) when commands would have to run unsandboxed unasked."""
    if settings.enabled and not settings.allow_unsandboxed:
        problem = probe(settings.bwrap).problem
        if problem:
            raise SetupError(unavailable_message(problem))


@dataclass
class Launch:
    """How to start one command: argv and environment, plus what to clean up when it has ended."""

    argv: list[str]
    env: dict[str, str]
    pass_fds: tuple[int, ...] = ()
    info_fd: int | None = None
    cgroup: Path | None = None
    _pid: int | None = field(default=None, repr=False)

    def sandbox_pid(self) -> int | None:
        """The host pid of the sandbox's init: killing it ends every process of the command."""
        if self._pid is None and self.info_fd is not None:
            with contextlib.suppress(OSError, ValueError, LookupError, TypeError):
                os.set_blocking(self.info_fd, False)
                self._pid = int(json.loads(os.read(self.info_fd, 4096))["child-pid"])
        return self._pid

    async def ended(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) until the sandbox's init is gone: bwrap itself exits as soon as the
        command does, but the kernel has killed every process of the sandbox only once its init is gone."""
        pid = self.sandbox_pid()
        if pid is None:
            return
        try:
            fd = os.pidfd_open(pid)
        except OSError:  # already gone
            return
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[None] = loop.create_future()
        loop.add_reader(fd, _settle, gone)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gone, timeout_s)
        finally:
            loop.remove_reader(fd)
            os.close(fd)

    def started(self) -> None:
        """Close the parent's copies of the descriptors handed to the child."""
        for fd in self.pass_fds:
            os.close(fd)
        self.pass_fds = ()

    def close(self) -> None:
        self.started()
        if self.info_fd is not None:
            os.close(self.info_fd)
            self.info_fd = None
        if self.cgroup is not None:
            cgroup.remove(self.cgroup)
            self.cgroup = None


class Confinement:
    """What every bubblewrap confinement shares: a policy, this machine's support for it, the limits."""

    def __init__(self, policy: SandboxPolicy | None = None, host: HostSupport | None = None) -> None:
        self.policy = policy or SandboxPolicy()
        self._host = host

    @classmethod
    def of(cls, settings: SandboxSettings) -> Self:
        """The confinement for a project's `[sandbox]` settings."""
        return cls(SandboxPolicy.of(settings))

    @property
    def host(self) -> HostSupport:
        if self._host is None:
            self._host = probe(self.policy.bwrap)
        return self._host

    @property
    def confined(self) -> bool:
        """Whether commands run inside bubblewrap (False: unsandboxed, by the policy's choice)."""
        return self.policy.enabled and not self.host.problem

    def _cgroup(self) -> Path | None:
        parent, limit = self.host.pids_cgroup, self.policy.max_processes
        return cgroup.make(parent, limit) if parent is not None and limit > 0 else None

    def _limits(self) -> list[str]:
        p = self.policy
        limits = [f"--nproc={p.max_processes}"] if p.max_processes else []
        limits += [f"--as={p.memory_mb * MB}"] if p.memory_mb else []
        limits += [f"--fsize={p.max_file_mb * MB}"] if p.max_file_mb else []
        return [*limits, "--core=0"]


class Sandbox(Confinement):
    """Turns a command and a worktree into a `Launch` that runs it confined by a policy."""

    def refusal(self) -> str | None:
        """Why commands must not run at all: the sandbox is wanted, missing, and not waived."""
        if self.policy.enabled and self.host.problem and not self.policy.allow_unsandboxed:
            return unavailable_message(self.host.problem)
        return None

    def launch(self, command: str, cwd: Path) -> Launch:
        """The `Launch` for `bash -c command` in `cwd` (call `refusal()` first)."""
        env = scrubbed_env(os.environ)
        if not self.confined:
            return Launch(["bash", "-c", command], env)
        env.update(TMPDIR="/tmp")
        read_fd, write_fd = os.pipe()
        launch = Launch([], env, (write_fd,), read_fd)
        try:
            launch.cgroup = self._cgroup()
            launch.argv = self._argv(command, cwd, write_fd, launch.cgroup)
        except BaseException:
            launch.close()
            raise
        return launch

    def _argv(self, command: str, cwd: Path, info_fd: int, group: Path | None) -> list[str]:
        host, policy = self.host, self.policy
        flags = [*_BASE, *(["--disable-userns"] if host.modern else [])]
        flags += [] if policy.network else ["--unshare-net"]
        view = View(
            home=person_home(),
            exposed=[*python_paths(), *_network_paths(policy.network), *map(Path, policy.extra_ro_paths)],
            hidden=[Path(p) for p in policy.hidden_paths],
            tmp_bytes=policy.tmp_mb * MB if host.modern else 0,
        )
        argv = [host.bwrap, *flags, "--info-fd", str(info_fd), *mount_args(git_layout(cwd), view)]
        argv += ["--", host.prlimit, *self._limits(), "--", "bash", "-c", command]
        return ["/bin/sh", "-c", _JOIN, str(group / "cgroup.procs"), *argv] if group is not None else argv


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def person_home() -> Path | None:
    """The person's home folder, hidden from every sandbox (None when it is `/`)."""
    home = Path.home()
    return home if home.is_absolute() and home.resolve() != Path("/") else None


def python_paths() -> list[Path]:
    """Shipyard's own Python and its environment stay readable (commands such as the demo's use them)."""
    return [Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent]


def _network_paths(network: bool) -> list[Path]:
    """With the network on, the resolver configuration (often a link into the hidden /run) is needed."""
    return [Path("/etc/resolv.conf").resolve()] if network else []
