/*
 * minikernel: a minimal flattened device tree reader (no libfdt). It walks the
 * structure block once and keeps what the kernel uses: /chosen/bootargs, /psci method,
 * /memory reg, the GICv3's reg, and each /cpus/cpu@* reg (MPIDR), enable-method and
 * cpu-release-addr. Every access is a byte load: with the MMU off the FDT is Device
 * memory, where a misaligned load would fault.
 */
#include "kernel.h"

#define FDT_MAGIC 0xd00dfeed
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9
#define MAX_DEPTH 8

struct platform plat;

static u32 be32(u64 p)
{
	const volatile u8 *b = (const volatile u8 *)p;

	return (u32)b[0] << 24 | (u32)b[1] << 16 | (u32)b[2] << 8 | b[3];
}

static u64 cells(u64 p, u32 n)
{
	u64 v = 0;

	while (n--) {
		v = v << 32 | be32(p);
		p += 4;
	}
	return v;
}

static void copy_str(char *d, u64 s, u32 len, u32 size)
{
	u32 i;

	for (i = 0; i < len && i + 1 < size && *(const volatile u8 *)(s + i); i++)
		d[i] = *(const volatile u8 *)(s + i);
	d[i] = 0;
}

static bool str_is(u64 s, const char *want)
{
	for (; *want; want++, s++)
		if (*(const volatile u8 *)s != (u8)*want)
			return false;
	return *(const volatile u8 *)s == 0;
}

/* the node name at p starts with prefix (then '@' or its end) */
static bool name_is(u64 p, const char *prefix)
{
	for (; *prefix; prefix++, p++)
		if (*(const volatile u8 *)p != (u8)*prefix)
			return false;
	u8 c = *(const volatile u8 *)p;
	return c == 0 || c == '@';
}

/* compatible is a list of strings: is `want` one of them? */
static bool list_has(u64 p, u32 len, const char *want)
{
	u32 i = 0;

	while (i < len) {
		if (str_is(p + i, want))
			return true;
		while (i < len && *(const volatile u8 *)(p + i))
			i++;
		i++;
	}
	return false;
}

enum node_kind { N_OTHER, N_ROOT, N_CHOSEN, N_PSCI, N_CPUS, N_CPU, N_MEMORY, N_INTC };

bool fdt_parse(u64 fdt)
{
	if (!fdt || be32(fdt) != FDT_MAGIC)
		return false;
	u32 size = be32(fdt + 4), off_struct = be32(fdt + 8), off_strings = be32(fdt + 12);
	u32 size_struct = be32(fdt + 36);
	u64 p = fdt + off_struct, end = p + size_struct, strings = fdt + off_strings;
	enum node_kind stack[MAX_DEPTH];
	int depth = -1;
	u32 root_ac = 2, root_sc = 1, cpus_ac = 1;
	struct cpu_desc cur = { INVALID_HWID, EM_PSCI, 0 };
	bool cur_is_cpu = false, gic_v3 = false;
	u64 gic_reg = 0;
	u32 gic_reg_len = 0;

	plat.have_fdt = true;
	plat.fdt = fdt;
	plat.fdt_size = size;
	while (p < end) {
		u32 tok = be32(p);

		p += 4;
		if (tok == FDT_BEGIN_NODE) {
			u64 name = p;
			enum node_kind k = N_OTHER;

			while (*(const volatile u8 *)p)
				p++;
			p = (p + 4) & ~3UL;
			depth++;
			if (depth == 0)
				k = N_ROOT;
			else if (depth == 1 && name_is(name, "chosen"))
				k = N_CHOSEN;
			else if (depth == 1 && name_is(name, "psci"))
				k = N_PSCI;
			else if (depth == 1 && name_is(name, "cpus"))
				k = N_CPUS;
			else if (depth == 1 && name_is(name, "memory"))
				k = N_MEMORY;
			else if (depth == 1 && name_is(name, "intc"))
				k = N_INTC;
			else if (depth == 2 && stack[1] == N_CPUS && name_is(name, "cpu"))
				k = N_CPU;
			if (depth < MAX_DEPTH)
				stack[depth] = k;
			if (k == N_CPU) {
				cur.mpidr = INVALID_HWID;
				cur.method = EM_UNKNOWN;
				cur.release_addr = 0;
				cur_is_cpu = true;
			}
			if (k == N_INTC) {
				gic_v3 = false;
				gic_reg_len = 0;
			}
		} else if (tok == FDT_END_NODE) {
			if (depth >= 0 && depth < MAX_DEPTH && stack[depth] == N_CPU && cur_is_cpu) {
				if (cur.mpidr != INVALID_HWID && plat.nr_desc < NR_CPUS)
					plat.desc[plat.nr_desc++] = cur;
				cur_is_cpu = false;
			}
			if (depth >= 0 && depth < MAX_DEPTH && stack[depth] == N_INTC && gic_v3 &&
			    gic_reg_len >= 4 * 4 * root_ac) {	/* GICD then GICR */
				plat.gicd = cells(gic_reg, root_ac);
				plat.gicr = cells(gic_reg + 4 * (root_ac + root_sc), root_ac);
			}
			depth--;
		} else if (tok == FDT_PROP) {
			u32 len = be32(p), nameoff = be32(p + 4);
			u64 val = p + 8, pname = strings + nameoff;
			enum node_kind k = depth >= 0 && depth < MAX_DEPTH ? stack[depth] : N_OTHER;

			p = (val + len + 3) & ~3UL;
			if (k == N_ROOT && str_is(pname, "#address-cells"))
				root_ac = be32(val);
			else if (k == N_ROOT && str_is(pname, "#size-cells"))
				root_sc = be32(val);
			else if (k == N_CPUS && str_is(pname, "#address-cells"))
				cpus_ac = be32(val);
			else if (k == N_CHOSEN && str_is(pname, "bootargs"))
				copy_str(plat.cmdline, val, len, sizeof(plat.cmdline));
			else if (k == N_PSCI && str_is(pname, "method")) {
				plat.psci_in_fdt = true;
				plat.psci_hvc = str_is(val, "hvc");
			} else if (k == N_MEMORY && str_is(pname, "reg") && !plat.ram_in_fdt &&
				   len >= 4 * (root_ac + root_sc)) {
				plat.ram_base = cells(val, root_ac);
				plat.ram_size = cells(val + 4 * root_ac, root_sc);
				plat.ram_in_fdt = true;
			} else if (k == N_INTC && str_is(pname, "compatible"))
				gic_v3 = list_has(val, len, "arm,gic-v3");
			else if (k == N_INTC && str_is(pname, "reg")) {
				gic_reg = val;
				gic_reg_len = len;
			} else if (k == N_CPU && str_is(pname, "reg") && len >= 4 * cpus_ac)
				cur.mpidr = cells(val, cpus_ac) & MPIDR_HWID_MASK;
			else if (k == N_CPU && str_is(pname, "enable-method"))
				cur.method = str_is(val, "psci") ? EM_PSCI :
					     str_is(val, "spin-table") ? EM_SPIN_TABLE : EM_UNKNOWN;
			else if (k == N_CPU && str_is(pname, "cpu-release-addr") && len >= 8)
				cur.release_addr = cells(val, 2);
			else if (k == N_CPU && str_is(pname, "device_type") && !str_is(val, "cpu"))
				cur_is_cpu = false;
		} else if (tok == FDT_NOP) {
			continue;
		} else {	/* FDT_END or garbage */
			break;
		}
	}
	return true;
}
