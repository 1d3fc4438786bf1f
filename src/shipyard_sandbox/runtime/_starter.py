"""The first process of a task's namespaces: prepares them, then becomes the container.

Run by `process.Container` as `unshare --net --mount --pid --fork --kill-child python -I -S
_starter.py SPEC REPORT`, so it starts as PID 1 of a new pid namespace in new mount and network
namespaces. It brings `lo` up, mounts the container's overlay (the cached image rootfs as the
read-only lower layer, the task's own writable upper layer), chroots into it, mounts /proc, a
small /dev and the volumes there, makes the root read-only if asked, drops to the container's
user and execs the command: the container's process is PID 1, as under Docker without
`initProcessEnabled`.

Nothing of this outlives the namespaces: the mounts are made in the private mount namespace,
and the kernel removes it once its last process is gone. A failure before exec is written to
the REPORT fifo, opened close-on-exec so that a successful exec closes it empty (a fifo, not
an inherited pipe: unshare's waiting parent would hold an inherited one open), and ends the
starter with 127.

Standard library only, imported by path: `-I -S` keeps the interpreter's start short.
"""

import ctypes
import fcntl
import json
import os
import signal
import socket
import struct
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 0x1, 0x2, 0x4, 0x8, 0x20, 0x1000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
# Docker's /dev: these character devices and nothing of the host's.
DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
           "urandom": (1, 9), "tty": (5, 0)}
_libc = ctypes.CDLL(None, use_errno=True)


def mount(source, target, fstype, flags=0, data=""):
    if _libc.mount(source.encode(), target.encode(), fstype.encode(), flags,
                   data.encode()) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {fstype} on {target}: {os.strerror(error)}")


def loopback_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def prepare(spec):
    loopback_up()
    mount("overlay", spec["merged"], "overlay", 0,
          f"lowerdir={spec['lower']},upperdir={spec['upper']},workdir={spec['work']}")
    # Volumes' host folders, opened while the host's root is still ours; mounted from these
    # descriptors after the chroot, onto targets resolved inside the container's root.
    volumes = [(os.open(volume["source"], os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC), volume)
               for volume in spec["mounts"]]
    os.chroot(spec["merged"])
    os.chdir("/")
    # From here every path resolves inside the container's root, links included.
    os.makedirs("/proc", exist_ok=True)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs("/dev", exist_ok=True)
    mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k")
    for name, (major, minor) in DEVICES.items():
        os.mknod(f"/dev/{name}", 0o20666, os.makedev(major, minor))
        os.chmod(f"/dev/{name}", 0o666)
    os.makedirs("/dev/shm")
    mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"/dev/{name}")
    for fd, volume in volumes:
        os.makedirs(volume["target"], exist_ok=True)
        mount(f"/proc/self/fd/{fd}", volume["target"], "", MS_BIND)
        if volume["read_only"]:
            mount("", volume["target"], "", MS_REMOUNT | MS_BIND | MS_RDONLY)
        os.close(fd)
    if os.path.isdir("/etc") and not os.path.lexists("/etc/hosts"):
        with open("/etc/hosts", "w") as hosts:
            hosts.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    # Docker creates a missing working directory.
    os.makedirs(spec["cwd"], exist_ok=True)
    os.chdir(spec["cwd"])
    if spec["read_only_root"]:  # readonlyRootFilesystem: volumes, /dev, /proc stay writable
        mount("", "/", "", MS_REMOUNT | MS_BIND | MS_RDONLY)
    os.setgroups(spec["groups"])
    os.setgid(spec["gid"])
    os.setuid(spec["uid"])
    # The interpreter ignores these two; an exec keeps ignored signals ignored.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)


def main():
    spec_path, report = sys.argv[1], sys.argv[2]
    fd = os.open(report, os.O_WRONLY | os.O_CLOEXEC)
    try:
        with open(spec_path) as handle:
            spec = json.load(handle)
        prepare(spec)
    except BaseException as error:  # any failure is reported, not a traceback on stderr
        os.write(fd, f"cannot prepare the container: {error}".encode())
        os._exit(127)
    argv = spec["argv"]
    try:
        os.execve(find_executable(argv[0], spec["env"].get("PATH", "")), argv, spec["env"])
    except OSError as error:
        reason = ("executable file not found in $PATH"
                  if isinstance(error, FileNotFoundError) else error.strerror)
        os.write(fd, f'exec: "{argv[0]}": {reason}'.encode())
        os._exit(127)


def find_executable(name, path):
    """`name` looked up in the container's PATH, as Docker's exec does (os.execvpe would
    import modules, which the container's root does not hold)."""
    if "/" in name:
        return name
    for folder in path.split(":"):
        candidate = os.path.join(folder or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError(name)


main()
