// The boot stub every guest is linked with: the entry point of the image, for the boot
// CPU and for the CPUs that PSCI CPU_ON starts here. It gives each CPU a stack of its
// own and calls the guest's main(x0 = cpu, x1 = x0 at entry), cpu = Aff1 * 16 + Aff0
// (QEMU virt with GICv3 puts up to 16 CPUs in an Aff1 cluster; Aff2 and Aff3 are 0 on
// QEMU and in smpsim's topologies). x0 at entry is CPU_ON's context id on a secondary
// and means nothing on the boot CPU. A CPU without a stack here parks; main returning
// ends the run through semihosting SYS_EXIT with main's x0 as the exit code.

    .include "common.inc"

    .equ STACK_SHIFT, 13            // 8 KiB a CPU
    .equ CLUSTERS, 4                // Aff1 0..3, Aff0 0..15: 64 stacks, 512 KiB

    .section .text.boot, "ax"
    .global _start
_start:
    mov x1, x0
    mrs x2, mpidr_el1
    ubfx x3, x2, #8, #8             // Aff1
    and x2, x2, #0xff               // Aff0
    cmp x2, #16
    ccmp x3, #CLUSTERS, #2, lo      // C set (hs) when Aff0 >= 16 or Aff1 >= CLUSTERS
    b.hs park
    add x0, x2, x3, lsl #4
    add x3, x0, #1
    adrp x2, stacks
    add x2, x2, :lo12:stacks
    add x2, x2, x3, lsl #STACK_SHIFT
    mov sp, x2
    bl main
    EXIT_WITH_X0
park:
    wfe
    b park

    .section .stacks, "aw", %nobits    // placed last by link.ld
    .balign 16
stacks:
    .skip (CLUSTERS * 16) << STACK_SHIFT
