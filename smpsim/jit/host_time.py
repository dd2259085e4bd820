"""The host's monotonic clock, read from compiled code: clock_gettime(CLOCK_MONOTONIC),
the clock Python's time.monotonic_ns() reads, called by its C symbol (a relocation that
the cached machine code keeps, so caching is unaffected). Free runs read the system
counter from it (timers.host_count), so that every CPU process sees one counter."""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

CLOCK_MONOTONIC = 1  # Linux's clock id

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_TIMESPEC = ir.LiteralStructType([_I64, _I64])  # tv_sec, tv_nsec (64-bit Linux)


@intrinsic
def monotonic_ns(typingctx):
    """Nanoseconds of the host's CLOCK_MONOTONIC (as time.monotonic_ns())."""
    def codegen(context, builder, sig, args):
        fnty = ir.FunctionType(_I32, [_I32, _TIMESPEC.as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "clock_gettime")
        ts = cgutils.alloca_once(builder, _TIMESPEC)
        builder.call(fn, [ir.Constant(_I32, CLOCK_MONOTONIC), ts])
        zero = ir.Constant(_I32, 0)
        sec = builder.load(builder.gep(ts, [zero, zero]))
        nsec = builder.load(builder.gep(ts, [zero, ir.Constant(_I32, 1)]))
        return builder.add(builder.mul(sec, ir.Constant(_I64, 1_000_000_000)), nsec)
    return types.uint64(), codegen
