/* Tracing and statistics for people debugging a binary: one line per call
 * (what was asked, what the kernel said, what the shim did, who called), and
 * a table at exit.  Both are off unless asked for; then every madvise takes
 * the slow path so that it can be seen.
 *
 * Lines are formatted on the stack and written with one write(2), so lines
 * from many threads never interleave; nothing here allocates. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "rawsys.h"
#include "shim.h"


static int log_fd = -1;
static bool log_per_pid;           /* the path has %p: reopened after fork */
static char log_pattern[256];
static bool stats_on;

/* ---- names ---- */

static const char *errno_name(long e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case ENOSYS: return "ENOSYS";
	case ENOTTY: return "ENOTTY";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EHWPOISON: return "EHWPOISON";
	default: return NULL;
	}
}

static void msg_errno(struct msgbuf *m, long e)
{
	const char *n = errno_name(e);
	if (n) {
		msg_str(m, n);
	} else {
		msg_str(m, "errno");
		msg_num(m, e);
	}
}

static const char *advice_name(enum shim_entry entry, int advice)
{
	if (entry == ENTRY_POSIX_FADVISE) {
		switch (advice) {
		case POSIX_FADV_NORMAL: return "NORMAL";
		case POSIX_FADV_RANDOM: return "RANDOM";
		case POSIX_FADV_SEQUENTIAL: return "SEQUENTIAL";
		case POSIX_FADV_WILLNEED: return "WILLNEED";
		case POSIX_FADV_DONTNEED: return "DONTNEED";
		case POSIX_FADV_NOREUSE: return "NOREUSE";
		default: return NULL;
		}
	}
	for (size_t i = 0; i < ADVICE_COUNT; i++)
		if (advice_table[i].value == advice)
			return advice_table[i].name;
	return NULL;
}

static void msg_advice(struct msgbuf *m, enum shim_entry entry, int advice)
{
	const char *n = advice_name(entry, advice);
	if (n) {
		msg_str(m, n);
	} else {
		msg_str(m, "unknown(");
		msg_num(m, advice);
		msg_str(m, ")");
	}
}

static const char *const entry_names[ENTRY_COUNT] = {
	"madvise", "posix_madvise", "process_madvise", "posix_fadvise", "syscall",
};

/* ---- the mapping and the caller ---- */

static long visit_describe(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	(void)from, (void)to;
	struct msgbuf *m = arg;
	switch (v->kind) {
	case VMA_ANON:
		msg_str(m, v->shared ? "shared-anon" : "anon");
		break;
	case VMA_FILE:
		msg_str(m, v->shared ? "shared-file:" : "file:");
		msg_str(m, v->path ? v->path : "?");
		break;
	case VMA_SPECIAL:
		msg_str(m, "special");
		break;
	case VMA_PFNMAP:
		msg_str(m, "pfnmap");
		break;
	}
	return 1; /* the first mapping is enough */
}

static void msg_mapping(struct msgbuf *m, uintptr_t addr)
{
	size_t page = shim_page_size();
	uintptr_t start = addr & ~(page - 1);
	size_t before = m->len;
	struct outcome *o = shim_outcome;
	shim_outcome = NULL; /* the lookup's own calls are not the program's */
	long r = vma_walk(start, start + page, VMA_NEED_PATH, visit_describe, m);
	shim_outcome = o;
	if (m->len == before)
		msg_str(m, r == -ENOMEM ? "unmapped" : "?");
}

static void msg_caller(struct msgbuf *m, void *caller)
{
	Dl_info info;
	if (caller && dladdr(caller, &info) && info.dli_fname) {
		const char *base = strrchr(info.dli_fname, '/');
		msg_str(m, base ? base + 1 : info.dli_fname);
		if (info.dli_sname) {
			msg_str(m, ":");
			msg_str(m, info.dli_sname);
			msg_str(m, "+");
			msg_hex(m, (uintptr_t)caller - (uintptr_t)info.dli_saddr);
		} else {
			msg_str(m, "+");
			msg_hex(m, (uintptr_t)caller - (uintptr_t)info.dli_fbase);
		}
		return;
	}
	msg_hex(m, (uintptr_t)caller);
}

/* ---- statistics ---- */

enum { S_CALLS, S_NATIVE, S_EMULATED, S_ERRORS, S_BYTES, S_EMPTIED, S_COUNT };
#define STAT_ADVICE (ADVICE_SLOTS + 1) /* the last slot: values outside */
static _Atomic unsigned long long stats[ENTRY_COUNT][STAT_ADVICE][S_COUNT];

static void count(const struct outcome *o)
{
	int a = (unsigned)o->advice < ADVICE_SLOTS ? o->advice : ADVICE_SLOTS;
	_Atomic unsigned long long *s = stats[o->entry][a];
	atomic_fetch_add_explicit(&s[S_CALLS], 1, memory_order_relaxed);
	if ((!o->action || !strcmp(o->action, "native")) && o->result >= 0)
		atomic_fetch_add_explicit(&s[S_NATIVE], 1, memory_order_relaxed);
	if (o->action && !strncmp(o->action, "emulated", 8))
		atomic_fetch_add_explicit(&s[S_EMULATED], 1, memory_order_relaxed);
	if (o->result < 0)
		atomic_fetch_add_explicit(&s[S_ERRORS], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s[S_BYTES], o->len, memory_order_relaxed);
	atomic_fetch_add_explicit(&s[S_EMPTIED], o->emptied, memory_order_relaxed);
}

static void msg_pad(struct msgbuf *m, size_t column)
{
	while (m->len < column && m->len < sizeof m->buf)
		m->buf[m->len++] = ' ';
}

static void msg_cell(struct msgbuf *m, unsigned long long v, size_t right_edge)
{
	char digits[24];
	struct msgbuf tmp = { .len = 0 };
	msg_num(&tmp, (long long)v);
	size_t n = tmp.len < sizeof digits ? tmp.len : sizeof digits - 1;
	memcpy(digits, tmp.buf, n);
	digits[n] = 0;
	msg_pad(m, right_edge > n ? right_edge - n : 0);
	msg_str(m, digits);
}

static int stats_fd(void)
{
	return STDERR_FILENO;
}

static void print_stats(void)
{
	int fd = stats_fd();
	struct msgbuf m = { .len = 0 };
	msg_str(&m, "madvise-shim statistics, pid ");
	msg_num(&m, getpid());
	msg_str(&m, "\n");
	msg_write(fd, &m);
	m.len = 0;
	msg_str(&m, "  entry            advice             calls   native emulated   errors"
		    "          bytes        emptied\n");
	msg_write(fd, &m);
	for (int e = 0; e < ENTRY_COUNT; e++) {
		for (int a = 0; a < STAT_ADVICE; a++) {
			_Atomic unsigned long long *s = stats[e][a];
			if (!atomic_load(&s[S_CALLS]))
				continue;
			m.len = 0;
			msg_str(&m, "  ");
			msg_str(&m, entry_names[e]);
			msg_pad(&m, 19);
			if (a == ADVICE_SLOTS)
				msg_str(&m, "other");
			else
				msg_advice(&m, (enum shim_entry)e, a);
			msg_cell(&m, atomic_load(&s[S_CALLS]), 44);
			msg_cell(&m, atomic_load(&s[S_NATIVE]), 53);
			msg_cell(&m, atomic_load(&s[S_EMULATED]), 62);
			msg_cell(&m, atomic_load(&s[S_ERRORS]), 71);
			msg_cell(&m, atomic_load(&s[S_BYTES]), 86);
			msg_cell(&m, atomic_load(&s[S_EMPTIED]), 101);
			msg_str(&m, "\n");
			msg_write(fd, &m);
		}
	}
	m.len = 0;
	msg_str(&m, "  missing in this kernel:");
	bool any = false;
	for (size_t i = 0; i < ADVICE_COUNT; i++) {
		int v = advice_table[i].value;
		const char *how = NULL;
		switch (atomic_load(&shim_state[v])) {
		case ST_MISSING_ENOSYS: how = "ENOSYS"; break;
		case ST_MISSING_EINVAL: how = "EINVAL probe"; break;
		case ST_MISSING_FAKE: how = "fake success"; break;
		default: break;
		}
		if (!how)
			continue;
		if (m.len > 80) {
			msg_str(&m, "\n");
			msg_write(fd, &m);
			m.len = 0;
			msg_str(&m, "   ");
		}
		msg_str(&m, " ");
		msg_str(&m, advice_table[i].name);
		msg_str(&m, " (");
		msg_str(&m, how);
		msg_str(&m, ")");
		any = true;
	}
	if (!any)
		msg_str(&m, " none found");
	msg_str(&m, "\n");
	msg_write(fd, &m);
}

__attribute__((destructor)) static void observe_fini(void)
{
	if (stats_on)
		print_stats();
}

/* ---- the trace ---- */

/* A call the kernel was not asked: what the shim already knows of it. */
static void msg_known(struct msgbuf *m, const struct outcome *o)
{
	if (o->entry == ENTRY_POSIX_FADVISE || o->entry == ENTRY_PROCESS_MADVISE ||
	    (unsigned)o->advice >= ADVICE_SLOTS) {
		msg_str(m, "not-asked");
		return;
	}
	switch (atomic_load(&shim_state[o->advice])) {
	case ST_MISSING_ENOSYS: msg_str(m, "ENOSYS(known)"); break;
	case ST_MISSING_EINVAL: msg_str(m, "EINVAL(known)"); break;
	case ST_MISSING_FAKE: msg_str(m, "fake-success(known)"); break;
	case ST_FORCED: msg_str(m, "not-asked(emulate mode)"); break;
	default: msg_str(m, state_syscall_absent() ? "ENOSYS(known)" : "not-asked"); break;
	}
}

static void trace(const struct outcome *o)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct msgbuf m = { .len = 0 };
	msg_str(&m, "madvise-shim t=");
	msg_num(&m, ts.tv_sec);
	msg_str(&m, ".");
	char us[8] = "000000";
	long v = ts.tv_nsec / 1000;
	for (int i = 5; i >= 0; i--, v /= 10)
		us[i] = (char)('0' + v % 10);
	msg_str(&m, us);
	msg_str(&m, " pid=");
	msg_num(&m, getpid());
	msg_str(&m, " tid=");
	msg_num(&m, raw_syscall(SYS_gettid, 0, 0, 0));
	msg_str(&m, " call=");
	msg_str(&m, entry_names[o->entry]);
	msg_str(&m, " advice=");
	msg_advice(&m, o->entry, o->advice);
	msg_str(&m, o->entry == ENTRY_POSIX_FADVISE ? " fd=" : " addr=");
	if (o->entry == ENTRY_POSIX_FADVISE || o->entry == ENTRY_PROCESS_MADVISE)
		msg_num(&m, (long long)o->addr);
	else
		msg_hex(&m, o->addr);
	msg_str(&m, o->entry == ENTRY_PROCESS_MADVISE ? " vlen=" : " len=");
	msg_num(&m, (long long)o->len);
	if (o->entry != ENTRY_POSIX_FADVISE && o->entry != ENTRY_PROCESS_MADVISE) {
		msg_str(&m, " map=");
		msg_mapping(&m, o->addr);
	}
	msg_str(&m, " kernel=");
	if (o->kernel == KERNEL_NOT_ASKED)
		msg_known(&m, o);
	else if (o->kernel < 0)
		msg_errno(&m, -o->kernel);
	else
		msg_num(&m, o->kernel);
	msg_str(&m, " action=");
	msg_str(&m, o->action ? o->action : "native");
	if (o->how) {
		msg_str(&m, ":");
		msg_str(&m, o->how);
	}
	msg_str(&m, " result=");
	msg_num(&m, o->result < 0 ? -1 : o->result);
	msg_str(&m, " errno=");
	msg_errno(&m, o->result < 0 ? -o->result : 0);
	msg_str(&m, " caller=");
	msg_caller(&m, o->caller);
	if (m.len >= sizeof m.buf)
		m.len = sizeof m.buf - 1;
	m.buf[m.len++] = '\n';
	msg_write(log_fd >= 0 ? log_fd : STDERR_FILENO, &m);
}

void observe_done(struct outcome *o)
{
	int saved = errno;
	if (log_fd >= 0)
		trace(o);
	if (stats_on)
		count(o);
	errno = saved;
}

long observe_madvise(enum shim_entry entry, uintptr_t start, size_t len, int advice,
		     void *caller)
{
	struct outcome o = {
		.entry = entry, .advice = advice, .addr = start, .len = len,
		.kernel = KERNEL_NOT_ASKED, .caller = caller,
	};
	struct outcome *outer = shim_outcome;
	shim_outcome = &o;
	long r = shim_madvise(start, len, advice);
	shim_outcome = outer;
	o.result = r;
	observe_done(&o);
	return r;
}

/* ---- configuration ---- */

static void complain(const char *what, const char *value, const char *why)
{
	struct msgbuf m = { .len = 0 };
	msg_str(&m, "madvise-shim: ");
	msg_str(&m, what);
	msg_str(&m, "='");
	msg_str(&m, value);
	msg_str(&m, "': ");
	msg_str(&m, why);
	msg_str(&m, "\n");
	msg_write(STDERR_FILENO, &m);
}

/* The path with %p replaced by the pid and %% by %. */
static bool expand(const char *pattern, char *out, size_t size)
{
	struct msgbuf m = { .len = 0 };
	for (const char *p = pattern; *p; p++) {
		if (p[0] == '%' && p[1] == 'p') {
			msg_num(&m, getpid());
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			msg_str(&m, "%");
			p++;
		} else {
			char c[2] = { *p, 0 };
			msg_str(&m, c);
		}
	}
	if (m.len >= size || m.len >= sizeof m.buf)
		return false;
	memcpy(out, m.buf, m.len);
	out[m.len] = 0;
	return true;
}

/* Append-only, close-on-exec, and never through a symbolic link: a log path
 * in a shared directory must not let anyone redirect the writes. */
static int open_log(void)
{
	char path[256];
	if (!expand(log_pattern, path, sizeof path))
		return -ENAMETOOLONG;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
		      0600);
	return fd < 0 ? -errno : fd;
}

void observe_after_fork_child(void)
{
	if (!log_per_pid || log_fd < 0)
		return;
	close(log_fd);
	log_fd = open_log();
}

void observe_init(void)
{
	const char *stats = secure_getenv("MADVISE_SHIM_STATS");
	if (stats && *stats) {
		if (!strcmp(stats, "1"))
			stats_on = true;
		else if (strcmp(stats, "0"))
			complain("MADVISE_SHIM_STATS", stats,
				 "ignored (accepted: 0, 1)");
	}
	const char *log = secure_getenv("MADVISE_SHIM_LOG");
	if (log && *log) {
		if (!strcmp(log, "stderr")) {
			log_fd = STDERR_FILENO;
		} else if (strlen(log) >= sizeof log_pattern) {
			complain("MADVISE_SHIM_LOG", log, "path too long; no trace");
		} else {
			strcpy(log_pattern, log);
			log_per_pid = strstr(log, "%p") != NULL;
			int fd = open_log();
			if (fd < 0) {
				struct msgbuf why = { .len = 0 };
				msg_str(&why, "cannot open it (");
				msg_str(&why, strerror((int)-fd));
				msg_str(&why, "); no trace");
				why.buf[why.len < sizeof why.buf ? why.len : sizeof why.buf - 1] = 0;
				complain("MADVISE_SHIM_LOG", log, why.buf);
			} else {
				log_fd = fd;
			}
		}
	}
	shim_observing = stats_on || log_fd >= 0;
}
