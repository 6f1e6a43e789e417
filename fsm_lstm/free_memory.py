"""The memory a new allocation can take: the machine's MemAvailable, or less when the process's control group
(a container's, a systemd unit's or a batch job's) has a memory limit with less room left under it, or its
address-space limit (``ulimit -v``) does. A check
against the machine's figure alone would let a container's out-of-memory killer end the process instead of
refusing the work with a line that says why."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["address_space_room", "available_memory", "cgroup_room"]

_UNLIMITED = 1 << 60  # cgroup v1 reports "no limit" as a number near 2^63


def available_memory(proc: str = "/proc", cgroups: str = "/sys/fs/cgroup") -> int | None:
    """Bytes of memory available to a new allocation: MemAvailable of /proc/meminfo, or the room left under
    the process's cgroup limit or its address-space limit (``ulimit -v``) when that is less; None if none is
    known."""
    known = [n for n in (_mem_available(proc), cgroup_room(proc, cgroups), address_space_room(proc))
             if n is not None]
    return min(known) if known else None


def address_space_room(proc: str = "/proc") -> int | None:
    """Bytes of address space the process may still map under its soft RLIMIT_AS, or None for no limit."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        for line in Path(proc, "self", "status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return max(0, soft - int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _mem_available(proc: str) -> int | None:
    try:
        with open(os.path.join(proc, "meminfo")) as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def cgroup_room(proc: str = "/proc", cgroups: str = "/sys/fs/cgroup") -> int | None:
    """Bytes the process's memory cgroup and its ancestors still allow (the least room of any with a limit), for
    cgroup v2 (memory.max, memory.current) and v1 (memory.limit_in_bytes, memory.usage_in_bytes); None for no
    limit or no cgroup."""
    try:
        lines = Path(proc, "self", "cgroup").read_text().splitlines()
    except OSError:
        return None
    rooms = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":
            layouts = [(Path(cgroups), "memory.max", "memory.current"),
                       (Path(cgroups, "unified"), "memory.max", "memory.current")]
        elif "memory" in controllers.split(","):
            layouts = [(Path(cgroups, "memory"), "memory.limit_in_bytes", "memory.usage_in_bytes")]
        else:
            continue
        for root, limit_file, usage_file in layouts:
            rooms += _rooms(root, path.strip("/"), limit_file, usage_file)
    return min(rooms) if rooms else None


def _rooms(root: Path, path: str, limit_file: str, usage_file: str) -> list[int]:
    """limit - usage of the cgroup at ``path`` under ``root`` and of each ancestor that has a limit (inside a
    container the path may not exist under the mount: then only the mount's own root is read)."""
    parts = path.split("/") if path else []
    out = []
    for depth in range(len(parts), -1, -1):
        folder = root.joinpath(*parts[:depth])
        try:
            limit = (folder / limit_file).read_text().strip()
            usage = int((folder / usage_file).read_text())
        except (OSError, ValueError):
            continue
        if limit != "max" and limit.isdigit() and int(limit) < _UNLIMITED:
            out.append(max(0, int(limit) - usage))
    return out
