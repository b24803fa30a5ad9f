/* File-backed mappings: finding the file behind a mapping, re-mapping a
 * private file mapping from its file (MADV_DONTNEED where mremap cannot); the
 * files MADV_REMOVE punches holes in (emulate/remove.c).
 *
 * A mapping names its file by path, device and inode.  A path can since have
 * been renamed, replaced or deleted, so whatever is opened is accepted only if
 * its device and inode are the mapping's; otherwise the shim gives the
 * kernel's own error rather than act on the wrong file. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "rawsys.h"
#include "shim.h"

static bool same_file(int fd, const struct vma *v)
{
	struct stat st;
	return fstat(fd, &st) == 0 && (uint64_t)st.st_ino == v->inode &&
	       major(st.st_dev) == v->dev_major && minor(st.st_dev) == v->dev_minor;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static int open_checked(const char *path, int flags, const struct vma *v)
{
	int fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (!same_file(fd, v)) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

/* A descriptor the process holds on the mapping's file (a memfd, a deleted
 * file), reopened through /proc with the access wanted. */
static int open_from_fds(const struct vma *v, int flags)
{
	int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return -errno;
	char buf[1024];
	int found = -ENOENT;
	for (;;) {
		long n = raw_syscall(SYS_getdents64, dir, buf, sizeof buf);
		if (n <= 0)
			break;
		for (long off = 0; off < n && found < 0;) {
			const char *name = buf + off + 19; /* d_ino, d_off, d_reclen, d_type */
			unsigned short reclen;
			memcpy(&reclen, buf + off + 16, sizeof reclen);
			off += reclen;
			int fd = 0;
			const char *p = name;
			if (*p < '0' || *p > '9')
				continue;
			while (*p >= '0' && *p <= '9')
				fd = fd * 10 + (*p++ - '0');
			if (fd == dir || !same_file(fd, v))
				continue;
			struct msgbuf path = { .len = 0 };
			msg_str(&path, "/proc/self/fd/");
			msg_num(&path, fd);
			path.buf[path.len] = 0;
			found = open_checked(path.buf, flags, v);
		}
		if (found >= 0)
			break;
	}
	close(dir);
	return found;
}

/* The mapping's own file through /proc/self/map_files: it needs
 * CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE), but reaches files nothing else
 * names, such as shared anonymous memory or a closed memfd. */
static int open_map_files(const struct vma *v, int flags)
{
	struct msgbuf path = { .len = 0 };
	msg_str(&path, "/proc/self/map_files/");
	msg_hex(&path, v->start);
	msg_str(&path, "-");
	msg_hex(&path, v->end);
	path.buf[path.len] = 0;
	/* the kernel names these entries without the 0x */
	char name[sizeof path.buf];
	size_t j = 0;
	for (size_t i = 0; i <= path.len; i++) {
		if (path.buf[i] == '0' && path.buf[i + 1] == 'x') {
			i++;
			continue;
		}
		name[j++] = path.buf[i];
	}
	return open_checked(name, flags, v);
}

/* A descriptor on the mapping's own file, or -errno. */
int open_mapped_file(const struct vma *v, int flags)
{
	if (v->kind != VMA_FILE || !v->inode)
		return -ENOENT;
	if (v->path && !ends_with(v->path, " (deleted)")) {
		int fd = open_checked(v->path, flags, v);
		if (fd >= 0)
			return fd;
	}
	int fd = open_from_fds(v, flags);
	return fd >= 0 ? fd : open_map_files(v, flags);
}

long remap_private_file(const struct vma *v, uintptr_t from, uintptr_t to)
{
	int fd = open_mapped_file(v, O_RDONLY);
	if (fd < 0)
		return SHIM_PASS;
	int flags = MAP_PRIVATE | MAP_FIXED | (v->noreserve ? MAP_NORESERVE : 0);
	off_t offset = (off_t)(v->offset + (from - v->start));
	long r = 0;
	if (real_mmap((void *)from, to - from, v->prot, flags, fd, offset) == MAP_FAILED)
		r = -errno;
	else
		outcome_how("file-remap", to - from);
	close(fd);
	return r;
}
