/* bufferAddress: where an ArrayBuffer's bytes live in this process, for tracking a process's own
 * buffers (and the live probes, which write one page of a buffer and read its pagemap entry). */
#include "functions.h"

/* bufferAddress(ArrayBuffer | TypedArray | DataView) → the address of its first byte (BigInt; 0 for
 * an empty buffer without storage). The bytes stay where they are while the buffer lives: V8 never
 * moves an ArrayBuffer's backing store. */
napi_value dt_buffer_address(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  if (!dt_args(env, info, 1, argv)) return NULL;
  void *data = NULL;
  size_t length = 0, offset = 0;
  bool is;
  NAPI_CALL(env, napi_is_arraybuffer(env, argv[0], &is));
  if (is) {
    NAPI_CALL(env, napi_get_arraybuffer_info(env, argv[0], &data, &length));
  } else {
    NAPI_CALL(env, napi_is_typedarray(env, argv[0], &is));
    if (is) {
      napi_typedarray_type type;
      NAPI_CALL(env, napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, &offset));
    } else {
      NAPI_CALL(env, napi_is_dataview(env, argv[0], &is));
      if (!is) return dt_throw_type(env, "argument 'buffer' must be an ArrayBuffer, a TypedArray or a DataView");
      NAPI_CALL(env, napi_get_dataview_info(env, argv[0], &length, &data, NULL, &offset));
    }
  }
  NAPI_CALL(env, napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)data, &result));
  return result;
}
