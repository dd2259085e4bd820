"""Unicorn (QEMU 5 TCG) as a reference AArch64 CPU for tests/test_differential_unicorn.py.

One `UnicornCpu` is a Unicorn engine with the MAX CPU model (the default model lacks
the LSE atomics), running at EL1h with the MMU off, with RAM mapped exactly where the
core under test has it and nothing else in reach. EL2 is enabled as on our CPU:
SCR_EL3 = NS | RW | HCE (Unicorn resets in Secure state with SCR_EL3 = 0, where HVC is
UNDEFINED and HCR_EL2 has no effect) and HCR_EL2 = RW (EL1 is AArch64, as our reset
value). EL3 exists in Unicorn only as the place SMC goes, where ours makes it a
firmware call. That system state is saved once and restored by `reset_system`, so that
no MSR, ERET or PSTATE change of one test case reaches the next.

It executes one instruction at a time and reports how that ended:

    OK         the instruction retired (a branch may have left PC anywhere)
    EXCEPTION  a synchronous exception was raised; `intno` is QEMU's number (EXCP_UDEF
               for undefined instructions and trapped system register accesses,
               EXCP_SWI for SVC, EXCP_HVC, EXCP_SMC, EXCP_BKPT for BRK,
               EXCP_DATA_ABORT for alignment faults). Unicorn never takes synchronous
               exceptions itself (no vector, no ESR/ELR/SPSR/FAR): an interrupt hook
               stops the engine where QEMU would have entered the vector, with PSTATE
               as before the exception and PC at the instruction (UDEF, BKPT, data
               abort) or after it (SVC, HVC, SMC).
    UNMAPPED   a data access left RAM (Unicorn's UC_ERR_READ/WRITE_UNMAPPED); PC stays
               at the instruction

With `devices`, windows next to RAM are MMIO regions that behave like memory (a byte
array the test can reset and read back) and log every access the engine makes.
"""

from __future__ import annotations

import ctypes
import dataclasses

from unicorn import (UC_ARCH_ARM64, UC_ERR_FETCH_UNMAPPED, UC_ERR_READ_UNMAPPED,
                     UC_ERR_WRITE_UNMAPPED, UC_HOOK_INTR, UC_MODE_ARM, Uc, UcError)
from unicorn import arm64_const as A

# QEMU's exception numbers (target/arm/cpu.h) that a single instruction can raise
EXCP_UDEF = 1
EXCP_SWI = 2
EXCP_PREFETCH_ABORT = 3
EXCP_DATA_ABORT = 4
EXCP_BKPT = 7
EXCP_HVC = 11
EXCP_SMC = 13
EXCP_NAMES = {EXCP_UDEF: "UDEF", EXCP_SWI: "SVC", EXCP_PREFETCH_ABORT: "PREFETCH_ABORT",
              EXCP_DATA_ABORT: "DATA_ABORT", EXCP_BKPT: "BKPT", EXCP_HVC: "HVC", EXCP_SMC: "SMC"}

OK, EXCEPTION, UNMAPPED = "OK", "EXCEPTION", "UNMAPPED"

# PSTATE bits both CPUs model: PAN, IL, D A I F, EL, SP (NZCV is compared on its own;
# SS, UAO, DIT, SSBS, BTYPE, TCO are QEMU's only)
PSTATE_MASK = (1 << 22) | (1 << 20) | 0x3CD

# SCR_EL3.NS | RW | HCE: Non-secure, EL2 enabled and AArch64, HVC enabled
SCR_EL3_VALUE = 0x501
HCR_EL2_RW = 1 << 31
_SCR_EL3 = (3, 6, 1, 1, 0)
_HCR_EL2 = (3, 4, 1, 1, 0)

# Where the engine runs its own housekeeping instructions (CLREX): one page far from RAM,
# so that "just outside RAM" accesses of the tests still fault.
SCRATCH = 0x1000_0000
_CLREX = 0xD503305F

_X = [getattr(A, f"UC_ARM64_REG_X{i}") for i in range(31)]
# written and read every step: X0-X30, SP, PC, NZCV; then SP_EL0 (written only: read
# back it is stale while SPSel = 0) and PSTATE (read only: a PSTATE write does not
# rebuild QEMU's translation flags)
_WRITE_REGS = _X + [A.UC_ARM64_REG_SP, A.UC_ARM64_REG_PC, A.UC_ARM64_REG_NZCV,
                    A.UC_ARM64_REG_SP_EL0]
_READ_REGS = _X + [A.UC_ARM64_REG_SP, A.UC_ARM64_REG_PC, A.UC_ARM64_REG_NZCV,
                   A.UC_ARM64_REG_PSTATE]
_NW, _NR = len(_WRITE_REGS), len(_READ_REGS)


@dataclasses.dataclass
class Outcome:
    kind: str  # OK, EXCEPTION or UNMAPPED
    intno: int = 0  # for EXCEPTION
    error: str = ""  # for UNMAPPED
    x: tuple = ()  # X0-X30 after the instruction
    sp: int = 0
    pc: int = 0
    nzcv: int = 0  # architectural format, bits 31:28
    pstate: int = 0  # PSTATE & PSTATE_MASK (for EXCEPTION: before the exception)

    def describe(self) -> str:
        if self.kind == EXCEPTION:
            return f"exception {EXCP_NAMES.get(self.intno, self.intno)} (pc {self.pc:#x})"
        if self.kind == UNMAPPED:
            return f"unmapped access ({self.error})"
        return "retired"


class UnicornCpu:
    """A Unicorn AArch64 engine over `ram_size` bytes of RAM at `ram_base`."""

    def __init__(self, ram_base: int, ram_size: int, devices: tuple = ()):
        """`devices`: (address, size) windows mapped as memory-like MMIO regions."""
        self.ram_base = ram_base
        self.ram_size = ram_size
        uc = Uc(UC_ARCH_ARM64, UC_MODE_ARM)
        uc.ctl_set_cpu_model(A.UC_CPU_ARM64_MAX)
        uc.mem_map(ram_base, ram_size)
        self.devices = {base: bytearray(size) for base, size in devices}
        self.device_log: list[tuple] = []  # ("r" | "w", address, size)
        for base, size in devices:
            uc.mmio_map(base, size, self._device_read, base, self._device_write, base)
        uc.mem_map(SCRATCH, 0x1000)
        uc.mem_write(SCRATCH, _CLREX.to_bytes(4, "little"))
        self._intr: list[int] = []
        uc.hook_add(UC_HOOK_INTR, self._on_interrupt)
        # EL1h as at reset, with EL2 enabled (a CP_REG write also rebuilds the hflags)
        uc.cpr_write(*_SCR_EL3, SCR_EL3_VALUE)
        uc.cpr_write(*_HCR_EL2, HCR_EL2_RW)
        self._reset_context = uc.context_save()  # the CPU state only, not memory
        # the physical address range (ID_AA64MMFR0_EL1.PARange): with the MMU off, a
        # data access beyond it is an Address size fault (EXCP_DATA_ABORT), not unmapped
        parange = uc.cpr_read(3, 0, 0, 7, 0) & 0xF
        self.pa_bits = {0: 32, 1: 36, 2: 40, 3: 42, 4: 44, 5: 48, 6: 52}[parange]
        self.uc = uc
        # Registers move through reusable ctypes buffers and the engine's batch calls:
        # the public reg_*_batch wrappers cost ~1 us per register.
        self._wids = (ctypes.c_int * _NW)(*_WRITE_REGS)
        self._wvals = (ctypes.c_uint64 * _NW)()
        base = ctypes.addressof(self._wvals)
        self._wptrs = (ctypes.c_void_p * _NW)(*(base + 8 * i for i in range(_NW)))
        self._rids = (ctypes.c_int * _NR)(*_READ_REGS)
        self._rvals = (ctypes.c_uint64 * _NR)()
        base = ctypes.addressof(self._rvals)
        self._rptrs = (ctypes.c_void_p * _NR)(*(base + 8 * i for i in range(_NR)))
        self._fast = hasattr(uc, "_do_reg_write_batch") and hasattr(uc, "_do_reg_read_batch")

    def _device_read(self, uc, offset, size, base):
        self.device_log.append(("r", base + offset, size))
        return int.from_bytes(self.devices[base][offset:offset + size], "little")

    def _device_write(self, uc, offset, size, value, base):
        self.device_log.append(("w", base + offset, size))
        self.devices[base][offset:offset + size] = value.to_bytes(size, "little")

    def _on_interrupt(self, uc, intno, user_data):
        self._intr.append(intno)
        uc.emu_stop()

    # --- memory -----------------------------------------------------------------------
    def write(self, addr: int, data: bytes) -> None:
        """Write RAM and forget any code translated from the bytes replaced."""
        self.uc.mem_write(addr, bytes(data))
        self.uc.ctl_remove_cache(addr, addr + len(data))

    def read_ram(self) -> bytes:
        return bytes(self.uc.mem_read(self.ram_base, self.ram_size))

    # --- system state -------------------------------------------------------------------
    def reset_system(self) -> None:
        """Back to EL1h with the reset system registers, DAIF masked, no exclusive
        monitor armed (the saved context; memory is not part of it)."""
        self.uc.context_restore(self._reset_context)

    def set_pstate_bits(self, daif: int, pan: int) -> None:
        """PSTATE.DAIF (bits 9:6) and PAN. QEMU caches PSTATE-derived translation flags:
        the write of a system register (HCR_EL2, unchanged) rebuilds them."""
        pstate = self.uc.reg_read(A.UC_ARM64_REG_PSTATE) & ~(0x3C0 | (1 << 22))
        self.uc.reg_write(A.UC_ARM64_REG_PSTATE, pstate | (daif & 0x3C0) | ((pan & 1) << 22))
        self.uc.cpr_write(*_HCR_EL2, HCR_EL2_RW)

    def sysreg(self, enc: tuple) -> int:
        """The raw value of system register (op0, op1, CRn, CRm, op2)."""
        return self.uc.cpr_read(*enc)

    def set_sysreg(self, enc: tuple, value: int) -> None:
        self.uc.cpr_write(*enc, value)

    def sp_el0(self) -> int:
        """SP_EL0 while it is banked (SPSel = 1)."""
        return self.uc.reg_read(A.UC_ARM64_REG_SP_EL0)

    # --- registers ----------------------------------------------------------------------
    def set_state(self, x, sp: int, pc: int, nzcv: int, sp_el0: int = 0) -> None:
        """X0-X30, the current SP (SP_EL1 at EL1h), PC, NZCV and the banked SP_EL0."""
        values = list(x) + [sp, pc, nzcv, sp_el0]
        if self._fast:
            self._wvals[:] = values
            status = self.uc._do_reg_write_batch(self._wids, self._wptrs, ctypes.c_int(_NW))
            if status:
                raise UcError(status)
        else:
            self.uc.reg_write_batch(list(zip(_WRITE_REGS, values)))

    def get_state(self):
        """(X0-X30, SP, PC, NZCV, PSTATE & PSTATE_MASK)."""
        if self._fast:
            status = self.uc._do_reg_read_batch(self._rids, self._rptrs, ctypes.c_int(_NR))
            if status:
                raise UcError(status)
            values = list(self._rvals)
        else:
            values = list(self.uc.reg_read_batch(_READ_REGS))
        return tuple(values[:31]), values[31], values[32], values[33], \
            values[34] & PSTATE_MASK

    # --- running ------------------------------------------------------------------------
    def step(self, pc: int, until: int, count: int = 1) -> Outcome:
        """Execute the one instruction at `pc` (or at most `count`, stopping at `until`).

        `until` must be where the instruction is expected to leave PC (the core under test
        knows): the engine stops before fetching from there. Without it, Unicorn's
        instruction count stops the engine only after it has translated the next
        instruction, and a branch out of RAM would end in a fetch error.
        """
        self._intr.clear()
        self.device_log.clear()
        if until == pc:  # a branch to itself: until == begin would run nothing
            until = pc + 4
        kind, error = OK, ""
        try:
            self.uc.emu_start(pc, until, count=count)
        except UcError as exc:
            if exc.errno in (UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED):
                kind, error = UNMAPPED, str(exc)
            elif exc.errno != UC_ERR_FETCH_UNMAPPED:  # only the next fetch; PC tells the rest
                raise
        x, sp, new_pc, nzcv, pstate = self.get_state()
        if self._intr == [EXCP_PREFETCH_ABORT] and new_pc == until:
            # Only the next fetch (PC tells the rest), as UC_ERR_FETCH_UNMAPPED above:
            # with EL2 enabled, QEMU reports a fetch from nowhere (or beyond the physical
            # address range) as a prefetch abort before it notices `until`.
            self._intr.clear()
        if self._intr:
            kind = EXCEPTION
        return Outcome(kind, self._intr[0] if self._intr else 0, error, x, sp, new_pc, nzcv,
                       pstate)

    def clear_monitor(self) -> None:
        """CLREX: no exclusive access may carry over from one test case to the next."""
        self._intr.clear()
        self.uc.emu_start(SCRATCH, SCRATCH + 4, count=1)
