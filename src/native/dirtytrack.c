/* dirtytrack's Node-API addon: the few system calls Node cannot make (PAGEMAP_SCAN, userfaultfd,
 * pidfd_getfd, ptrace), and the pagemap walks whose per-region cost JavaScript cannot match. Each
 * function checks its own arguments (napi-util.c) before any system call. Every function is
 * synchronous. */
#include "functions.h"

struct export_fn {
  const char *name;
  napi_callback fn;
};

static const struct export_fn exports_table[] = {
    {"pagemapScan", dt_pagemap_scan},
    {"pagemapScanWalk", dt_pagemap_scan_walk},
    {"pagemapReadWalk", dt_pagemap_read_walk},
    {"bufferAddress", dt_buffer_address},
    {"userfaultfd", dt_userfaultfd},
    {"uffdApi", dt_uffd_api},
    {"uffdRegister", dt_uffd_register},
    {"uffdUnregister", dt_uffd_unregister},
    {"uffdWriteprotect", dt_uffd_writeprotect},
    {"pidfdOpen", dt_pidfd_open},
    {"pidfdGetfd", dt_pidfd_getfd},
    {"injectSyscall", dt_inject_syscall},
    {"seccompFilters", dt_seccomp_filters},
};

static napi_value init(napi_env env, napi_value exports) {
  for (size_t i = 0; i < sizeof exports_table / sizeof exports_table[0]; i++) {
    napi_value fn;
    NAPI_CALL(env, napi_create_function(env, exports_table[i].name, NAPI_AUTO_LENGTH, exports_table[i].fn,
                                        NULL, &fn));
    NAPI_CALL(env, napi_set_named_property(env, exports, exports_table[i].name, fn));
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
