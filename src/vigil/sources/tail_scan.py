"""Finding followed files on disk: candidates with their first bytes, siblings of a
rotated file, a file by inode, and where a file's last whole line ends."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from vigil.sources.live import Position
from vigil.sources.tail_file import fingerprint_matches, read_head

COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")
DELETED = " (deleted)"


@dataclass(frozen=True)
class Resume:
    """A checkpoint to resume from: lines up to `commit` were committed; reading again
    from `replay` (same file, earlier) rebuilds the detection windows they left open."""

    commit: Position
    replay: Position | None = None


@dataclass
class Candidate:
    """A file that may be the one a checkpoint was taken of."""

    path: str
    st: os.stat_result
    head: bytes


def stat_or_none(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def candidate(path: str) -> Candidate | None:
    try:
        # Non-blocking: opening a named pipe would otherwise wait for a writer, and
        # anyone who can make one in a log directory could stall the source.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        return Candidate(path, st, read_head(fd))
    finally:
        os.close(fd)


def siblings(directory: str, exclude: set[str]) -> list[Candidate]:
    """Uncompressed regular files of a directory, by name; hidden ones left out."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    out = []
    for name in names:
        path = os.path.join(directory, name)
        if name.startswith(".") or path in exclude:
            continue
        c = candidate(path)
        if c is not None and not c.head.startswith(COMPRESSED_MAGIC):
            out.append(c)
    return out


def find_copy(path: str, head: bytes, size: int, busy: set[tuple[int, int]]) -> Candidate | None:
    """The copy copytruncate made of `path`: a sibling not followed already (`busy`),
    at least `size` bytes long, that starts with the same bytes."""
    for c in siblings(os.path.dirname(path) or ".", exclude={path}):
        free = (c.st.st_dev, c.st.st_ino) not in busy
        if free and c.st.st_size >= size and c.head.startswith(head):
            return c
    return None


def by_inode(directory: str, ident: tuple[int, int]) -> str | None:
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if (st.st_dev, st.st_ino) == ident:
                    return entry.path
    except OSError:
        return None
    return None


def last_line_end(fd: int, size: int, max_line: int) -> int:
    """The offset just after the last newline of the file (0 if none within max_line)."""
    step = 64 << 10
    end = size
    while end > 0 and size - end <= max_line:
        start = max(0, end - step)
        block = os.pread(fd, end - start, start)
        i = block.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        end = start
    return 0 if end == 0 else size


def count_newlines(fd: int, end: int) -> int:
    count, at, step = 0, 0, 8 << 20
    while at < end:
        block = os.pread(fd, min(step, end - at), at)
        if not block:
            break
        count += block.count(b"\n")
        at += len(block)
    return count


def match_resumes(
    resumes: list[Resume], found: dict[str, os.stat_result]
) -> tuple[list[tuple[Resume, Candidate]], list[Resume]]:
    """Each checkpoint's file, by fingerprint: the file at its path, else one of the
    `found` files, else a sibling in its directory (rotated while vigil was down). A
    file answers one checkpoint at most; earlier checkpoints (newer) choose first.
    Returns (matched, checkpoints whose file is gone)."""
    candidates = {p: c for p in found if (c := candidate(p)) is not None}
    claimed: set[tuple[int, int]] = set()
    nearby: dict[str, list[Candidate]] = {}
    matched: list[tuple[Resume, Candidate]] = []
    lost: list[Resume] = []
    for resume in resumes:
        path = resume.commit.path.removesuffix(DELETED)
        pool: list[Candidate] = []
        own = candidates.get(path) or candidate(path)
        if own is not None:
            pool.append(own)
        pool += list(candidates.values())
        directory = os.path.dirname(path) or "."
        if directory not in nearby:
            nearby[directory] = siblings(directory, exclude=set(candidates))
        pool += nearby[directory]
        match = next(
            (
                c
                for c in pool
                if (c.st.st_dev, c.st.st_ino) not in claimed
                and c.st.st_size >= resume.commit.offset
                and fingerprint_matches(resume.commit.fingerprint, c.head)
            ),
            None,
        )
        if match is None:
            lost.append(resume)
        else:
            claimed.add((match.st.st_dev, match.st.st_ino))
            matched.append((resume, match))
    return matched, lost
