"""An upload of submissions (``grade --from``): an LMS zip or a folder, read one entry at a time.

Threat model: the zip comes from an LMS that stores whatever students uploaded (or from a student
directly). An entry may name a path outside the extraction folder (``../../x.ipynb``, ``/etc/x``),
be a symbolic link, be damaged (bad CRC, truncated data) or encrypted, unpack to gigabytes (a zip
bomb), not be a notebook of the assignment at all, or be one of several attempts of the same
student. Stock ``nbgrader zip_collect`` stops at the first unsafe entry with a traceback, and
nobody is graded.

:func:`unpack` checks each entry on its own. The good ones are written, as plain files under
their checked relative path, to the folder that ``nbgrader zip_collect`` then collects (it copies
plain files and never unzips anything of ours). Each other entry becomes a
:class:`~autograder.grading.status.Rejection` with its reason in plain words, and the rest of
the class is graded.
"""
from __future__ import annotations

import os
import re
import stat
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from autograder.grading.status import Rejection

MAX_ENTRY_MB = 100      # a notebook is a few MB at most; anything bigger is not one (or a zip bomb)
IGNORED = re.compile(r"(^|/)(__MACOSX|\.ipynb_checkpoints)(/|$)|(^|/)\.[^/]*$")   # OS and Jupyter litter


class UploadError(ValueError):
    """The upload as a whole cannot be read (not a zip, not a folder)."""


@dataclass
class Member:
    name: str                       # as the archive or folder names it
    size: int                       # bytes, uncompressed
    date: tuple                     # (Y, M, D, h, m, s): newest wins among duplicates
    read: Callable[[], bytes]
    problem: str = ""               # known before reading (a link, encrypted, ...)


def members(source: Path) -> Iterator[Member]:
    """The file entries of a zip or a folder (directories left out)."""
    source = Path(source)
    if source.is_dir():
        for base, dirs, files in os.walk(source):
            dirs.sort()
            for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(base, d))]):
                path = os.path.join(base, name)
                rel = os.path.relpath(path, source)
                st = os.lstat(path)
                problem = "a symbolic link, not a file" if stat.S_ISLNK(st.st_mode) else ""
                yield Member(rel, st.st_size, tuple(time.localtime(st.st_mtime))[:6],
                             lambda path=path: Path(path).read_bytes(), problem)
        return
    if not source.is_file() or not zipfile.is_zipfile(source):
        raise UploadError(f"--from {source}: expected a folder or a .zip file")
    with zipfile.ZipFile(source) as z:
        infos = z.infolist()
    for info in infos:
        if info.is_dir():
            continue
        mode = info.external_attr >> 16
        problem = ("a symbolic link, not a file" if stat.S_ISLNK(mode)
                   else "encrypted (password-protected): upload it without a password" if info.flag_bits & 0x1 else "")
        yield Member(info.filename, info.file_size, info.date_time, lambda info=info: _read_zip(source, info), problem)


def _read_zip(source: Path, info: zipfile.ZipInfo) -> bytes:
    with zipfile.ZipFile(source) as z:
        return z.read(info)


def unsafe(name: str) -> str:
    """Why an entry's path cannot be extracted as is ('' when it can)."""
    path = name.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        return "an absolute path: it would be written outside the extraction folder"
    if ".." in path.split("/"):
        return "its path goes up ('..') out of the extraction folder"
    if "\0" in path:
        return "its name contains a NUL character"
    return ""


def clean(name: str) -> str:
    """The entry's path with the unsafe parts dropped (to say whose it is, never to write it)."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".", "..") and not re.match(r"^[A-Za-z]:$", p)]
    return "/".join(parts)


def unpack(source: Path, dest: Path, match: Callable[[str], tuple[str, str] | None], notebooks: list[str]
           ) -> tuple[list[str], list[Rejection]]:
    """Write the acceptable entries of ``source`` under ``dest``; return (written paths, rejections).

    ``match(path)`` gives (student, notebook) for a path relative to ``dest``, or None when the
    name says neither (nbgrader's collector regexp decides, see ``Course.collect``). Among several
    entries for the same student and notebook the newest (zip date, then archive order) is kept.
    """
    dest.mkdir(parents=True, exist_ok=True)
    rejected: list[Rejection] = []
    chosen: dict[tuple[str, str], tuple[Member, bytes]] = {}
    expected = ", ".join(notebooks)
    for m in members(source):
        if IGNORED.search(m.name.replace("\\", "/")):
            continue
        who = match(clean(m.name))
        student = who[0] if who else ""

        def reject(reason: str) -> None:
            rejected.append(Rejection(m.name, reason, student))

        why = unsafe(m.name) or m.problem
        if why:
            reject(why)
            continue
        if who is None:
            hint = " (a zip inside the upload: upload the notebook itself)" if m.name.lower().endswith(".zip") else ""
            reject(f"not a notebook of this assignment ({expected}), or its name does not say whose it is{hint}")
            continue
        if m.size > MAX_ENTRY_MB * 2**20:
            reject(f"too large: {m.size / 2**20:.0f} MB uncompressed (a notebook is at most {MAX_ENTRY_MB} MB)")
            continue
        try:
            data = m.read()
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            reject(f"damaged or unreadable in the upload ({type(exc).__name__}: {exc})")
            continue
        previous = chosen.get(who)
        if previous is not None:
            older, newer = (previous[0], m) if previous[0].date <= m.date else (m, previous[0])
            rejected.append(Rejection(older.name, f"an older copy of {who[0]}'s {who[1]}: graded {newer.name!r} instead",
                                      who[0]))
            if newer is previous[0]:
                continue
        chosen[who] = (m, data)
    written = []
    for m, data in chosen.values():
        path = dest / m.name.replace("\\", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(m.name)
    return written, rejected
