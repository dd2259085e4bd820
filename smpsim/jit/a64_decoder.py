# Generated from smpsim/jit/a64.decode by smpsim/jit/decodegen.py -- do not edit.
# Regenerate with: python -m smpsim.jit.decodegen
"""The A64 decoder: instruction word -> decoded record (see records.py)."""

from smpsim.jit import branches_exceptions_system
from smpsim.jit import data_processing_immediate
from smpsim.jit import data_processing_register
from smpsim.jit import loads_stores
from smpsim.jit.compile import jit
from smpsim.jit.records import undefined


@jit
def decode(w):
    """Decode the 32-bit word `w` (an int64) into a record tuple."""
    if (w >> 27) & 1:
        if (w >> 28) & 1:
            if (w >> 25) & 1:
                if (w >> 24) & 1:
                    if (w & 0x1F000000) == 0x1B000000:
                        # DP_3src              sf:1 op54:2 11011 op31:3 Rm:5 o0:1 Ra:5 Rn:5 Rd:5
                        return data_processing_register.DP_3src((w >> 31) & 0x1, (w >> 29) & 0x3, (w >> 21) & 0x7, (w >> 16) & 0x1F, (w >> 15) & 0x1, (w >> 10) & 0x1F, (w >> 5) & 0x1F, w & 0x1F)
                    return undefined()
                if (w >> 23) & 1:
                    if (w >> 22) & 1:
                        if (w >> 30) & 1:
                            if (w & 0x5FE00000) == 0x5AC00000:
                                # DP_1src              sf:1 1 S:1 11010110 opcode2:5 opcode:6 Rn:5 Rd:5
                                return data_processing_register.DP_1src((w >> 31) & 0x1, (w >> 29) & 0x1, (w >> 16) & 0x1F, (w >> 10) & 0x3F, (w >> 5) & 0x1F, w & 0x1F)
                            return undefined()
                        if (w & 0x5FE00000) == 0x1AC00000:
                            # DP_2src              sf:1 0 S:1 11010110 Rm:5 opcode:6 Rn:5 Rd:5
                            return data_processing_register.DP_2src((w >> 31) & 0x1, (w >> 29) & 0x1, (w >> 16) & 0x1F, (w >> 10) & 0x3F, (w >> 5) & 0x1F, w & 0x1F)
                        return undefined()
                    if (w & 0x1FE00000) == 0x1A800000:
                        # COND_SELECT          sf:1 op:1 S:1 11010100 Rm:5 cond:4 op2:2 Rn:5 Rd:5
                        return data_processing_register.COND_SELECT((w >> 31) & 0x1, (w >> 30) & 0x1, (w >> 29) & 0x1, (w >> 16) & 0x1F, (w >> 12) & 0xF, (w >> 10) & 0x3, (w >> 5) & 0x1F, w & 0x1F)
                    return undefined()
                if (w >> 11) & 1:
                    if (w & 0x3FE00800) == 0x3A400800:
                        # CCMP_immediate       sf:1 op:1 1 11010010 imm5:5 cond:4 1 o2:1 Rn:5 o3:1 nzcv:4
                        return data_processing_register.CCMP_immediate((w >> 31) & 0x1, (w >> 30) & 0x1, (w >> 16) & 0x1F, (w >> 12) & 0xF, (w >> 10) & 0x1, (w >> 5) & 0x1F, (w >> 4) & 0x1, w & 0xF)
                    return undefined()
                if (w >> 22) & 1:
                    if (w & 0x3FE00800) == 0x3A400000:
                        # CCMP_register        sf:1 op:1 1 11010010 Rm:5 cond:4 0 o2:1 Rn:5 o3:1 nzcv:4
                        return data_processing_register.CCMP_register((w >> 31) & 0x1, (w >> 30) & 0x1, (w >> 16) & 0x1F, (w >> 12) & 0xF, (w >> 10) & 0x1, (w >> 5) & 0x1F, (w >> 4) & 0x1, w & 0xF)
                    return undefined()
                if (w & 0x1FE0FC00) == 0x1A000000:
                    # ADD_SUB_carry        sf:1 op:1 S:1 11010000 Rm:5 000000 Rn:5 Rd:5
                    return data_processing_register.ADD_SUB_carry((w >> 31) & 0x1, (w >> 30) & 0x1, (w >> 29) & 0x1, (w >> 16) & 0x1F, (w >> 5) & 0x1F, w & 0x1F)
                return undefined()
            if (w >> 24) & 1:
                if (w & 0x3F000000) == 0x39000000:
                    # LDST_unsigned        size:2 111 0 01 opc:2 imm12:12 Rn:5 Rt:5
                    return loads_stores.LDST_unsigned((w >> 30) & 0x3, (w >> 22) & 0x3, (w >> 10) & 0xFFF, (w >> 5) & 0x1F, w & 0x1F)
                return undefined()
            if (w >> 29) & 1:
                if (w >> 11) & 1:
                    if (w >> 10) & 1:
                        if (w & 0x3F200C00) == 0x38000C00:
                            # LDST_pre             size:2 111 0 00 opc:2 0 imm9:9 11 Rn:5 Rt:5
                            return loads_stores.LDST_pre((w >> 30) & 0x3, (w >> 22) & 0x3, (w >> 12) & 0x1FF, (w >> 5) & 0x1F, w & 0x1F)
                        return undefined()
                    if (w >> 21) & 1:
                        if (w & 0x3F200C00) == 0x38200800:
                            # LDST_register        size:2 111 0 00 opc:2 1 Rm:5 option:3 S:1 10 Rn:5 Rt:5
                            return loads_stores.LDST_register((w >> 30) & 0x3, (w >> 22) & 0x3, (w >> 16) & 0x1F, (w >> 13) & 0x7, (w >> 12) & 0x1, (w >> 5) & 0x1F, w & 0x1F)
                        return undefined()
                    if (w & 0x3F200C00) == 0x38000800:
                        # LDST_unprivileged    size:2 111 0 00 opc:2 0 imm9:9 10 Rn:5 Rt:5
                        return loads_stores.LDST_unprivileged((w >> 30) & 0x3, (w >> 22) & 0x3, (w >> 12) & 0x1FF, (w >> 5) & 0x1F, w & 0x1F)
                    return undefined()
                if (w >> 21) & 1:
                    if (w >> 15) & 1:
                        if (w & 0x3F20FC00) == 0x38208000:
                            # SWP                  size:2 111 0 00 A:1 R:1 1 Rs:5 1 000 00 Rn:5 Rt:5
                            return loads_stores.SWP((w >> 30) & 0x3, (w >> 23) & 0x1, (w >> 22) & 0x1, (w >> 16) & 0x1F, (w >> 5) & 0x1F, w & 0x1F)
                        return undefined()
                    if (w & 0x3F208C00) == 0x38200000:
                        # LD_atomic            size:2 111 0 00 A:1 R:1 1 Rs:5 0 opc:3 00 Rn:5 Rt:5
                        return loads_stores.LD_atomic((w >> 30) & 0x3, (w >> 23) & 0x1, (w >> 22) & 0x1, (w >> 16) & 0x1F, (w >> 12) & 0x7, (w >> 5) & 0x1F, w & 0x1F)
                    return undefined()
                if (w >> 10) & 1:
                    if (w & 0x3F200C00) == 0x38000400:
                        # LDST_post            size:2 111 0 00 opc:2 0 imm9:9 01 Rn:5 Rt:5
                        return loads_stores.LDST_post((w >> 30) & 0x3, (w >> 22) & 0x3, (w >> 12) & 0x1FF, (w >> 5) & 0x1F, w & 0x1F)
                    return undefined()
                if (w & 0x3F200C00) == 0x38000000:
                    # LDST_unscaled        size:2 111 0 00 opc:2 0 imm9:9 00 Rn:5 Rt:5
                    return loads_stores.LDST_unscaled((w >> 30) & 0x3, (w >> 22) & 0x3, (w >> 12) & 0x1FF, (w >> 5) & 0x1F, w & 0x1F)
                return undefined()
            if (w & 0x3F000000) == 0x18000000:
                # LDR_literal          opc:2 011 0 00 imm19:19 Rt:5
                return loads_stores.LDR_literal((w >> 30) & 0x3, (w >> 5) & 0x7FFFF, w & 0x1F)
            return undefined()
        if (w >> 24) & 1:
            if (w >> 25) & 1:
                if (w >> 21) & 1:
                    if (w & 0x1F200000) == 0x0B200000:
                        # ADD_SUB_extended     sf:1 op:1 S:1 01011 opt:2 1 Rm:5 option:3 imm3:3 Rn:5 Rd:5
                        return data_processing_register.ADD_SUB_extended((w >> 31) & 0x1, (w >> 30) & 0x1, (w >> 29) & 0x1, (w >> 22) & 0x3, (w >> 16) & 0x1F, (w >> 13) & 0x7, (w >> 10) & 0x7, (w >> 5) & 0x1F, w & 0x1F)
                    return undefined()
                if (w & 0x1F200000) == 0x0B000000:
                    # ADD_SUB_shifted      sf:1 op:1 S:1 01011 shift:2 0 Rm:5 imm6:6 Rn:5 Rd:5
                    return data_processing_register.ADD_SUB_shifted((w >> 31) & 0x1, (w >> 30) & 0x1, (w >> 29) & 0x1, (w >> 22) & 0x3, (w >> 16) & 0x1F, (w >> 10) & 0x3F, (w >> 5) & 0x1F, w & 0x1F)
                return undefined()
            if (w >> 23) & 1:
                if (w & 0x3F800000) == 0x29800000:
                    # LDSTP_pre            opc:2 101 0 011 L:1 imm7:7 Rt2:5 Rn:5 Rt:5
                    return loads_stores.LDSTP_pre((w >> 30) & 0x3, (w >> 22) & 0x1, (w >> 15) & 0x7F, (w >> 10) & 0x1F, (w >> 5) & 0x1F, w & 0x1F)
                return undefined()
            if (w & 0x3F800000) == 0x29000000:
                # LDSTP_offset         opc:2 101 0 010 L:1 imm7:7 Rt2:5 Rn:5 Rt:5
                return loads_stores.LDSTP_offset((w >> 30) & 0x3, (w >> 22) & 0x1, (w >> 15) & 0x7F, (w >> 10) & 0x1F, (w >> 5) & 0x1F, w & 0x1F)
            return undefined()
        if (w >> 25) & 1:
            if (w & 0x1F000000) == 0x0A000000:
                # LOGICAL_shifted      sf:1 opc:2 01010 shift:2 N:1 Rm:5 imm6:6 Rn:5 Rd:5
                return data_processing_register.LOGICAL_shifted((w >> 31) & 0x1, (w >> 29) & 0x3, (w >> 22) & 0x3, (w >> 21) & 0x1, (w >> 16) & 0x1F, (w >> 10) & 0x3F, (w >> 5) & 0x1F, w & 0x1F)
            return undefined()
        if (w >> 23) & 1:
            if (w >> 29) & 1:
                if (w & 0x3F800000) == 0x28800000:
                    # LDSTP_post           opc:2 101 0 001 L:1 imm7:7 Rt2:5 Rn:5 Rt:5
                    return loads_stores.LDSTP_post((w >> 30) & 0x3, (w >> 22) & 0x1, (w >> 15) & 0x7F, (w >> 10) & 0x1F, (w >> 5) & 0x1F, w & 0x1F)
                return undefined()
            if (w >> 21) & 1:
                if (w & 0x3FA07C00) == 0x08A07C00:
                    # CAS                  size:2 001000 1 L:1 1 Rs:5 o0:1 11111 Rn:5 Rt:5
                    return loads_stores.CAS((w >> 30) & 0x3, (w >> 22) & 0x1, (w >> 16) & 0x1F, (w >> 15) & 0x1, (w >> 5) & 0x1F, w & 0x1F)
                return undefined()
            if (w & 0x3FA00000) == 0x08800000:
                # LDST_ordered         size:2 001000 1 L:1 0 Rs:5 o0:1 Rt2:5 Rn:5 Rt:5
                return loads_stores.LDST_ordered((w >> 30) & 0x3, (w >> 22) & 0x1, (w >> 16) & 0x1F, (w >> 15) & 0x1, (w >> 10) & 0x1F, (w >> 5) & 0x1F, w & 0x1F)
            return undefined()
        if (w >> 29) & 1:
            if (w & 0x3F800000) == 0x28000000:
                # LDSTNP               opc:2 101 0 000 L:1 imm7:7 Rt2:5 Rn:5 Rt:5
                return loads_stores.LDSTNP((w >> 30) & 0x3, (w >> 22) & 0x1, (w >> 15) & 0x7F, (w >> 10) & 0x1F, (w >> 5) & 0x1F, w & 0x1F)
            return undefined()
        if (w >> 21) & 1:
            if (w >> 31) & 1:
                if (w & 0xBFA00000) == 0x88200000:
                    # LDST_exclusive_pair  1 sz:1 001000 0 L:1 1 Rs:5 o0:1 Rt2:5 Rn:5 Rt:5
                    return loads_stores.LDST_exclusive_pair((w >> 30) & 0x1, (w >> 22) & 0x1, (w >> 16) & 0x1F, (w >> 15) & 0x1, (w >> 10) & 0x1F, (w >> 5) & 0x1F, w & 0x1F)
                return undefined()
            if (w & 0xBFA07C00) == 0x08207C00:
                # CASP                 0 sz:1 001000 0 L:1 1 Rs:5 o0:1 11111 Rn:5 Rt:5
                return loads_stores.CASP((w >> 30) & 0x1, (w >> 22) & 0x1, (w >> 16) & 0x1F, (w >> 15) & 0x1, (w >> 5) & 0x1F, w & 0x1F)
            return undefined()
        if (w & 0x3FA00000) == 0x08000000:
            # LDST_exclusive_reg   size:2 001000 0 L:1 0 Rs:5 o0:1 Rt2:5 Rn:5 Rt:5
            return loads_stores.LDST_exclusive_reg((w >> 30) & 0x3, (w >> 22) & 0x1, (w >> 16) & 0x1F, (w >> 15) & 0x1, (w >> 10) & 0x1F, (w >> 5) & 0x1F, w & 0x1F)
        return undefined()
    if (w >> 26) & 1:
        if (w >> 30) & 1:
            if (w >> 24) & 1:
                if (w >> 20) & 1:
                    if (w & 0xFFD00000) == 0xD5100000:
                        # MSR_MRS_reg      1101010100 L:1 1 o0:1 op1:3 CRn:4 CRm:4 op2:3 Rt:5
                        return branches_exceptions_system.MSR_MRS_reg((w >> 21) & 0x1, (w >> 19) & 0x1, (w >> 16) & 0x7, (w >> 12) & 0xF, (w >> 8) & 0xF, (w >> 5) & 0x7, w & 0x1F)
                    return undefined()
                if (w >> 19) & 1:
                    if (w & 0xFFD80000) == 0xD5080000:
                        # SYS              1101010100 L:1 01 op1:3 CRn:4 CRm:4 op2:3 Rt:5
                        return branches_exceptions_system.SYS((w >> 21) & 0x1, (w >> 16) & 0x7, (w >> 12) & 0xF, (w >> 8) & 0xF, (w >> 5) & 0x7, w & 0x1F)
                    return undefined()
                if (w >> 12) & 1:
                    if (w & 0xFFFFF01F) == 0xD503301F:
                        # BARRIER          1101010100 0 00 011 0011 CRm:4 op2:3 11111
                        return branches_exceptions_system.BARRIER((w >> 8) & 0xF, (w >> 5) & 0x7)
                    return undefined()
                if (w >> 13) & 1:
                    if (w & 0xFFFFF01F) == 0xD503201F:
                        # HINT             1101010100 0 00 011 0010 CRm:4 op2:3 11111
                        return branches_exceptions_system.HINT((w >> 8) & 0xF, (w >> 5) & 0x7)
                    return undefined()
                if (w & 0xFFF8F01F) == 0xD500401F:
                    # MSR_imm          1101010100 0 00 op1:3 0100 CRm:4 op2:3 11111
                    return branches_exceptions_system.MSR_imm((w >> 16) & 0x7, (w >> 8) & 0xF, (w >> 5) & 0x7)
                return undefined()
            if (w >> 25) & 1:
                if (w >> 21) & 1:
                    if (w & 0xFFFFFC1F) == 0xD63F0000:
                        # BLR              1101011 0001 11111 000000 Rn:5 00000
                        return branches_exceptions_system.BLR((w >> 5) & 0x1F)
                    return undefined()
                if (w >> 22) & 1:
                    if (w & 0xFFFFFC1F) == 0xD65F0000:
                        # RET              1101011 0010 11111 000000 Rn:5 00000
                        return branches_exceptions_system.RET((w >> 5) & 0x1F)
                    return undefined()
                if (w >> 23) & 1:
                    if (w & 0xFFFFFFFF) == 0xD69F03E0:
                        # ERET             1101011 0100 11111 000000 11111 00000
                        return branches_exceptions_system.ERET()
                    return undefined()
                if (w & 0xFFFFFC1F) == 0xD61F0000:
                    # BR               1101011 0000 11111 000000 Rn:5 00000
                    return branches_exceptions_system.BR((w >> 5) & 0x1F)
                return undefined()
            if (w >> 31) & 1:
                if (w >> 0) & 1:
                    if (w >> 1) & 1:
                        if (w & 0xFFE0001F) == 0xD4000003:
                            # SMC              11010100 000 imm16:16 000 11
                            return branches_exceptions_system.SMC((w >> 5) & 0xFFFF)
                        return undefined()
                    if (w & 0xFFE0001F) == 0xD4000001:
                        # SVC              11010100 000 imm16:16 000 01
                        return branches_exceptions_system.SVC((w >> 5) & 0xFFFF)
                    return undefined()
                if (w >> 1) & 1:
                    if (w & 0xFFE0001F) == 0xD4000002:
                        # HVC              11010100 000 imm16:16 000 10
                        return branches_exceptions_system.HVC((w >> 5) & 0xFFFF)
                    return undefined()
                if (w >> 21) & 1:
                    if (w & 0xFFE0001F) == 0xD4200000:
                        # BRK              11010100 001 imm16:16 000 00
                        return branches_exceptions_system.BRK((w >> 5) & 0xFFFF)
                    return undefined()
                if (w & 0xFFE0001F) == 0xD4400000:
                    # HLT              11010100 010 imm16:16 000 00
                    return branches_exceptions_system.HLT((w >> 5) & 0xFFFF)
                return undefined()
            if (w & 0xFF000010) == 0x54000000:
                # B_cond           0101010 0 imm19:19 0 cond:4
                return branches_exceptions_system.B_cond((w >> 5) & 0x7FFFF, w & 0xF)
            return undefined()
        if (w >> 29) & 1:
            if (w >> 25) & 1:
                if (w & 0x7E000000) == 0x36000000:
                    # TB               b5:1 011011 op:1 b40:5 imm14:14 Rt:5
                    return branches_exceptions_system.TB((w >> 31) & 0x1, (w >> 24) & 0x1, (w >> 19) & 0x1F, (w >> 5) & 0x3FFF, w & 0x1F)
                return undefined()
            if (w & 0x7E000000) == 0x34000000:
                # CB               sf:1 011010 op:1 imm19:19 Rt:5
                return branches_exceptions_system.CB((w >> 31) & 0x1, (w >> 24) & 0x1, (w >> 5) & 0x7FFFF, w & 0x1F)
            return undefined()
        if (w >> 31) & 1:
            if (w & 0xFC000000) == 0x94000000:
                # BL               1 00101 imm26:26
                return branches_exceptions_system.BL(w & 0x3FFFFFF)
            return undefined()
        if (w & 0xFC000000) == 0x14000000:
            # B                0 00101 imm26:26
            return branches_exceptions_system.B(w & 0x3FFFFFF)
        return undefined()
    if (w >> 24) & 1:
        if (w >> 23) & 1:
            if (w & 0x1F800000) == 0x13800000:
                # EXTRACT          sf:1 op21:2 100111 N:1 o0:1 Rm:5 imms:6 Rn:5 Rd:5
                return data_processing_immediate.EXTRACT((w >> 31) & 0x1, (w >> 29) & 0x3, (w >> 22) & 0x1, (w >> 21) & 0x1, (w >> 16) & 0x1F, (w >> 10) & 0x3F, (w >> 5) & 0x1F, w & 0x1F)
            return undefined()
        if (w >> 25) & 1:
            if (w & 0x1F800000) == 0x13000000:
                # BITFIELD         sf:1 opc:2 100110 N:1 immr:6 imms:6 Rn:5 Rd:5
                return data_processing_immediate.BITFIELD((w >> 31) & 0x1, (w >> 29) & 0x3, (w >> 22) & 0x1, (w >> 16) & 0x3F, (w >> 10) & 0x3F, (w >> 5) & 0x1F, w & 0x1F)
            return undefined()
        if (w & 0x1F800000) == 0x11000000:
            # ADD_SUB_imm      sf:1 op:1 S:1 100010 sh:1 imm12:12 Rn:5 Rd:5
            return data_processing_immediate.ADD_SUB_imm((w >> 31) & 0x1, (w >> 30) & 0x1, (w >> 29) & 0x1, (w >> 22) & 0x1, (w >> 10) & 0xFFF, (w >> 5) & 0x1F, w & 0x1F)
        return undefined()
    if (w >> 25) & 1:
        if (w >> 23) & 1:
            if (w & 0x1F800000) == 0x12800000:
                # MOVE_WIDE        sf:1 opc:2 100101 hw:2 imm16:16 Rd:5
                return data_processing_immediate.MOVE_WIDE((w >> 31) & 0x1, (w >> 29) & 0x3, (w >> 21) & 0x3, (w >> 5) & 0xFFFF, w & 0x1F)
            return undefined()
        if (w & 0x1F800000) == 0x12000000:
            # LOGICAL_imm      sf:1 opc:2 100100 N:1 immr:6 imms:6 Rn:5 Rd:5
            return data_processing_immediate.LOGICAL_imm((w >> 31) & 0x1, (w >> 29) & 0x3, (w >> 22) & 0x1, (w >> 16) & 0x3F, (w >> 10) & 0x3F, (w >> 5) & 0x1F, w & 0x1F)
        return undefined()
    if (w >> 31) & 1:
        if (w & 0x9F000000) == 0x90000000:
            # ADRP             1 immlo:2 10000 immhi:19 Rd:5
            return data_processing_immediate.ADRP((w >> 29) & 0x3, (w >> 5) & 0x7FFFF, w & 0x1F)
        return undefined()
    if (w & 0x9F000000) == 0x10000000:
        # ADR              0 immlo:2 10000 immhi:19 Rd:5
        return data_processing_immediate.ADR((w >> 29) & 0x3, (w >> 5) & 0x7FFFF, w & 0x1F)
    return undefined()
