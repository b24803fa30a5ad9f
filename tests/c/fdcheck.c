/* fdcheck: the descriptors the shim leaves open, and what survives exec.
 *
 *   fdcheck               make madvise calls that reach every way the shim
 *                         finds a mapping and check their effect on the
 *                         memory (a child of fork makes two of them too and
 *                         lists its descriptors), list the descriptors, then
 *                         exec itself as "fdcheck --after-exec"
 *   fdcheck --after-exec  list the descriptors that survived exec
 *
 * The calls, each checked for its return value and its effect:
 *   DONTNEED, FREE         private anonymous memory (PROCMAP_QUERY or the maps
 *                          parser)
 *   DONTNEED_LOCKED        mlocked memory: the shim reads /proc/self/smaps
 *   DONTNEED               a private file mapping with copied pages
 *   REMOVE                 a shared memfd mapping whose descriptor is open (found
 *                          through /proc/self/fd), and a shared tmpfs file in
 *                          /dev/shm whose descriptor is closed (found by path)
 *   POPULATE_READ          anonymous memory, and the private file mapping (read
 *                          through a pipe)
 *
 * The descriptors open at the end are printed after a line "pid N", each as
 *   fd N CLASS cloexec=0|1 TARGET
 * where CLASS is "std" (0, 1, 2), "own" (opened by this program), "at-start"
 * (already open when main began: inherited, or opened by a constructor) or
 * "foreign" (opened since, not by this program: the shim's).  A line
 * "foreign: N" follows; the child of fork prints the same with "child "
 * before each line.  Before exec the program closes every descriptor of its
 * own, so after exec anything but 0, 1 and 2 is a leak:
 *   after-exec fd N TARGET
 *   after-exec: N descriptors besides 0, 1, 2
 *
 * Exit status: 0 when every call did what it should and exec worked, 1 when a
 * call failed (FAIL lines on stderr, no exec), 2 when the test could not be
 * set up.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compat.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

/* Descriptors are tracked up to here; the shim moves its own above 1023. */
#define MAX_FD 65536

enum { FD_NONE, FD_AT_START, FD_OWN };

static unsigned char fdclass[MAX_FD];
static int fdlist[MAX_FD];
static size_t pg;
static int failed;
static const char *prefix = "";

static void __attribute__((noreturn)) setup_failed(const char *what)
{
	fprintf(stderr, "fdcheck: setup: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int own(int fd)
{
	if (fd >= MAX_FD) {
		errno = EMFILE;
		setup_failed("descriptor number too high to track");
	}
	if (fd >= 0)
		fdclass[fd] = FD_OWN;
	return fd;
}

static void own_close(int fd)
{
	if (fd >= 0 && fd < MAX_FD && fdclass[fd] == FD_OWN) {
		close(fd);
		fdclass[fd] = FD_NONE;
	}
}

/* Every descriptor number in /proc/self/fd but the directory's own. */
static int list_fds(int *fds, int max)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		setup_failed("opendir /proc/self/fd");
	int n = 0, self = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd != self && n < max)
			fds[n++] = fd;
	}
	closedir(d);
	return n;
}

static void target(int fd, char *buf, size_t size)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t len = readlink(path, buf, size - 1);
	if (len < 0)
		snprintf(buf, size, "(readlink: %s)", strerror(errno));
	else
		buf[len] = 0;
}

static void record_at_start(void)
{
	int n = list_fds(fdlist, MAX_FD);
	for (int i = 0; i < n; i++)
		if (fdlist[i] > 2 && fdlist[i] < MAX_FD)
			fdclass[fdlist[i]] = FD_AT_START;
}

static void report_fds(void)
{
	int n = list_fds(fdlist, MAX_FD), foreign = 0;
	printf("%spid %d\n", prefix, (int)getpid());
	for (int i = 0; i < n; i++) {
		int fd = fdlist[i];
		char buf[PATH_MAX];
		target(fd, buf, sizeof buf);
		int flags = fcntl(fd, F_GETFD);
		const char *cls = fd <= 2 ? "std" :
			fd >= MAX_FD ? "foreign" :
			fdclass[fd] == FD_OWN ? "own" :
			fdclass[fd] == FD_AT_START ? "at-start" : "foreign";
		if (!strcmp(cls, "foreign"))
			foreign++;
		printf("%sfd %d %s cloexec=%d %s\n", prefix, fd, cls,
		       flags >= 0 && (flags & FD_CLOEXEC) ? 1 : 0, buf);
	}
	printf("%sforeign: %d\n", prefix, foreign);
	fflush(stdout);
}

/* ---- checks ---------------------------------------------------------- */

static void expect_ok(const char *what, int r, int err)
{
	if (r == 0) {
		printf("%sok %s: 0\n", prefix, what);
	} else {
		fprintf(stderr, "%sFAIL %s: returned %d, errno %d (%s)\n", prefix,
			what, r, err, strerror(err));
		failed++;
	}
}

static int advise(const char *what, void *addr, size_t len, int advice)
{
	errno = 0;
	int r = madvise(addr, len, advice);
	expect_ok(what, r, errno);
	return r;
}

/* Every byte of [p, p + len) is c. */
static bool all(const char *p, size_t len, char c)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != c)
			return false;
	return true;
}

static void expect_bytes(const char *what, const char *p, size_t len, char c)
{
	if (all(p, len, c)) {
		printf("%sok %s\n", prefix, what);
	} else {
		fprintf(stderr, "%sFAIL %s: expected every byte 0x%02x\n", prefix,
			what, (unsigned char)c);
		failed++;
	}
}

static char *map_anon(size_t pages, char fill)
{
	char *p = mmap(NULL, pages * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		setup_failed("mmap");
	memset(p, fill, pages * pg);
	return p;
}

static void anon(void)
{
	char *p = map_anon(4, 'a');
	advise("DONTNEED on private anonymous memory", p, 2 * pg, MADV_DONTNEED);
	expect_bytes("the DONTNEED pages read zero", p, 2 * pg, 0);
	advise("FREE on private anonymous memory", p + 2 * pg, pg, MADV_FREE);
	/* a kernel's own FREE may leave the page until memory runs short */
	if (!all(p + 2 * pg, pg, 0))
		expect_bytes("the FREE page reads zero or its old bytes", p + 2 * pg, pg, 'a');
	expect_bytes("the page after them is untouched", p + 3 * pg, pg, 'a');
	munmap(p, 4 * pg);
}

static void locked(void)
{
	char *p = map_anon(4, 'l');
	if (mlock(p, 4 * pg) != 0) {
		printf("%snote mlock failed (%s): DONTNEED_LOCKED not tried\n",
		       prefix, strerror(errno));
		munmap(p, 4 * pg);
		return;
	}
	advise("DONTNEED_LOCKED on mlocked memory", p, 2 * pg, MADV_DONTNEED_LOCKED);
	expect_bytes("the DONTNEED_LOCKED pages read zero", p, 2 * pg, 0);
	expect_bytes("the locked page after them is untouched", p + 2 * pg, 2 * pg, 'l');
	munlock(p, 4 * pg);
	munmap(p, 4 * pg);
}

/* A file of `pages` pages of byte c: its descriptor (own). */
static int make_file(const char *dir, size_t pages, char c)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/fdcheck.XXXXXX", dir);
	int fd = own(mkostemp(path, O_CLOEXEC));
	if (fd < 0)
		setup_failed(path);
	unlink(path);
	char *buf = malloc(pages * pg);
	if (!buf)
		setup_failed("malloc");
	memset(buf, c, pages * pg);
	if (write(fd, buf, pages * pg) != (ssize_t)(pages * pg))
		setup_failed("write");
	free(buf);
	return fd;
}

static void privfile(void)
{
	const char *dir = getenv("TMPDIR");
	int fd = make_file(dir && *dir ? dir : "/tmp", 4, 'f');
	char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		setup_failed("mmap of the private file");
	own_close(fd);
	memset(p, 'c', 2 * pg); /* copied pages */
	advise("DONTNEED on a private file mapping", p, 2 * pg, MADV_DONTNEED);
	expect_bytes("the copied pages read the file again", p, 2 * pg, 'f');
	advise("POPULATE_READ on the private file mapping", p, 4 * pg, MADV_POPULATE_READ);
	expect_bytes("the file mapping is unchanged by POPULATE_READ", p, 4 * pg, 'f');
	munmap(p, 4 * pg);
}

static void remove_memfd(void)
{
	int fd = own(memfd_create("fdcheck", MFD_CLOEXEC));
	if (fd < 0)
		setup_failed("memfd_create");
	if (ftruncate(fd, (off_t)(4 * pg)) != 0)
		setup_failed("ftruncate");
	char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		setup_failed("mmap of the memfd");
	memset(p, 'm', 4 * pg);
	advise("REMOVE on a shared memfd mapping (descriptor open)", p, 2 * pg, MADV_REMOVE);
	expect_bytes("the removed memfd pages read zero", p, 2 * pg, 0);
	expect_bytes("the memfd pages after them are untouched", p + 2 * pg, 2 * pg, 'm');
	munmap(p, 4 * pg);
	own_close(fd);
}

static void remove_tmpfs(void)
{
	struct statfs sf;
	if (statfs("/dev/shm", &sf) != 0 || sf.f_type != TMPFS_MAGIC) {
		printf("%snote /dev/shm is not a tmpfs: REMOVE by path not tried\n", prefix);
		return;
	}
	char path[64];
	snprintf(path, sizeof path, "/dev/shm/fdcheck-%d", (int)getpid());
	int fd = own(open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
	if (fd < 0)
		setup_failed(path);
	if (ftruncate(fd, (off_t)(4 * pg)) != 0)
		setup_failed("ftruncate");
	char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		setup_failed("mmap of the tmpfs file");
	own_close(fd);
	memset(p, 's', 4 * pg);
	advise("REMOVE on a shared tmpfs mapping (descriptor closed)", p + 2 * pg, 2 * pg, MADV_REMOVE);
	expect_bytes("the removed tmpfs pages read zero", p + 2 * pg, 2 * pg, 0);
	expect_bytes("the tmpfs pages before them are untouched", p, 2 * pg, 's');
	munmap(p, 4 * pg);
	unlink(path);
}

static void populate(void)
{
	char *p = map_anon(4, 'p');
	advise("POPULATE_READ on private anonymous memory", p, 4 * pg, MADV_POPULATE_READ);
	expect_bytes("POPULATE_READ changed no byte", p, 4 * pg, 'p');
	munmap(p, 4 * pg);
}

/* A child of fork makes calls of its own and lists its descriptors: the
 * maps descriptor it inherited describes the parent, so a maps descriptor
 * there must be a new one, /proc/CHILD/maps. */
static void child(void)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		setup_failed("fork");
	if (pid == 0) {
		prefix = "child ";
		anon();
		report_fds();
		_exit(failed ? 1 : 0);
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		setup_failed("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "FAIL the child of fork ended with status 0x%x\n", st);
		failed++;
	}
}

static int after_exec(void)
{
	int n = list_fds(fdlist, MAX_FD), extra = 0;
	for (int i = 0; i < n; i++) {
		char buf[PATH_MAX];
		target(fdlist[i], buf, sizeof buf);
		printf("after-exec fd %d %s\n", fdlist[i], buf);
		if (fdlist[i] > 2)
			extra++;
	}
	printf("after-exec: %d descriptors besides 0, 1, 2\n", extra);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--after-exec"))
		return after_exec();
	if (argc != 1) {
		fprintf(stderr, "usage: fdcheck [--after-exec]\n");
		return 2;
	}
	pg = (size_t)sysconf(_SC_PAGESIZE);
	record_at_start();

	anon();
	/* before mlock: once the program has locked memory, the shim reads
	 * smaps instead of asking PROCMAP_QUERY */
	child();
	locked();
	privfile();
	remove_memfd();
	remove_tmpfs();
	populate();

	report_fds();
	if (failed) {
		fprintf(stderr, "FAILED: %d checks\n", failed);
		return 1;
	}
	for (int fd = 3; fd < MAX_FD; fd++)
		own_close(fd);
	fflush(stdout);
	execl("/proc/self/exe", argv[0], "--after-exec", (char *)NULL);
	setup_failed("exec /proc/self/exe");
}
