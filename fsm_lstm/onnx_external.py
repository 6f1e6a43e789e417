"""ONNX tensors whose bytes lie in an external-data file beside the model (torch.onnx.export(..., dynamo=True)
writes ``model.onnx.data``), read without trusting the file: the location must be a plain relative path inside
the model's folder (no absolute path, ``..``, or symbolic link out of it) naming a regular file, and the declared
offset and length must match the tensor's declared shape inside that file, before anything is read.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from .errors import UserError
from .import_common import MAX_BYTES
from .side_files import side_file

__all__ = ["EXTERNAL_DTYPES", "read_external"]

EXTERNAL_DTYPES = {1: "<f4", 10: "<f2", 11: "<f8", 6: "<i4", 7: "<i8"}  # ONNX TensorProto data types


def read_external(folder: Path, info: dict[str, str], data_type: int, dims: tuple[int, ...], what: str) -> np.ndarray:
    """The tensor stored at ``info`` (location, offset, length) relative to ``folder``, as little-endian data."""
    if data_type not in EXTERNAL_DTYPES:
        raise UserError(f"{what} keeps data of ONNX type {data_type} in an external file; fsm-lstm reads float "
                        "weights there")
    dtype = np.dtype(EXTERNAL_DTYPES[data_type])
    path = _location(folder, info.get("location", ""), what)
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        raise UserError(f"{what} declares an external offset or length that is not a whole number") from None
    need = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    size = path.stat().st_size
    if offset < 0 or (length is not None and length != need) or offset + need > size or need > MAX_BYTES:
        raise UserError(f"{what} declares {need:,} bytes at offset {offset:,} of {path.name} ({size:,} bytes), "
                        "which does not fit; the external-data file is damaged or belongs to another model")
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read(need)
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _location(folder: Path, location: str, what: str) -> Path:
    """The external-data file, refused unless it is a regular file inside ``folder``."""
    parts = PurePosixPath(location.replace("\\", "/")).parts
    if not location or PureWindowsPath(location).drive or location.startswith(("/", "\\")) or ".." in parts \
            or "\0" in location:
        raise UserError(f"{what} keeps its data at {location!r}; fsm-lstm reads external data only from a file "
                        "beside the model (a relative path without '..')")
    base = folder.resolve()
    path = base.joinpath(*parts)
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise UserError(f"{what} keeps its data in {location!r}, which is missing beside the model; copy it "
                        "there with the .onnx file") from None
    if not real.is_relative_to(base) or not real.is_file():
        raise UserError(f"{what} keeps its data in {location!r}, which is not a regular file inside the model's "
                        "folder")
    return side_file(real)
