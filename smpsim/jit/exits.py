"""Why the interpreter stopped, and what it left in the state for the caller.

On every exit `cpu[EXIT_PC]` holds the PC of the instruction concerned and
`cpu[EXIT_INSN]` its encoding. Unless the kind says "retired", that instruction has
NOT executed and `cpu[PC]` still points at it: the caller serves the exit and either
completes the instruction (advancing PC) or answers a device access and runs again.

    kind          retired  EXIT_A          EXIT_B          EXIT_C          EXIT_D
    BUDGET        -        (the instruction budget was used up; PC is the next one)
    UNDEFINED     no       -               -               -               -
    MMIO_READ     no       address         size (bytes)    -               -
    MMIO_WRITE    no       address         size (bytes)    value           -
    SVC HVC SMC   no       imm16
    BRK HLT       no       imm16
    ERET          no
    SYSREG        no       key (op0<<14 | op1<<11 | CRn<<7 | CRm<<3 | op2)
                                           Rt (0-31)       1 = read (MRS/SYSL)
    MSR_IMM       no       op1 << 3 | op2  CRm
    WFI WFE       yes
    SEV SEVL      yes
    PC_ALIGNMENT  -        the misaligned PC (the branch to it retired)
    FETCH_ABORT   no       the PC, which is outside RAM
    DATA_ABORT    no       address         size (bytes)    1 = write       DataAbortReason

Device accesses are answered by replay: the caller stores the value a read returned
in `cpu[MMIO_VAL0 + i]` (nothing for a write, which the caller has performed), sets
`cpu[MMIO_DONE] = i + 1`, and runs again; the instruction re-executes and takes its
first MMIO_DONE device accesses from there. core.Core wraps this.
"""

BUDGET = 0
UNDEFINED = 1
MMIO_READ = 2
MMIO_WRITE = 3
SVC = 4
HVC = 5
SMC = 6
BRK = 7
HLT = 8
ERET = 9
SYSREG = 10
MSR_IMM = 11
WFI = 12
WFE = 13
SEV = 14
SEVL = 15
PC_ALIGNMENT = 16
FETCH_ABORT = 17
DATA_ABORT = 18

NAMES = {value: key for key, value in dict(globals()).items() if key.isupper()}

# DATA_ABORT reasons
ABORT_ALIGNMENT = 1  # an exclusive or atomic access that is not naturally aligned
ABORT_NOT_RAM = 2  # an exclusive or atomic access outside RAM
