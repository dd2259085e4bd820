// smp_hello: every CPU of the machine says where it is. CPU 0 powers the others on
// with PSCI CPU_ON, one at a time, and waits for each to report before the next, so
// the lines come out in CPU order on smpsim and on QEMU alike. Each CPU prints its
// MPIDR affinity, its exception level and whether it has VHE (ID_AA64MMFR1_EL1.VH);
// CPU 0 ends the run with PSCI SYSTEM_OFF when CPU_ON answers that no further CPU
// exists (INVALID_PARAMETERS). The PSCI conduit follows the EL the CPU starts in:
// SMC at EL2, HVC at EL1 (DESIGN.md §2).

    .include "common.inc"

    .text
    .global main
main:                            // every CPU, from boot.s: the boot CPU, then each CPU_ON
    mrs x19, mpidr_el1
    and x19, x19, #0xffffff      // Aff2.Aff1.Aff0
    bl report
    cbnz x19, secondary_done

    // CPU 0: CPU_ON for affinities 1, 2, 3, ... (Aff0 within cluster 0, then 0x100, ...)
    mov x20, #1
next_cpu:
    adr x21, reported
    str wzr, [x21]
    ldr x0, =0xc4000003          // CPU_ON (SMC64 calling convention)
    mov x1, x20
    adr x2, _start               // boot.s: a stack, then main
    mov x3, #0
    bl firmware
    cmn x0, #2                   // INVALID_PARAMETERS: no CPU with that affinity
    b.eq try_next_cluster
    cbnz x0, failed
1:  ldar w22, [x21]              // wait until that CPU has printed its line
    cbz w22, 1b
    add x20, x20, #1
    b next_cpu
try_next_cluster:
    and x22, x20, #0xff
    cmp x22, #0                  // Aff0 was already 0: this cluster was empty too: done
    b.eq all_done
    bic x20, x20, #0xff          // next cluster, Aff0 = 0 (cluster 0 CPU 0 is us)
    add x20, x20, #0x100
    b next_cpu
all_done:
    adr x1, msg_done
    SEMIHOSTING SYS_WRITE0
    ldr x0, =0x84000008          // SYSTEM_OFF
    bl firmware
    b .
failed:
    adr x1, msg_failed
    SEMIHOSTING SYS_WRITE0
    mov x0, #1
    EXIT_WITH_X0

secondary_done:
    adr x21, reported
    mov w22, #1
    stlr w22, [x21]
2:  wfe
    b 2b

// print "cpu <aff> up at EL<n>, vhe|no vhe"
report:
    mov x23, x30
    adr x1, msg_cpu
    SEMIHOSTING SYS_WRITE0
    mov x0, x19
    bl print_hex
    adr x1, msg_el
    SEMIHOSTING SYS_WRITE0
    mrs x0, currentel
    lsr x0, x0, #2
    add x0, x0, #'0'
    adr x1, char
    strb w0, [x1]
    SEMIHOSTING SYS_WRITEC
    mrs x0, id_aa64mmfr1_el1
    ubfx x0, x0, #8, #4          // VH
    adr x1, msg_vhe
    cbnz x0, 3f
    adr x1, msg_novhe
3:  SEMIHOSTING SYS_WRITE0
    mov x30, x23
    ret

// x0 in hexadecimal, without leading zeros (at least one digit)
print_hex:
    mov x24, x0
    mov x25, #60
    mov x26, #0                  // a digit has been printed
4:  lsr x0, x24, x25
    and x0, x0, #0xf
    orr x27, x0, x26
    cbnz x27, 5f
    cbnz x25, 6f                 // skip a leading zero, but never the last digit
5:  mov x26, #1
    cmp x0, #10
    add x1, x0, #'0'
    add x2, x0, #('a' - 10)
    csel x0, x2, x1, hs
    adr x1, char
    strb w0, [x1]
    SEMIHOSTING SYS_WRITEC
6:  subs x25, x25, #4
    b.pl 4b
    ret

// the PSCI conduit: SMC from EL2, HVC from EL1
firmware:
    mrs x9, currentel
    cmp x9, #(2 << 2)
    b.ne 7f
    smc #0
    ret
7:  hvc #0
    ret

    .data
    .balign 4
reported: .word 0
char: .byte 0, 0
msg_cpu: .asciz "cpu "
msg_el: .asciz " up at EL"
msg_vhe: .asciz ", vhe\n"
msg_novhe: .asciz ", no vhe\n"
msg_done: .asciz "all CPUs reported\n"
msg_failed: .asciz "CPU_ON failed\n"
