/*
 * ddplab's libpcap port for the NIC thread (src/nicemu/port/pcap-batch.ts).
 *
 * A Node-API addon, so it loads in any thread (the `pcap` package's binding
 * is not context-aware and loads in one thread of a process only), and it
 * moves frames in batches: one call copies up to N received frames into one
 * caller-owned buffer and describes them in a Float64Array, and one call
 * transmits a list of frames, where the `pcap` binding calls back into
 * JavaScript once per frame. Closing stops and closes its libuv poll handle,
 * which a worker_thread must do before it ends.
 *
 * Exports:
 *   libVersion()                                   libpcap's version string
 *   open(iface, filter, snapLen, bufferBytes, promiscuous, onReadable) -> handle
 *                                                  immediate mode, non-blocking;
 *                                                  onReadable() runs when frames wait
 *   read(handle, out: Uint8Array, meta: Float64Array, maxFrames) -> frames
 *                                                  meta per frame: offset, caplen,
 *                                                  wire length, timestamp (µs), 1 when
 *                                                  the IPv4 and TCP checksums verify; a
 *                                                  frame that did not fit is kept for
 *                                                  the next read, which returns minus
 *                                                  its length if it still does not fit
 *   send(handle, frames: Uint8Array, lens: Uint32Array, count) -> frames sent
 *   stats(handle) -> [ps_recv, ps_drop, ps_ifdrop]
 *   csumVerified(frame: Uint8Array) -> 0 | 1       the read's checksum verdict for one frame (tests)
 *   close(handle)                                  idempotent
 */
#include <node_api.h>
#include <uv.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <stdint.h>
#include <stdbool.h>

#define META_FIELDS 5

typedef struct port {
  pcap_t *pcap;
  uv_poll_t poll;
  int polling;
  int closed;
  napi_env env;
  napi_ref on_readable;
  /* A frame that did not fit the caller's buffer, kept for the next read. */
  uint8_t *held;
  uint32_t held_caplen, held_len;
  double held_ts;
  int has_held;
  uint32_t snap_len;
} port_t;

typedef struct read_ctx {
  port_t *port;
  uint8_t *out;
  size_t out_len;
  size_t used;
  double *meta;
  uint32_t max_frames;
  uint32_t frames;
} read_ctx_t;

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error(env, "DDPLAB_PCAP", "ddplab pcap port: " #call " failed"); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

/*
 * Stops polling and closes libpcap. The handle is closed without a callback
 * (when libuv would run it, this library may already be unloaded: a worker
 * ending), so the small struct holding it is not freed; its frame buffer is.
 */
static void port_close(port_t *p) {
  if (p->closed) return;
  p->closed = 1;
  if (p->on_readable != NULL) {
    napi_delete_reference(p->env, p->on_readable);
    p->on_readable = NULL;
  }
  if (p->pcap != NULL) {
    pcap_close(p->pcap);
    p->pcap = NULL;
  }
  free(p->held);
  p->held = NULL;
  if (p->polling) {
    uv_poll_stop(&p->poll);
    p->polling = 0;
    uv_close((uv_handle_t *)&p->poll, NULL);
  }
}

/* The environment (a worker_thread, or the process) is going away: nothing may stay open
   (a worker whose loop still holds a handle aborts the process). */
static void env_cleanup(void *arg) {
  port_t *p = (port_t *)arg;
  if (p->closed) return;
  p->closed = 1;
  if (p->polling) {
    p->polling = 0;
    uv_poll_stop(&p->poll);
    /* No close callback: by the time libuv runs it this library may be unloaded. The struct
       (which holds the handle) is never freed on this path; the environment is ending. */
    uv_close((uv_handle_t *)&p->poll, NULL);
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  port_t *p = (port_t *)h->data;
  if (p->closed || p->on_readable == NULL) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, global, result;
  if (napi_get_reference_value(env, p->on_readable, &fn) == napi_ok && fn != NULL && napi_get_global(env, &global) == napi_ok) {
    napi_status st = napi_call_function(env, global, fn, 0, NULL, &result);
    if (st == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

static napi_value get_string(napi_env env, napi_value v, char *buf, size_t len) {
  size_t got;
  if (napi_get_value_string_utf8(env, v, buf, len, &got) != napi_ok) return throw_code(env, "DDPLAB_PCAP_ARG", "expected a string");
  return v;
}

static napi_value js_lib_version(napi_env env, napi_callback_info info) {
  napi_value s;
  CHECK(napi_create_string_utf8(env, pcap_lib_version(), NAPI_AUTO_LENGTH, &s));
  return s;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_code(env, "DDPLAB_PCAP_ARG", "open(iface, filter, snapLen, bufferBytes, promiscuous, onReadable)");
  char iface[64], filter[4096];
  if (get_string(env, argv[0], iface, sizeof iface) == NULL) return NULL;
  if (get_string(env, argv[1], filter, sizeof filter) == NULL) return NULL;
  uint32_t snap_len, buffer_bytes;
  bool promisc;
  CHECK(napi_get_value_uint32(env, argv[2], &snap_len));
  CHECK(napi_get_value_uint32(env, argv[3], &buffer_bytes));
  CHECK(napi_get_value_bool(env, argv[4], &promisc));

  char err[PCAP_ERRBUF_SIZE];
  err[0] = 0;
  pcap_t *pc = pcap_create(iface, err);
  if (pc == NULL) return throw_code(env, "DDPLAB_PCAP_OPEN", err);
  if (pcap_set_snaplen(pc, (int)snap_len) != 0 || pcap_set_promisc(pc, promisc ? 1 : 0) != 0 ||
      pcap_set_buffer_size(pc, (int)buffer_bytes) != 0 || pcap_set_immediate_mode(pc, 1) != 0) {
    pcap_close(pc);
    return throw_code(env, "DDPLAB_PCAP_OPEN", "cannot configure the capture");
  }
  int rc = pcap_activate(pc);
  if (rc < 0) {
    char msg[PCAP_ERRBUF_SIZE + 64];
    snprintf(msg, sizeof msg, "%s", pcap_geterr(pc));
    pcap_close(pc);
    return throw_code(env, rc == PCAP_ERROR_PERM_DENIED ? "DDPLAB_PCAP_PERM" : rc == PCAP_ERROR_NO_SUCH_DEVICE ? "DDPLAB_PCAP_NODEV" : "DDPLAB_PCAP_OPEN", msg);
  }
  if (pcap_datalink(pc) != DLT_EN10MB) {
    pcap_close(pc);
    return throw_code(env, "DDPLAB_PCAP_LINKTYPE", "not an Ethernet interface");
  }
  if (filter[0] != 0) {
    struct bpf_program prog;
    if (pcap_compile(pc, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 || pcap_setfilter(pc, &prog) != 0) {
      char msg[sizeof filter + PCAP_ERRBUF_SIZE + 16];
      snprintf(msg, sizeof msg, "filter '%s': %s", filter, pcap_geterr(pc));
      pcap_close(pc);
      return throw_code(env, "DDPLAB_PCAP_FILTER", msg);
    }
    pcap_freecode(&prog);
  }
  if (pcap_setnonblock(pc, 1, err) != 0) {
    pcap_close(pc);
    return throw_code(env, "DDPLAB_PCAP_OPEN", err);
  }
  int fd = pcap_get_selectable_fd(pc);
  if (fd < 0) {
    pcap_close(pc);
    return throw_code(env, "DDPLAB_PCAP_OPEN", "no selectable descriptor");
  }
  port_t *p = calloc(1, sizeof *p);
  if (p != NULL) p->held = malloc(snap_len);
  if (p == NULL || p->held == NULL) {
    free(p);
    pcap_close(pc);
    return throw_code(env, "DDPLAB_PCAP_OPEN", "out of memory");
  }
  p->pcap = pc;
  p->env = env;
  p->snap_len = snap_len;
  CHECK(napi_create_reference(env, argv[5], 1, &p->on_readable));
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  p->poll.data = p;
  if (uv_poll_init(loop, &p->poll, fd) != 0) {
    free(p->held);
    free(p);
    pcap_close(pc);
    return throw_code(env, "DDPLAB_PCAP_OPEN", "cannot poll the capture descriptor");
  }
  if (uv_poll_start(&p->poll, UV_READABLE, on_poll) != 0) {
    p->polling = 1;
    port_close(p);
    return throw_code(env, "DDPLAB_PCAP_OPEN", "cannot poll the capture descriptor");
  }
  p->polling = 1;
  napi_add_env_cleanup_hook(env, env_cleanup, p);
  napi_value handle;
  CHECK(napi_create_external(env, p, NULL, NULL, &handle));
  return handle;
}

static port_t *get_port(napi_env env, napi_value v) {
  void *ptr = NULL;
  if (napi_get_value_external(env, v, &ptr) != napi_ok || ptr == NULL) {
    napi_throw_error(env, "DDPLAB_PCAP_ARG", "not a port handle");
    return NULL;
  }
  return (port_t *)ptr;
}

/* The call's arguments (at least `want`), the first being a port handle. */
static port_t *port_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_error(env, "DDPLAB_PCAP_ARG", "too few arguments");
    return NULL;
  }
  return get_port(env, argv[0]);
}

/* A typed array of the given type: its length (elements) and data, or false (with a JS error pending). */
static bool typed_array(napi_env env, napi_value v, napi_typedarray_type want, size_t *len, void **data) {
  napi_typedarray_type t;
  if (napi_get_typedarray_info(env, v, &t, len, data, NULL, NULL) != napi_ok || t != want) {
    napi_throw_error(env, "DDPLAB_PCAP_ARG", want == napi_uint8_array ? "expected a Uint8Array" : want == napi_float64_array ? "expected a Float64Array" : "expected a Uint32Array");
    return false;
  }
  return true;
}

/* 16-bit ones' complement sum of data[0..n) (big-endian words, an odd last byte padded), added to acc. */
static uint64_t ones_sum(const uint8_t *data, size_t n, uint64_t acc) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, data + i, 8);
    /* Little-endian loads summed as 16-bit lanes; the byte swap is undone at the end (RFC 1071: order-independent). */
    acc += (w & 0xffff) + ((w >> 16) & 0xffff) + ((w >> 32) & 0xffff) + (w >> 48);
  }
  for (; i + 2 <= n; i += 2) acc += (uint64_t)data[i] | ((uint64_t)data[i + 1] << 8);
  if (i < n) acc += data[i];
  return acc;
}

static uint16_t fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)acc;
}

/*
 * The NIC's receive checksum offload: 1 when the frame is an untagged
 * Ethernet IPv4 packet, not a fragment, carrying TCP, whose IPv4 header
 * checksum and TCP checksum (over the segment the IPv4 total length bounds,
 * with the pseudo-header) both verify; 0 for anything else, which the NIC
 * model then checks (and counts) itself. Says only "verified": never why not.
 */
static int csum_verified(const uint8_t *f, uint32_t caplen) {
  if (caplen < 14 + 20 || f[12] != 0x08 || f[13] != 0x00) return 0;
  const uint8_t *ip = f + 14;
  uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
  uint32_t total = ((uint32_t)ip[2] << 8) | ip[3];
  if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl + 20 || 14 + total > caplen) return 0;
  if (ip[9] != 6 || (((uint32_t)ip[6] << 8 | ip[7]) & 0x3fff) != 0) return 0;
  /* Sums in the byte-swapped domain (little-endian lanes): an all-ones result reads the same either way. */
  if (fold(ones_sum(ip, ihl, 0)) != 0xffff) return 0;
  uint32_t seg = total - ihl;
  uint64_t pseudo = ones_sum(ip + 12, 8, 0);
  pseudo += (uint64_t)(6 << 8) + (uint64_t)(((seg & 0xff) << 8) | (seg >> 8));
  return fold(ones_sum(ip + ihl, seg, pseudo)) == 0xffff;
}

static void put_frame(read_ctx_t *c, const uint8_t *data, uint32_t caplen, uint32_t len, double ts) {
  double *m = c->meta + (size_t)c->frames * META_FIELDS;
  memcpy(c->out + c->used, data, caplen);
  m[0] = (double)c->used;
  m[1] = caplen;
  m[2] = len;
  m[3] = ts;
  m[4] = csum_verified(data, caplen);
  c->used += caplen;
  c->frames++;
}

static void on_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *data) {
  read_ctx_t *c = (read_ctx_t *)user;
  double ts = (double)h->ts.tv_sec * 1e6 + (double)h->ts.tv_usec;
  uint32_t caplen = h->caplen;
  if (c->frames < c->max_frames && c->used + caplen <= c->out_len) {
    put_frame(c, data, caplen, h->len, ts);
    return;
  }
  /* No room: keep it for the next read (at most one), and stop this dispatch. */
  port_t *p = c->port;
  if (!p->has_held && caplen <= p->snap_len) {
    memcpy(p->held, data, caplen);
    p->held_caplen = caplen;
    p->held_len = h->len;
    p->held_ts = ts;
    p->has_held = 1;
  }
  pcap_breakloop(p->pcap);
}

static napi_value js_read(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  port_t *p = port_args(env, info, 4, argv);
  if (p == NULL) return NULL;
  napi_value zero;
  CHECK(napi_create_uint32(env, 0, &zero));
  if (p->closed || p->pcap == NULL) return zero;
  size_t out_len, meta_len;
  void *out, *meta;
  if (!typed_array(env, argv[1], napi_uint8_array, &out_len, &out) || !typed_array(env, argv[2], napi_float64_array, &meta_len, &meta)) return NULL;
  uint32_t max_frames;
  CHECK(napi_get_value_uint32(env, argv[3], &max_frames));
  if ((size_t)max_frames * META_FIELDS > meta_len) max_frames = (uint32_t)(meta_len / META_FIELDS);
  read_ctx_t c = {p, (uint8_t *)out, out_len, 0, (double *)meta, max_frames, 0};
  if (p->has_held) {
    if (p->held_caplen > out_len || max_frames == 0) {
      /* The frame kept from the last read does not fit what is left: say how much it needs. */
      napi_value need;
      CHECK(napi_create_int32(env, -(int32_t)p->held_caplen, &need));
      return need;
    }
    put_frame(&c, p->held, p->held_caplen, p->held_len, p->held_ts);
    p->has_held = 0;
  }
  if (c.frames < max_frames) {
    int n = pcap_dispatch(p->pcap, (int)(max_frames - c.frames), on_frame, (u_char *)&c);
    if (n == PCAP_ERROR) return throw_code(env, "DDPLAB_PCAP_READ", pcap_geterr(p->pcap));
  }
  napi_value r;
  CHECK(napi_create_uint32(env, c.frames, &r));
  return r;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  port_t *p = port_args(env, info, 4, argv);
  if (p == NULL) return NULL;
  if (p->closed || p->pcap == NULL) return throw_code(env, "DDPLAB_PCAP_CLOSED", "port closed");
  size_t buf_len, lens_len;
  void *buf, *lens;
  if (!typed_array(env, argv[1], napi_uint8_array, &buf_len, &buf) || !typed_array(env, argv[2], napi_uint32_array, &lens_len, &lens)) return NULL;
  uint32_t count;
  CHECK(napi_get_value_uint32(env, argv[3], &count));
  if (count > lens_len) count = (uint32_t)lens_len;
  size_t at = 0;
  uint32_t sent = 0;
  /* Every frame is tried; the ones the kernel refuses are the caller's txErrors. */
  for (uint32_t i = 0; i < count; i++) {
    uint32_t len = ((uint32_t *)lens)[i];
    if (at + len > buf_len) break;
    if (pcap_inject(p->pcap, (uint8_t *)buf + at, len) == (int)len) sent++;
    at += len;
  }
  napi_value r;
  CHECK(napi_create_uint32(env, sent, &r));
  return r;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  port_t *p = port_args(env, info, 1, argv);
  if (p == NULL) return NULL;
  napi_value arr, v;
  CHECK(napi_create_array_with_length(env, 3, &arr));
  struct pcap_stat st;
  memset(&st, 0, sizeof st);
  if (!p->closed && p->pcap != NULL) pcap_stats(p->pcap, &st);
  uint32_t vals[3] = {st.ps_recv, st.ps_drop, st.ps_ifdrop};
  for (uint32_t i = 0; i < 3; i++) {
    CHECK(napi_create_uint32(env, vals[i], &v));
    CHECK(napi_set_element(env, arr, i, v));
  }
  return arr;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  port_t *p = port_args(env, info, 1, argv);
  if (p == NULL) return NULL;
  if (!p->closed) {
    napi_remove_env_cleanup_hook(env, env_cleanup, p);
    port_close(p);
  }
  return NULL;
}

/*
 * The port's receive arenas (1 MiB, pcap-batch.ts) are handed to the host
 * thread and freed there by its garbage collector, one every few hundred
 * frames. glibc serves an allocation that large with mmap unless told
 * otherwise (and its dynamic threshold never lets an allocation of the size
 * just freed off mmap), so each arena was fresh pages: a page fault per 4 KiB
 * received. A fixed threshold above the arena size, and a trim threshold
 * that keeps a few arenas' worth at the top of the heap, make a new arena
 * recycled heap memory. Process-wide, set once when the addon loads.
 */
static void keep_arenas_on_the_heap(void) {
  static bool done = false;
  if (done) return;
  done = true;
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

static napi_value js_csum_verified(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t len;
  void *data;
  if (argc < 1 || !typed_array(env, argv[0], napi_uint8_array, &len, &data)) return NULL;
  napi_value r;
  CHECK(napi_create_uint32(env, (uint32_t)csum_verified((const uint8_t *)data, (uint32_t)len), &r));
  return r;
}

NAPI_MODULE_INIT() {
  keep_arenas_on_the_heap();
  napi_property_descriptor props[] = {
      {"libVersion", NULL, js_lib_version, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"read", NULL, js_read, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"csumVerified", NULL, js_csum_verified, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
