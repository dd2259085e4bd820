/*
 * minikernel: the console. Whole lines on the PL011, one writer at a time: a ticket-
 * free spinlock on LDAXR/STXR (no LSE atomics: some CPUs lack them) taken with
 * interrupts masked. Before this CPU's MMU is on (its data accesses go to Device
 * memory) nothing is printed but a panic, without the lock.
 */
#include <stdarg.h>
#include "kernel.h"

#define UARTDR 0x00
#define UARTFR 0x18
#define LINE_MAX 320

static volatile u32 *const uart = (volatile u32 *)UART_BASE;
static u32 console_lock_word;	/* 0 free, else owner CPU + 1 */
static u32 panicking;

void console_putc_raw(char c)
{
	while (uart[UARTFR / 4] & UARTFR_TXFF)
		;
	uart[UARTDR / 4] = (u8)c;
}

static bool mmu_on(void)
{
	return read_sysreg(sctlr_el1) & SCTLR_M;	/* SCTLR_EL2 with E2H */
}

static void console_lock(void)
{
	u32 me = smp_processor_id() + 1, tmp, fail;

	if (READ_ONCE(console_lock_word) == me)	/* a fault while printing: take it over */
		return;
	asm volatile("	sevl\n"
		     "1:	wfe\n"
		     "2:	ldaxr	%w0, %2\n"
		     "	cbnz	%w0, 1b\n"
		     "	stxr	%w1, %w3, %2\n"
		     "	cbnz	%w1, 2b\n"
		     : "=&r"(tmp), "=&r"(fail), "+Q"(console_lock_word)
		     : "r"(me)
		     : "memory");
}

static void console_unlock(void)
{
	store_release_u32(&console_lock_word, 0);	/* clears the waiters' monitors */
}

static void console_write_line(const char *s)
{
	u64 flags;
	bool locked = mmu_on();

	flags = local_irq_save();
	if (locked)
		console_lock();
	for (; *s; s++)
		console_putc_raw(*s);
	console_putc_raw('\n');
	if (locked)
		console_unlock();
	local_irq_restore(flags);
}

/* --- a small vsnprintf: %d %i %u %x %X %p %s %c %%, flags 0 and -, width, l ll z --- */
struct outbuf {
	char *buf;
	size_t size, len;
};

static void out(struct outbuf *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_num(struct outbuf *o, u64 v, u32 base, bool neg, bool upper, int width,
		    bool zero, bool left)
{
	char tmp[24];
	int n = 0;
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	int len = n + (neg ? 1 : 0);
	if (!left && !zero)
		for (; width > len; width--)
			out(o, ' ');
	if (neg)
		out(o, '-');
	if (!left && zero)
		for (; width > len; width--)
			out(o, '0');
	while (n)
		out(o, tmp[--n]);
	if (left)
		for (; width > len; width--)
			out(o, ' ');
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out(&o, *fmt);
			continue;
		}
		fmt++;
		bool zero = false, left = false;
		int width = 0, lng = 0;

		for (;; fmt++) {
			if (*fmt == '0')
				zero = true;
			else if (*fmt == '-')
				left = true;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			s64 v = lng ? va_arg(ap, s64) : va_arg(ap, int);
			out_num(&o, v < 0 ? -(u64)v : (u64)v, 10, v < 0, false, width, zero, left);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			u64 v = lng ? va_arg(ap, u64) : va_arg(ap, unsigned int);
			out_num(&o, v, *fmt == 'u' ? 10 : 16, false, *fmt == 'X', width, zero, left);
			break;
		}
		case 'p':
			out(&o, '0');
			out(&o, 'x');
			out_num(&o, (u64)va_arg(ap, void *), 16, false, false, width, zero, left);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			int len;

			if (!s)
				s = "(null)";
			len = (int)strlen(s);
			if (!left)
				for (; width > len; width--)
					out(&o, ' ');
			while (*s)
				out(&o, *s++);
			for (; left && width > len; width--)
				out(&o, ' ');
			break;
		}
		case 'c':
			out(&o, (char)va_arg(ap, int));
			break;
		case '%':
			out(&o, '%');
			break;
		default:
			out(&o, '%');
			if (*fmt)
				out(&o, *fmt);
			else
				fmt--;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void printk(const char *fmt, ...)
{
	char line[LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	console_write_line(line);
}

/* @event <name> cpu=<n> [<key>=<value> ...]: a machine-readable line */
void event(const char *name, const char *fmt, ...)
{
	char line[LINE_MAX];
	size_t n;
	va_list ap;

	n = (size_t)snprintf(line, sizeof(line), "@event %s cpu=%u", name, smp_processor_id());
	if (fmt && *fmt && n + 1 < sizeof(line)) {
		line[n++] = ' ';
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
	}
	console_write_line(line);
}

/* Linux's panic(): the message, the other CPUs stopped, then (as with panic=N) a reset:
 * PSCI SYSTEM_RESET ends the run on smpsim and on QEMU -no-reboot alike. */
void panic(const char *fmt, ...)
{
	char reason[200], value[200];
	va_list ap;
	u32 i;

	local_irq_disable();
	if (atomic_add_return(&panicking, 1) != 1)
		cpu_park();			/* another CPU panics already */
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	for (i = 0; reason[i] && i + 1 < sizeof(value); i++)	/* no spaces in a value */
		value[i] = reason[i] == ' ' ? '_' : reason[i];
	value[i] = 0;
	printk("Kernel panic - not syncing: %s", reason);
	event("panic", "reason=%s", value);
	smp_send_stop();
	printk("---[ end Kernel panic - not syncing: %s ]---", reason);
	psci_system_reset();
}
