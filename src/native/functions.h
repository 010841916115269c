/* The addon's exported functions, one group per source file. */
#ifndef DIRTYTRACK_FUNCTIONS_H
#define DIRTYTRACK_FUNCTIONS_H

#include "napi-util.h"

/* pagemap-scan.c */
napi_value dt_pagemap_scan(napi_env env, napi_callback_info info);

/* pagemap-walk.c */
napi_value dt_pagemap_scan_walk(napi_env env, napi_callback_info info);

/* pagemap-read.c */
napi_value dt_pagemap_read_walk(napi_env env, napi_callback_info info);

/* buffer-address.c */
napi_value dt_buffer_address(napi_env env, napi_callback_info info);

/* uffd.c */
napi_value dt_userfaultfd(napi_env env, napi_callback_info info);
napi_value dt_uffd_api(napi_env env, napi_callback_info info);
napi_value dt_uffd_register(napi_env env, napi_callback_info info);
napi_value dt_uffd_unregister(napi_env env, napi_callback_info info);
napi_value dt_uffd_writeprotect(napi_env env, napi_callback_info info);

/* pidfd.c */
napi_value dt_pidfd_open(napi_env env, napi_callback_info info);
napi_value dt_pidfd_getfd(napi_env env, napi_callback_info info);

/* inject.c */
napi_value dt_inject_syscall(napi_env env, napi_callback_info info);
napi_value dt_seccomp_filters(napi_env env, napi_callback_info info);

#endif
