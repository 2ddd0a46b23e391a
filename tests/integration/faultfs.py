#!/usr/bin/python3
"""faultfs: a passthrough FUSE file system whose disk fails on demand.

    /usr/bin/python3 faultfs.py BACKING MOUNTPOINT CONTROL

Mounts MOUNTPOINT as a view of the directory BACKING and serves it in the
foreground until unmounted (umount MOUNTPOINT) or sent SIGTERM. Every
operation kgd's data directory needs is passed through to BACKING: open,
create, read, write, truncate/ftruncate, fsync/fdatasync (of files and of
directories), rename, unlink, mkdir, readdir, stat/fstat, statfs, and mmap
for reading (through the kernel's page cache). flock is left to the
kernel's local emulation (no flock operation is registered), which is
what a program that locks a file on one machine needs. One difference from
a disk file system: fstat of an open file that was unlinked fails with
ENOENT (libfuse 2's path-based API has no path for it any more) instead of
reporting st_nlink 0; reads, writes and syncs through its descriptor work.

Caching: attribute and name caches are off (timeouts 0) and writes go
through to the file system at once (libfuse 2 has no write-back cache), so
the kernel forwards every fsync and fdatasync here: the program under test
sees the error this file system returns.

Faults are driven by files in the directory CONTROL, which must be outside
the mount. Each holds an optional first line "ERRNO [GLOB]": the error to
return (EIO when empty) and a shell pattern matched against the file's
base name (every file when absent):

    fail-fsync   fsync/fdatasync of matching files (and directories) fail
                 with ERRNO (after really syncing the backing file: what
                 fails is the report, as when a disk's cache flush fails)
    fail-write   writes to matching files fail with ERRNO, nothing written
    hold-fsync   fsync/fdatasync of matching files wait (up to 60 s) while
                 this file exists; whether the call fails is decided when it
                 starts, before the wait
    hold-open    opening matching files waits (up to 60 s) while this file
                 exists

It appends one line per fsync, held call and injected fault to CONTROL/log
("fsync datasync=1 /data/journal-0000000000000000.kgj -> 0", "-> EIO",
"held fsync ...", "held open ...", "write ... -> EIO"), so that a test can
see that a call reached the file system and what it got.
"""
import errno
import fnmatch
import os
import sys
import threading
import time

from fusepy import FUSE, FuseOSError, Operations

HOLD_MAX = 60.0


class FaultFS(Operations):
    use_ns = True
    # Operations on an open file get its handle and a null path when the
    # file has been unlinked (hard_remove), as on a disk file system.
    flag_nullpath_ok = True

    def __init__(self, root, control):
        self.root = os.path.realpath(root)
        self.control = os.path.realpath(control)
        self.log_lock = threading.Lock()

    # ---- control ------------------------------------------------------------

    def _rule(self, name, path):
        """The errno of control file `name` if it exists and matches path
        (None otherwise)."""
        try:
            with open(os.path.join(self.control, name)) as f:
                words = f.read().split()
        except FileNotFoundError:
            return None
        err = getattr(errno, words[0]) if words else errno.EIO
        glob = words[1] if len(words) > 1 else "*"
        if path is not None and not fnmatch.fnmatch(os.path.basename(path), glob):
            return None
        return err

    def _hold(self, name, what, path):
        if self._rule(name, path) is None:
            return
        self._log("held %s %s" % (what, path))
        deadline = time.monotonic() + HOLD_MAX
        while os.path.exists(os.path.join(self.control, name)) and time.monotonic() < deadline:
            time.sleep(0.01)
        self._log("released %s %s" % (what, path))

    def _log(self, line):
        with self.log_lock:
            with open(os.path.join(self.control, "log"), "a") as f:
                f.write(line + "\n")

    # ---- passthrough --------------------------------------------------------

    def _full(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def access(self, path, amode):
        if not os.access(self._full(path), amode):
            raise FuseOSError(errno.EACCES)

    def chmod(self, path, mode):
        os.chmod(self._full(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._full(path), uid, gid)

    def getattr(self, path, fh=None):
        st = os.fstat(fh.fh) if fh else os.lstat(self._full(path))
        d = {k: getattr(st, k) for k in ("st_mode", "st_ino", "st_nlink", "st_uid",
                                         "st_gid", "st_size", "st_blocks")}
        d["st_atime"], d["st_mtime"], d["st_ctime"] = (
            st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns)
        return d

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._full(path))

    def readlink(self, path):
        return os.readlink(self._full(path))

    def mknod(self, path, mode, dev):
        os.mknod(self._full(path), mode, dev)

    def mkdir(self, path, mode):
        os.mkdir(self._full(path), mode)

    def rmdir(self, path):
        os.rmdir(self._full(path))

    def unlink(self, path):
        os.unlink(self._full(path))

    def symlink(self, target, source):
        os.symlink(source, self._full(target))

    def link(self, target, source):
        os.link(self._full(source), self._full(target))

    def rename(self, old, new):
        os.rename(self._full(old), self._full(new))

    def utimens(self, path, times=None):
        os.utime(self._full(path), ns=times)

    def statfs(self, path):
        sv = os.statvfs(self._full(path))
        return {k: getattr(sv, k) for k in (
            "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree",
            "f_files", "f_flag", "f_frsize", "f_namemax")}

    def open(self, path, fi):
        self._hold("hold-open", "open", path)
        fi.fh = os.open(self._full(path), fi.flags)
        return 0

    def create(self, path, mode, fi):
        fi.fh = os.open(self._full(path), fi.flags | os.O_CREAT, mode)
        return 0

    def read(self, path, size, offset, fh):
        return os.pread(fh.fh, size, offset)

    def write(self, path, data, offset, fh):
        err = self._rule("fail-write", path)
        if err is not None:
            self._log("write %s -> %s" % (path, errno.errorcode[err]))
            raise FuseOSError(err)
        return os.pwrite(fh.fh, data, offset)

    def truncate(self, path, length, fh=None):
        if fh:
            os.ftruncate(fh.fh, length)
        else:
            os.truncate(self._full(path), length)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh.fh)

    def fsync(self, path, datasync, fh):
        err = self._rule("fail-fsync", path)
        self._hold("hold-fsync", "fsync", path)
        (os.fdatasync if datasync else os.fsync)(fh.fh)
        self._log("fsync datasync=%d %s -> %s"
                  % (datasync, path, errno.errorcode[err] if err else 0))
        if err is not None:
            raise FuseOSError(err)

    def fsyncdir(self, path, datasync, fh):
        err = self._rule("fail-fsync", path)
        fd = os.open(self._full(path), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._log("fsyncdir %s -> %s" % (path, errno.errorcode[err] if err else 0))
        if err is not None:
            raise FuseOSError(err)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: faultfs.py BACKING MOUNTPOINT CONTROL\n")
        return 2
    backing, mountpoint, control = argv[1:]
    fs = FaultFS(backing, control)
    # hard_remove: an unlinked open file is gone (st_nlink 0), not renamed
    # to .fuse_hidden*, as on a disk file system.
    FUSE(fs, mountpoint, raw_fi=True, foreground=True, nothreads=False,
         fsname="faultfs", subtype="faultfs", use_ino=True, hard_remove=True,
         attr_timeout=0, entry_timeout=0, negative_timeout=0, big_writes=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
