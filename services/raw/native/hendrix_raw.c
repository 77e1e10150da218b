// hendrix_raw: raw Ethernet frames over AF_PACKET for the `raw` kind (Node-API, C, Linux only).
//
// One socket per RawSocket object, non-blocking, bound to one interface. Sends never block the
// event loop (EAGAIN/ENOBUFS come back as negative numbers: the caller queues and waits for
// waitWritable()); frames are received through a libuv poll handle that is started only while
// someone listens and closed with the socket, so a closed socket never keeps the loop alive.
// Every call on a closed socket is harmless: close twice, send after close, and so on.
//
// A socket or an interface lookup may be opened inside another network namespace (a path such
// as /run/netns/NAME): only the calling thread enters it (setns is per thread), the socket keeps
// the namespace it was created in, and the thread returns before the call ends.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define RECV_BATCH 256
#define RECV_BUFFER (65536 + 4)
#define SEND_BATCH 256

#define CALL(env, call)                                                   \
  do {                                                                    \
    if ((call) != napi_ok) return throw_last(env, #call);                 \
  } while (0)

typedef struct raw_socket {
  napi_env env;
  int fd;
  int ifindex;
  uv_poll_t poll;
  int poll_open;      // uv_poll_init done, uv_close not yet called
  int poll_closing;   // uv_close called, its callback not yet run
  int poll_events;    // what the poll handle watches now
  int refed;          // whether an active poll handle keeps the loop alive
  int strong;         // whether `self` is a strong reference (while polling)
  int finalized;      // the JS object is gone: free in the close callback
  int outgoing;       // deliver frames this host sent too
  int hook;           // env cleanup hook registered
  napi_ref self;
  napi_ref on_frames;
  napi_ref on_writable;
  napi_async_context async;
  unsigned char *rbuf;
} raw_socket;

static const struct { int code; const char *name; } ERRNO_NAMES[] = {
  {EPERM, "EPERM"}, {EACCES, "EACCES"}, {ENODEV, "ENODEV"}, {ENETDOWN, "ENETDOWN"},
  {ENXIO, "ENXIO"}, {ENOENT, "ENOENT"}, {EINVAL, "EINVAL"}, {EMSGSIZE, "EMSGSIZE"},
  {ENOBUFS, "ENOBUFS"}, {EAGAIN, "EAGAIN"}, {EBADF, "EBADF"}, {ENOTDIR, "ENOTDIR"},
  {ENOMEM, "ENOMEM"}, {EFAULT, "EFAULT"}, {EAFNOSUPPORT, "EAFNOSUPPORT"},
  {EPROTONOSUPPORT, "EPROTONOSUPPORT"}, {EINTR, "EINTR"}, {EIO, "EIO"},
  {EOPNOTSUPP, "EOPNOTSUPP"}, {ENAMETOOLONG, "ENAMETOOLONG"}, {EMFILE, "EMFILE"},
  {ENFILE, "ENFILE"}, {ENOTSOCK, "ENOTSOCK"}, {ENETUNREACH, "ENETUNREACH"},
  {ENOSYS, "ENOSYS"}, {EISDIR, "EISDIR"}, {ELOOP, "ELOOP"},
};

static const char *errno_name(int code) {
  for (size_t i = 0; i < sizeof(ERRNO_NAMES) / sizeof(ERRNO_NAMES[0]); i++)
    if (ERRNO_NAMES[i].code == code) return ERRNO_NAMES[i].name;
  return "UNKNOWN";
}

static napi_value throw_last(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info *info = NULL;
    napi_get_last_error_info(env, &info);
    char message[256];
    snprintf(message, sizeof message, "hendrix_raw: %s failed%s%s", what, info && info->error_message ? ": " : "",
             info && info->error_message ? info->error_message : "");
    napi_throw_error(env, NULL, message);
  }
  return NULL;
}

/** Throws an Error with .code ('EPERM'...), .errno and .syscall, the way Node's own errors look. */
static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *subject) {
  char message[512];
  if (subject && *subject)
    snprintf(message, sizeof message, "%s %s: %s (%s)", syscall, subject, errno_name(err), strerror(err));
  else
    snprintf(message, sizeof message, "%s: %s (%s)", syscall, errno_name(err), strerror(err));
  napi_value msg, code, error, num, sys;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_error(env, code, msg, &error) != napi_ok)
    return throw_last(env, "creating an error");
  if (napi_create_int32(env, err, &num) == napi_ok) napi_set_named_property(env, error, "errno", num);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys) == napi_ok) napi_set_named_property(env, error, "syscall", sys);
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_closed(napi_env env) {
  return throw_errno(env, EBADF, "hendrix_raw", "the socket is closed");
}

// --- network namespaces: enter on this thread, always come back ---

typedef struct { int saved; int entered; const char *failed; } netns_guard;

static int netns_enter(netns_guard *guard, const char *path) {
  guard->saved = -1;
  guard->entered = 0;
  guard->failed = "open";
  if (path == NULL || *path == '\0') return 0;
  guard->saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (guard->saved < 0) return errno;
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(guard->saved);
    guard->saved = -1;
    return err;
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    guard->failed = "setns";
    close(target);
    close(guard->saved);
    guard->saved = -1;
    return err;
  }
  close(target);
  guard->entered = 1;
  return 0;
}

static void netns_leave(napi_env env, netns_guard *guard) {
  if (guard->entered && setns(guard->saved, CLONE_NEWNET) != 0) {
    // the main thread would go on in the wrong namespace: nothing sane is left to do
    napi_fatal_error("hendrix_raw", NAPI_AUTO_LENGTH, "cannot return to the original network namespace", NAPI_AUTO_LENGTH);
  }
  if (guard->saved >= 0) close(guard->saved);
  guard->saved = -1;
  guard->entered = 0;
  (void)env;
}

// --- argument helpers ---

/** Reads a string argument into `out` (size `size`); an undefined/null value gives "". */
static int get_string(napi_env env, napi_value value, char *out, size_t size, int optional) {
  napi_valuetype type;
  if (value == NULL && optional) {
    out[0] = '\0';
    return 1;
  }
  if (value == NULL || napi_typeof(env, value, &type) != napi_ok) return 0;
  if (optional && (type == napi_undefined || type == napi_null)) {
    out[0] = '\0';
    return 1;
  }
  if (type != napi_string) return 0;
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok || length >= size) return 0;
  return napi_get_value_string_utf8(env, value, out, size, &length) == napi_ok;
}

static int get_optional_property(napi_env env, napi_value object, const char *key, napi_value *out) {
  napi_valuetype type;
  if (napi_typeof(env, object, &type) != napi_ok || type != napi_object) return 0;
  bool has = false;
  if (napi_has_named_property(env, object, key, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, object, key, out) != napi_ok) return 0;
  if (napi_typeof(env, *out, &type) != napi_ok || type == napi_undefined || type == napi_null) return 0;
  return 1;
}

#define MAX_PATH_ARG 4096

// --- interface information (needs no privilege) ---

static int info_socket(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  return fd;
}

/** interfaceInfo(name, netnsPath?) → { name, index, mac, mtu, up, running, type } */
static napi_value interface_info(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  char name[IFNAMSIZ + 1];
  char ns[MAX_PATH_ARG];
  if (argc < 1 || !get_string(env, argv[0], name, sizeof name, 0) || name[0] == '\0' || strlen(name) >= IFNAMSIZ) {
    napi_throw_type_error(env, "EINVAL", "interfaceInfo: the interface name must be a string of 1 to 15 bytes");
    return NULL;
  }
  if (!get_string(env, argc > 1 ? argv[1] : NULL, ns, sizeof ns, 1)) {
    napi_throw_type_error(env, "EINVAL", "interfaceInfo: the namespace must be a path");
    return NULL;
  }
  netns_guard guard;
  int err = netns_enter(&guard, ns);
  if (err) return throw_errno(env, err, guard.failed, ns);
  int fd = info_socket();
  if (fd < 0) {
    err = errno;
    netns_leave(env, &guard);
    return throw_errno(env, err, "socket", name);
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, name, strlen(name));
  int index = 0, flags = 0, mtu = 0, type = 0;
  unsigned char mac[6] = {0};
  const char *failed = NULL;
  if (ioctl(fd, SIOCGIFINDEX, &ifr) != 0) failed = "ioctl(SIOCGIFINDEX)";
  else {
    index = ifr.ifr_ifindex;
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) failed = "ioctl(SIOCGIFFLAGS)";
    else {
      flags = ifr.ifr_flags;
      if (ioctl(fd, SIOCGIFMTU, &ifr) != 0) failed = "ioctl(SIOCGIFMTU)";
      else {
        mtu = ifr.ifr_mtu;
        if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) failed = "ioctl(SIOCGIFHWADDR)";
        else {
          type = ifr.ifr_hwaddr.sa_family;
          memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
        }
      }
    }
  }
  err = failed ? errno : 0;
  close(fd);
  netns_leave(env, &guard);
  if (failed) return throw_errno(env, err, failed, name);

  napi_value result, value;
  void *data = NULL;
  CALL(env, napi_create_object(env, &result));
  CALL(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &value));
  CALL(env, napi_set_named_property(env, result, "name", value));
  CALL(env, napi_create_int32(env, index, &value));
  CALL(env, napi_set_named_property(env, result, "index", value));
  CALL(env, napi_create_buffer_copy(env, 6, mac, &data, &value));
  CALL(env, napi_set_named_property(env, result, "mac", value));
  CALL(env, napi_create_int32(env, mtu, &value));
  CALL(env, napi_set_named_property(env, result, "mtu", value));
  CALL(env, napi_get_boolean(env, (flags & IFF_UP) != 0, &value));
  CALL(env, napi_set_named_property(env, result, "up", value));
  CALL(env, napi_get_boolean(env, (flags & IFF_RUNNING) != 0, &value));
  CALL(env, napi_set_named_property(env, result, "running", value));
  CALL(env, napi_get_boolean(env, (flags & IFF_LOOPBACK) != 0, &value));
  CALL(env, napi_set_named_property(env, result, "loopback", value));
  CALL(env, napi_create_int32(env, type, &value));
  CALL(env, napi_set_named_property(env, result, "type", value));
  return result;
}

/** listInterfaces(netnsPath?) → the names of every interface, in index order. */
static napi_value list_interfaces(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  char ns[MAX_PATH_ARG];
  if (!get_string(env, argc > 0 ? argv[0] : NULL, ns, sizeof ns, 1)) {
    napi_throw_type_error(env, "EINVAL", "listInterfaces: the namespace must be a path");
    return NULL;
  }
  netns_guard guard;
  int err = netns_enter(&guard, ns);
  if (err) return throw_errno(env, err, guard.failed, ns);
  struct if_nameindex *list = if_nameindex();
  err = list ? 0 : errno;
  netns_leave(env, &guard);
  if (!list) return throw_errno(env, err, "if_nameindex", NULL);
  napi_value result, value;
  napi_status status = napi_create_array(env, &result);
  uint32_t n = 0;
  for (struct if_nameindex *it = list; status == napi_ok && it->if_index != 0; it++) {
    status = napi_create_string_utf8(env, it->if_name, NAPI_AUTO_LENGTH, &value);
    if (status == napi_ok) status = napi_set_element(env, result, n++, value);
  }
  if_freenameindex(list);
  if (status != napi_ok) return throw_last(env, "listInterfaces");
  return result;
}

// --- the socket ---

static void release_strong(raw_socket *s) {
  if (s->strong && s->self) {
    uint32_t count = 0;
    napi_reference_unref(s->env, s->self, &count);
    s->strong = 0;
  }
}

static void hold_strong(raw_socket *s) {
  if (!s->strong && s->self) {
    uint32_t count = 0;
    if (napi_reference_ref(s->env, s->self, &count) == napi_ok) s->strong = 1;
  }
}

static void on_poll_closed(uv_handle_t *handle) {
  raw_socket *s = (raw_socket *)handle->data;
  s->poll_closing = 0;
  if (s->finalized) {
    free(s->rbuf);
    free(s);
  }
}

static void cleanup_hook(void *arg);

/** Closes everything the socket holds; safe to call any number of times. */
static void do_close(raw_socket *s) {
  if (s->poll_open) {
    uv_poll_stop(&s->poll);
    s->poll_open = 0;
    s->poll_closing = 1;
    uv_close((uv_handle_t *)&s->poll, on_poll_closed);
  }
  s->poll_events = 0;
  if (s->fd >= 0) {
    close(s->fd);
    s->fd = -1;
  }
  if (s->on_frames) {
    napi_delete_reference(s->env, s->on_frames);
    s->on_frames = NULL;
  }
  if (s->on_writable) {
    napi_delete_reference(s->env, s->on_writable);
    s->on_writable = NULL;
  }
  release_strong(s);
  if (s->async) {
    napi_async_destroy(s->env, s->async);
    s->async = NULL;
  }
  if (s->hook) {
    napi_remove_env_cleanup_hook(s->env, cleanup_hook, s);
    s->hook = 0;
  }
}

static void cleanup_hook(void *arg) {
  raw_socket *s = (raw_socket *)arg;
  s->hook = 0;  // being called: do not remove it again
  do_close(s);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  raw_socket *s = (raw_socket *)data;
  do_close(s);
  if (s->self) {
    napi_delete_reference(env, s->self);
    s->self = NULL;
  }
  if (s->poll_closing) s->finalized = 1;  // freed by on_poll_closed
  else {
    free(s->rbuf);
    free(s);
  }
}

static raw_socket *unwrap(napi_env env, napi_callback_info cbinfo, size_t *argc, napi_value *argv) {
  napi_value self;
  raw_socket *s = NULL;
  if (napi_get_cb_info(env, cbinfo, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, (void **)&s) != napi_ok || s == NULL) {
    napi_throw_type_error(env, "EINVAL", "hendrix_raw: not a RawSocket");
    return NULL;
  }
  return s;
}

static void on_poll(uv_poll_t *handle, int status, int events);

/** Watches `events` (UV_READABLE | UV_WRITABLE); 0 stops the handle so it holds nothing. */
static int set_poll(napi_env env, raw_socket *s, int events) {
  if (s->fd < 0) return UV_EBADF;
  if (events == s->poll_events) return 0;
  if (!s->poll_open && events) {
    uv_loop_t *loop = NULL;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) return UV_EINVAL;
    if (s->poll_closing) return UV_EBUSY;  // the previous handle is still closing
    int rc = uv_poll_init(loop, &s->poll, s->fd);
    if (rc != 0) return rc;
    s->poll.data = s;
    s->poll_open = 1;
    if (!s->refed) uv_unref((uv_handle_t *)&s->poll);
  }
  if (!s->poll_open) return 0;
  int rc = events ? uv_poll_start(&s->poll, events, on_poll) : uv_poll_stop(&s->poll);
  if (rc != 0) return rc;
  s->poll_events = events;
  if (events) hold_strong(s);
  else release_strong(s);
  return 0;
}

/** Calls a JS callback from a libuv callback: async context, microtasks, uncaught errors. */
static void call_js(raw_socket *s, napi_ref ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, self, result;
  if (ref == NULL || napi_get_reference_value(env, ref, &fn) != napi_ok || fn == NULL) return;
  if (s->self == NULL || napi_get_reference_value(env, s->self, &self) != napi_ok || self == NULL) return;
  napi_status status = napi_make_callback(env, s->async, self, fn, argc, argv, &result);
  if (status != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
  }
}

static napi_value make_uv_error(napi_env env, int uverr, const char *syscall) {
  char message[256];
  int err = -uverr;
  snprintf(message, sizeof message, "%s: %s (%s)", syscall, errno_name(err), strerror(err));
  napi_value msg, code, error, num;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  if (napi_create_int32(env, err, &num) == napi_ok) napi_set_named_property(env, error, "errno", num);
  return error;
}

static void deliver_frames(raw_socket *s) {
  napi_env env = s->env;
  napi_value frames, undefined;
  if (napi_create_array(env, &frames) != napi_ok) return;
  napi_get_undefined(env, &undefined);
  uint32_t count = 0;
  int failure = 0;
  for (int i = 0; i < RECV_BATCH && s->fd >= 0; i++) {
    struct sockaddr_ll from;
    union {
      struct cmsghdr align;
      char space[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    } control;
    unsigned char *data = s->rbuf + 4;  // room to put a VLAN tag back in front of the payload
    struct iovec iov = {data, RECV_BUFFER - 4};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = &control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(s->fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) failure = errno;
      break;
    }
    if (from.sll_pkttype == PACKET_OUTGOING && !s->outgoing) continue;
    size_t length = (size_t)n > RECV_BUFFER - 4 ? RECV_BUFFER - 4 : (size_t)n;
    unsigned char *frame = data;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
      struct tpacket_auxdata aux;
      memcpy(&aux, CMSG_DATA(c), sizeof aux);
      // the kernel strips the 802.1Q tag on receive; put it back as it was on the wire (as libpcap does)
      if ((aux.tp_vlan_tci != 0 || (aux.tp_status & TP_STATUS_VLAN_VALID)) && length >= 12) {
        uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ? aux.tp_vlan_tpid : ETH_P_8021Q;
        memmove(s->rbuf, data, 12);
        s->rbuf[12] = (unsigned char)(tpid >> 8);
        s->rbuf[13] = (unsigned char)(tpid & 0xff);
        s->rbuf[14] = (unsigned char)(aux.tp_vlan_tci >> 8);
        s->rbuf[15] = (unsigned char)(aux.tp_vlan_tci & 0xff);
        frame = s->rbuf;
        length += 4;
      }
    }
    napi_value buffer;
    void *copy = NULL;
    if (napi_create_buffer_copy(env, length, frame, &copy, &buffer) != napi_ok) break;
    napi_set_element(env, frames, count++, buffer);
  }
  if (count > 0) {
    napi_value argv[2] = {undefined, frames};
    call_js(s, s->on_frames, 2, argv);
  }
  if (failure && s->fd >= 0 && s->on_frames) {
    napi_value argv[1] = {make_uv_error(env, -failure, "recvmsg")};
    call_js(s, s->on_frames, 1, argv);
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  raw_socket *s = (raw_socket *)handle->data;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (status < 0) {
    napi_value argv[1] = {make_uv_error(env, status, "poll")};
    napi_ref target = s->on_frames ? s->on_frames : s->on_writable;
    if (target) call_js(s, target, 1, argv);
  } else {
    if ((events & UV_WRITABLE) && s->on_writable) {
      // one shot: the caller asks again when it has more to send
      napi_ref callback = s->on_writable;
      s->on_writable = NULL;
      set_poll(env, s, s->poll_events & ~UV_WRITABLE);
      napi_value undefined;
      napi_get_undefined(env, &undefined);
      call_js(s, callback, 1, &undefined);
      napi_delete_reference(env, callback);
    }
    if ((events & UV_READABLE) && s->fd >= 0 && s->on_frames) deliver_frames(s);
  }
  napi_close_handle_scope(env, scope);
}

/** new RawSocket(interface, { protocol = 0, netns, receiveBuffer, outgoing }) */
static napi_value socket_new(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 2;
  napi_value argv[2], self, target;
  CALL(env, napi_get_cb_info(env, cbinfo, &argc, argv, &self, NULL));
  CALL(env, napi_get_new_target(env, cbinfo, &target));
  if (target == NULL) {
    napi_throw_type_error(env, "EINVAL", "RawSocket must be called with new");
    return NULL;
  }
  char name[IFNAMSIZ + 1];
  char ns[MAX_PATH_ARG] = "";
  if (argc < 1 || !get_string(env, argv[0], name, sizeof name, 0) || name[0] == '\0' || strlen(name) >= IFNAMSIZ) {
    napi_throw_type_error(env, "EINVAL", "RawSocket: the interface name must be a string of 1 to 15 bytes");
    return NULL;
  }
  uint32_t protocol = 0;
  int32_t receive_buffer = 0;
  bool outgoing = false;
  napi_value value;
  if (argc > 1) {
    if (get_optional_property(env, argv[1], "protocol", &value) &&
        (napi_get_value_uint32(env, value, &protocol) != napi_ok || protocol > 0xffff)) {
      napi_throw_range_error(env, "EINVAL", "RawSocket: protocol must be 0 to 0xffff");
      return NULL;
    }
    if (get_optional_property(env, argv[1], "netns", &value) && !get_string(env, value, ns, sizeof ns, 0)) {
      napi_throw_type_error(env, "EINVAL", "RawSocket: netns must be a path");
      return NULL;
    }
    if (get_optional_property(env, argv[1], "receiveBuffer", &value)) napi_get_value_int32(env, value, &receive_buffer);
    if (get_optional_property(env, argv[1], "outgoing", &value)) napi_get_value_bool(env, value, &outgoing);
  }

  netns_guard guard;
  int err = netns_enter(&guard, ns);
  if (err) return throw_errno(env, err, guard.failed, ns);
  const char *failed = NULL;
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons((uint16_t)protocol));
  int ifindex = 0;
  if (fd < 0) failed = "socket(AF_PACKET)";
  else {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strlen(name));
    if (ioctl(fd, SIOCGIFINDEX, &ifr) != 0) failed = "ioctl(SIOCGIFINDEX)";
    else {
      ifindex = ifr.ifr_ifindex;
      struct sockaddr_ll address;
      memset(&address, 0, sizeof address);
      address.sll_family = AF_PACKET;
      address.sll_protocol = htons((uint16_t)protocol);
      address.sll_ifindex = ifindex;
      if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) failed = "bind";
    }
  }
  err = failed ? errno : 0;
  if (!failed && protocol != 0) {
    int on = 1;
    setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &on, sizeof on);
    if (receive_buffer > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof receive_buffer) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  netns_leave(env, &guard);
  if (failed) {
    if (fd >= 0) close(fd);
    return throw_errno(env, err, failed, name);
  }

  raw_socket *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return throw_errno(env, ENOMEM, "calloc", NULL);
  }
  s->env = env;
  s->fd = fd;
  s->ifindex = ifindex;
  s->refed = 1;
  s->outgoing = outgoing;
  if (napi_wrap(env, self, s, finalize, NULL, &s->self) != napi_ok) {
    close(fd);
    free(s);
    return throw_last(env, "napi_wrap");
  }
  // from here the finalizer owns `s`
  napi_value resource_name;
  CALL(env, napi_create_string_utf8(env, "HendrixRawSocket", NAPI_AUTO_LENGTH, &resource_name));
  CALL(env, napi_async_init(env, self, resource_name, &s->async));
  if (napi_add_env_cleanup_hook(env, cleanup_hook, s) == napi_ok) s->hook = 1;
  CALL(env, napi_create_int32(env, ifindex, &value));
  CALL(env, napi_set_named_property(env, self, "ifindex", value));
  return self;
}

/** send(frame) → bytes sent, or -errno (EAGAIN, ENOBUFS, ENETDOWN, EBADF when closed...). */
static napi_value socket_send(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1], result;
  raw_socket *s = unwrap(env, cbinfo, &argc, argv);
  if (s == NULL) return NULL;
  void *data = NULL;
  size_t length = 0;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "send: expected a Buffer or Uint8Array");
    return NULL;
  }
  ssize_t n;
  if (s->fd < 0) n = -EBADF;
  else {
    do n = send(s->fd, data, length, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) n = -errno;
  }
  CALL(env, napi_create_int64(env, (int64_t)n, &result));
  return result;
}

/** sendBatch(frames, start, count) → how many were sent (sendmmsg), or -errno when none was. */
static napi_value socket_send_batch(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 3;
  napi_value argv[3], result;
  raw_socket *s = unwrap(env, cbinfo, &argc, argv);
  if (s == NULL) return NULL;
  bool is_array = false;
  uint32_t total = 0, start = 0, count = 0;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &total) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "sendBatch: expected an array of Buffers");
    return NULL;
  }
  if (argc > 1) napi_get_value_uint32(env, argv[1], &start);
  count = total > start ? total - start : 0;
  if (argc > 2) {
    uint32_t wanted = 0;
    if (napi_get_value_uint32(env, argv[2], &wanted) == napi_ok && wanted < count) count = wanted;
  }
  if (count > SEND_BATCH) count = SEND_BATCH;
  if (s->fd < 0) {
    CALL(env, napi_create_int32(env, -EBADF, &result));
    return result;
  }
  struct mmsghdr messages[SEND_BATCH];
  struct iovec vectors[SEND_BATCH];
  memset(messages, 0, sizeof(struct mmsghdr) * count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    void *data = NULL;
    size_t length = 0;
    if (napi_get_element(env, argv[0], start + i, &element) != napi_ok ||
        napi_get_buffer_info(env, element, &data, &length) != napi_ok) {
      napi_throw_type_error(env, "EINVAL", "sendBatch: every frame must be a Buffer or Uint8Array");
      return NULL;
    }
    vectors[i].iov_base = data;
    vectors[i].iov_len = length;
    messages[i].msg_hdr.msg_iov = &vectors[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  int sent = 0;
  while (count > 0 && (uint32_t)sent < count) {
    int n = sendmmsg(s->fd, messages + sent, count - sent, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (sent == 0) sent = -errno;
      break;
    }
    sent += n;
  }
  CALL(env, napi_create_int32(env, sent, &result));
  return result;
}

/** recv() → the next frame (Buffer), or null when none is waiting. */
static napi_value socket_recv(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 0;
  napi_value result;
  raw_socket *s = unwrap(env, cbinfo, &argc, NULL);
  if (s == NULL) return NULL;
  if (s->fd < 0) return throw_closed(env);
  unsigned char buffer[RECV_BUFFER];
  struct sockaddr_ll from;
  for (;;) {
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(s->fd, buffer, sizeof buffer, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        CALL(env, napi_get_null(env, &result));
        return result;
      }
      return throw_errno(env, errno, "recvfrom", NULL);
    }
    if (from.sll_pkttype == PACKET_OUTGOING && !s->outgoing) continue;
    size_t length = (size_t)n > sizeof buffer ? sizeof buffer : (size_t)n;
    void *copy = NULL;
    CALL(env, napi_create_buffer_copy(env, length, buffer, &copy, &result));
    return result;
  }
}

/** startReceive(callback(error, frames[])): frames are delivered until stopReceive() or close(). */
static napi_value socket_start_receive(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1];
  raw_socket *s = unwrap(env, cbinfo, &argc, argv);
  if (s == NULL) return NULL;
  napi_valuetype type = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, "EINVAL", "startReceive: expected a callback");
    return NULL;
  }
  if (s->fd < 0) return throw_closed(env);
  if (s->rbuf == NULL && (s->rbuf = malloc(RECV_BUFFER)) == NULL) return throw_errno(env, ENOMEM, "malloc", NULL);
  if (s->on_frames) napi_delete_reference(env, s->on_frames);
  s->on_frames = NULL;
  CALL(env, napi_create_reference(env, argv[0], 1, &s->on_frames));
  int rc = set_poll(env, s, s->poll_events | UV_READABLE);
  if (rc != 0) return throw_errno(env, -rc, "uv_poll_start", NULL);
  return NULL;
}

static napi_value socket_stop_receive(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 0;
  raw_socket *s = unwrap(env, cbinfo, &argc, NULL);
  if (s == NULL) return NULL;
  if (s->on_frames) napi_delete_reference(env, s->on_frames);
  s->on_frames = NULL;
  if (s->fd >= 0) set_poll(env, s, s->poll_events & ~UV_READABLE);
  return NULL;
}

/** waitWritable(callback(error)): calls back once when the socket can take frames again. */
static napi_value socket_wait_writable(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1];
  raw_socket *s = unwrap(env, cbinfo, &argc, argv);
  if (s == NULL) return NULL;
  napi_valuetype type = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, "EINVAL", "waitWritable: expected a callback");
    return NULL;
  }
  if (s->fd < 0) return throw_closed(env);
  if (s->on_writable) napi_delete_reference(env, s->on_writable);
  s->on_writable = NULL;
  CALL(env, napi_create_reference(env, argv[0], 1, &s->on_writable));
  int rc = set_poll(env, s, s->poll_events | UV_WRITABLE);
  if (rc != 0) return throw_errno(env, -rc, "uv_poll_start", NULL);
  return NULL;
}

static napi_value socket_set_ref(napi_env env, napi_callback_info cbinfo, int refed) {
  size_t argc = 0;
  napi_value self;
  raw_socket *s = NULL;
  CALL(env, napi_get_cb_info(env, cbinfo, &argc, NULL, &self, NULL));
  if (napi_unwrap(env, self, (void **)&s) != napi_ok || s == NULL) return self;
  s->refed = refed;
  if (s->poll_open) {
    if (refed) uv_ref((uv_handle_t *)&s->poll);
    else uv_unref((uv_handle_t *)&s->poll);
  }
  return self;
}

static napi_value socket_ref(napi_env env, napi_callback_info cbinfo) { return socket_set_ref(env, cbinfo, 1); }
static napi_value socket_unref(napi_env env, napi_callback_info cbinfo) { return socket_set_ref(env, cbinfo, 0); }

static napi_value socket_close(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 0;
  napi_value self;
  raw_socket *s = NULL;
  CALL(env, napi_get_cb_info(env, cbinfo, &argc, NULL, &self, NULL));
  if (napi_unwrap(env, self, (void **)&s) == napi_ok && s != NULL) do_close(s);
  return NULL;
}

static napi_value socket_closed(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 0;
  napi_value self, result;
  raw_socket *s = NULL;
  CALL(env, napi_get_cb_info(env, cbinfo, &argc, NULL, &self, NULL));
  int closed = napi_unwrap(env, self, (void **)&s) != napi_ok || s == NULL || s->fd < 0;
  CALL(env, napi_get_boolean(env, closed, &result));
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor methods[] = {
    {"send", NULL, socket_send, NULL, NULL, NULL, napi_default_method, NULL},
    {"sendBatch", NULL, socket_send_batch, NULL, NULL, NULL, napi_default_method, NULL},
    {"recv", NULL, socket_recv, NULL, NULL, NULL, napi_default_method, NULL},
    {"startReceive", NULL, socket_start_receive, NULL, NULL, NULL, napi_default_method, NULL},
    {"stopReceive", NULL, socket_stop_receive, NULL, NULL, NULL, napi_default_method, NULL},
    {"waitWritable", NULL, socket_wait_writable, NULL, NULL, NULL, napi_default_method, NULL},
    {"ref", NULL, socket_ref, NULL, NULL, NULL, napi_default_method, NULL},
    {"unref", NULL, socket_unref, NULL, NULL, NULL, napi_default_method, NULL},
    {"close", NULL, socket_close, NULL, NULL, NULL, napi_default_method, NULL},
    {"closed", NULL, NULL, socket_closed, NULL, NULL, napi_default, NULL},
  };
  napi_value klass, fn;
  if (napi_define_class(env, "RawSocket", NAPI_AUTO_LENGTH, socket_new, NULL, sizeof methods / sizeof methods[0], methods, &klass) != napi_ok)
    return NULL;
  napi_set_named_property(env, exports, "RawSocket", klass);
  if (napi_create_function(env, "interfaceInfo", NAPI_AUTO_LENGTH, interface_info, NULL, &fn) == napi_ok)
    napi_set_named_property(env, exports, "interfaceInfo", fn);
  if (napi_create_function(env, "listInterfaces", NAPI_AUTO_LENGTH, list_interfaces, NULL, &fn) == napi_ok)
    napi_set_named_property(env, exports, "listInterfaces", fn);
  return exports;
}
