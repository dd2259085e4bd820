"""A small Python API over one jit core: build it over a RAM buffer, set and read
registers, run instructions, serve exits. Tests, benchmarks and the CPU process use it.

    ram = np.zeros(1 << 20, dtype=np.uint8)
    core = Core(ram, ram_base=0x4000_0000)
    core.load(0x4000_0000, code_bytes)
    core.pc = 0x4000_0000
    exit = core.run(10_000)
    if exit.kind == exits.MMIO_READ:
        core.answer_mmio(value)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from smpsim.jit import (decode_cache, exceptions, exits, interpreter, mmu, state, sysreg_table,
                        system_registers, timers)
from smpsim.jit.compile import jit
from smpsim.jit.features import Features, reset_state
from smpsim.jit.state import (BREAKPOINT_BASE, BREAKPOINT_SLOTS, BREAKPOINTS_ARMED, CNT_BASE,
                              CNT_HOST_EPOCH, CNT_HOST_FREQ, CNT_ICOUNT_BASE, CNT_SCALE,
                              CUR_EL, DAIF_BITS, EV_BASE, EV_COUNT,
                              EV_SLOTS, EV_WORDS, EVENT_REGISTER, EXIT_B, EXIT_C, EXIT_D, EXIT_KIND, EXIT_PC, FIQ_LINE, FIRMWARE_HVC, ICOUNT,
                              IRQ_LINE, MAINT_PENDING, MMIO_DONE, MMIO_VAL0, NZCV, PAN_BIT, PC,
                              SCHED_EXITS, SERROR_LINE, SP,
                              SPSEL, STOP_ON_EXCEPTION, SYSREG_BASE, TIMER_LEVELS, VFIQ_LINE,
                              VIRQ_LINE, ZR)

_MASK64 = (1 << 64) - 1
DEFAULT_TICKS_PER_INSTRUCTION = 62_500_000 / 100_000_000


@dataclasses.dataclass(frozen=True)
class Exit:
    """Why `run` returned; fields as exits.py documents for the kind."""
    kind: int
    pc: int
    insn: int
    a: int = 0
    b: int = 0
    c: int = 0
    d: int = 0

    @property
    def name(self) -> str:
        return exits.NAMES[self.kind]

    def __str__(self) -> str:
        return (f"{self.name} at pc={self.pc:#x} insn={self.insn:#010x} "
                f"a={self.a:#x} b={self.b:#x} c={self.c:#x} d={self.d:#x}")


class Core:
    """One AArch64 core over a RAM buffer (a uint8 array, e.g. a shared-memory view)."""

    def __init__(self, ram: np.ndarray, ram_base: int = 0x4000_0000,
                 cache_slots: int = decode_cache.DEFAULT_SLOTS,
                 features: Features | None = None, stop_on_exception: bool = False):
        if ram.dtype != np.uint8 or ram.ndim != 1:
            raise ValueError("ram must be a one-dimensional uint8 array")
        if len(ram) < 4096 or len(ram) % 4096:
            raise ValueError("ram size must be a non-zero multiple of 4 KiB")
        self.ram = ram
        self.ram_base = ram_base
        self.regs = state.new_regs()
        self.cpu = state.new_cpu(ram_base, len(ram))
        self.page_slot, self.slot_page, self.dec = decode_cache.new_cache(len(ram), cache_slots)
        self.features = features if features is not None else Features()
        reset_state(self.cpu, self.features)
        self.stop_on_exception = stop_on_exception
        # a virtual clock by default: CNTFRQ (62.5 MHz) at a nominal 100 MIPS
        self.set_counter_rate(DEFAULT_TICKS_PER_INSTRUCTION)
        self.bell = np.zeros(1, dtype=np.uint64)  # see watch_doorbell

    def watch_doorbell(self, word: np.ndarray) -> None:
        """Make `run` end early (BUDGET) once `word[0]` becomes non-zero: a one-element
        uint64 array, typically this CPU's RING word in the doorbell segment."""
        if word.dtype != np.uint64 or word.shape != (1,):
            raise ValueError("the doorbell word is a one-element uint64 array")
        self.bell = word

    # --- PSTATE, system registers, interrupt lines -------------------------------------
    @property
    def el(self) -> int:
        """The current exception level."""
        return int(self.cpu[CUR_EL])

    @property
    def spsel(self) -> int:
        return int(self.cpu[SPSEL])

    @property
    def daif(self) -> int:
        """PSTATE.{D,A,I,F} as MRS DAIF reads them (bits 9..6)."""
        return int(self.cpu[DAIF_BITS])

    @daif.setter
    def daif(self, value: int) -> None:
        self.cpu[DAIF_BITS] = value & (0xF << 6)

    @property
    def pan(self) -> bool:
        """PSTATE.PAN."""
        return bool(self.cpu[PAN_BIT])

    @pan.setter
    def pan(self, on: bool) -> None:
        self.cpu[PAN_BIT] = int(bool(on))
        mmu.refresh_context(self.cpu)

    def set_el(self, el: int, spsel: int = 1) -> None:
        """Move to `el` (banking the stack pointers as an exception entry would)."""
        if not 0 <= el <= (2 if self.features.el2 else 1) or spsel not in (0, 1):
            raise ValueError(f"EL{el} with SPSel={spsel} does not exist on this CPU")
        if el == 0:
            spsel = 0
        exceptions.switch_stack(self.regs, self.cpu, el, spsel)

    def sysreg(self, name: str) -> int:
        """The stored value of a system register (no access checks, no E2H redirection)."""
        return int(self.cpu[SYSREG_BASE + sysreg_table.storage_index(name)])

    def set_sysreg(self, name: str, value: int) -> None:
        self.cpu[SYSREG_BASE + sysreg_table.storage_index(name)] = value & _MASK64
        exceptions.refresh_sp_alignment(self.cpu)

    @property
    def stop_on_exception(self) -> bool:
        """When set, every exception the core takes also ends the run (exits.EXCEPTION)."""
        return bool(self.cpu[STOP_ON_EXCEPTION])

    @stop_on_exception.setter
    def stop_on_exception(self, on: bool) -> None:
        self.cpu[STOP_ON_EXCEPTION] = int(bool(on))

    @property
    def schedule_points(self) -> bool:
        """When set, a run also ends at every schedule point (DESIGN.md §5): every
        exception taken (exits.EXCEPTION, as stop_on_exception), and after an
        instruction that recorded a guest-visible event, an exception return, an
        exclusive store or an atomic (exits.SCHEDULE). Device and GIC register accesses,
        firmware calls, WFI/WFE/SEV and the budget end a run anyway."""
        return bool(self.cpu[SCHED_EXITS])

    @schedule_points.setter
    def schedule_points(self, on: bool) -> None:
        self.cpu[SCHED_EXITS] = int(bool(on))
        self.cpu[STOP_ON_EXCEPTION] = int(bool(on))

    # --- the system counter and the timers' outputs -----------------------------------
    @property
    def counter(self) -> int:
        """The physical count (CNTPCT_EL0) now."""
        return int(timers.count_at(self.cpu, self.cpu[ICOUNT]))

    def set_counter_rate(self, ticks_per_instruction: float) -> None:
        """From now on the counter advances by this much per retired instruction
        (below 1.0); the count itself does not jump."""
        if not 0.0 <= ticks_per_instruction < 1.0:
            raise ValueError("the counter must advance by less than one tick per instruction")
        self.rebase_counter(self.counter)
        self.cpu[CNT_SCALE] = min(round(ticks_per_instruction * (1 << 32)), (1 << 32) - 1)

    def rebase_counter(self, count: int) -> None:
        """Set the count now (a host-time source moves it forward before each quantum,
        a CPU that waits in WFI skips to its next deadline). It never goes back."""
        now = self.counter
        self.cpu[CNT_BASE] = max(now, count) & _MASK64
        self.cpu[CNT_ICOUNT_BASE] = self.cpu[ICOUNT]

    def follow_host_clock(self, epoch_ns: int, frequency: int) -> None:
        """Make the counter registers read the host's clock: `frequency` ticks a second
        since time.monotonic_ns() was `epoch_ns` (a free run: timers.physical_count)."""
        self.cpu[CNT_HOST_EPOCH] = epoch_ns
        self.cpu[CNT_HOST_FREQ] = frequency

    @property
    def timer_levels(self) -> int:
        """The timers' interrupt outputs: bit n set = PPI n asserted."""
        return int(self.cpu[TIMER_LEVELS])

    def next_timer_deadline(self) -> int | None:
        """The count at which a timer output will next become asserted, if any."""
        due = int(timers.next_deadline(self.cpu))
        return None if due == _MASK64 else due

    def next_event_stream(self) -> int | None:
        """The count of the next event-stream event (it wakes a WFE), if the stream is on."""
        due = int(timers.next_event_stream(self.cpu))
        return None if due == _MASK64 else due

    # --- the event ring (events.py) ------------------------------------------------------
    @property
    def events_pending(self) -> int:
        """How many events were recorded since the last drain (lost ones included)."""
        return int(self.cpu[EV_COUNT])

    def drain_events(self) -> tuple[list[tuple[int, ...]], int]:
        """The recorded events, oldest first, as (kind, icount, count, a, b, c, d)
        (events.py), and how many more were lost because the ring was full; empties it."""
        n = int(self.cpu[EV_COUNT])
        kept = min(n, EV_SLOTS)
        rows = self.cpu[EV_BASE:EV_BASE + kept * EV_WORDS].reshape(kept, EV_WORDS)
        out = [tuple(int(v) for v in row) for row in rows]
        self.cpu[EV_COUNT] = 0
        return out, n - kept

    # --- waiting: what ends a WFI or a WFE (the CPU process does the waiting) ----------
    def interrupt_pending(self) -> bool:
        """A WFI wake-up event (exceptions.any_interrupt_pending)."""
        return bool(exceptions.any_interrupt_pending(self.cpu))

    @property
    def event_register(self) -> bool:
        return bool(self.cpu[EVENT_REGISTER])

    def consume_event(self) -> bool:
        """Clear the event register; whether it was set (what ends a WFE)."""
        was = bool(self.cpu[EVENT_REGISTER])
        self.cpu[EVENT_REGISTER] = 0
        return was

    def send_event(self) -> None:
        """An SEV from another CPU (or the event stream): the next WFE does not wait."""
        self.cpu[EVENT_REGISTER] = 1

    @property
    def firmware_hvc(self) -> bool:
        """HVC from EL1 is the firmware conduit (CPUs that start at EL1), not an exception."""
        return bool(self.cpu[FIRMWARE_HVC])

    @firmware_hvc.setter
    def firmware_hvc(self, on: bool) -> None:
        self.cpu[FIRMWARE_HVC] = int(bool(on))

    def set_lines(self, irq: bool | None = None, fiq: bool | None = None,
                  serror: bool | None = None, virq: bool | None = None,
                  vfiq: bool | None = None) -> None:
        """Drive the interrupt inputs: the GIC's physical outputs to this CPU, and its
        virtual CPU interface's virtual IRQ and FIQ (ORed with HCR_EL2.VI/VF)."""
        for word, level in ((IRQ_LINE, irq), (FIQ_LINE, fiq), (SERROR_LINE, serror),
                            (VIRQ_LINE, virq), (VFIQ_LINE, vfiq)):
            if level is not None:
                self.cpu[word] = int(bool(level))

    # --- registers ------------------------------------------------------------------
    def x(self, n: int) -> int:
        """Xn; n = 31 reads XZR (0)."""
        if not 0 <= n <= 31:
            raise IndexError(f"no register X{n}")
        return int(self.regs[n]) if n < 31 else 0

    def set_x(self, n: int, value: int) -> None:
        if not 0 <= n <= 30:
            raise IndexError(f"X{n} cannot be written")
        self.regs[n] = value & _MASK64

    @property
    def sp(self) -> int:
        return int(self.regs[SP])

    @sp.setter
    def sp(self, value: int) -> None:
        self.regs[SP] = value & _MASK64

    @property
    def pc(self) -> int:
        return int(self.cpu[PC])

    @pc.setter
    def pc(self, value: int) -> None:
        self.cpu[PC] = value & _MASK64

    @property
    def nzcv(self) -> int:
        """The NZCV register as MRS reads it: N, Z, C, V in bits 31..28."""
        return int(self.cpu[NZCV]) << 28

    @nzcv.setter
    def nzcv(self, value: int) -> None:
        self.cpu[NZCV] = (value >> 28) & 0xF

    @property
    def icount(self) -> int:
        """Instructions retired since the core was built."""
        return int(self.cpu[ICOUNT])

    # --- memory ---------------------------------------------------------------------
    def _offset(self, addr: int, size: int) -> int:
        off = addr - self.ram_base
        if off < 0 or off + size > len(self.ram):
            raise ValueError(f"[{addr:#x}, {addr + size:#x}) is not in RAM")
        return off

    def load(self, addr: int, data: bytes) -> None:
        """Copy bytes into RAM, forgetting any code decoded from the bytes replaced."""
        off = self._offset(addr, len(data))
        self.ram[off:off + len(data)] = np.frombuffer(data, dtype=np.uint8)
        if len(data):
            decode_cache.note_store(self.page_slot, self.dec, np.uint64(off), len(data))

    def read(self, addr: int, size: int) -> bytes:
        off = self._offset(addr, size)
        return self.ram[off:off + size].tobytes()

    def flush_decoded(self) -> None:
        """Forget every decoded instruction (after writing RAM behind the core's back)."""
        decode_cache.flush(self.page_slot, self.slot_page, self.dec)

    def add_breakpoint(self, addr: int) -> int:
        """Stop (exits.BREAKPOINT, EXIT_A = the slot returned) when the instruction at
        physical address `addr` is about to run, once: the breakpoint then goes, and
        running again executes the instruction. At most BREAKPOINT_SLOTS at a time."""
        off = self._offset(addr, 4)
        if addr & 3:
            raise ValueError(f"{addr:#x}: an instruction address is 4-byte aligned")
        words = self.cpu[BREAKPOINT_BASE:BREAKPOINT_BASE + BREAKPOINT_SLOTS]
        free = [i for i, w in enumerate(words) if w == 0]
        if not free:
            raise ValueError(f"no free breakpoint slot ({BREAKPOINT_SLOTS} in use)")
        self.cpu[BREAKPOINT_BASE + free[0]] = off + 1
        self.cpu[BREAKPOINTS_ARMED] += 1
        decode_cache.note_store(self.page_slot, self.dec, np.uint64(off), 4)  # decode it again
        return free[0]

    def remove_breakpoint(self, slot: int) -> None:
        word = int(self.cpu[BREAKPOINT_BASE + slot])
        if word:
            self.cpu[BREAKPOINT_BASE + slot] = 0
            self.cpu[BREAKPOINTS_ARMED] -= 1
            decode_cache.note_store(self.page_slot, self.dec, np.uint64(word - 1), 4)

    def flush_tlb(self) -> None:
        """Forget every translation (another CPU's TLBI ...IS, or a power-on)."""
        mmu.flush_all(self.cpu)

    def maintenance_done(self) -> None:
        """The MAINTENANCE exit's broadcast is complete everywhere: the DSB completes."""
        self.cpu[MAINT_PENDING] = 0
        self.complete()

    # --- running --------------------------------------------------------------------
    def run(self, budget: int = 1 << 62) -> Exit:
        """Run until an exit or `budget` instructions have retired."""
        interpreter.run(self.regs, self.cpu, self.ram, self.page_slot, self.slot_page, self.dec,
                        budget, self.bell)
        return self.last_exit()

    def step(self, n: int = 1) -> Exit:
        return self.run(n)

    def last_exit(self) -> Exit:
        return Exit(*self.cpu[EXIT_KIND:EXIT_D + 1].tolist())  # (consecutive words)

    # --- serving exits ----------------------------------------------------------------
    def answer_mmio(self, value: int = 0) -> None:
        """Answer the pending MMIO_READ with `value` (or acknowledge an MMIO_WRITE the
        caller performed); the next `run` completes the instruction."""
        done = int(self.cpu[MMIO_DONE])
        if done >= 2:
            raise RuntimeError("an instruction makes at most two device accesses")
        self.cpu[MMIO_VAL0 + done] = value & _MASK64
        self.cpu[MMIO_DONE] = done + 1

    def take_undefined(self) -> None:
        """Make the instruction of the last exit UNDEFINED in the guest (e.g. a HLT that is
        not a semihosting call: halting debug is not enabled)."""
        ex = self.last_exit()
        self.cpu[PC] = _raise_undefined(self.regs, self.cpu, np.uint64(ex.pc))

    def take_sysreg_trap(self) -> None:
        """Trap the system-register access of the last exit (a SYSREG exit) to EL2, as
        its MSR/MRS would be trapped (EC 0x18 with the access's ISS): for traps that the
        CPU process decides (the GIC virtualization's ICH_HCR_EL2.TC/TALL0/TALL1/TDIR)."""
        ex = self.last_exit()
        if ex.kind != exits.SYSREG:
            raise RuntimeError(f"{ex.name} is not a system-register access")
        self.cpu[PC] = _raise_sysreg_trap(self.regs, self.cpu, np.uint64(ex.pc),
                                          np.int64(ex.a), np.int64(ex.b), np.int64(ex.c))

    def take_external_abort(self, address: int, write: bool) -> None:
        """The device access of the last exit failed (nothing is mapped there): a
        synchronous external data abort in the guest (FAR = address, ISV = 0)."""
        ex = self.last_exit()
        self.cpu[MMIO_DONE] = 0
        self.cpu[PC] = _raise_data_abort(self.regs, self.cpu, np.uint64(ex.pc),
                                         np.uint64(address & _MASK64), int(bool(write)))

    def complete(self, result: int | None = None) -> None:
        """Finish the instruction that exited without retiring (SYSREG, SMC, HVC, HLT): for a
        register read, write `result` to its Rt; then step past it."""
        c = self.cpu  # (the words of last_exit() that matter: every exit goes through here)
        if result is not None:
            if c[EXIT_KIND] != exits.SYSREG or not c[EXIT_C]:
                raise RuntimeError(f"{self.last_exit().name} does not read a register")
            rt = int(c[EXIT_B])
            if rt != ZR:
                self.set_x(rt, result)
        c[PC] = int(c[EXIT_PC]) + 4
        c[ICOUNT] += 1


@jit
def _raise_undefined(regs, cpu, pc):
    return exceptions.undefined(regs, cpu, pc, cpu[NZCV])


@jit
def _raise_sysreg_trap(regs, cpu, pc, key, rt, read):
    iss = system_registers.iss_sysreg(key, rt, read)
    return exceptions.take_sync(regs, cpu, 2, exceptions.EC_SYSREG, iss, -1, pc, cpu[NZCV])


@jit
def _raise_data_abort(regs, cpu, pc, address, write):
    iss = (write << 6) | exceptions.FSC_EXTERNAL
    return exceptions.take_with_far(regs, cpu, exceptions.sync_target(cpu),
                                    exceptions.EC_DABORT_SAME, iss, address, pc, cpu[NZCV])
