// SPDX-License-Identifier: GPL-2.0
/*
 * vmi_attack: attack simulations for the test guest. It writes protected kernel data from inside
 * the guest so the host can prove it sees the writes. Commands arrive on /proc/vmi_attack, one per
 * write(); reading the file reports addresses and the result of the last command. Reading
 * /proc/vmi_store_ns lists the durations of the last time-stores command, one per line.
 *
 * Addresses are parameters from the host (kallsyms_lookup_name is not exported on 6.1): the host
 * resolves them from the guest's symbol profile.
 *
 *   poke <addr> <value> <width 1|2|4|8> <alias image|direct|vmap> <count>
 *   hook-syscall <sys_call_table> <nr> <alias>
 *   hook-idt <idt_table> <vector> <alias>
 *   patch-text <addr> <alias> [xor-mask, default 0xff]
 *   burst <addr> <count>
 *   time-stores <addr> <count> <gap_us>
 *   halves <seconds>          (0 stops a running rewriter)
 *   restore
 */
#include <linux/delay.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/timekeeping.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>
#include <asm/desc_defs.h>
#include <asm/io.h>
#include <asm/pgtable_types.h>
#include <asm/processor-flags.h>
#include <asm/special_insns.h>

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Kernel-write attack simulations for the VMI test guest");

#define MAX_CHANGES 64
#define HALVES_LEN (64 * 1024)
#define MAX_TIMED_STORES 10000

enum alias { ALIAS_IMAGE, ALIAS_DIRECT, ALIAS_VMAP };

struct change {
	unsigned long addr;
	u64 old;
	unsigned int width;
	enum alias alias;
};

static DEFINE_MUTEX(lock);
static struct change changes[MAX_CHANGES];
static unsigned int nchanges;
static char last[160] = "none";

/* A page of module data that burst tests may hammer without disturbing the kernel. */
static u64 burst_target[PAGE_SIZE / sizeof(u64)] __aligned(PAGE_SIZE);

/* Durations of the last time-stores command, in guest nanoseconds. */
static u32 store_ns[MAX_TIMED_STORES];
static unsigned int nstore_ns;
static u64 store_seq;

static u64 *halves_buf;
static struct task_struct *halves_task;
static unsigned long halves_deadline;
static atomic64_t halves_rounds = ATOMIC64_INIT(0);

/* Stand-ins that hooks point at: real functions inside this module's text. */
static noinline long vmi_attack_fake_syscall(const struct pt_regs *regs)
{
	return -ENOSYS;
}

static noinline void vmi_attack_fake_handler(void)
{
	asm volatile("");
}

static int parse_alias(const char *name, enum alias *out)
{
	if (!strcmp(name, "image"))
		*out = ALIAS_IMAGE;
	else if (!strcmp(name, "direct"))
		*out = ALIAS_DIRECT;
	else if (!strcmp(name, "vmap"))
		*out = ALIAS_VMAP;
	else
		return -EINVAL;
	return 0;
}

/* Resolves a mapped kernel address; refuses what is not mapped instead of faulting. */
static int resolve(unsigned long addr, unsigned int width, phys_addr_t *phys, bool *writable)
{
	unsigned int level;
	pte_t *pte = lookup_address(addr, &level);

	if (!pte || !pte_present(*pte))
		return -EFAULT;
	if ((addr & ~PAGE_MASK) + width > PAGE_SIZE)
		return -EINVAL;
	*phys = slow_virt_to_phys((void *)addr);
	*writable = pte_write(*pte);
	return 0;
}

static u64 load(const void *p, unsigned int width)
{
	switch (width) {
	case 1: return READ_ONCE(*(const u8 *)p);
	case 2: return READ_ONCE(*(const u16 *)p);
	case 4: return READ_ONCE(*(const u32 *)p);
	default: return READ_ONCE(*(const u64 *)p);
	}
}

static void store(void *p, u64 value, unsigned int width)
{
	switch (width) {
	case 1: WRITE_ONCE(*(u8 *)p, (u8)value); break;
	case 2: WRITE_ONCE(*(u16 *)p, (u16)value); break;
	case 4: WRITE_ONCE(*(u32 *)p, (u32)value); break;
	default: WRITE_ONCE(*(u64 *)p, value); break;
	}
}

/*
 * Stores with CR0.WP cleared through an inline mov: the kernel's write_cr0() pins WP back on.
 * Interrupts stay off so nothing else runs while kernel write protection is down.
 */
static void store_unprotected(void *p, u64 value, unsigned int width, unsigned int count)
{
	unsigned long flags, cr0;
	unsigned int i;

	local_irq_save(flags);
	cr0 = native_read_cr0();
	asm volatile("mov %0, %%cr0" : : "r"(cr0 & ~X86_CR0_WP) : "memory");
	for (i = 0; i < count; i++)
		store(p, value, width);
	asm volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
	local_irq_restore(flags);
}

/* Writes `value` `count` times at `addr` through the chosen virtual alias; returns the old value. */
static int write_alias(unsigned long addr, u64 value, unsigned int width, enum alias alias, unsigned int count, u64 *old)
{
	phys_addr_t phys;
	bool writable;
	unsigned int i;
	int err = resolve(addr, width, &phys, &writable);

	if (err)
		return err;
	*old = load((void *)addr, width);
	if (alias == ALIAS_VMAP) {
		struct page *page = pfn_to_page(phys >> PAGE_SHIFT);
		void *map = vmap(&page, 1, VM_MAP, PAGE_KERNEL);

		if (!map)
			return -ENOMEM;
		for (i = 0; i < count; i++)
			store(map + (phys & ~PAGE_MASK), value, width);
		vunmap(map);
		return 0;
	}
	if (alias == ALIAS_DIRECT) {
		void *direct = __va(phys);
		unsigned int level;
		pte_t *pte = lookup_address((unsigned long)direct, &level);

		if (!pte || !pte_present(*pte))
			return -EFAULT;
		writable = pte_write(*pte);
		addr = (unsigned long)direct;
	}
	if (writable) {
		for (i = 0; i < count; i++)
			store((void *)addr, value, width);
	} else {
		store_unprotected((void *)addr, value, width, count);
	}
	return 0;
}

static int record(unsigned long addr, u64 old, unsigned int width, enum alias alias)
{
	if (nchanges >= MAX_CHANGES)
		return -ENOSPC;
	changes[nchanges++] = (struct change){ .addr = addr, .old = old, .width = width, .alias = alias };
	return 0;
}

static int cmd_poke(const char *args)
{
	unsigned long addr, value;
	unsigned int width, count;
	char alias_s[16];
	enum alias alias;
	u64 old;
	int err;

	if (sscanf(args, "%lx %lx %u %15s %u", &addr, &value, &width, alias_s, &count) != 5)
		return -EINVAL;
	if ((width != 1 && width != 2 && width != 4 && width != 8) || count < 1 || count > 1000000)
		return -EINVAL;
	if (parse_alias(alias_s, &alias))
		return -EINVAL;
	err = write_alias(addr, value, width, alias, count, &old);
	if (err)
		return err;
	err = record(addr, old, width, alias);
	snprintf(last, sizeof(last), "poke addr=0x%lx old=0x%llx new=0x%lx width=%u alias=%s count=%u", addr, old, value, width,
		 alias_s, count);
	return err;
}

static int cmd_hook_syscall(const char *args)
{
	unsigned long table, nr, addr;
	char alias_s[16];
	enum alias alias;
	u64 old;
	int err;

	if (sscanf(args, "%lx %lu %15s", &table, &nr, alias_s) != 3 || nr >= 1024 || parse_alias(alias_s, &alias))
		return -EINVAL;
	addr = table + nr * sizeof(unsigned long);
	err = write_alias(addr, (u64)(unsigned long)vmi_attack_fake_syscall, 8, alias, 1, &old);
	if (err)
		return err;
	err = record(addr, old, 8, alias);
	snprintf(last, sizeof(last), "hook-syscall addr=0x%lx old=0x%llx new=0x%lx alias=%s", addr, old,
		 (unsigned long)vmi_attack_fake_syscall, alias_s);
	return err;
}

static int cmd_hook_idt(const char *args)
{
	unsigned long table, vector, addr, handler = (unsigned long)vmi_attack_fake_handler;
	char alias_s[16];
	enum alias alias;
	gate_desc gate;
	u64 old, first;
	int err;

	if (sscanf(args, "%lx %lu %15s", &table, &vector, alias_s) != 3 || vector > 255 || parse_alias(alias_s, &alias))
		return -EINVAL;
	addr = table + vector * sizeof(gate_desc);
	/* Only the low quadword carries offset bits 0-31; module text and kernel text share bits 32-63. */
	memcpy(&gate, (void *)addr, sizeof(gate));
	gate.offset_low = (u16)handler;
	gate.offset_middle = (u16)(handler >> 16);
	if (gate.offset_high != (u32)(handler >> 32))
		return -ERANGE;
	memcpy(&first, &gate, sizeof(first));
	err = write_alias(addr, first, 8, alias, 1, &old);
	if (err)
		return err;
	err = record(addr, old, 8, alias);
	snprintf(last, sizeof(last), "hook-idt addr=0x%lx old=0x%llx new=0x%llx handler=0x%lx alias=%s", addr, old, first, handler,
		 alias_s);
	return err;
}

static int cmd_patch_text(const char *args)
{
	unsigned long addr, mask = 0xff;
	char alias_s[16];
	enum alias alias;
	u64 old;
	u8 value;
	int err, n = sscanf(args, "%lx %15s %lx", &addr, alias_s, &mask);

	if (n < 2 || parse_alias(alias_s, &alias) || mask == 0 || mask > 0xff)
		return -EINVAL;
	if (!lookup_address(addr, &(unsigned int){ 0 }))
		return -EFAULT;
	value = READ_ONCE(*(u8 *)addr) ^ (u8)mask;
	err = write_alias(addr, value, 1, alias, 1, &old);
	if (err)
		return err;
	err = record(addr, old, 1, alias);
	snprintf(last, sizeof(last), "patch-text addr=0x%lx old=0x%llx new=0x%x alias=%s", addr, old, value, alias_s);
	return err;
}

static int cmd_burst(const char *args)
{
	unsigned long addr;
	unsigned int count, i;
	phys_addr_t phys;
	bool writable;
	int err;

	if (sscanf(args, "%lx %u", &addr, &count) != 2 || count < 1 || count > 1000000 || (addr & 7))
		return -EINVAL;
	err = resolve(addr, 8, &phys, &writable);
	if (err)
		return err;
	if (!writable)
		return -EPERM;
	/* Each store is its own instruction with a distinct value, so every one is observable. */
	for (i = 1; i <= count; i++)
		WRITE_ONCE(*(u64 *)addr, (u64)i);
	snprintf(last, sizeof(last), "burst addr=0x%lx count=%u", addr, count);
	return 0;
}

/*
 * Times single stores from inside the guest: how long one 8-byte store takes as the guest's own
 * clock sees it, which includes any time the host holds the vCPU on that store (a physical page
 * trap). Interrupts are off around each store so a timer tick does not land in the measurement.
 * The pause between stores gives the host time to protect the page again, so every store can trap.
 * Each store writes a new value, so every one changes memory.
 */
static int cmd_time_stores(const char *args)
{
	unsigned long addr, flags;
	unsigned int count, gap_us, i;
	phys_addr_t phys;
	bool writable;
	u64 t0, t1;
	int err;

	if (sscanf(args, "%lx %u %u", &addr, &count, &gap_us) != 3 || count < 1 || count > MAX_TIMED_STORES ||
	    gap_us > 1000000 || (addr & 7))
		return -EINVAL;
	err = resolve(addr, 8, &phys, &writable);
	if (err)
		return err;
	if (!writable)
		return -EPERM;
	nstore_ns = 0;
	for (i = 0; i < count; i++) {
		if (gap_us > 0)
			usleep_range(gap_us, gap_us + gap_us / 4 + 1);
		local_irq_save(flags);
		t0 = ktime_get_ns();
		WRITE_ONCE(*(u64 *)addr, ++store_seq);
		t1 = ktime_get_ns();
		local_irq_restore(flags);
		store_ns[nstore_ns++] = (u32)min_t(u64, t1 - t0, U32_MAX);
		cond_resched();
	}
	snprintf(last, sizeof(last), "time-stores addr=0x%lx count=%u gap_us=%u", addr, count, gap_us);
	return 0;
}

/*
 * Rewrites the buffer round after round: first every word of the first half, then every word of
 * the second half, all with the round number. A copy that never raced a rewrite has two equal
 * halves; a torn one does not.
 */
static int halves_loop(void *unused)
{
	const size_t words = HALVES_LEN / sizeof(u64), half = words / 2;
	u64 round = 0;
	size_t i;

	while (!kthread_should_stop() && time_before(jiffies, halves_deadline)) {
		round++;
		for (i = 0; i < half; i++)
			WRITE_ONCE(halves_buf[i], round);
		for (i = half; i < words; i++)
			WRITE_ONCE(halves_buf[i], round);
		atomic64_set(&halves_rounds, round);
		cond_resched();
	}
	return 0;
}

static int cmd_halves(const char *args)
{
	unsigned int seconds;

	if (sscanf(args, "%u", &seconds) != 1 || seconds > 3600)
		return -EINVAL;
	if (halves_task) {
		kthread_stop(halves_task);
		put_task_struct(halves_task);
		halves_task = NULL;
	}
	if (seconds == 0) {
		snprintf(last, sizeof(last), "halves stopped");
		return 0;
	}
	if (!halves_buf) {
		halves_buf = kzalloc(HALVES_LEN, GFP_KERNEL);
		if (!halves_buf)
			return -ENOMEM;
	}
	atomic64_set(&halves_rounds, 0);
	halves_deadline = jiffies + seconds * HZ;
	halves_task = kthread_create(halves_loop, NULL, "vmi_halves");
	if (IS_ERR(halves_task)) {
		int err = PTR_ERR(halves_task);

		halves_task = NULL;
		return err;
	}
	get_task_struct(halves_task);
	wake_up_process(halves_task);
	snprintf(last, sizeof(last), "halves va=0x%lx phys=0x%llx len=%u seconds=%u", (unsigned long)halves_buf,
		 (unsigned long long)virt_to_phys(halves_buf), HALVES_LEN, seconds);
	return 0;
}

static int cmd_restore(void)
{
	unsigned int restored = 0;
	u64 ignored;
	int err;

	while (nchanges > 0) {
		struct change *c = &changes[nchanges - 1];

		err = write_alias(c->addr, c->old, c->width, c->alias, 1, &ignored);
		if (err)
			return err;
		nchanges--;
		restored++;
	}
	snprintf(last, sizeof(last), "restore count=%u", restored);
	return 0;
}

static ssize_t control_write(struct file *file, const char __user *ubuf, size_t len, loff_t *pos)
{
	char buf[256], cmd[24];
	const char *args;
	int err;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%23s", cmd) != 1)
		return -EINVAL;
	args = strstr(buf, cmd) + strlen(cmd);

	mutex_lock(&lock);
	if (!strcmp(cmd, "poke"))
		err = cmd_poke(args);
	else if (!strcmp(cmd, "hook-syscall"))
		err = cmd_hook_syscall(args);
	else if (!strcmp(cmd, "hook-idt"))
		err = cmd_hook_idt(args);
	else if (!strcmp(cmd, "patch-text"))
		err = cmd_patch_text(args);
	else if (!strcmp(cmd, "burst"))
		err = cmd_burst(args);
	else if (!strcmp(cmd, "time-stores"))
		err = cmd_time_stores(args);
	else if (!strcmp(cmd, "halves"))
		err = cmd_halves(args);
	else if (!strcmp(cmd, "restore"))
		err = cmd_restore();
	else
		err = -EINVAL;
	if (err)
		snprintf(last, sizeof(last), "error %s %d", cmd, err);
	mutex_unlock(&lock);
	return err ? err : len;
}

static int control_show(struct seq_file *m, void *v)
{
	mutex_lock(&lock);
	seq_printf(m, "hook_syscall=0x%lx\n", (unsigned long)vmi_attack_fake_syscall);
	seq_printf(m, "hook_handler=0x%lx\n", (unsigned long)vmi_attack_fake_handler);
	seq_printf(m, "burst_target=0x%lx\n", (unsigned long)burst_target);
	seq_printf(m, "burst_target_phys=0x%llx\n", (unsigned long long)slow_virt_to_phys(burst_target));
	if (halves_buf) {
		seq_printf(m, "halves_va=0x%lx\n", (unsigned long)halves_buf);
		seq_printf(m, "halves_phys=0x%llx\n", (unsigned long long)virt_to_phys(halves_buf));
		seq_printf(m, "halves_len=%u\n", HALVES_LEN);
		seq_printf(m, "halves_running=%d\n", halves_task && !time_after_eq(jiffies, halves_deadline) ? 1 : 0);
		seq_printf(m, "halves_rounds=%lld\n", (long long)atomic64_read(&halves_rounds));
	}
	seq_printf(m, "changes=%u\n", nchanges);
	seq_printf(m, "last=%s\n", last);
	mutex_unlock(&lock);
	return 0;
}

static int control_open(struct inode *inode, struct file *file)
{
	return single_open(file, control_show, NULL);
}

static const struct proc_ops control_ops = {
	.proc_open = control_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = control_write,
};

static int store_ns_show(struct seq_file *m, void *v)
{
	unsigned int i;

	mutex_lock(&lock);
	for (i = 0; i < nstore_ns; i++)
		seq_printf(m, "%u\n", store_ns[i]);
	mutex_unlock(&lock);
	return 0;
}

static int store_ns_open(struct inode *inode, struct file *file)
{
	return single_open(file, store_ns_show, NULL);
}

static const struct proc_ops store_ns_ops = {
	.proc_open = store_ns_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};

static struct proc_dir_entry *entry, *store_ns_entry;

static int __init vmi_attack_init(void)
{
	entry = proc_create("vmi_attack", 0600, NULL, &control_ops);
	if (!entry)
		return -ENOMEM;
	store_ns_entry = proc_create("vmi_store_ns", 0400, NULL, &store_ns_ops);
	if (!store_ns_entry) {
		proc_remove(entry);
		return -ENOMEM;
	}
	return 0;
}

static void __exit vmi_attack_exit(void)
{
	proc_remove(store_ns_entry);
	proc_remove(entry);
	if (halves_task) {
		kthread_stop(halves_task);
		put_task_struct(halves_task);
	}
	mutex_lock(&lock);
	cmd_restore();
	mutex_unlock(&lock);
	kfree(halves_buf);
}

module_init(vmi_attack_init);
module_exit(vmi_attack_exit);
