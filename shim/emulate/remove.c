/* MADV_REMOVE: a hole punched in the file behind a shared mapping, with the
 * file found and checked as mem/filemap.c does. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

/* Linux's madvise_remove: locked or anonymous memory is EINVAL, a mapping
 * that cannot write its file shared is EACCES, else a hole is punched and the
 * file system's answer returned. */
static long visit_remove(const struct vma *v, uintptr_t from, uintptr_t to, void *arg)
{
	(void)arg;
	if (v->locked || v->kind != VMA_FILE)
		return -EINVAL;
	if (!v->shared || !(v->mayprot & PROT_WRITE))
		return -EACCES;
	int fd = open_mapped_file(v, O_RDWR);
	if (fd < 0)
		return SHIM_PASS; /* shared anonymous memory has no file to open */
	long r = 0;
	off_t offset = (off_t)(v->offset + (from - v->start));
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset,
		      (off_t)(to - from)) != 0)
		r = -errno;
	else
		outcome_how("punch-hole", to - from);
	close(fd);
	return r;
}

long emulate_remove(uintptr_t start, uintptr_t end)
{
	return vma_walk(start, end, VMA_NEED_FLAGS | VMA_NEED_PATH, visit_remove, NULL);
}
