"""Untrusted HDF5 files, read into plain data in a child process.

The HDF5 C library can loop forever or crash on a damaged file (a mutated legacy .h5 hangs in
``attrs['model_config']``). So, where ``os.fork`` exists, a forked child opens the file with h5py, walks it
following hard links only, and sends back a snapshot: the string attributes Keras uses and every float dataset
that passes the size checks, as an ``.npz`` (read with ``allow_pickle=False``) plus a JSON index. The parent
waits at most :data:`TIMEOUT` seconds; a hang, a crash or an oversized answer is a one-line UserError.
"""

from __future__ import annotations

import faulthandler
import io
import json
import os
import select
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import UserError
from .import_common import MAX_BYTES, MAX_ELEMENTS, dtype_problem, first_line

__all__ = ["ATTRS", "MAX_OBJECTS", "TIMEOUT", "Tree", "read_tree"]

TIMEOUT = 60.0  # seconds for reading one HDF5 file
MAX_OBJECTS = 100_000
ATTRS = ("model_config", "layer_names", "weight_names", "name")  # the attributes Keras files need


@dataclass
class Tree:
    """An HDF5 file's groups (path -> string attributes), datasets (path -> array, or why it was not read) and
    links other than hard links (path -> kind). Paths have no leading slash; the root group is ''."""

    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasets: dict[str, np.ndarray | str] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)

    def _check(self, path: str) -> str:
        parts = [p for p in path.split("/") if p]
        for k in range(1, len(parts) + 1):
            prefix = "/".join(parts[:k])
            if prefix in self.links:
                raise UserError(f"the HDF5 object /{prefix} is {self.links[prefix]}; fsm-lstm follows no links in "
                                "weight files")
        return "/".join(parts)

    def is_group(self, path: str) -> bool:
        return self._check(path) in self.groups

    def attrs(self, path: str) -> dict[str, Any]:
        """The string attributes of a group ({} if there is no such group)."""
        return self.groups.get(self._check(path), {})

    def children(self, path: str) -> list[str]:
        """Names directly inside a group."""
        base = self._check(path)
        prefix = base + "/" if base else ""
        names = {p[len(prefix):].split("/")[0] for table in (self.groups, self.datasets, self.links)
                 for p in table if p.startswith(prefix) and p != base}
        return sorted(n for n in names if n)

    def array(self, path: str, what: str) -> np.ndarray:
        """A dataset's values; a UserError says why it is missing or was not read."""
        value = self.datasets.get(self._check(path))
        if value is None:
            raise UserError(f"{what} is missing or not a dataset")
        if isinstance(value, str):
            raise UserError(f"{what} {value}")
        return value


def read_tree(source: str | bytes) -> Tree:
    """The snapshot of an HDF5 file (a path, or the file's bytes), read in a child process where possible."""
    if not hasattr(os, "fork"):  # pragma: no cover - Windows: read in this process
        return _decode(_snapshot(source))
    return _decode(_in_child(source))


# ----- the child's side ---------------------------------------------------------------------------
def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [_text(v) for v in value.reshape(-1).tolist()]
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _snapshot(source: str | bytes) -> bytes:
    """Walk the file; answer b'E' + message, or b'D' + npz bytes (arrays a0, a1, ... and a JSON 'index')."""
    import h5py

    try:
        handle = h5py.File(io.BytesIO(source) if isinstance(source, bytes) else source, "r")
    except Exception as exc:
        return b"E" + f"not an HDF5 file ({first_line(exc)})".encode()
    index: dict[str, Any] = {"groups": {}, "datasets": {}, "links": {}}
    arrays: dict[str, np.ndarray] = {}
    total = 0
    try:
        with handle:
            stack = [("", handle)]
            while stack:
                path, group = stack.pop()
                index["groups"][path] = {k: _text(group.attrs[k]) for k in group.attrs
                                         if k.rstrip("0123456789") in ATTRS}
                for name in group.keys():
                    if len(index["groups"]) + len(index["datasets"]) + len(index["links"]) > MAX_OBJECTS:
                        return b"E" + f"holds more than {MAX_OBJECTS:,} objects".encode()
                    child = f"{path}/{name}" if path else name
                    link = group.get(name, getlink=True)
                    if not isinstance(link, h5py.HardLink):
                        index["links"][child] = "an external link" if isinstance(link, h5py.ExternalLink) \
                            else "a soft link"
                        continue
                    obj = group[name]
                    if isinstance(obj, h5py.Group):
                        if child.count("/") < 64:
                            stack.append((child, obj))
                        continue
                    if not isinstance(obj, h5py.Dataset):
                        continue
                    problem = dtype_problem(obj.dtype)
                    shape = obj.shape
                    size = int(np.prod(shape, dtype=object)) if shape is not None else 0
                    if problem:
                        index["datasets"][child] = f"has dtype {problem}"
                    elif shape is None:  # an empty dataspace (h5py.Empty): no array at all
                        index["datasets"][child] = "has an empty dataspace (no shape, no numbers); a weight is an array"
                    elif size > MAX_ELEMENTS:
                        index["datasets"][child] = f"declares {size:,} numbers (shape {list(shape)}); " \
                                                   f"fsm-lstm reads at most {MAX_ELEMENTS:,} per tensor"
                    elif obj.is_virtual or obj.external:
                        index["datasets"][child] = "keeps its data in another file; fsm-lstm reads self-contained " \
                                                   "files only"
                    else:
                        total += size * obj.dtype.itemsize
                        if total > MAX_BYTES:
                            return b"E" + f"holds more than {MAX_BYTES:,} bytes of weights".encode()
                        key = f"a{len(arrays)}"
                        arrays[key] = np.asarray(obj[()])
                        index["datasets"][child] = key
    except Exception as exc:
        return b"E" + f"damaged HDF5 data ({first_line(exc)})".encode()
    out = io.BytesIO()
    np.savez(out, index=np.array(json.dumps(index)), **arrays)
    return b"D" + out.getvalue()


# ----- the parent's side --------------------------------------------------------------------------
def _in_child(source: str | bytes) -> bytes:
    """Run :func:`_snapshot` in a forked child; its answer, or a UserError for a hang or a crash."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, then leave without running the parent's exit handlers
        code = 0
        try:
            os.close(read_end)
            faulthandler.disable()  # a crash here is reported by the parent, in one line
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)  # nothing the HDF5 library might print reaches the user
            answer = _snapshot(source)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(answer)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    chunks, size = [], 0
    deadline = time.monotonic() + TIMEOUT
    try:
        while True:
            left = deadline - time.monotonic()
            ready = select.select([read_end], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                raise UserError(f"reading the HDF5 data took longer than {TIMEOUT:g} s; the file is damaged")
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > 2 * MAX_BYTES:
                raise UserError("the HDF5 data is too large")
            chunks.append(chunk)
    finally:
        os.close(read_end)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(pid, 0)
    data = b"".join(chunks)
    if not data:
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit code {os.WEXITSTATUS(status)}"
        raise UserError(f"the HDF5 library failed on this file ({how}); the file is damaged")
    return data


def _decode(answer: bytes) -> Tree:
    if answer[:1] == b"E":
        raise UserError(answer[1:].decode("utf-8", "replace"))
    try:
        with np.load(io.BytesIO(answer[1:]), allow_pickle=False) as data:
            index = json.loads(str(data["index"]))
            arrays = {k: data[k] for k in data.files if k != "index"}
    except Exception as exc:  # only a broken child answers like this
        raise UserError(f"the HDF5 data could not be read ({first_line(exc)})") from None
    datasets = {p: (arrays[v] if v in arrays else v) for p, v in index["datasets"].items()}
    return Tree(groups=index["groups"], datasets=datasets, links=index["links"])
