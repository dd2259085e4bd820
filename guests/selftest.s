// selftest: a bare-metal check of the A64 integer core, one CPU, no MMU.
// Prints through the PL011 and semihosting; exits 0 when every check passes,
// else 1. Runs unchanged on smpsim and on QEMU (-M virt -cpu max -semihosting).

    .include "common.inc"

    // compare x0 (got) with x1 (want) under the label \name
    .macro CHECK name
    adr x2, 8f
    bl check
    b 9f
8:  .asciz "\name"
    .balign 4
9:
    .endm

    .text
    .global main
main:                               // from boot.s, on CPU 0's stack
    mov x19, #0                     // failures
    mov x20, #0                     // checks run
    adr x0, banner
    bl uart_puts

    // arithmetic loop: 1 + 2 + ... + 100
    mov x0, #0
    mov x1, #100
1:  add x0, x0, x1
    subs x1, x1, #1
    b.ne 1b
    mov x1, #5050
    CHECK "sum"

    // 20! with MUL, compared with its 64-bit value
    mov x0, #1
    mov x1, #20
1:  mul x0, x0, x1
    subs x1, x1, #1
    b.ne 1b
    ldr x1, =2432902008176640000
    CHECK "factorial"

    // division and remainder
    ldr x3, =1000000007
    mov x4, #7
    udiv x0, x3, x4
    ldr x1, =142857143
    CHECK "udiv"
    udiv x5, x3, x4
    msub x0, x5, x4, x3
    mov x1, #6
    CHECK "msub remainder"
    mov x3, #-100
    sdiv x0, x3, x4
    mov x1, #-14
    CHECK "sdiv"
    mov w3, #0x80000000
    mov w4, #-1
    sdiv w0, w3, w4                 // most negative / -1 wraps
    mov x1, #0x80000000
    CHECK "sdiv overflow"
    udiv x0, x3, xzr                // division by zero gives zero
    mov x1, #0
    CHECK "udiv by zero"

    // CRC-32 and CRC-32C of "123456789" (the standard check values)
    adr x3, digits
    mov w0, #-1
    mov x4, #9
1:  ldrb w5, [x3], #1
    crc32b w0, w0, w5
    subs x4, x4, #1
    b.ne 1b
    mvn w0, w0
    ldr x1, =0xcbf43926
    CHECK "crc32b"
    adr x3, digits
    mov w0, #-1
    ldr x5, [x3]                    // 8 bytes at once, then the ninth
    crc32cx w0, w0, x5
    ldrb w5, [x3, #8]
    crc32cb w0, w0, w5
    mvn w0, w0
    ldr x1, =0xe3069283
    CHECK "crc32c"

    // bit manipulation
    ldr x3, =0x0123456789abcdef
    rev x0, x3
    ldr x1, =0xefcdab8967452301
    CHECK "rev"
    rbit x0, x3
    ldr x1, =0xf7b3d591e6a2c480
    CHECK "rbit"
    clz x0, x3
    mov x1, #7
    CHECK "clz"
    ubfx x0, x3, #12, #8
    mov x1, #0xbc
    CHECK "ubfx"
    mov x0, #0
    bfi x0, x3, #16, #8
    mov x1, #0xef0000
    CHECK "bfi"
    sbfx x0, x3, #4, #4             // 0xe sign-extended
    mov x1, #-2
    CHECK "sbfx"
    mov x4, #0xff
    and x0, x3, x4, lsl #8
    mov x1, #0xcd00
    CHECK "and shifted"
    extr x0, x3, x3, #16
    ldr x1, =0xcdef0123456789ab
    CHECK "extr"

    // memory: copy 256 bytes with LDP/STP, then add them up with post-index loads
    adr x3, pattern
    adr x4, buffer
    mov x5, #16
1:  ldp x6, x7, [x3], #16
    stp x6, x7, [x4], #16
    subs x5, x5, #1
    b.ne 1b
    adr x4, buffer
    mov x0, #0
    mov x5, #256
1:  ldrb w6, [x4], #1
    add x0, x0, x6
    subs x5, x5, #1
    b.ne 1b
    ldr x1, =(255 * 256 / 2)
    CHECK "ldp/stp copy"
    adr x4, buffer
    mov x5, #200
    ldrsh x0, [x4, x5]              // bytes 200, 201: 0xc9c8 sign-extended
    mov x1, #-0x3638
    CHECK "ldrsh register offset"
    add x4, x4, #16
    mov w5, #-8
    ldr w0, [x4, w5, sxtw]          // a negative 32-bit index: bytes 8..11
    ldr x1, =0x0b0a0908
    CHECK "ldr sxtw offset"

    // conditional select: the largest of the signed words in a table
    adr x3, signed_words
    mov x5, #6
    mov x0, #0x8000000000000000
1:  ldrsw x6, [x3], #4
    cmp x6, x0
    csel x0, x6, x0, gt
    subs x5, x5, #1
    b.ne 1b
    mov x1, #1234
    CHECK "csel max"

    // exclusives and LSE atomics on one counter
    adr x3, counter
    mov x5, #1000
1:  ldaxr x6, [x3]
    add x6, x6, #1
    stlxr w7, x6, [x3]
    cbnz w7, 1b
    subs x5, x5, #1
    b.ne 1b
    mov x5, #1000
    mov x6, #2
1:  ldadd x6, x7, [x3]
    subs x5, x5, #1
    b.ne 1b
    ldr x0, [x3]
    mov x1, #3000
    CHECK "ldxr/stxr + ldadd"
    mov x6, #3000                   // cas: succeeds, x6 gets the old value
    mov x7, #7
    casal x6, x7, [x3]
    ldr x0, [x3]
    mov x1, #7
    CHECK "cas success"
    mov x6, #5                      // cas: fails, memory unchanged, x6 = 7
    casal x6, x7, [x3]
    mov x0, x6
    mov x1, #7
    CHECK "cas failure"
    mov x6, #-1
    ldsmax x6, x7, [x3]             // max(7, -1) = 7 stays
    ldumax x6, x7, [x3]             // max(7, 2^64-1) unsigned
    ldr x0, [x3]
    mov x1, #-1
    CHECK "ldsmax/ldumax"

    // report and exit
    cbnz x19, 1f
    adr x1, passed
    SEMIHOSTING SYS_WRITE0
    mov x0, #0
    EXIT_WITH_X0
1:  adr x1, failed
    SEMIHOSTING SYS_WRITE0
    mov x0, #1
    EXIT_WITH_X0

// check: count a check; when x0 != x1, print its name (x2), got and want
check:
    add x20, x20, #1
    cmp x0, x1
    b.ne 1f
    ret
1:  add x19, x19, #1
    stp x29, x30, [sp, #-48]!
    stp x0, x1, [sp, #16]
    str x2, [sp, #32]
    adr x0, fail_prefix
    bl uart_puts
    ldr x0, [sp, #32]
    bl uart_puts
    adr x0, got_text
    bl uart_puts
    ldr x0, [sp, #16]
    bl uart_put_hex
    adr x0, want_text
    bl uart_puts
    ldr x0, [sp, #24]
    bl uart_put_hex
    adr x0, newline
    bl uart_puts
    ldp x29, x30, [sp], #48
    ret

    .include "uart.inc"
    .ltorg

    .section .rodata
banner:      .asciz "selftest: A64 integer core\n"
passed:      .asciz "selftest: all checks passed\n"
failed:      .asciz "selftest: FAILED\n"
fail_prefix: .asciz "FAIL "
got_text:    .asciz ": got 0x"
want_text:   .asciz " want 0x"
newline:     .asciz "\n"
    .balign 8  // (read 8 bytes at once: with the MMU off, memory is Device and must be aligned)
digits:      .ascii "123456789"
    .balign 4
signed_words: .word -5, 17, 1234, -99999, 0, 1233
    .balign 16
pattern:
    .irp i, 0,16,32,48,64,80,96,112,128,144,160,176,192,208,224,240
    .byte \i+0,\i+1,\i+2,\i+3,\i+4,\i+5,\i+6,\i+7,\i+8,\i+9,\i+10,\i+11,\i+12,\i+13,\i+14,\i+15
    .endr

    .data
    .balign 16
buffer:  .skip 256
counter: .quad 0
