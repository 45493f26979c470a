"""A user-mode Unix for the guest's user programs, on unicorn.

It implements the system calls of docs/guest-abi.md in Python over an
in-memory copy of a root image, one unicorn CPU per process, scheduled round
robin in slices. It is a reference for the user programs, independent of the
guest kernel: the tests run the shell, the utilities and the workloads here
(with any number of "CPUs" reported by nprocs) and compare their output.

    emu = UserEmu.from_image(read_image("root.img"), nprocs=4)
    result = emu.run(["/sh", "-c", "echo hi | wc"])
    result.output, result.status
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass, field

import unicorn as U
from unicorn import mips_const as M

from disco_core.fsimage import T_DEVICE, T_DIR, T_FILE, FsImage

PAGE = 4096
STACK_TOP = 0x7FFF0000
STACK_SIZE = 1 << 20
SHM_BASE = 0x70000000
SHM_SLOT = 1 << 20  # one segment per MiB
SLICE = 20000  # instructions per turn: small, so interleavings vary with nprocs

(EPERM, ENOENT, ESRCH, EBADF, ECHILD, ENOMEM, EFAULT, EEXIST, ENOTDIR, EISDIR, EINVAL,
 EMFILE, ENOSPC, EPIPE, ENAMETOOLONG) = (1, 2, 3, 9, 10, 12, 14, 17, 20, 21, 22, 24, 28, 32, 36)
O_WRONLY, O_RDWR, O_CREATE, O_TRUNC = 1, 2, 0x200, 0x400
NOFILE = 16

_REGS = [getattr(M, f"UC_MIPS_REG_{i}") for i in range(1, 32)] + [
    M.UC_MIPS_REG_HI, M.UC_MIPS_REG_LO]


class Block(Exception):
    """The system call must wait; it is re-executed when the process runs again."""


class Exit(Exception):
    pass


@dataclass
class Node:
    type: int
    inum: int
    data: bytearray = field(default_factory=bytearray)
    entries: dict[str, Node] = field(default_factory=dict)  # directories
    parent: Node | None = None
    major: int = 0
    minor: int = 0
    nlink: int = 1

    def dirdata(self) -> bytes:
        ents = [(".", self), ("..", self.parent or self), *self.entries.items()]
        return b"".join(struct.pack("<H14s", n.inum, name.encode()) for name, n in ents)


@dataclass
class Pipe:
    buf: bytearray = field(default_factory=bytearray)
    readers: int = 0
    writers: int = 0


@dataclass
class OpenFile:
    kind: str  # "file", "console", "pipe"
    readable: bool
    writable: bool
    node: Node | None = None
    pipe: Pipe | None = None
    off: int = 0
    refs: int = 1


@dataclass
class Proc:
    pid: int
    ppid: int
    name: str
    uc: U.Uc
    pc: int
    brk: int
    fds: list[OpenFile | None]
    cwd: Node
    state: str = "runnable"  # runnable, zombie
    status: int = 0
    shm: dict[int, int] = field(default_factory=dict)  # segment id -> address
    cpu: int = 0
    blocked: bool = False  # the last system call has to wait
    resumed: bool = False  # pc was set by a system call (block, exec)


@dataclass
class EmuResult:
    output: bytes
    status: int | None  # exit status of the first process, or poweroff's
    instructions: int
    forks: int
    execs: int

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")


class UserEmu:
    def __init__(self, root: Node, nprocs: int = 1, stdin: bytes = b"",
                 echo: bool = False) -> None:
        self.root = root
        self.nprocs = nprocs
        self.stdin = bytearray(stdin)
        self.echo = echo  # copy console input to the output, as a terminal does
        self.output = bytearray()
        self.procs: dict[int, Proc] = {}
        self.next_pid = 1
        self.next_inum = 1 + max(_all_inums(root))
        self.shm: dict[int, tuple[int, ctypes.Array]] = {}  # key -> (id, buffer)
        self.shm_by_id: list[ctypes.Array] = []
        self.cur: Proc | None = None
        self.poweroff: int | None = None
        self.instructions = 0
        self.forks = 0
        self.execs = 0

    @classmethod
    def from_image(cls, fs: FsImage, **kw) -> UserEmu:
        def load(inum: int, parent: Node | None) -> Node:
            ip = fs.inode(inum)
            node = Node(ip.type, inum, parent=parent, major=ip.major, minor=ip.minor)
            if ip.type == T_DIR:
                for name, child in fs.entries(inum):
                    if name not in (".", ".."):
                        node.entries[name] = load(child, node)
            else:
                node.data = bytearray(fs.read_inode(ip))
            return node

        return cls(load(1, None), **kw)

    # ------------------------------------------------------------ files

    def lookup(self, path: str, create: bool = False) -> Node:
        node = self.root if path.startswith("/") or self.cur is None else self.cur.cwd
        parts = [p for p in path.split("/") if p]
        if not parts and not path:
            raise OSError(ENOENT)
        for i, part in enumerate(parts):
            if node.type != T_DIR:
                raise OSError(ENOTDIR)
            if len(part) > 14:
                raise OSError(ENAMETOOLONG)
            if part == ".":
                continue
            if part == "..":
                node = node.parent or node
                continue
            nxt = node.entries.get(part)
            if nxt is None:
                if create and i == len(parts) - 1:
                    nxt = self.newnode(T_FILE, node)
                    node.entries[part] = nxt
                else:
                    raise OSError(ENOENT)
            node = nxt
        return node

    def parent_and_name(self, path: str) -> tuple[Node, str]:
        path = path.rstrip("/")
        head, _, name = path.rpartition("/")
        if not name or name in (".", ".."):
            raise OSError(EINVAL)
        if len(name) > 14:
            raise OSError(ENAMETOOLONG)
        if "/" in path:
            parent = self.lookup(head or "/")
        else:
            parent = self.cur.cwd
        if parent.type != T_DIR:
            raise OSError(ENOTDIR)
        return parent, name

    def newnode(self, type_: int, parent: Node) -> Node:
        self.next_inum += 1
        return Node(type_, self.next_inum, parent=parent)

    # ------------------------------------------------------------ memory

    def newuc(self) -> U.Uc:
        uc = U.Uc(U.UC_ARCH_MIPS, U.UC_MODE_MIPS32 | U.UC_MODE_LITTLE_ENDIAN)
        uc.ctl_set_cpu_model(M.UC_CPU_MIPS32_4KEC)
        uc.hook_add(U.UC_HOOK_INTR, self._intr)
        return uc

    def cstr(self, addr: int, limit: int = 4096) -> str:
        uc = self.cur.uc
        out = bytearray()
        while len(out) < limit:
            chunk = bytes(uc.mem_read(addr + len(out), 1))
            if chunk == b"\0":
                return out.decode(errors="replace")
            out += chunk
        raise OSError(ENAMETOOLONG)

    def load(self, path: str, argv: list[str]) -> tuple[U.Uc, int, int]:
        node = self.lookup(path)
        if node.type != T_FILE:
            raise OSError(EPERM)
        data = bytes(node.data)
        if data[:4] != b"\x7fELF":
            raise OSError(EPERM)
        entry, phoff = struct.unpack_from("<II", data, 24)
        phentsize, phnum = struct.unpack_from("<HH", data, 42)
        uc = self.newuc()
        pages: set[int] = set()
        segs = []
        for i in range(phnum):
            ph = struct.unpack_from("<8I", data, phoff + i * phentsize)
            t, off, va, filesz, memsz = ph[0], ph[1], ph[2], ph[4], ph[5]
            if t != 1:
                continue
            segs.append((va, data[off : off + filesz]))
            pages.update(range(va // PAGE, (va + memsz + PAGE - 1) // PAGE))
        for p in sorted(pages):
            uc.mem_map(p * PAGE, PAGE)
        for va, chunk in segs:
            uc.mem_write(va, chunk)
        brk = (max(pages) + 1) * PAGE
        uc.mem_map(STACK_TOP - STACK_SIZE, STACK_SIZE)
        # argv strings at the top, then the pointer array, $sp 8-aligned below.
        sp = STACK_TOP
        ptrs = []
        for a in argv:
            b = a.encode() + b"\0"
            sp -= len(b)
            uc.mem_write(sp, b)
            ptrs.append(sp)
        sp &= ~3
        table = struct.pack(f"<{len(ptrs) + 1}I", *ptrs, 0)
        sp -= len(table)
        sp &= ~7
        uc.mem_write(sp, table)
        uc.reg_write(M.UC_MIPS_REG_A0, len(argv))
        uc.reg_write(M.UC_MIPS_REG_A1, sp)
        uc.reg_write(M.UC_MIPS_REG_SP, sp - 8)
        return uc, entry, brk

    # ------------------------------------------------------------ running

    def run(self, argv: list[str], max_instructions: int = 400_000_000) -> EmuResult:
        console = Node(T_DEVICE, 0, major=1)
        self.cur = None
        uc, entry, brk = self.load(argv[0], argv)  # relative to / (no process yet)
        fds: list[OpenFile | None] = [None] * NOFILE
        con = OpenFile("console", True, True, node=console, refs=3)
        fds[0] = fds[1] = fds[2] = con
        first = Proc(1, 0, argv[0].rsplit("/", 1)[-1], uc, entry, brk, fds, self.root)
        self.procs[1] = first
        self.next_pid = 2
        while self.poweroff is None and first.state != "zombie":
            runnable = [p for p in self.procs.values() if p.state == "runnable"]
            progressed = False
            for p in runnable:
                if p.state != "runnable" or self.poweroff is not None:
                    continue
                self.cur = p
                p.blocked = False
                try:
                    p.uc.emu_start(p.pc, 0, count=SLICE)
                except U.UcError as e:
                    pc = p.uc.reg_read(M.UC_MIPS_REG_PC)
                    self.output += f"[pid {p.pid} ({p.name}): fault {e} at {pc:#x}]\n".encode()
                    self.exit(p, -1)
                    continue
                if p.state == "runnable" and not p.resumed:
                    p.pc = p.uc.reg_read(M.UC_MIPS_REG_PC)
                p.resumed = False
                if not p.blocked:
                    progressed = True
                    self.instructions += SLICE
            if self.instructions > max_instructions:
                raise RuntimeError(f"over {max_instructions} instructions: {self.output[-500:]!r}")
            if not progressed and all(p.blocked for p in self.procs.values()
                                      if p.state == "runnable"):
                raise RuntimeError(f"deadlock: every process waits; output {self.output!r}")
        status = self.poweroff if self.poweroff is not None else first.status
        return EmuResult(bytes(self.output), status, self.instructions, self.forks, self.execs)

    def _intr(self, uc: U.Uc, intno: int, _user: object) -> None:
        p = self.cur
        pc = uc.reg_read(M.UC_MIPS_REG_PC)  # already past the syscall
        if intno != 17:
            self.output += f"[pid {p.pid}: exception {intno} at {pc:#x}]\n".encode()
            self.exit(p, -1)
            uc.emu_stop()
            return
        num = uc.reg_read(M.UC_MIPS_REG_V0)
        args = [uc.reg_read(r) for r in (M.UC_MIPS_REG_A0, M.UC_MIPS_REG_A1,
                                          M.UC_MIPS_REG_A2, M.UC_MIPS_REG_A3)]
        handler = getattr(self, f"sys_{SYSCALLS.get(num, 'bad')}")
        try:
            r = handler(*args)
        except Block:
            p.blocked = True
            p.pc = pc - 4
            p.resumed = True
            uc.emu_stop()
            return
        except Exit:
            uc.emu_stop()
            return
        except OSError as e:
            r = -e.args[0]
        except U.UcError:
            r = -EFAULT
        if p.state == "zombie" or p.uc is not uc:
            uc.emu_stop()
            return
        uc.reg_write(M.UC_MIPS_REG_V0, r & 0xFFFFFFFF)

    def exit(self, p: Proc, status: int) -> None:
        for fd in range(NOFILE):
            if p.fds[fd]:
                self.closefile(p.fds[fd])
                p.fds[fd] = None
        p.state = "zombie"
        p.status = status
        for c in self.procs.values():
            if c.ppid == p.pid:
                c.ppid = 1

    def closefile(self, f: OpenFile) -> None:
        f.refs -= 1
        if f.refs == 0 and f.pipe:
            if f.readable:
                f.pipe.readers -= 1
            else:
                f.pipe.writers -= 1

    def fd(self, n: int) -> OpenFile:
        if not 0 <= n < NOFILE or self.cur.fds[n] is None:
            raise OSError(EBADF)
        return self.cur.fds[n]

    def allocfd(self, f: OpenFile) -> int:
        for i in range(NOFILE):
            if self.cur.fds[i] is None:
                self.cur.fds[i] = f
                return i
        raise OSError(EMFILE)

    # ------------------------------------------------------------ system calls

    def sys_bad(self, *_: int) -> int:
        raise OSError(EINVAL)

    def sys_fork(self, *_: int) -> int:
        p = self.cur
        uc = self.newuc()
        shm_addrs = {addr for addr in p.shm.values()}
        for begin, end, perms in p.uc.mem_regions():
            if begin in shm_addrs:
                continue
            uc.mem_map(begin, end - begin + 1, perms)
            uc.mem_write(begin, bytes(p.uc.mem_read(begin, end - begin + 1)))
        for sid, addr in p.shm.items():
            buf = self.shm_by_id[sid]
            uc.mem_map_ptr(addr, ctypes.sizeof(buf), U.UC_PROT_ALL, ctypes.addressof(buf))
        for r in _REGS:
            uc.reg_write(r, p.uc.reg_read(r))
        uc.reg_write(M.UC_MIPS_REG_V0, 0)
        pid = self.next_pid
        self.next_pid += 1
        for f in p.fds:
            if f:
                f.refs += 1
        child = Proc(pid, p.pid, p.name, uc, p.uc.reg_read(M.UC_MIPS_REG_PC), p.brk,
                     list(p.fds), p.cwd, shm=dict(p.shm), cpu=pid % self.nprocs)
        self.procs[pid] = child
        self.forks += 1
        return pid

    def sys_exit(self, status: int, *_: int) -> int:
        self.exit(self.cur, _signed(status))
        raise Exit

    def sys_wait(self, addr: int, *_: int) -> int:
        p = self.cur
        kids = [c for c in self.procs.values() if c.ppid == p.pid]
        if not kids:
            raise OSError(ECHILD)
        for c in sorted(kids, key=lambda c: c.pid):
            if c.state == "zombie":
                if addr:
                    p.uc.mem_write(addr, struct.pack("<i", c.status))
                del self.procs[c.pid]
                return c.pid
        raise Block

    def sys_pipe(self, addr: int, *_: int) -> int:
        pipe = Pipe(readers=1, writers=1)
        r = self.allocfd(OpenFile("pipe", True, False, pipe=pipe))
        try:
            w = self.allocfd(OpenFile("pipe", False, True, pipe=pipe))
        except OSError:
            self.cur.fds[r] = None
            raise
        self.cur.uc.mem_write(addr, struct.pack("<ii", r, w))
        return 0

    def sys_read(self, fd: int, buf: int, n: int, *_: int) -> int:
        f = self.fd(fd)
        if not f.readable:
            raise OSError(EBADF)
        n = _signed(n)
        if n < 0:
            raise OSError(EINVAL)
        if f.kind == "pipe":
            if not f.pipe.buf:
                if f.pipe.writers == 0:
                    return 0
                raise Block
            data = bytes(f.pipe.buf[:n])
            del f.pipe.buf[:n]
        elif f.kind == "console":
            # Line at a time, like a terminal.
            end = self.stdin.find(b"\n")
            take = min(n, end + 1 if end >= 0 else len(self.stdin))
            data = bytes(self.stdin[:take])
            del self.stdin[:take]
            if self.echo:
                self.output += data
        else:
            node = f.node
            content = node.dirdata() if node.type == T_DIR else node.data
            data = bytes(content[f.off : f.off + n])
            f.off += len(data)
        self.cur.uc.mem_write(buf, data)
        return len(data)

    def sys_write(self, fd: int, buf: int, n: int, *_: int) -> int:
        f = self.fd(fd)
        if not f.writable:
            raise OSError(EBADF)
        data = bytes(self.cur.uc.mem_read(buf, _signed(n)))
        if f.kind == "pipe":
            if f.pipe.readers == 0:
                raise OSError(EPIPE)
            f.pipe.buf += data
        elif f.kind == "console":
            self.output += data
        else:
            node = f.node
            if len(node.data) < f.off:
                node.data += bytes(f.off - len(node.data))
            node.data[f.off : f.off + len(data)] = data
            f.off += len(data)
        return len(data)

    def sys_kill(self, pid: int, *_: int) -> int:
        p = self.procs.get(pid)
        if p is None or p.state == "zombie":
            raise OSError(ESRCH)
        self.exit(p, -1)
        return 0

    def sys_exec(self, path: int, argv: int, *_: int) -> int:
        p = self.cur
        name = self.cstr(path)
        args = []
        while True:
            (ptr,) = struct.unpack("<I", p.uc.mem_read(argv + 4 * len(args), 4))
            if ptr == 0:
                break
            args.append(self.cstr(ptr))
        uc, entry, brk = self.load(name, args)
        p.uc, p.pc, p.brk, p.shm = uc, entry, brk, {}
        p.resumed = True
        p.name = name.rsplit("/", 1)[-1][:15]
        self.execs += 1
        raise Exit

    def sys_fstat(self, fd: int, addr: int, *_: int) -> int:
        f = self.fd(fd)
        if f.kind == "pipe":
            st = struct.pack("<iIhhI", 0, 0, T_FILE, 1, len(f.pipe.buf))
        else:
            node = f.node
            size = len(node.dirdata()) if node.type == T_DIR else len(node.data)
            st = struct.pack("<iIhhI", 1, node.inum, node.type, node.nlink, size)
        self.cur.uc.mem_write(addr, st)
        return 0

    def sys_chdir(self, path: int, *_: int) -> int:
        node = self.lookup(self.cstr(path))
        if node.type != T_DIR:
            raise OSError(ENOTDIR)
        self.cur.cwd = node
        return 0

    def sys_dup(self, fd: int, *_: int) -> int:
        f = self.fd(fd)
        n = self.allocfd(f)
        f.refs += 1
        return n

    def sys_getpid(self, *_: int) -> int:
        return self.cur.pid

    def sys_sbrk(self, n: int, *_: int) -> int:
        p = self.cur
        n = _signed(n)
        old = p.brk
        if n > 0:
            new = old + n
            first = (old + PAGE - 1) // PAGE * PAGE
            last = (new + PAGE - 1) // PAGE * PAGE
            if last > SHM_BASE:
                raise OSError(ENOMEM)
            if last > first:
                p.uc.mem_map(first, last - first)
        p.brk = old + n
        return old

    def sys_sleep(self, *_: int) -> int:
        return 0

    def sys_uptime(self, *_: int) -> int:
        return self.instructions // 1_000_000

    def sys_open(self, path: int, flags: int, *_: int) -> int:
        name = self.cstr(path)
        node = self.lookup(name, create=bool(flags & O_CREATE))
        acc = flags & 3
        if node.type == T_DIR and acc != 0:
            raise OSError(EISDIR)
        if flags & O_TRUNC and node.type == T_FILE:
            node.data = bytearray()
        kind = "console" if node.type == T_DEVICE else "file"
        f = OpenFile(kind, acc in (0, O_RDWR), acc in (O_WRONLY, O_RDWR), node=node)
        return self.allocfd(f)

    def sys_mknod(self, path: int, major: int, minor: int, *_: int) -> int:
        parent, name = self.parent_and_name(self.cstr(path))
        if name in parent.entries:
            raise OSError(EEXIST)
        node = self.newnode(T_DEVICE, parent)
        node.major, node.minor = major, minor
        parent.entries[name] = node
        return 0

    def sys_unlink(self, path: int, *_: int) -> int:
        parent, name = self.parent_and_name(self.cstr(path))
        node = parent.entries.get(name)
        if node is None:
            raise OSError(ENOENT)
        if node.type == T_DIR and node.entries:
            raise OSError(EEXIST)
        del parent.entries[name]
        node.nlink -= 1
        return 0

    def sys_link(self, old: int, new: int, *_: int) -> int:
        node = self.lookup(self.cstr(old))
        if node.type == T_DIR:
            raise OSError(EPERM)
        parent, name = self.parent_and_name(self.cstr(new))
        if name in parent.entries:
            raise OSError(EEXIST)
        parent.entries[name] = node
        node.nlink += 1
        return 0

    def sys_mkdir(self, path: int, *_: int) -> int:
        parent, name = self.parent_and_name(self.cstr(path))
        if name in parent.entries:
            raise OSError(EEXIST)
        parent.entries[name] = self.newnode(T_DIR, parent)
        return 0

    def sys_close(self, fd: int, *_: int) -> int:
        f = self.fd(fd)
        self.cur.fds[fd] = None
        self.closefile(f)
        return 0

    def sys_time(self, *_: int) -> int:
        return 1_700_000_000

    def sys_shmget(self, key: int, size: int, *_: int) -> int:
        if key not in self.shm:
            size = _signed(size)
            if not 0 < size <= SHM_SLOT:
                raise OSError(EINVAL)
            buf = (ctypes.c_char * ((size + PAGE - 1) // PAGE * PAGE))()
            self.shm[key] = (len(self.shm_by_id), buf)
            self.shm_by_id.append(buf)
        return self.shm[key][0]

    def sys_shmat(self, sid: int, *_: int) -> int:
        p = self.cur
        if not 0 <= sid < len(self.shm_by_id):
            raise OSError(EINVAL)
        if sid in p.shm:
            return p.shm[sid]
        buf = self.shm_by_id[sid]
        addr = SHM_BASE + sid * SHM_SLOT
        p.uc.mem_map_ptr(addr, ctypes.sizeof(buf), U.UC_PROT_ALL, ctypes.addressof(buf))
        p.shm[sid] = addr
        return addr

    def sys_getprocs(self, addr: int, maxn: int, *_: int) -> int:
        # size is the break, as the guest kernel reports it (its p->sz).
        states = {"runnable": 2, "zombie": 4}
        out = b""
        procs = sorted(self.procs.values(), key=lambda p: p.pid)[: _signed(maxn)]
        for p in procs:
            state = 3 if p is self.cur else 1 if p.blocked else states[p.state]
            out += struct.pack("<iiiiI16s", p.pid, p.ppid, state, p.cpu, p.brk,
                               p.name.encode()[:15])
        self.cur.uc.mem_write(addr, out)
        return len(procs)

    def sys_nprocs(self, *_: int) -> int:
        return self.nprocs

    def sys_poweroff(self, status: int, *_: int) -> int:
        self.poweroff = _signed(status)
        raise Exit


SYSCALLS = {
    1: "fork", 2: "exit", 3: "wait", 4: "pipe", 5: "read", 6: "kill", 7: "exec", 8: "fstat",
    9: "chdir", 10: "dup", 11: "getpid", 12: "sbrk", 13: "sleep", 14: "uptime", 15: "open",
    16: "write", 17: "mknod", 18: "unlink", 19: "link", 20: "mkdir", 21: "close", 22: "time",
    23: "shmget", 24: "shmat", 25: "getprocs", 26: "nprocs", 27: "poweroff",
}


def _signed(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _all_inums(node: Node) -> list[int]:
    out = [node.inum]
    for c in node.entries.values():
        out += _all_inums(c)
    return out
