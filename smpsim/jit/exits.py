"""Why the interpreter stopped, and what it left in the state for the caller.

Exceptions do not stop the core: it takes them itself (exceptions.py). What is left
are the things only the world outside the core can do. On every exit `cpu[EXIT_PC]`
holds the PC of the instruction concerned and `cpu[EXIT_INSN]` its encoding. Unless
the kind says "retired", that instruction has NOT executed and `cpu[PC]` still points
at it: the caller serves the exit and either completes the instruction (advancing PC)
or answers a device access and runs again.

    kind          retired  EXIT_A          EXIT_B          EXIT_C          EXIT_D
    BUDGET        -        (the instruction budget was used up; PC is the next one)
    MMIO_READ     no       address         size (bytes)    -               -
    MMIO_WRITE    no       address         size (bytes)    value           -
    SMC           no       imm16           (a firmware call: there is no EL3)
    HVC           no       imm16           (a firmware call, when cpu[FIRMWARE_HVC] = 1)
    HLT           no       imm16           (semihosting, or the caller's to refuse)
    SYSREG        no       key (op0<<14 | op1<<11 | CRn<<7 | CRm<<3 | op2)
                                           Rt (0-31)       1 = read
                           (the GIC CPU interface's registers, after every access check)
    WFI WFE       yes
    SEV SEVL      yes
    MAINTENANCE   no       what to broadcast: 1 = TLB invalidation, 2 = decoded code
                           (TLBI ...IS, IC IALLUIS/IVAU since the last one); the DSB at
                           PC waits until every other CPU has done it, then completes
    FETCH_ABORT   -        the PC: an exception vector outside RAM, so the instruction
                           abort it raised cannot be taken either; EXIT_B and EXIT_C
                           are the ESR and ELR of the exception that led there
    EXCEPTION     yes      target EL       its ESR         its ELR         its FAR
    TIMER         -        the timers' outputs (bit n = PPI n), which changed: forward
                           them to the interrupt controller, then run again
    SCHEDULE      yes      the instruction's PC   1 = a YIELD (a spin loop's hint)
                           (Core.schedule_points): a schedule point, a YIELD,
                           an instruction that recorded a guest-visible event (an
                           exception return, a watched register or timer control
                           written), an exclusive store or an atomic; EXIT_PC is where
                           the CPU goes on (the run ends so a scheduler may switch CPUs)
    BREAKPOINT    no       the breakpoint's slot (Core.add_breakpoint): the instruction
                           at its address was about to run; the breakpoint is gone
                           (one-shot), so running again executes it
                           (only with cpu[STOP_ON_EXCEPTION] = 1: an exception was
                           taken; PC is its vector)

DATA_ABORT is the status the load/store executors give the interpreter for an
exclusive or atomic access it must fault (EXIT_A address, EXIT_B size, EXIT_C 1 =
write, EXIT_D the reason below); the interpreter turns it into a data abort.
SP_ALIGNMENT likewise: a load or store based on a misaligned SP while SCTLR_ELx.SA
(SA0 at EL0) is set; the interpreter turns it into an SP alignment fault.

Device accesses are answered by replay: the caller stores the value a read returned
in `cpu[MMIO_VAL0 + i]` (nothing for a write, which the caller has performed), sets
`cpu[MMIO_DONE] = i + 1`, and runs again; the instruction re-executes and takes its
first MMIO_DONE device accesses from there. core.Core wraps this.
"""

BUDGET = 0
MMIO_READ = 2
MMIO_WRITE = 3
HVC = 5
SMC = 6
HLT = 8
SYSREG = 10
WFI = 12
WFE = 13
SEV = 14
SEVL = 15
FETCH_ABORT = 17
DATA_ABORT = 18
EXCEPTION = 19
TIMER = 20
SP_ALIGNMENT = 21  # (internal, see above)
MMU_FAULT = 22  # (internal: a translation, permission or alignment fault; mmu.py's
# FAULT_* words hold its syndrome, and the interpreter takes it)
MAINTENANCE = 24
BREAKPOINT = 25
SCHEDULE = 26
NEEDS_MMU = 23  # (internal: a load/store the run loop's fast path cannot serve — a data
# TLB miss, a device, a misaligned access with the MMU off; the loop runs it again
# through loads_stores.exec_translated)

NAMES = {value: key for key, value in dict(globals()).items() if key.isupper()}

# DATA_ABORT reasons
ABORT_ALIGNMENT = 1  # an exclusive or atomic access that is not naturally aligned
ABORT_NOT_RAM = 2  # an exclusive or atomic access outside RAM
