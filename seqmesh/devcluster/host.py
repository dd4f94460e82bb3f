"""What a node changes on the host outside its work directory, and how it is undone.

A kubelet, containerd and the CNI plugins write to fixed paths (`/var/lib/kubelet/device-plugins`,
`/run/containerd/{s,fifo}`, `/run/netns/cni-*`, `/var/lib/cni`, `/var/log/containers`), create
`kubepods` cgroups, iptables chains (KUBE-*, CNI-*), kube-router's ipsets (KUBE-*) and sysctls,
and leave mounts and shim processes behind. One node runs per machine (`NodeLock`); `clean`
removes all of it, both when a node stops and before one starts (a node that was killed leaves
everything behind).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

RUN_DIR = Path("/run/seqmesh-node")
BRIDGE = "seqmesh0"
CGROUP_ROOT = Path("/sys/fs/cgroup")
FIXED_DIRS = (Path("/run/containerd"), Path("/var/lib/kubelet"), Path("/var/lib/cni"))
NETNS_DIR = Path("/run/netns")
CONTAINER_LOG_LINKS = Path("/var/log/containers")
# Sysctls the kubelet (vm.*, kernel.*), the node's routing (ip_forward) and its policy enforcement
# (bridged traffic through iptables) change; restored on stop.
SYSCTLS = ("net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables", "vm/overcommit_memory",
           "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys",
           "kernel/keys/root_maxbytes")


class NodeBusy(RuntimeError):
    pass


class NodeLock:
    """Only one node per machine: the kubelet's and containerd's fixed paths would collide. Waits
    up to `wait` seconds for another node to stop (tests queue behind each other), then fails
    naming the holder."""

    def __init__(self, wait: float = 0.0) -> None:
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        self.path = RUN_DIR / "lock"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    owner = os.pread(self.fd, 64, 0).decode(errors="replace").strip()
                    os.close(self.fd)
                    raise NodeBusy(f"another development node runs on this machine (pid {owner or '?'}, "
                                   f"lock {self.path}; waited {wait:.0f}s); stop it first") from None
                time.sleep(0.5)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def save_sysctls() -> dict[str, str]:
    return {k: (Path("/proc/sys") / k).read_text().strip() for k in SYSCTLS if (Path("/proc/sys") / k).exists()}


def restore_sysctls(saved: dict[str, str]) -> None:
    for key, value in saved.items():
        with contextlib.suppress(OSError):
            (Path("/proc/sys") / key).write_text(value)


def set_sysctl(key: str, value: str) -> None:
    (Path("/proc/sys") / key).write_text(value)


def make_bridge(address: str) -> None:
    """The pods' bridge with the node's address (`10.244.0.1/24`), made before anything binds it;
    the CNI bridge plugin finds it and attaches pods to it."""
    subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True, capture_output=True)
    subprocess.run(["ip", "addr", "add", address, "dev", BRIDGE], check=True, capture_output=True)
    subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True, capture_output=True)


def clean(workdir: Path, binaries: Path) -> list[str]:
    """Undo everything a node leaves on the host; returns what could not be undone (for a report)."""
    problems: list[str] = []
    _kill_containers(binaries)
    roots = [workdir, *FIXED_DIRS, NETNS_DIR]
    problems += _unmount_under(roots)
    for netns in NETNS_DIR.glob("cni-*"):
        with contextlib.suppress(OSError):
            netns.unlink()
    with contextlib.suppress(OSError):
        if not _is_mountpoint(NETNS_DIR):
            NETNS_DIR.rmdir()  # only when empty: other tests' namespaces live there too
    subprocess.run(["ip", "link", "del", BRIDGE], capture_output=True)
    for entry in RUN_DIR.glob("*"):  # sockets; the lock stays with its holder
        if entry.name != "lock":
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
    problems += _remove_cgroups()
    problems += _remove_chains()
    problems += _remove_ipsets()  # once no rule refers to them
    for d in FIXED_DIRS:
        shutil.rmtree(d, ignore_errors=True)
        if d.exists():
            problems.append(f"{d} not removed")
    if CONTAINER_LOG_LINKS.is_dir():
        for link in CONTAINER_LOG_LINKS.iterdir():
            if link.is_symlink() and str(workdir) in os.readlink(link):
                link.unlink()
        with contextlib.suppress(OSError):
            CONTAINER_LOG_LINKS.rmdir()
    return problems


def _pids_in(cgroup: Path) -> set[int]:
    pids: set[int] = set()
    for procs in cgroup.rglob("cgroup.procs"):
        with contextlib.suppress(OSError, ValueError):
            pids.update(int(p) for p in procs.read_text().split())
    return pids


def _shim_pids(binaries: Path) -> set[int]:
    """containerd-shim-runc-v2 processes from this build: they daemonise out of containerd's session."""
    shim = str(binaries / "containerd-shim-runc-v2")
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.readlink(entry / "exe") == shim:
                    found.add(int(entry.name))
    return found


def _kill_containers(binaries: Path) -> None:
    """SIGKILL every process in the pods' cgroups, then the shims that ran them."""
    for _ in range(50):
        pids = _shim_pids(binaries)
        for hierarchy in CGROUP_ROOT.iterdir():
            pids |= _pids_in(hierarchy / "kubepods")
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _is_mountpoint(path: Path) -> bool:
    return any(m == str(path) for m in _mounts())


def _mounts() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")  # \040 for spaces
        points.append(point)
    return points


def _unmount_under(roots: list[Path]) -> list[str]:
    prefixes = [str(r).rstrip("/") + "/" for r in roots]
    for _ in range(10):
        inside = [m for m in _mounts() if any(m.startswith(p) for p in prefixes)]
        if not inside:
            return []
        for point in sorted(inside, key=len, reverse=True):  # deepest first
            if subprocess.run(["umount", point], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True)
    return [f"still mounted: {m}" for m in _mounts() if any(m.startswith(p) for p in prefixes)]


def _remove_cgroups() -> list[str]:
    left = []
    for hierarchy in CGROUP_ROOT.iterdir():
        top = hierarchy / "kubepods"
        if not top.is_dir():
            continue
        dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for d in [*dirs, top]:
            for _ in range(100):  # a cgroup empties a moment after its last process is reaped
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
        if top.exists():
            left.append(f"cgroup {top} not removed (processes {sorted(_pids_in(top))})")
    return left


def _remove_chains() -> list[str]:
    """Every KUBE-* and CNI-* chain (kubelet, kube-proxy, portmap) and the rules that jump to them."""
    left = []
    for tool in ("iptables", "ip6tables"):
        if shutil.which(tool) is None:
            continue
        for table in ("filter", "nat", "mangle"):
            listing = subprocess.run([tool, "-w", "-t", table, "-S"], capture_output=True, text=True)
            if listing.returncode != 0:
                continue
            ours = [line.split()[1] for line in listing.stdout.splitlines()
                    if line.startswith("-N ") and line.split()[1].startswith(("KUBE-", "CNI-"))]
            for line in listing.stdout.splitlines():
                parts = shlex.split(line)  # comments are quoted and hold spaces
                if parts[0] == "-A" and parts[1] not in ours and any(c in parts for c in ours):
                    subprocess.run([tool, "-w", "-t", table, "-D", *parts[1:]], capture_output=True)
            for chain in ours:
                subprocess.run([tool, "-w", "-t", table, "-F", chain], capture_output=True)
            for chain in ours:
                if subprocess.run([tool, "-w", "-t", table, "-X", chain], capture_output=True).returncode != 0:
                    left.append(f"{tool} -t {table} chain {chain} not removed")
    return left


def _remove_ipsets() -> list[str]:
    """kube-router's sets of pod addresses (KUBE-SRC-*, KUBE-DST-*; `inet6:` for IPv6)."""
    if shutil.which("ipset") is None:
        return []
    listing = subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True)
    ours = [name for name in listing.stdout.split() if name.removeprefix("inet6:").startswith("KUBE-")]
    left = []
    for name in ours:
        if subprocess.run(["ipset", "destroy", name], capture_output=True).returncode != 0:
            left.append(f"ipset {name} not removed")
    return left
