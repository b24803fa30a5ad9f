/* first-call: the interposed functions that call on to libc (mprotect, the
 * mlock family, syscall, posix_fadvise, process_madvise, mmap, munmap,
 * mremap) work when their first call comes from a signal handler while
 * another thread holds the dynamic loader's lock.
 *
 * A thread dlopens FIRST_CALL_CTOR (blocking_ctor.so), whose constructor
 * says so on a pipe and then waits: glibc runs constructors with its loader
 * lock held, and dlsym takes that lock.  The main thread then raises a
 * signal whose handler makes every call once.  A shim that looked up the
 * next definition on first use would block in dlsym for good (the test runs
 * under timeout); resolved in the constructor, each call just returns.
 *
 * Prints one "NAME: RESULT" line per call, then "first-call: done". */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static char results[10][64];
static int nresults;
static char *page;
static int file_fd;

static void note(const char *name, long r)
{
	/* snprintf is not async-signal-safe in general, but the main thread
	 * does nothing else while the handler runs */
	snprintf(results[nresults++], sizeof results[0], "%s: %s", name,
		 r == -1 ? strerrorname_np(errno) : "ok");
}

static void on_usr1(int sig)
{
	(void)sig;
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	note("mprotect", mprotect(page, pg, PROT_READ | PROT_WRITE));
	note("mlock", mlock(page, pg));
	note("mlock2", mlock2(page, pg, 0));
	munlock(page, pg);
	/* no flag: the kernel's EINVAL, after the call went on to libc */
	note("mlockall", mlockall(0));
	note("syscall", syscall(SYS_getpid) > 0 ? 0 : -1);
	errno = posix_fadvise(file_fd, 0, 0, POSIX_FADV_NORMAL);
	note("posix_fadvise", errno ? -1 : 0);
	struct iovec v = { page, pg };
	note("process_madvise", process_madvise(-1, &v, 1, MADV_COLD, 0));
	char *m = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	note("mmap", m == MAP_FAILED ? -1 : 0);
	char *r = mremap(m, pg, 2 * pg, MREMAP_MAYMOVE);
	note("mremap", r == MAP_FAILED ? -1 : 0);
	note("munmap", munmap(r, 2 * pg));
}

static int to_main[2], to_ctor[2];

static void *loader(void *arg)
{
	if (!dlopen(arg, RTLD_NOW)) {
		fprintf(stderr, "first-call: dlopen: %s\n", dlerror());
		exit(2);
	}
	return NULL;
}

int main(void)
{
	const char *ctor = getenv("FIRST_CALL_CTOR");
	if (!ctor) {
		fprintf(stderr, "first-call: set FIRST_CALL_CTOR to blocking_ctor.so\n");
		return 2;
	}
	char tmpl[] = "/tmp/first-call.XXXXXX";
	file_fd = mkstemp(tmpl);
	page = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (file_fd < 0 || page == MAP_FAILED || pipe(to_main) || pipe(to_ctor)) {
		perror("first-call: setup");
		return 2;
	}
	unlink(tmpl);
	char fds[32];
	snprintf(fds, sizeof fds, "%d,%d", to_main[1], to_ctor[0]);
	setenv("FIRST_CALL_FDS", fds, 1);
	signal(SIGUSR1, on_usr1);
	pthread_t t;
	pthread_create(&t, NULL, loader, (void *)ctor);
	char c;
	if (read(to_main[0], &c, 1) != 1) {
		perror("first-call: the constructor did not start");
		return 2;
	}
	/* the loader thread is inside the constructor, holding the lock */
	raise(SIGUSR1);
	if (write(to_ctor[1], "g", 1) != 1)
		return 2;
	pthread_join(t, NULL);
	for (int i = 0; i < nresults; i++)
		puts(results[i]);
	puts("first-call: done");
	return 0;
}
