// uart_irq: the PL011's output and its transmit interrupt (UARTTXINTR, through the
// combined UARTINTR = SPI 1 = INTID 33, level-sensitive as QEMU virt's device tree
// says) taken at EL1 through the GIC. One CPU at EL1 (smpsim: topologies/uart-irq.toml;
// QEMU: -M virt,gic-version=3).
//
// Lines go out through the PL011 (UARTDR, waiting while UARTFR.TXFF) and through
// semihosting; before a semihosting line the UART is drained (UARTFR.BUSY), so the
// console has them in program order. Each character written sets the raw transmit
// interrupt TXRIS (the FIFO empties at once on both smpsim and QEMU); UARTICR clears
// it. The guest clears it, unmasks TXIM in UARTIMSC with PSTATE.I set, writes a line
// (UARTINTR rises at its first character), then takes the IRQ: ICC_IAR1_EL1 = 33,
// UARTMIS.TXMIS set, cleared by UARTICR, EOI. Exit status 0 (semihosting), or 1 when
// a CHECK failed.

    .include "print.inc"
    .include "gic.inc"

    .equ UARTRIS, 0x3c
    .equ UARTIMSC, 0x38
    .equ UARTMIS, 0x40
    .equ UARTICR, 0x44
    .equ UART_INT_TX, 1 << 5
    .equ UART_INT_ALL, 0x7ff
    .equ SPI_UART, 33
    .equ PRIORITY, 0x80

    .text
    .global main
main:                               // x0 = this CPU's number (0)
    stp x29, x30, [sp, #-32]!
    stp x19, x20, [sp, #16]
    mov x19, x0
    mov x20, #UART_BASE
    adr x0, vectors
    msr vbar_el1, x0
    isb

    adr x0, uart_line
    bl uart_puts
    bl uart_flush
    SAY "uart_irq: a line through semihosting"
    bl out_nl
    ldr w0, [x20, #UARTFR]
    SHOW "UARTFR after the output (TXFE, RXFE)"
    ldr w0, [x20, #UARTRIS]
    SHOW "UARTRIS after the output"
    mov w0, #UART_INT_ALL
    str w0, [x20, #UARTICR]
    ldr w0, [x20, #UARTRIS]
    SHOW "UARTRIS after UARTICR"

    // the GIC: SPI 33 to this CPU
    bl gic_dist_init
    mov x0, x19
    bl gic_redist_wake
    bl gic_cpu_init
    mov x0, #SPI_UART
    mov x1, #PRIORITY
    mrs x2, mpidr_el1
    and x2, x2, #0xffffff           // Aff2.Aff1.Aff0 (Aff3 is 0)
    bl gic_spi_enable
    mov x0, #GICD_BASE
    ldr w0, [x0, #(GICD_IGROUPR + 4)]
    SHOW "GICD_IGROUPR1 with SPI 33 in Group 1"
    mov x0, #GICD_BASE
    ldr w0, [x0, #(GICD_ICFGR + 8)]
    SHOW "GICD_ICFGR2 (SPI 33 level-sensitive)"
    mov x0, #GICD_BASE
    add x0, x0, #GICD_IROUTER
    ldr x0, [x0, #(SPI_UART * 8)]
    SHOW "GICD_IROUTER33"

    // TXIM on with TXRIS clear: no interrupt yet
    mov w0, #UART_INT_TX
    str w0, [x20, #UARTIMSC]
    ldr w0, [x20, #UARTMIS]
    SHOW "UARTMIS with TXIM set, before a write"
    mrs x0, isr_el1
    SHOW "ISR_EL1 before a write"

    // a line with TXIM set (IRQs masked): UARTINTR rises at its first character
    adr x0, txim_line
    bl uart_puts
    bl uart_flush
    ldr w0, [x20, #UARTMIS]
    SHOW "UARTMIS after the line"
    adr x0, irqs
    bl wait_irq

    adr x1, seen
    ldr x0, [x1]
    SHOW_DEC "ICC_IAR1_EL1"
    adr x1, seen
    ldr x0, [x1, #8]
    SHOW "UARTMIS in the handler"
    adr x1, seen
    ldr x0, [x1, #16]
    SHOW "UARTMIS after UARTICR in the handler"
    adr x0, irqs
    ldr w0, [x0]
    SHOW_DEC "IRQs taken"

    str wzr, [x20, #UARTIMSC]
    adr x0, done_line
    bl uart_puts
    bl uart_flush
    bl finish                       // exit 0, or 1 after a failed CHECK

// the IRQ handler: which interrupt, what the UART says, clear it, end it
irq_handler:
    mov x3, #UART_BASE
    adr x1, seen
    mrs x2, icc_iar1_el1
    cmp x2, #INTID_SPURIOUS
    b.eq 1f                         // nothing pending any more: not counted
    str x2, [x1]
    ldr w0, [x3, #UARTMIS]
    str x0, [x1, #8]
    mov w0, #UART_INT_TX
    str w0, [x3, #UARTICR]          // UARTINTR drops
    ldr w0, [x3, #UARTMIS]          // and the read orders that before the EOI
    str x0, [x1, #16]
    msr icc_eoir1_el1, x2
    isb
    adr x1, irqs
    ldr w0, [x1]
    add w0, w0, #1
    str w0, [x1]
1:  ret

    .include "uart.inc"
    .ltorg

    EL1_VECTORS vectors, irq_handler

    .section .rodata
uart_line:  .asciz "uart_irq: a line through the PL011\n"
txim_line:  .asciz "uart_irq: a line through the PL011 with TXIM set\n"
done_line:  .asciz "uart_irq: done\n"

    .data
    .balign 8
seen:   .skip 24
irqs:   .word 0
