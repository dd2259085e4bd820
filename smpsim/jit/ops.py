"""Operation ids: what a decoded record asks the interpreter to do.

Ids are dense small integers so that the interpreter's flat dispatch compiles into a
jump table. Id 0 marks a decode-cache row that has not been decoded yet, PAGE_END the
row after a page's last instruction (decode_cache.py). One pattern
of the spec may decode to several ops (ADDS and ADD, a fast alias such as MOV or
LSL, ...); each class module documents the fields of the ops it builds.
"""

NOT_DECODED = 0
PAGE_END = 1
UNDEFINED = 2
NOP = 3
ADR = 4
ADRP = 5
ADD_IMM = 6
ADDS_X = 7
ADDS_W = 8
MOVI = 9
MOVK = 10
AND_IMM = 11
ORR_IMM = 12
EOR_IMM = 13
ANDS_IMM = 14
LSL_IMM = 15
LSR_IMM = 16
ASR_IMM = 17
UBFM = 18
SBFM = 19
BFM = 20
EXTR = 21
MOV_REG = 22
LOGICAL_REG = 23
ANDS_REG = 24
ADD_SREG = 25
ADDS_SREG_X = 26
ADDS_SREG_W = 27
ADD_EREG = 28
ADDS_EREG_X = 29
ADDS_EREG_W = 30
ADC = 31
ADCS_X = 32
ADCS_W = 33
CCMP_X = 34
CCMP_W = 35
CSEL = 36
RBIT = 37
REV16 = 38
REV32 = 39
REV64 = 40
CLZ = 41
CLS = 42
UDIV = 43
SDIV = 44
LSLV = 45
LSRV = 46
ASRV = 47
RORV = 48
CRC32 = 49
MADD = 50
SMADDL = 51
UMADDL = 52
SMULH = 53
UMULH = 54
B = 55
BL = 56
B_COND = 57
CBZ = 58
CBNZ = 59
TBZ = 60
TBNZ = 61
BR = 62
BLR = 63
SVC = 64
HVC = 65
SMC = 66
BRK = 67
HLT = 68
ERET = 69
SYSREG = 70
MSR_IMM = 71
YIELD = 72
WFE = 73
WFI = 74
SEV = 75
SEVL = 76
CLREX = 77
BARRIER = 78
LDR_IMM = 79
STRB_IMM = 80
STRH_IMM = 81
STRW_IMM = 82
STRX_IMM = 83
LDR_REG = 84
STR_REG = 85
LDR_LIT = 86
LDP = 87
STP = 88
LDXR = 89
STXR = 90
LDXP = 91
STXP = 92
LDAR = 93
STLR = 94
CAS = 95
CASP = 96
LD_ATOMIC = 97
LDTR = 98  # LDTR*/STTR*: rare, so kept out of the run loop's data TLB path
STTR = 99
BREAKPOINT = 100  # a decoded row whose instruction has a breakpoint (Core.add_breakpoint)

# marks the decode cache uses, never produced by the decoder
CACHE_MARKERS = (NOT_DECODED, PAGE_END, BREAKPOINT)

COUNT = 101

_NAMES = {value: key for key, value in dict(globals()).items() if key.isupper() and isinstance(value, int) and key != "COUNT"}


def name(op: int) -> str:
    """The name of an op id, for messages and tests."""
    return _NAMES.get(op, f"op{op}")
