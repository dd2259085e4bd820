"""Host-level access to guest RAM: unaligned loads and stores, and real host atomics.

Guest RAM is a uint8 NumPy array, normally a view of a shared-memory segment that
every CPU process maps. Exclusives and LSE atomics must be atomic across those
processes, so they are emitted as LLVM `cmpxchg` / `atomicrmw` (sequentially
consistent) on the array's memory through Numba intrinsics; plain accesses are
single LLVM loads and stores with alignment 1, which x86-64 and AArch64 hosts
perform in one instruction.

All functions take the array and a byte offset that the caller has already
checked against the array's size; values go in and come out as uint64
(zero-extended from the access size).
"""

import numpy as np
from llvmlite import ir
from numba import config, types
from numba.extending import intrinsic

from smpsim.jit.compile import jit

_I64 = ir.IntType(64)
_I128 = ir.IntType(128)


def _pointer(context, builder, arrty, arr, off, bits):
    data = context.make_array(arrty)(context, builder, arr).data
    byte = builder.gep(data, [off])
    return builder.bitcast(byte, ir.IntType(bits).as_pointer())


def _u64(context, builder, typ, value):
    return context.cast(builder, value, typ, types.uint64)


def _make_load(bits):
    @intrinsic
    def load(typingctx, mem, off):
        def codegen(context, builder, sig, args):
            p = _pointer(context, builder, sig.args[0], args[0], args[1], bits)
            v = builder.load(p, align=1)
            return v if bits == 64 else builder.zext(v, _I64)
        return types.uint64(mem, off), codegen
    return load


def _make_store(bits):
    @intrinsic
    def store(typingctx, mem, off, value):
        def codegen(context, builder, sig, args):
            p = _pointer(context, builder, sig.args[0], args[0], args[1], bits)
            v = _u64(context, builder, sig.args[2], args[2])
            builder.store(v if bits == 64 else builder.trunc(v, ir.IntType(bits)), p, align=1)
            return context.get_dummy_value()
        return types.none(mem, off, value), codegen
    return store


def _make_cas(bits):
    @intrinsic
    def cas(typingctx, mem, off, expected, new):
        """Atomically: old = mem[off]; if old == expected: mem[off] = new; return old."""
        def codegen(context, builder, sig, args):
            p = _pointer(context, builder, sig.args[0], args[0], args[1], bits)
            ty = ir.IntType(bits)
            e = _u64(context, builder, sig.args[2], args[2])
            n = _u64(context, builder, sig.args[3], args[3])
            if bits < 64:
                e, n = builder.trunc(e, ty), builder.trunc(n, ty)
            pair = builder.cmpxchg(p, e, n, "seq_cst", "seq_cst")
            old = builder.extract_value(pair, 0)
            return old if bits == 64 else builder.zext(old, _I64)
        return types.uint64(mem, off, expected, new), codegen
    return cas


@intrinsic
def cas128(typingctx, mem, off, exp_lo, exp_hi, new_lo, new_hi):
    """A 16-byte compare-and-swap (offset 16-byte aligned); returns the old (lo, hi)."""
    def codegen(context, builder, sig, args):
        p = _pointer(context, builder, sig.args[0], args[0], args[1], 128)

        def join(lo, hi, lo_t, hi_t):
            lo = builder.zext(_u64(context, builder, lo_t, lo), _I128)
            hi = builder.zext(_u64(context, builder, hi_t, hi), _I128)
            return builder.or_(lo, builder.shl(hi, ir.Constant(_I128, 64)))

        e = join(args[2], args[3], sig.args[2], sig.args[3])
        n = join(args[4], args[5], sig.args[4], sig.args[5])
        old = builder.extract_value(builder.cmpxchg(p, e, n, "seq_cst", "seq_cst"), 0)
        lo = builder.trunc(old, _I64)
        hi = builder.trunc(builder.lshr(old, ir.Constant(_I128, 64)), _I64)
        return context.make_tuple(builder, sig.return_type, [lo, hi])
    sig = types.UniTuple(types.uint64, 2)(mem, off, exp_lo, exp_hi, new_lo, new_hi)
    return sig, codegen


@intrinsic
def fence(typingctx):
    """A full host memory barrier (guest DMB/DSB, and the release half of STLR)."""
    def codegen(context, builder, sig, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()
    return types.none(), codegen


load8, load16, load32, load64 = (_make_load(b) for b in (8, 16, 32, 64))
store8, store16, store32, store64 = (_make_store(b) for b in (8, 16, 32, 64))
cas8, cas16, cas32, cas64 = (_make_cas(b) for b in (8, 16, 32, 64))

# LSE atomic operations by their `opc` field (LDADD=0 ... LDUMIN=7), then SWP.
RMW_ADD, RMW_CLR, RMW_EOR, RMW_SET, RMW_SMAX, RMW_SMIN, RMW_UMAX, RMW_UMIN, RMW_SWP = range(9)
_LLVM_RMW = ("add", "and", "xor", "or", "max", "min", "umax", "umin", "xchg")


@intrinsic
def _atomic_rmw(typingctx, mem, off, size_log2, op, value):
    """One `atomicrmw` chosen at run time by an LLVM switch on (size_log2, op)."""
    def codegen(context, builder, sig, args):
        arrty = sig.args[0]
        size = context.cast(builder, args[2], sig.args[2], types.int64)
        opv = context.cast(builder, args[3], sig.args[3], types.int64)
        v64 = _u64(context, builder, sig.args[4], args[4])
        key = builder.add(builder.mul(size, ir.Constant(_I64, 16)), opv)
        done = builder.append_basic_block("rmw.done")
        default = builder.append_basic_block("rmw.default")
        switch = builder.switch(key, default)
        results = []
        for size_log2 in range(4):
            bits = 8 << size_log2
            for op in range(9):
                block = builder.append_basic_block(f"rmw.{bits}.{op}")
                switch.add_case(ir.Constant(_I64, size_log2 * 16 + op), block)
                builder.position_at_end(block)
                p = _pointer(context, builder, arrty, args[0], args[1], bits)
                v = v64 if bits == 64 else builder.trunc(v64, ir.IntType(bits))
                if op == RMW_CLR:  # LDCLR clears the bits set in the operand
                    v = builder.not_(v)
                old = builder.atomic_rmw(_LLVM_RMW[op], p, v, "seq_cst")
                results.append((old if bits == 64 else builder.zext(old, _I64), builder.block))
                builder.branch(done)
        builder.position_at_end(default)  # unreachable for valid arguments
        results.append((ir.Constant(_I64, 0), builder.block))
        builder.branch(done)
        builder.position_at_end(done)
        phi = builder.phi(_I64)
        for value, block in results:
            phi.add_incoming(value, block)
        return phi
    return types.uint64(mem, off, size_log2, op, value), codegen


if config.DISABLE_JIT:  # pure Python stand-ins for debugging: correct, but not atomic
    def _py_load(nbytes):
        def load(mem, off):
            off = int(off)
            return np.uint64(int.from_bytes(mem[off:off + nbytes].tobytes(), "little"))
        return load

    def _py_store(nbytes):
        def store(mem, off, value):
            off = int(off)
            v = int(value) & ((1 << (8 * nbytes)) - 1)
            mem[off:off + nbytes] = np.frombuffer(v.to_bytes(nbytes, "little"), dtype=np.uint8)
        return store

    def _py_cas(nbytes):
        def cas(mem, off, expected, new):
            old = _py_load(nbytes)(mem, off)
            if int(old) == int(expected) & ((1 << (8 * nbytes)) - 1):
                _py_store(nbytes)(mem, off, new)
            return old
        return cas

    load8, load16, load32, load64 = (_py_load(n) for n in (1, 2, 4, 8))
    store8, store16, store32, store64 = (_py_store(n) for n in (1, 2, 4, 8))
    cas8, cas16, cas32, cas64 = (_py_cas(n) for n in (1, 2, 4, 8))

    def cas128(mem, off, exp_lo, exp_hi, new_lo, new_hi):
        lo, hi = load64(mem, off), load64(mem, int(off) + 8)
        if int(lo) == int(exp_lo) and int(hi) == int(exp_hi):
            store64(mem, off, new_lo)
            store64(mem, int(off) + 8, new_hi)
        return lo, hi

    def fence():
        pass

    def _atomic_rmw(mem, off, size_log2, op, value):
        nbytes = 1 << int(size_log2)
        bits = 8 * nbytes
        mask = (1 << bits) - 1
        old = int(_py_load(nbytes)(mem, off))
        v = int(value) & mask

        def signed(x):
            return x - (1 << bits) if x >> (bits - 1) else x
        new = (old + v, old & ~v, old ^ v, old | v, max(signed(old), signed(v)),
               min(signed(old), signed(v)), max(old, v), min(old, v), v)[int(op)]
        _py_store(nbytes)(mem, off, new & mask)
        return np.uint64(old)


@jit
def load(mem, off, size_log2):
    """Load 1 << size_log2 bytes, zero-extended."""
    if size_log2 == 3:
        return load64(mem, off)
    if size_log2 == 2:
        return load32(mem, off)
    if size_log2 == 1:
        return load16(mem, off)
    return load8(mem, off)


@jit
def store(mem, off, size_log2, value):
    if size_log2 == 3:
        store64(mem, off, value)
    elif size_log2 == 2:
        store32(mem, off, value)
    elif size_log2 == 1:
        store16(mem, off, value)
    else:
        store8(mem, off, value)


@jit
def compare_and_swap(mem, off, size_log2, expected, new):
    if size_log2 == 3:
        return cas64(mem, off, expected, new)
    if size_log2 == 2:
        return cas32(mem, off, expected, new)
    if size_log2 == 1:
        return cas16(mem, off, expected, new)
    return cas8(mem, off, expected, new)


@jit
def atomic_rmw(mem, off, size_log2, op, value):
    """One LSE read-modify-write (RMW_* op) of 1 << size_log2 bytes; returns the old value.

    Signed max/min compare the values as signed integers of the access size, as LLVM's
    `max`/`min` on an iN do."""
    return _atomic_rmw(mem, off, np.int64(size_log2), np.int64(op), np.uint64(value))
