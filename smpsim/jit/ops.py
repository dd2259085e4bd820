"""Operation ids: what a decoded record asks the interpreter to do.

Ids are dense small integers so that the interpreter's flat dispatch compiles into a
jump table. Id 0 marks a decode-cache row that has not been decoded yet. One pattern
of the spec may decode to several ops (ADDS and ADD, a fast alias such as MOV or
LSL, ...); each class module documents the fields of the ops it builds.
"""

NOT_DECODED = 0
UNDEFINED = 1
NOP = 2
ADR = 3
ADRP = 4
ADD_IMM = 5
ADDS_X = 6
ADDS_W = 7
MOVI = 8
MOVK = 9
AND_IMM = 10
ORR_IMM = 11
EOR_IMM = 12
ANDS_IMM = 13
LSL_IMM = 14
LSR_IMM = 15
ASR_IMM = 16
UBFM = 17
SBFM = 18
BFM = 19
EXTR = 20
MOV_REG = 21
LOGICAL_REG = 22
ANDS_REG = 23
ADD_SREG = 24
ADDS_SREG_X = 25
ADDS_SREG_W = 26
ADD_EREG = 27
ADDS_EREG_X = 28
ADDS_EREG_W = 29
ADC = 30
ADCS_X = 31
ADCS_W = 32
CCMP_X = 33
CCMP_W = 34
CSEL = 35
RBIT = 36
REV16 = 37
REV32 = 38
REV64 = 39
CLZ = 40
CLS = 41
UDIV = 42
SDIV = 43
LSLV = 44
LSRV = 45
ASRV = 46
RORV = 47
CRC32 = 48
MADD = 49
SMADDL = 50
UMADDL = 51
SMULH = 52
UMULH = 53
B = 54
BL = 55
B_COND = 56
CBZ = 57
CBNZ = 58
TBZ = 59
TBNZ = 60
BR = 61
BLR = 62
SVC = 63
HVC = 64
SMC = 65
BRK = 66
HLT = 67
ERET = 68
SYSREG = 69
MSR_IMM = 70
YIELD = 71
WFE = 72
WFI = 73
SEV = 74
SEVL = 75
CLREX = 76
BARRIER = 77
LDR_IMM = 78
STRB_IMM = 79
STRH_IMM = 80
STRW_IMM = 81
STRX_IMM = 82
LDR_REG = 83
STR_REG = 84
LDR_LIT = 85
LDP = 86
STP = 87
LDXR = 88
STXR = 89
LDXP = 90
STXP = 91
LDAR = 92
STLR = 93
CAS = 94
CASP = 95
LD_ATOMIC = 96

COUNT = 97

_NAMES = {value: key for key, value in dict(globals()).items() if key.isupper() and key != "COUNT"}


def name(op: int) -> str:
    """The name of an op id, for messages and tests."""
    return _NAMES.get(op, f"op{op}")
