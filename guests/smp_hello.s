// smp_hello: every CPU of the machine says where it is. CPU 0 powers the others on
// with PSCI CPU_ON, one at a time, and waits for each to report before the next, so
// the lines come out in CPU order on smpsim and on QEMU alike. Each CPU prints its
// MPIDR affinity, its exception level and whether it has VHE (ID_AA64MMFR1_EL1.VH);
// CPU 0 ends the run with PSCI SYSTEM_OFF when CPU_ON answers that no further CPU
// exists (INVALID_PARAMETERS). The PSCI conduit follows the EL the CPU starts in:
// SMC at EL2, HVC at EL1 (DESIGN.md §2).

    .include "common.inc"
    .include "report.inc"

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
msg_done: .asciz "all CPUs reported\n"
msg_failed: .asciz "CPU_ON failed\n"
