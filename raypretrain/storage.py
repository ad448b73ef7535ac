"""Filesystem helpers over pyarrow.fs, so local paths, file://, s3:// and gs:// all work.

Writes are atomic: bytes go to a hidden temporary name next to the target and are then
moved into place, so a crashed task never leaves a half-written file under a final name.
"""
from __future__ import annotations

import io
import json
import os
import posixpath
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from raypretrain.config import ConfigError

_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class Location:
    """A filesystem plus a path on it; `uri` is how users and manifests see it."""

    fs: pafs.FileSystem
    path: str
    uri: str

    def join(self, *parts: str) -> "Location":
        path = posixpath.join(self.path, *parts)
        uri = self.uri.rstrip("/") + "/" + "/".join(parts) if parts else self.uri
        return Location(self.fs, path, uri)


def is_remote(uri: str) -> bool:
    """A URI (s3://, gs://, file://) rather than a plain local path."""
    return "://" in uri


def resolve(uri: str) -> Location:
    """A Location for a local path or URI (no globbing)."""
    if "://" in uri:
        try:
            fs, path = pafs.FileSystem.from_uri(uri)
        except (ValueError, OSError, NotImplementedError, pa.ArrowException) as e:
            raise ConfigError(f"{uri}: not a path or URI that can be opened ({str(e).splitlines()[0]})") from None
        return Location(fs, path, uri)
    path = os.path.abspath(uri)
    return Location(pafs.LocalFileSystem(), path, path)


def expand(pattern: str) -> list[Location]:
    """The files a path, directory, glob or URI names, sorted; [] when nothing matches."""
    loc = resolve(pattern)
    if not any(c in loc.path for c in _GLOB_CHARS):
        info = loc.fs.get_file_info(loc.path)
        if info.type == pafs.FileType.File:
            return [loc]
        if info.type == pafs.FileType.Directory:
            sel = pafs.FileSelector(loc.path, recursive=True)
            infos = [i for i in loc.fs.get_file_info(sel) if i.type == pafs.FileType.File]
            return [_child(loc, i.path) for i in sorted(infos, key=lambda i: i.path)
                    if not posixpath.basename(i.path).startswith((".", "_"))]
        return []
    # Glob: list below the deepest directory without glob characters, then match.
    parts = loc.path.split("/")
    depth = next(i for i, p in enumerate(parts) if any(c in p for c in _GLOB_CHARS))
    base = "/".join(parts[:depth]) or "/"
    recursive = "**" in loc.path or depth < len(parts) - 1
    try:
        infos = loc.fs.get_file_info(pafs.FileSelector(base, recursive=recursive, allow_not_found=True))
    except (FileNotFoundError, NotADirectoryError):
        return []
    regex = _glob_regex(loc.path)
    return [_child(loc, i.path) for i in sorted(infos, key=lambda i: i.path)
            if i.type == pafs.FileType.File and regex.match(i.path)]


def _glob_regex(pattern: str) -> re.Pattern:
    # fnmatch's '*' crosses '/', which is what '**' means; a single '*' must not.
    out = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
    out = out.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    out = re.sub(r"\\\[(.*?)\\\]", lambda m: "[" + m.group(1).replace("\\", "") + "]", out)
    try:
        return re.compile(out + r"\Z")
    except re.error as e:
        raise ConfigError(f"{pattern}: not a valid glob ({e})") from None


def _child(parent: Location, path: str) -> Location:
    if "://" in parent.uri:
        scheme = parent.uri.split("://", 1)[0]
        return Location(parent.fs, path, f"{scheme}://{path}" if scheme != "file" else f"file://{path}")
    return Location(parent.fs, path, path)


def size(loc: Location) -> int:
    return loc.fs.get_file_info(loc.path).size or 0


def exists(loc: Location) -> bool:
    return loc.fs.get_file_info(loc.path).type != pafs.FileType.NotFound


def makedirs(loc: Location) -> None:
    loc.fs.create_dir(loc.path, recursive=True)


def remove_tree(loc: Location) -> None:
    if exists(loc):
        loc.fs.delete_dir(loc.path)


def copy_tree(src: str, dst: str) -> None:
    """Copy a folder's files between a local path and a URI (s3://, gs://, file://), either way."""
    a, b = resolve(src), resolve(dst)
    makedirs(b)
    pafs.copy_files(a.path, b.path, source_filesystem=a.fs, destination_filesystem=b.fs)


def list_files(loc: Location, suffix: str = "") -> list[Location]:
    """Final (non-hidden) files below `loc` ending in `suffix`, sorted."""
    if not exists(loc):
        return []
    infos = loc.fs.get_file_info(pafs.FileSelector(loc.path, recursive=True))
    return [_child(loc, i.path) for i in sorted(infos, key=lambda i: i.path)
            if i.type == pafs.FileType.File and i.path.endswith(suffix)
            and not posixpath.basename(i.path).startswith(".")]


TMP_PREFIX = ".tmp-"
"""Hidden temporary names start with this; `sweep_tmp` removes stale ones."""


def write_bytes(loc: Location, data: bytes) -> None:
    """Write atomically: to a hidden temp name in the same folder, then move into place.
    On a local filesystem the file is fsynced before the rename and the folder after it, so a
    completion marker or manifest.json that exists after a crash also has its bytes on disk."""
    parent = posixpath.dirname(loc.path)
    loc.fs.create_dir(parent, recursive=True)
    tmp = posixpath.join(parent, f"{TMP_PREFIX}{uuid.uuid4().hex}-{posixpath.basename(loc.path)}")
    if isinstance(loc.fs, pafs.LocalFileSystem):
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, loc.path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        _fsync_dir(parent)
        return
    with loc.fs.open_output_stream(tmp) as f:
        f.write(data)
    loc.fs.move(tmp, loc.path)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_tmp(loc: Location, older_than_s: float = 0.0) -> int:
    """Remove hidden `.tmp-*` files a crashed writer left below `loc` (local folders only;
    object stores have no partial files: an upload that never finished leaves nothing).
    Returns how many were removed."""
    if not isinstance(loc.fs, pafs.LocalFileSystem) or not os.path.isdir(loc.path):
        return 0
    removed, now = 0, time.time()
    for d, _, names in os.walk(loc.path):
        for name in names:
            p = os.path.join(d, name)
            if name.startswith(TMP_PREFIX) and now - os.path.getmtime(p) >= older_than_s:
                os.remove(p)
                removed += 1
    return removed


def _comparable(uri: str) -> str:
    """A form two names of one place share: the resolved local path (symlinks followed, file://
    stripped), or scheme://bucket/path for an object store (no filesystem is contacted)."""
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    if "://" in uri:
        scheme, path = uri.split("://", 1)
        return f"{scheme.lower()}://{posixpath.normpath('/' + path).strip('/')}"
    return os.path.realpath(uri)


def _inside(a: str, b: str) -> bool:
    """a equals b or lies below it."""
    return a == b or a.startswith(b.rstrip("/") + "/")


def refuse_overlap(output: str, inputs: list[str], what: str = "output") -> None:
    """ConfigError if the output folder equals, contains or lies inside any input (local paths
    compared after resolving symlinks; URIs by scheme and path prefix). A glob input is compared
    by the folder above its first wildcard."""
    out = _comparable(output)
    for item in inputs:
        parts = item.split("/")
        depth = next((i for i, p in enumerate(parts) if any(c in p for c in _GLOB_CHARS)), len(parts))
        base = _comparable("/".join(parts[:depth]) or ".")
        if _inside(base, out) or _inside(out, base):
            raise ConfigError(f"{what} {output} overlaps the input {item}; choose a folder outside every input "
                              "(nothing was written or removed)")


def check_replaceable(loc: Location, markers: tuple[str, ...], what: str) -> None:
    """ConfigError unless `loc` is missing, an empty folder, or a folder one of our jobs wrote
    (it holds one of `markers`, relative paths). Called before anything deletes or replaces it."""
    info = loc.fs.get_file_info(loc.path)
    if info.type == pafs.FileType.NotFound:
        return
    if info.type != pafs.FileType.Directory:
        raise ConfigError(f"{what} {loc.uri} is a file, not a folder; refusing to replace it")
    if not loc.fs.get_file_info(pafs.FileSelector(loc.path, recursive=False)):
        return
    if any(exists(loc.join(*m.split("/"))) for m in markers):
        return
    raise ConfigError(f"{what} {loc.uri} holds files that no earlier run of ours wrote (none of "
                      f"{', '.join(markers)}); refusing to delete them: choose another folder or empty it yourself")


def write_json(loc: Location, obj: Any) -> None:
    write_bytes(loc, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())


def read_json(loc: Location) -> Any:
    with loc.fs.open_input_stream(loc.path) as f:
        return json.loads(f.read())


def write_parquet(loc: Location, table: pa.Table) -> None:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    write_bytes(loc, buf.getvalue())


def read_parquet(loc: Location, columns: list[str] | None = None) -> pa.Table:
    with loc.fs.open_input_file(loc.path) as f:
        return pq.read_table(f, columns=columns)


def write_npy(loc: Location, array: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    write_bytes(loc, buf.getvalue())


def read_npy(loc: Location) -> np.ndarray:
    with loc.fs.open_input_stream(loc.path) as f:
        return np.load(io.BytesIO(f.read()), allow_pickle=False)


__all__ = [
    "Location", "is_remote", "resolve", "expand", "size", "exists", "makedirs", "remove_tree", "list_files",
    "write_bytes", "sweep_tmp", "refuse_overlap", "check_replaceable", "write_json", "read_json", "write_parquet", "read_parquet", "write_npy", "read_npy",
]
