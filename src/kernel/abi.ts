// Kernel ABI numbers dirtytrack passes to system calls, with where each is defined.
// (C mirrors what system headers lack in src/native/kernel-abi.h.)

/** Page categories of PAGEMAP_SCAN (include/uapi/linux/fs.h, Linux 6.7). */
export const PAGE_IS = {
  WPALLOWED: 1 << 0,  // the VMA is registered for async uffd write-protection
  WRITTEN: 1 << 1,    // the PTE is not uffd write-protected
  FILE: 1 << 2,       // maps a page that is not anonymous (page cache, shmem)
  PRESENT: 1 << 3,
  SWAPPED: 1 << 4,    // also a PTE marker (uffd-wp on a non-present page)
  PFNZERO: 1 << 5,    // maps the shared zero page
  HUGE: 1 << 6,
  SOFT_DIRTY: 1 << 7,
} as const;

/** PAGEMAP_SCAN flags (include/uapi/linux/fs.h). */
export const PM_SCAN_WP_MATCHING = 1 << 0;   // write-protect the matched pages, atomically with reading them
export const PM_SCAN_CHECK_WPASYNC = 1 << 1; // fail with EPERM on a VMA without async uffd-wp

/** userfaultfd features (include/uapi/linux/userfaultfd.h): a 64-bit mask. */
export const UFFD_FEATURE_WP_UNPOPULATED = 1n << 13n; // 6.4: markers on unpopulated anonymous pages
export const UFFD_FEATURE_WP_ASYNC = 1n << 15n;       // 6.7: the kernel resolves write faults itself
/** Set in the features fdinfo shows once UFFDIO_API is done (fs/userfaultfd.c, UFFD_FEATURE_INITIALIZED). */
export const UFFD_FEATURE_INITIALIZED = 1n << 31n;
/** Exactly the features dirtytrack asks for: how its descriptor is recognised in a target. */
export const TRACKER_FEATURES = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;

export const UFFDIO_REGISTER_MODE_WP = 1 << 1;
/** userfaultfd(2) flag: handle user-space faults only (allowed when vm.unprivileged_userfaultfd is 0). */
export const UFFD_USER_MODE_ONLY = 1;
/** open(2) flags userfaultfd(2) accepts (x86-64 values, include/uapi/asm-generic/fcntl.h). */
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;

/** The largest pid Linux can hand out: PID_MAX_LIMIT (include/linux/threads.h, 4M on 64-bit) minus 1. */
export const PID_MAX = 4194303;
