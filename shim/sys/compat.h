/* Facts the system headers may be too old to carry.
 *
 * Advice values and syscall numbers come from the headers first: they differ
 * per architecture (parisc, alpha and mips number some MADV_* differently).
 * Only values newer than the oldest headers we support fall back to the
 * asm-generic numbering, which every architecture uses for advice added
 * after Linux 4.x.
 */
#ifndef MADVISE_SHIM_COMPAT_H
#define MADVISE_SHIM_COMPAT_H

#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/mman.h>
#include <stdint.h>

#ifndef MADV_FREE
#define MADV_FREE 8
#endif
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
#ifndef MADV_KEEPONFORK
#define MADV_KEEPONFORK 19
#endif
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif
#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* mseal (Linux 6.10).  Since Linux 5.1 a new system call has one number on
 * every architecture but alpha (the common table, syscall.tbl), so the
 * generic number stands in where the headers are older than the call. */
#if defined(SYS_mseal)
#define SHIM_NR_MSEAL SYS_mseal
#elif !defined(__alpha__)
#define SHIM_NR_MSEAL 462
#endif

/* PROCMAP_QUERY (Linux 6.11, include/uapi/linux/fs.h). Declared here under our
 * own name so that newer headers that carry it do not clash. */
struct shim_procmap_query {
	uint64_t size;
	uint64_t query_flags;
	uint64_t query_addr;
	uint64_t vma_start;
	uint64_t vma_end;
	uint64_t vma_flags;
	uint64_t vma_page_size;
	uint64_t vma_offset;
	uint64_t inode;
	uint32_t dev_major;
	uint32_t dev_minor;
	uint32_t vma_name_size;
	uint32_t build_id_size;
	uint64_t vma_name_addr;
	uint64_t build_id_addr;
};
#define SHIM_PROCMAP_QUERY_VMA_READABLE 0x01
#define SHIM_PROCMAP_QUERY_VMA_WRITABLE 0x02
#define SHIM_PROCMAP_QUERY_VMA_EXECUTABLE 0x04
#define SHIM_PROCMAP_QUERY_VMA_SHARED 0x08
#define SHIM_PROCMAP_QUERY_COVERING_OR_NEXT_VMA 0x10
/* _IOWR('f', 17, struct procmap_query), computed by the ioctl macros so that
 * architectures with other ioctl encodings (mips, powerpc, sparc) get theirs. */
#include <linux/ioctl.h>
#define SHIM_PROCMAP_QUERY _IOWR('f', 17, struct shim_procmap_query)

/* fadvise's syscall differs per architecture in name and argument order; the
 * shim reaches it through libc's posix_fadvise, so only its presence matters. */

#endif
