/*
 * ddplab_copy: one function, copy(dst, dstOff, src, srcOff, len), a memmove
 * between two Uint8Arrays (src/base/shared-copy.ts). JavaScript copies into
 * a SharedArrayBuffer with relaxed atomic stores, a word or a byte at a
 * time; received payload goes into shared read buffers (the host's copy
 * path, the NIC thread's placement), and this copies it at memcpy speed,
 * with offsets instead of a view of the source per copy.
 *
 * Every argument is checked before a byte moves: both Uint8Arrays, the
 * offsets and the length whole numbers, [dstOff, dstOff + len) inside dst
 * and [srcOff, srcOff + len) inside src. Anything else throws (code
 * DDPLAB_COPY_ARG or DDPLAB_COPY_RANGE) and copies nothing.
 */
#include <node_api.h>
#include <stdint.h>
#include <string.h>

static bool u8(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is = false;
  napi_typedarray_type t;
  void *p = NULL;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  if (napi_get_typedarray_info(env, v, &t, len, &p, NULL, NULL) != napi_ok || t != napi_uint8_array) return false;
  *data = (uint8_t *)p;
  return true;
}

/* A whole number in [0, 2^53): offsets and lengths. */
static bool whole(napi_env env, napi_value v, double *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return false;
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!(d >= 0) || d > 9007199254740991.0 || d != (double)(uint64_t)d) return false;
  *out = d;
  return true;
}

static napi_value js_copy(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 5) {
    napi_throw_type_error(env, "DDPLAB_COPY_ARG", "copy(dst, dstOff, src, srcOff, len): five arguments");
    return NULL;
  }
  uint8_t *dst, *src;
  size_t dstLen, srcLen;
  double dstOff, srcOff, len;
  if (!u8(env, a[0], &dst, &dstLen) || !u8(env, a[2], &src, &srcLen)) {
    napi_throw_type_error(env, "DDPLAB_COPY_ARG", "copy: dst and src must be Uint8Arrays");
    return NULL;
  }
  if (!whole(env, a[1], &dstOff) || !whole(env, a[3], &srcOff) || !whole(env, a[4], &len)) {
    napi_throw_type_error(env, "DDPLAB_COPY_ARG", "copy: offsets and length must be whole numbers");
    return NULL;
  }
  if (dstOff + len > (double)dstLen || srcOff + len > (double)srcLen) {
    napi_throw_range_error(env, "DDPLAB_COPY_RANGE", "copy: the range runs past dst or src");
    return NULL;
  }
  if (len > 0) memmove(dst + (size_t)dstOff, src + (size_t)srcOff, (size_t)len);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "copy", NAPI_AUTO_LENGTH, js_copy, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "copy", fn) != napi_ok) return NULL;
  return exports;
}
