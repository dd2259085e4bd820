/* minikernel: the little of a C library it needs (gcc may call memset/memcpy). */
#include "kernel.h"

void *memset(void *s, int c, size_t n)
{
	u8 *p = s;
	u64 v = (u8)c;

	v |= v << 8;
	v |= v << 16;
	v |= v << 32;
	while (n && ((u64)p & 7)) {
		*p++ = (u8)c;
		n--;
	}
	for (; n >= 8; n -= 8, p += 8)
		*(volatile u64 *)p = v;
	while (n--)
		*p++ = (u8)c;
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	u8 *dp = d;
	const u8 *sp = s;

	if ((((u64)dp | (u64)sp) & 7) == 0) {
		for (; n >= 8; n -= 8, dp += 8, sp += 8)
			*(volatile u64 *)dp = *(const u64 *)sp;
	}
	while (n--)
		*dp++ = *sp++;
	return d;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return (u8)*a - (u8)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (u8)*a - (u8)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

char *strncpy_z(char *d, const char *s, size_t n)
{
	size_t i = 0;

	if (!n)
		return d;
	for (; i + 1 < n && s[i]; i++)
		d[i] = s[i];
	d[i] = 0;
	return d;
}

/* decimal, or hex with 0x */
bool parse_u64(const char *s, size_t len, u64 *out)
{
	u64 v = 0;
	u32 base = 10;
	size_t i = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i >= len)
		return false;
	for (; i < len; i++) {
		char c = s[i];
		u32 d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

/* clean [start, start + size) to the point of coherency: what a CPU with its MMU off
 * (its data accesses non-cacheable) is to read */
void dcache_clean_poc(const void *start, size_t size)
{
	u64 line = 4UL << (read_sysreg(ctr_el0) >> 16 & 0xf);
	u64 p = (u64)start & ~(line - 1);
	u64 end = (u64)start + size;

	for (; p < end; p += line)
		asm volatile("dc cvac, %0" : : "r"(p) : "memory");
	dsb(sy);
}

void cpu_relax_wait(void)
{
	wfe();
}

u64 ns_to_ticks(u64 ns)
{
	return ns / 1000 * (timer_freq / 1000) / 1000;
}

u64 ticks_to_ns(u64 ticks)
{
	return timer_freq ? ticks * 1000000UL / (timer_freq / 1000) : 0;
}
