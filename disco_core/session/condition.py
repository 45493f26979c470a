"""A breakpoint's condition: one comparison of a register or a memory word with a value.

    a0 == 0x1000          $a0 != 0        pc >= 0x80010000
    *0x80012340 != 0      *kmem == 0      *(sp + 8) > 4        *a0 == *a1

An operand is a number (decimal or 0x hex), a register (`a0`, `$a0`, `r4`, `$4`,
`pc`, `hi`, `lo`), a symbol of a loaded program (its address), or `*X`: the 32-bit
little-endian word at address X as the target sees it, where X is any of the
above or `(A + n)` / `(A - n)`. The operators are == != < <= > >=, comparing
unsigned 32-bit values. The session evaluates the condition when the breakpoint
hits and stops (and counts a hit) only if it holds; a word that cannot be read
stops the target with the reason, like an error in gdb's conditions.
"""

from __future__ import annotations

import operator
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

REGISTER_NAMES = ("zero", "at", "v0", "v1", "a0", "a1", "a2", "a3",
                  "t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7",
                  "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7",
                  "t8", "t9", "k0", "k1", "gp", "sp", "fp", "ra")
_ALIASES = {"s8": 30}
OPERATORS: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge,
    "<": operator.lt, ">": operator.gt,
}
_COMPARE = re.compile(r"^(.*?)(==|!=|<=|>=|<|>)(.*)$")
_OFFSET = re.compile(r"^\((.+?)\s*([+-])\s*(\w+)\)$")

Reader = Callable[[int, int], bytes]


class ConditionError(ValueError):
    """The condition cannot be evaluated now (a word that cannot be read)."""


@dataclass(frozen=True)
class TargetState:
    """What a condition reads: the target's registers and its memory."""

    pc: int
    gpr: tuple[int, ...]  # 32
    hi: int
    lo: int
    read: Reader


def register_index(name: str) -> int | None:
    """The general register `name` means (`a0`, `$a0`, `r4`, `$4`), or None."""
    n = name.strip().lower().lstrip("$")
    if n in REGISTER_NAMES:
        return REGISTER_NAMES.index(n)
    if n in _ALIASES:
        return _ALIASES[n]
    m = re.fullmatch(r"r?(\d+)", n)
    if m and (name.strip().startswith("$") or n.startswith("r")) and int(m.group(1)) < 32:
        return int(m.group(1))
    return None


@dataclass(frozen=True)
class _Operand:
    kind: str  # "value", "gpr", "pc", "hi", "lo", "deref"
    value: int = 0  # the number or the register index
    inner: _Operand | None = None  # for deref: the address
    offset: int = 0  # for deref: added to the address

    def evaluate(self, t: TargetState) -> int:
        if self.kind == "value":
            return self.value
        if self.kind == "gpr":
            return int(t.gpr[self.value]) & 0xFFFFFFFF
        if self.kind in ("pc", "hi", "lo"):
            return int(getattr(t, self.kind)) & 0xFFFFFFFF
        assert self.inner is not None
        address = (self.inner.evaluate(t) + self.offset) & 0xFFFFFFFF
        data = t.read(address, 4)
        if len(data) != 4:
            raise ConditionError(f"the word at 0x{address:08x} cannot be read")
        return int(struct.unpack("<I", data)[0])


@dataclass(frozen=True)
class Condition:
    text: str
    left: _Operand
    op: str
    right: _Operand

    def holds(self, t: TargetState) -> bool:
        return OPERATORS[self.op](self.left.evaluate(t), self.right.evaluate(t))


def _number(text: str) -> int | None:
    try:
        return int(text, 0) & 0xFFFFFFFF
    except ValueError:
        return None


def _operand(text: str, resolve: Callable[[str], int], whole: str) -> _Operand:
    s = text.strip()
    if not s:
        raise ValueError(f"condition {whole!r}: an operand is missing on one side")
    if s.startswith("*"):
        inner_text = s[1:].strip()
        m = _OFFSET.fullmatch(inner_text)
        if m:
            off = _number(m.group(3))
            if off is None:
                raise ValueError(f"condition {whole!r}: {m.group(3)!r} is not a number")
            offset = off if m.group(2) == "+" else -off
            return _Operand("deref", inner=_operand(m.group(1), resolve, whole), offset=offset)
        if inner_text.startswith("(") and inner_text.endswith(")"):
            inner_text = inner_text[1:-1]
        return _Operand("deref", inner=_operand(inner_text, resolve, whole))
    n = _number(s)
    if n is not None:
        return _Operand("value", n)
    if s.lower().lstrip("$") in ("pc", "hi", "lo"):
        return _Operand(s.lower().lstrip("$"))
    reg = register_index(s)
    if reg is not None:
        return _Operand("gpr", reg)
    if not re.fullmatch(r"[A-Za-z_.$][\w.$]*", s):
        raise ValueError(f"condition {whole!r}: {s!r} is not a register, number, symbol "
                         "or *address")
    try:
        return _Operand("value", resolve(s) & 0xFFFFFFFF)
    except KeyError as e:
        raise ValueError(f"condition {whole!r}: {str(e).strip(chr(34) + chr(39))}") from None


def parse(text: str, resolve: Callable[[str], int]) -> Condition:
    """A condition from its text (`resolve(symbol)` gives a symbol's address, KeyError
    if there is none); ValueError with a one-line reason for anything else."""
    whole = text.strip()
    m = _COMPARE.match(whole)
    if not m:
        raise ValueError(f"condition {whole!r} is not a comparison: write e.g. "
                         "'a0 == 0x1000' or '*0x80012340 != 0' (== != < <= > >=)")
    left, op, right = m.groups()
    return Condition(whole, _operand(left, resolve, whole), op, _operand(right, resolve, whole))
