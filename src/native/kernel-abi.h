/* Kernel ABI that Debian 12's headers (Linux 6.1 uapi) predate. Values from include/uapi/linux/fs.h
 * and include/uapi/linux/userfaultfd.h of Linux 6.7+; each is guarded so newer headers win. */
#ifndef DIRTYTRACK_KERNEL_ABI_H
#define DIRTYTRACK_KERNEL_ABI_H

#include <linux/fs.h>
#include <linux/ioctl.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>

/* ---- PAGEMAP_SCAN: ioctl on /proc/PID/pagemap, Linux 6.7 ---- */
#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

struct page_region {
  __u64 start;
  __u64 end; /* exclusive */
  __u64 categories;
};

#define PM_SCAN_WP_MATCHING (1 << 0)   /* write-protect the pages matched */
#define PM_SCAN_CHECK_WPASYNC (1 << 1) /* fail (EPERM) on a VMA without async uffd-wp */

struct pm_scan_arg {
  __u64 size; /* sizeof(struct pm_scan_arg) */
  __u64 flags;
  __u64 start;
  __u64 end;
  __u64 walk_end; /* written by the kernel: where the walk stopped */
  __u64 vec;      /* struct page_region[vec_len] */
  __u64 vec_len;
  __u64 max_pages; /* 0 = no limit */
  __u64 category_inverted;
  __u64 category_mask;
  __u64 category_anyof_mask;
  __u64 return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

/* ---- userfaultfd features newer than 6.1 ---- */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13) /* 6.4: markers on unpopulated anon ptes */
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15) /* 6.7: the kernel resolves wp faults itself */
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1 /* 5.11: flag to userfaultfd(2) */
#endif

#endif
