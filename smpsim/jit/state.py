"""The layout of a core's state arrays: named indices, nothing else.

A core is a handful of NumPy arrays that the jit functions take as arguments:

- `regs` (uint64[REG_SLOTS]): the general-purpose registers as the executors see
  them. Register number 31 is resolved at decode time into ZR (reads as zero),
  DISCARD (a write nobody reads) or SP, so execution never tests for it.
- `cpu` (uint64[CPU_WORDS]): PC, flags, the exclusive monitor, counters and the
  operands of the last exit.
- `mem` (uint8[]): guest RAM, normally a view of a shared-memory segment.
- the decode cache (see decode_cache.py).
"""

import numpy as np

from smpsim.jit.sysreg_table import STORAGE_WORDS

# --- regs -------------------------------------------------------------------------
ZR = 31  # always zero: nothing ever writes this slot
DISCARD = 32  # destination for writes to XZR/WZR
SP = 33  # the stack pointer of the current exception level
REG_SLOTS = 40

# --- cpu --------------------------------------------------------------------------
PC = 0
NZCV = 1  # packed N=8, Z=4, C=2, V=1 (the architectural register holds them in bits 31:28)
ICOUNT = 2  # instructions retired since reset
RAM_BASE = 3  # guest physical address of mem[0]
RAM_SIZE = 4

# the exclusive monitor (value based, see loads_stores.py)
EXCL_VALID = 5
EXCL_ADDR = 6  # guest address of the load-exclusive
EXCL_SIZE = 7  # bytes covered (1..16)
EXCL_LO = 8  # the value(s) the load-exclusive read
EXCL_HI = 9

# the last exit (see exits.py for what each kind puts here)
EXIT_KIND = 10
EXIT_PC = 11
EXIT_INSN = 12  # the instruction word
EXIT_A = 13
EXIT_B = 14
EXIT_C = 15
EXIT_D = 16

# (Core.last_exit reads the seven as one slice)
assert (EXIT_PC, EXIT_INSN, EXIT_A, EXIT_B, EXIT_C, EXIT_D) == tuple(range(EXIT_KIND + 1, 17))

# device accesses of the current instruction that the caller has already served
MMIO_DONE = 17  # how many, counted from the instruction's first access
MMIO_SEQ = 18  # which access the instruction is making now
MMIO_VAL0 = 19  # the values read by access 0 and 1 (loads); unused for stores
MMIO_VAL1 = 20

# decode cache bookkeeping
CACHE_CLOCK = 21  # next slot to evict, round robin
EVENT_REGISTER = 22  # the WFE event register (SEV/SEVL set it, WFE clears it)


# PSTATE beyond NZCV (Arm ARM D1.4); the architectural bit positions where SPSR has them
CUR_EL = 23  # 0, 1 or 2
SPSEL = 24  # 0: SP_EL0 is the stack pointer, 1: SP_ELx
DAIF_BITS = 25  # D A I F in bits 9..6, as in SPSR and MRS DAIF
PAN_BIT = 26  # PSTATE.PAN (0/1)
IL_BIT = 27  # PSTATE.IL (0/1)

# the banked stack pointers not currently in regs[SP]
SP_EL0_BANK = 28
SP_EL1_BANK = 29
SP_EL2_BANK = 30

# interrupt inputs, levels set by the CPU process (from the GIC): 1 = asserted
IRQ_LINE = 31
FIQ_LINE = 32
SERROR_LINE = 33

# features of this CPU (sysreg_table.FEATURES), one bit each, set at reset
FEATURE_BITS = 34
# identification the jit reads directly
MIDR = 35
MPIDR = 36
# an exception taken to this EL while its own vector is being fetched: stop (see exceptions)
STOP_ON_EXCEPTION = 37  # 1: every exception taken also ends the run (exits.EXCEPTION)
OS_LOCK = 38  # OSLSR_EL1.OSLK
FLUSH_DECODED = 39  # 1: an instruction-cache invalidation asks for the decode cache to go
FIRMWARE_HVC = 40  # 1: HVC from EL1 is the firmware (PSCI) conduit, SMC is UNDEFINED

# the generic timer (timers.py): physical count = CNT_BASE + (icount - CNT_ICOUNT_BASE)
# * CNT_SCALE / 2^32; the caller's clock source sets and re-bases these
CNT_BASE = 41
CNT_ICOUNT_BASE = 42
CNT_SCALE = 43  # counter ticks per instruction, 32.32 fixed point, below 1.0
LIVE_COUNT = 44  # instructions retired in the current run loop before a rare op
TIMER_LEVELS = 45  # the timers' interrupt outputs: bit n = PPI n asserted
TIMER_CTL = 46  # 4 words: CNTP, CNTV, CNTHP, CNTHV _CTL (ENABLE, IMASK; ISTATUS computed)
TIMER_CVAL = 50  # 4 words: their compare values
SP_ALIGN_MASK = 54  # 15 when SCTLR_ELx.SA/SA0 of the current regime checks SP, else 0
EV_COUNT = 55  # guest-visible events recorded since the caller last drained (events.py)
# the MMU (mmu.py): whether any translation is on, the TLB context, the last fault
XL_ON = 56
XL_CTX = 57
FAULT_TARGET = 58  # the EL the fault goes to
FAULT_ISS = 59  # its ISS; bit 32: an instruction abort
FAULT_FAR = 60
FAULT_IPA = 61  # bit 63: a stage 2 fault, for the IPA below (HPFAR_EL2)
# the GIC virtual CPU interface's outputs (ORed with HCR_EL2.VI/VF): 1 = asserted
VIRQ_LINE = 62
VFIQ_LINE = 63

SYSREG_BASE = 64  # the values of the system registers (sysreg_table storage) start here
# the event ring (events.py): EV_SLOTS records of EV_WORDS words after the registers
EV_BASE = SYSREG_BASE + STORAGE_WORDS
EV_SLOTS = 256
EV_WORDS = 7  # kind, instruction count, physical count, four operands
TLB_BASE = EV_BASE + EV_SLOTS * EV_WORDS  # the software TLB (mmu.py)
TLB_ENTRIES = 256
TLB_WORDS = 4
# maintenance this CPU issued for every CPU (TLBI ...IS: 1, IC IALLUIS/IVAU: 2) that its
# next DSB must see completed on the others (exits.MAINTENANCE)
MAINT_PENDING = TLB_BASE + TLB_ENTRIES * TLB_WORDS
XL_UNPRIV = MAINT_PENDING + 1  # 1 while an LDTR/STTR translates as an EL0 access (mmu.py)
EXCL_PA = MAINT_PENDING + 2  # the physical address the exclusive monitor watches (for WFE)
# the data TLB of the run loop's loads and stores (mmu.py): what its entries were filled
# under, then DTLB_ENTRIES entries for reads and as many for writes, DTLB_WORDS each
DTLB_KEY = MAINT_PENDING + 3
DTLB_ENTRIES = 64
DTLB_WORDS = 2
DTLB_READ = MAINT_PENDING + 8
DTLB_WRITE = DTLB_READ + DTLB_ENTRIES * DTLB_WORDS
# breakpoints (Core.add_breakpoint): BREAKPOINT_SLOTS words, each 0 (free) or the RAM
# offset of an instruction + 1; BREAKPOINTS_ARMED counts the used ones
BREAKPOINTS_ARMED = DTLB_WRITE + DTLB_ENTRIES * DTLB_WORDS
BREAKPOINT_SLOTS = 8
BREAKPOINT_BASE = BREAKPOINTS_ARMED + 1
# 1: schedule points end the run (exits.SCHEDULE, Core.schedule_points): an instruction
# that recorded a guest-visible event (events.py: an exception return, a write to a
# watched register or a timer control), an exclusive store or an atomic
SCHED_EXITS = BREAKPOINT_BASE + BREAKPOINT_SLOTS
# a free run's counter follows the host (timers.physical_count): CNT_HOST_FREQ ticks a
# second since the host's CLOCK_MONOTONIC read CNT_HOST_EPOCH ns; 0: instructions only
CNT_HOST_EPOCH = SCHED_EXITS + 1
CNT_HOST_FREQ = SCHED_EXITS + 2
CPU_WORDS = SCHED_EXITS + 3


def new_regs() -> np.ndarray:
    return np.zeros(REG_SLOTS, dtype=np.uint64)


def new_cpu(ram_base: int, ram_size: int) -> np.ndarray:
    cpu = np.zeros(CPU_WORDS, dtype=np.uint64)
    cpu[RAM_BASE] = ram_base
    cpu[RAM_SIZE] = ram_size
    return cpu
