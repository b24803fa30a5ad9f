/* Finding the mappings that cover an address range, without malloc.
 *
 * Two sources: the PROCMAP_QUERY ioctl on /proc/self/maps (Linux 6.11+, one
 * syscall per mapping), and a parser of /proc/self/maps (older kernels, or
 * MADVISE_SHIM_LOOKUP=maps) that reads the file in chunks (see big_chunk).  Attributes that neither shows (locked, noreserve, growsdown) come
 * from /proc/self/smaps, read only when a decision needs them.
 *
 * Both feed a walker that applies the kernel's rules for ranges with holes:
 * every mapped part is visited, and a hole anywhere makes the result ENOMEM. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

enum shim_lookup shim_lookup = LOOKUP_AUTO;

struct walker {
	uintptr_t addr, end;
	bool hole, done;
	vma_visit_fn visit;
	void *arg;
};

static long walker_feed(struct walker *w, const struct vma *v)
{
	if (v->end <= w->addr)
		return 0;
	if (v->start >= w->end) {
		w->done = true;
		return 0;
	}
	if (v->start > w->addr)
		w->hole = true;
	uintptr_t from = v->start > w->addr ? v->start : w->addr;
	uintptr_t to = v->end < w->end ? v->end : w->end;
	long r = w->visit(v, from, to, w->arg);
	w->addr = to;
	if (w->addr >= w->end)
		w->done = true;
	return r;
}

static long walker_finish(const struct walker *w)
{
	return (w->hole || w->addr < w->end) ? -ENOMEM : 0;
}

/* Anonymous mappings have no inode; among them the kernel's own special
 * mappings are told apart by name. */
static enum vma_kind kind_of(uint64_t inode, const char *name, size_t name_len)
{
	if (inode)
		return VMA_FILE;
	if (name_len == 0)
		return VMA_ANON;
	if (name[0] != '[')
		return VMA_FILE;
	if ((name_len >= 6 && memcmp(name, "[heap]", 6) == 0) ||
	    (name_len >= 6 && memcmp(name, "[stack", 6) == 0) ||
	    (name_len >= 6 && memcmp(name, "[anon:", 6) == 0))
		return VMA_ANON;
	if (name_len >= 5 && memcmp(name, "[vvar", 5) == 0)
		return VMA_PFNMAP;
	return VMA_SPECIAL;
}

/* ---------------- PROCMAP_QUERY ---------------- */

static _Atomic int maps_fd = -1;
enum { PROCMAP_UNKNOWN, PROCMAP_WORKS, PROCMAP_ABSENT };
static _Atomic int procmap_state;

static dev_t maps_dev;
static ino_t maps_ino;

static void drop_maps_fd(void)
{
	/* The inherited descriptor describes the parent's address space.  Its
	 * number may since have been closed by the program and reused for one
	 * of its own files: close it only if it is still ours. */
	int fd = atomic_exchange(&maps_fd, -1);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == maps_dev && st.st_ino == maps_ino)
		close(fd);
}

void mapinfo_after_fork_child(void)
{
	drop_maps_fd();
}

/* The descriptor is kept for the life of the process, so its number is moved
 * far from the low ones a program reuses after closing its descriptors (a
 * daemon's close-all, a test's close of 3..N): a program that put another
 * process's maps file on the same number would get that process's answers.
 * Above 1023 where the limit exceeds 2048, so that select()'s range stays the
 * program's; else in the upper half of what the limit allows.  Only a
 * program that closes this very number and reuses it on purpose (dup2) is
 * not caught: checking before every query would cost a system call each. */
static int move_high(int fd)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 64)
		return fd;
	long base = rl.rlim_cur > 2048 ? 1024 : (long)(rl.rlim_cur / 2);
	int high = fcntl(fd, F_DUPFD_CLOEXEC, base);
	if (high < 0)
		return fd;
	close(fd);
	return high;
}

static int maps_fd_get(bool fresh)
{
	int fd = atomic_load_explicit(&maps_fd, memory_order_acquire);
	if (fd >= 0 && !fresh)
		return fd;
	int nfd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (nfd < 0)
		return -errno;
	nfd = move_high(nfd);
	/* A stale descriptor is not closed: the program closed it and its
	 * number may now be the program's own file. */
	if (!atomic_compare_exchange_strong(&maps_fd, &fd, nfd)) {
		close(nfd);
		return fd;
	}
	struct stat st;
	if (fstat(nfd, &st) == 0) {
		maps_dev = st.st_dev;
		maps_ino = st.st_ino;
	}
	return nfd;
}

/* 0 with *v filled, -ENOENT when no mapping is at or after addr, or another
 * -errno when the query cannot be made. */
static int procmap_query(uintptr_t addr, struct vma *v)
{
	char name[32];
	struct shim_procmap_query q;
	int fd = maps_fd_get(false);
	if (fd < 0)
		return fd;
	bool with_name = true, reopened = false;
	for (;;) {
		memset(&q, 0, sizeof q);
		q.size = sizeof q;
		q.query_flags = SHIM_PROCMAP_QUERY_COVERING_OR_NEXT_VMA;
		q.query_addr = addr;
		if (with_name) {
			q.vma_name_addr = (uintptr_t)name;
			q.vma_name_size = sizeof name;
		}
		if (ioctl(fd, SHIM_PROCMAP_QUERY, &q) == 0)
			break;
		int e = errno;
		if (e == ENAMETOOLONG && with_name) {
			with_name = false; /* a long file path, or a long anon name */
			continue;
		}
		if ((e == EBADF || e == ENOTTY) && !reopened &&
		    atomic_load(&procmap_state) == PROCMAP_WORKS) {
			/* our descriptor was closed under us */
			reopened = true;
			fd = maps_fd_get(true);
			if (fd < 0)
				return fd;
			continue;
		}
		return -e;
	}
	v->start = q.vma_start;
	v->end = q.vma_end;
	v->offset = q.vma_offset;
	v->inode = q.inode;
	v->dev_major = q.dev_major;
	v->dev_minor = q.dev_minor;
	v->prot = ((q.vma_flags & SHIM_PROCMAP_QUERY_VMA_READABLE) ? PROT_READ : 0) |
		  ((q.vma_flags & SHIM_PROCMAP_QUERY_VMA_WRITABLE) ? PROT_WRITE : 0) |
		  ((q.vma_flags & SHIM_PROCMAP_QUERY_VMA_EXECUTABLE) ? PROT_EXEC : 0);
	v->shared = q.vma_flags & SHIM_PROCMAP_QUERY_VMA_SHARED;
	if (q.vma_name_size == 0 && q.inode == 0 && q.vma_name_addr == 0)
		v->kind = VMA_ANON; /* the name did not fit: a long [anon:...] */
	else
		v->kind = kind_of(q.inode, name,
				  q.vma_name_size ? q.vma_name_size - 1 : 0);
	v->flags_known = false;
	v->locked = v->lockonfault = v->noreserve = v->growsdown = false;
	v->mayprot = 0;
	v->hugetlb = false;
	v->kept_advice = 0;
	v->path = NULL;
	return 0;
}

static long walk_procmap(struct walker *w)
{
	while (!w->done) {
		struct vma v;
		int r = procmap_query(w->addr, &v);
		if (r == -ENOENT)
			break;
		if (r < 0)
			return r == -ENOTTY || r == -EINVAL ? -ENOTTY : SHIM_PASS;
		long res = walker_feed(w, &v);
		if (res)
			return res;
	}
	return walker_finish(w);
}

/* ---------------- /proc/self/maps and smaps ---------------- */

static unsigned long parse_hex(const char **p)
{
	unsigned long v = 0;
	for (;; (*p)++) {
		char c = **p;
		if (c >= '0' && c <= '9')
			v = v * 16 + (unsigned long)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (unsigned long)(c - 'a' + 10);
		else
			return v;
	}
}

static unsigned long long parse_dec(const char **p)
{
	unsigned long long v = 0;
	while (**p >= '0' && **p <= '9')
		v = v * 10 + (unsigned long long)(*(*p)++ - '0');
	return v;
}

/* "start-end perms offset major:minor inode   name"; the name is copied to
 * path when one is given. */
static void parse_header(const char *s, struct vma *v, char *path, size_t path_cap)
{
	v->start = parse_hex(&s);
	s++;
	v->end = parse_hex(&s);
	s++;
	v->prot = (s[0] == 'r' ? PROT_READ : 0) | (s[1] == 'w' ? PROT_WRITE : 0) |
		  (s[2] == 'x' ? PROT_EXEC : 0);
	v->shared = s[3] == 's';
	s += 5;
	v->offset = parse_hex(&s);
	s++;
	v->dev_major = (unsigned)parse_hex(&s);
	s++;
	v->dev_minor = (unsigned)parse_hex(&s);
	s++;
	v->inode = parse_dec(&s);
	while (*s == ' ')
		s++;
	size_t name_len = strlen(s);
	v->kind = kind_of(v->inode, s, name_len);
	v->flags_known = false;
	v->locked = v->lockonfault = v->noreserve = v->growsdown = false;
	v->mayprot = 0;
	v->hugetlb = false;
	v->kept_advice = 0;
	v->path = NULL;
	if (path && name_len && name_len < path_cap && s[0] == '/') {
		memcpy(path, s, name_len + 1);
		v->path = path;
	}
}

static bool has_flag(const char *flags, const char *f)
{
	for (const char *p = flags; *p; p++)
		if (p[0] == f[0] && p[1] == f[1] && (p[2] == ' ' || p[2] == 0) &&
		    (p == flags || p[-1] == ' '))
			return true;
	return false;
}

static void parse_vmflags(const char *s, struct vma *v)
{
	v->flags_known = true;
	v->locked = has_flag(s, "lo");
	v->lockonfault = has_flag(s, "lf");
	v->mayprot = (has_flag(s, "mr") ? PROT_READ : 0) | (has_flag(s, "mw") ? PROT_WRITE : 0) |
		     (has_flag(s, "me") ? PROT_EXEC : 0);
	v->noreserve = has_flag(s, "nr");
	v->growsdown = has_flag(s, "gd");
	v->hugetlb = has_flag(s, "ht");
	v->kept_advice = (has_flag(s, "dc") ? VMA_KEPT_DONTFORK : 0) |
			 (has_flag(s, "wf") ? VMA_KEPT_WIPEONFORK : 0) |
			 (has_flag(s, "dd") ? VMA_KEPT_DONTDUMP : 0) |
			 (has_flag(s, "hg") ? VMA_KEPT_HUGEPAGE : 0) |
			 (has_flag(s, "nh") ? VMA_KEPT_NOHUGEPAGE : 0) |
			 (has_flag(s, "mg") ? VMA_KEPT_MERGEABLE : 0);
	if (has_flag(s, "pf"))
		v->kind = VMA_PFNMAP;
}

static bool is_header(const char *line)
{
	return (line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f');
}

/* Paths can be PATH_MAX long: when they are wanted, the line and the path
 * live in a scratch mapping rather than on a stack that may be a small
 * signal stack. */
#define PATH_SCRATCH 4096

/* Reads go into a 16 KiB buffer that one walk at a time may use (taken with
 * an atomic exchange, never waited for), else into a 512-byte one on the
 * stack: a signal handler's walk inside another thread's, or on a small
 * signal stack, still works, only with more read calls.  At 100 mappings the
 * big buffer makes one or two reads where the small one makes eight. */
static char big_chunk[16384];
static _Atomic bool big_chunk_busy;

static long walk_maps_file(struct walker *w, bool smaps, bool paths)
{
	char small_line[160]; /* longer lines are cut: only their start matters */
	char *line = small_line, *path = NULL;
	size_t line_cap = sizeof small_line;
	char *scratch = NULL;
	if (paths) {
		scratch = real_mmap(NULL, 2 * PATH_SCRATCH, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (scratch == MAP_FAILED)
			return SHIM_PASS;
		line = scratch;
		line_cap = PATH_SCRATCH;
		path = scratch + PATH_SCRATCH;
	}
	int fd = open(smaps ? "/proc/self/smaps" : "/proc/self/maps",
		      O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (scratch)
			real_munmap(scratch, 2 * PATH_SCRATCH);
		return SHIM_PASS;
	}
	char small_chunk[512];
	char *chunk = small_chunk;
	size_t chunk_cap = sizeof small_chunk;
	bool big = !atomic_exchange_explicit(&big_chunk_busy, true, memory_order_acquire);
	if (big) {
		chunk = big_chunk;
		chunk_cap = sizeof big_chunk;
	}
	size_t line_len = 0;
	struct vma cur;
	bool have = false;
	long res = 0;
	for (;;) {
		ssize_t n = read(fd, chunk, chunk_cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			res = SHIM_PASS;
			break;
		}
		for (ssize_t i = 0; i < n && !res && !w->done; i++) {
			if (chunk[i] != '\n') {
				if (line_len < line_cap - 1)
					line[line_len++] = chunk[i];
				continue;
			}
			line[line_len] = 0;
			line_len = 0;
			if (is_header(line)) {
				if (have)
					res = walker_feed(w, &cur);
				have = false;
				/* x86-64's [vsyscall] page is listed but is no mapping
				 * of the process: madvise there is ENOMEM */
				if (strstr(line, " [vsyscall]"))
					continue;
				parse_header(line, &cur, path, PATH_SCRATCH);
				have = true;
				/* in maps a mapping ends with its line; in smaps
				 * its VmFlags line comes last */
				if (!smaps) {
					if (!res)
						res = walker_feed(w, &cur);
					have = false;
				}
			} else if (smaps && have && memcmp(line, "VmFlags:", 8) == 0) {
				parse_vmflags(line + 8, &cur);
			}
		}
		if (n == 0 || res || w->done)
			break;
	}
	if (have && !res && !w->done)
		res = walker_feed(w, &cur);
	if (big)
		atomic_store_explicit(&big_chunk_busy, false, memory_order_release);
	close(fd);
	if (scratch)
		real_munmap(scratch, 2 * PATH_SCRATCH);
	return res ? res : walker_finish(w);
}

/* Returns the first nonzero result of visit, else -ENOMEM where the range has
 * a hole, else 0; or SHIM_PASS when the lookup could not be made, or not
 * finished (a file that cannot be opened or read, a query that fails), as a
 * visitor may return it for a mapping it cannot handle.  No -errno and no
 * other stopping value of a visitor equals SHIM_PASS (shim.h). */
long vma_walk(uintptr_t start, uintptr_t end, int need, vma_visit_fn visit,
	      void *arg)
{
	struct walker w = { .addr = start, .end = end, .visit = visit, .arg = arg };
	if (need)
		return walk_maps_file(&w, need & VMA_NEED_FLAGS, need & VMA_NEED_PATH);
	if (shim_lookup != LOOKUP_MAPS &&
	    atomic_load_explicit(&procmap_state, memory_order_relaxed) != PROCMAP_ABSENT) {
		long r = walk_procmap(&w);
		if (r != -ENOTTY) {
			if (r != SHIM_PASS)
				atomic_store_explicit(&procmap_state, PROCMAP_WORKS,
						      memory_order_relaxed);
			return r;
		}
		/* ENOTTY before anything was visited: a kernel before 6.11 */
		if (shim_lookup == LOOKUP_PROCMAP)
			return SHIM_PASS;
		atomic_store_explicit(&procmap_state, PROCMAP_ABSENT, memory_order_relaxed);
		/* the descriptor was kept for the ioctl alone */
		drop_maps_fd();
		w = (struct walker){ .addr = start, .end = end, .visit = visit, .arg = arg };
	}
	return walk_maps_file(&w, false, false);
}
