// hendrix_notify: the systemd notify protocol's datagrams (Node-API, C, Linux only).
//
// Node has no AF_UNIX datagram sockets, and sd_notify() is one sendto() on one: this addon is
// that sendto (a socket per message: a handful a minute, the watchdog included), plus the
// receiving side for tests — a non-blocking bound socket that reads each message with the pid
// of its sender (SO_PASSCRED, as systemd reads it to enforce NotifyAccess=main).
// A name starting with '@' is in the abstract namespace (systemd's own convention).
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_MESSAGE 4096

/** Throws an Error with .code ('ENOENT'...) and .syscall, the way Node's own errors look. */
static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *subject) {
  char message[512];
  const char *name = err == ENOENT ? "ENOENT" : err == ECONNREFUSED ? "ECONNREFUSED" : err == EACCES ? "EACCES"
                   : err == EPERM ? "EPERM" : err == EADDRINUSE ? "EADDRINUSE" : err == EINVAL ? "EINVAL"
                   : err == ENAMETOOLONG ? "ENAMETOOLONG" : err == EAGAIN ? "EAGAIN" : err == ENOBUFS ? "ENOBUFS" : "UNKNOWN";
  snprintf(message, sizeof message, "%s %s: %s (%s)", syscall, subject, name, strerror(err));
  napi_value msg, code, error;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_error(env, code, msg, &error) != napi_ok) {
    napi_throw_error(env, NULL, "hendrix_notify: cannot create an error");
    return NULL;
  }
  napi_value sys;
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sys) == napi_ok) napi_set_named_property(env, error, "syscall", sys);
  napi_throw(env, error);
  return NULL;
}

/** Reads argument `index` as a string into `out` (at most `size` - 1 bytes); false after throwing. */
static int string_arg(napi_env env, napi_value *argv, size_t argc, size_t index, char *out, size_t size, size_t *length) {
  if (index >= argc || napi_get_value_string_utf8(env, argv[index], out, size, length) != napi_ok) {
    napi_throw_type_error(env, NULL, "hendrix_notify: expected a string argument");
    return 0;
  }
  if (*length >= size - 1) {
    napi_throw_range_error(env, NULL, "hendrix_notify: argument too long");
    return 0;
  }
  return 1;
}

/** Fills a sockaddr_un from a path or an @abstract name; its length, or 0 when it does not fit. */
static socklen_t unix_address(const char *name, size_t length, struct sockaddr_un *addr) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (length == 0 || length >= sizeof addr->sun_path) return 0;
  memcpy(addr->sun_path, name, length);
  // an abstract name: a leading NUL, and the length says where it ends (no trailing NUL)
  if (name[0] == '@') {
    addr->sun_path[0] = '\0';
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length);
  }
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length + 1);
}

/** notify(socket, message): sends one datagram; throws (ENOENT, ECONNREFUSED, EACCES...) when it cannot. */
static napi_value notify_send(napi_env env, napi_callback_info info) {
  size_t argc = 2, name_length, length;
  napi_value argv[2];
  char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1], message[MAX_MESSAGE];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (!string_arg(env, argv, argc, 0, name, sizeof name, &name_length)) return NULL;
  if (!string_arg(env, argv, argc, 1, message, sizeof message, &length)) return NULL;
  struct sockaddr_un addr;
  socklen_t addr_length = unix_address(name, name_length, &addr);
  if (addr_length == 0) return throw_errno(env, EINVAL, "sendto", name);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", name);
  ssize_t sent;
  do sent = sendto(fd, message, length, MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_length);
  while (sent < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (sent < 0) return throw_errno(env, err, "sendto", name);
  return NULL;
}

/** openReceiver(socket): a bound, non-blocking datagram socket with SO_PASSCRED; its fd. For tests. */
static napi_value receiver_open(napi_env env, napi_callback_info info) {
  size_t argc = 1, name_length;
  napi_value argv[1], result;
  char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (!string_arg(env, argv, argc, 0, name, sizeof name, &name_length)) return NULL;
  struct sockaddr_un addr;
  socklen_t addr_length = unix_address(name, name_length, &addr);
  if (addr_length == 0) return throw_errno(env, EINVAL, "bind", name);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", name);
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0 || bind(fd, (struct sockaddr *)&addr, addr_length) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind", name);
  }
  if (napi_create_int32(env, fd, &result) != napi_ok) return NULL;
  return result;
}

/** receive(fd): the next datagram as { message, pid }, or null when none is waiting. For tests. */
static napi_value receiver_receive(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result, text, pid;
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "hendrix_notify: expected a file descriptor");
    return NULL;
  }
  char message[MAX_MESSAGE];
  union { struct cmsghdr align; char buffer[CMSG_SPACE(sizeof(struct ucred))]; } control;
  struct iovec iov = { .iov_base = message, .iov_len = sizeof message };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof control.buffer };
  ssize_t length;
  do length = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (length < 0 && errno == EINTR);
  if (length < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_get_null(env, &result);
      return result;
    }
    return throw_errno(env, errno, "recvmsg", "receiver");
  }
  int32_t sender = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      struct ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof cred);
      sender = cred.pid;
    }
  }
  if (napi_create_object(env, &result) != napi_ok || napi_create_string_utf8(env, message, (size_t)length, &text) != napi_ok ||
      napi_create_int32(env, sender, &pid) != napi_ok)
    return NULL;
  napi_set_named_property(env, result, "message", text);
  napi_set_named_property(env, result, "pid", pid);
  return result;
}

/** closeReceiver(fd). For tests. */
static napi_value receiver_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0) close(fd);
  return NULL;
}

/** monotonicUsec(): CLOCK_MONOTONIC in microseconds, the clock of MONOTONIC_USEC. */
static napi_value monotonic_usec(napi_env env, napi_callback_info info) {
  struct timespec now;
  napi_value result;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (napi_create_double(env, (double)now.tv_sec * 1e6 + (double)(now.tv_nsec / 1000), &result) != napi_ok) return NULL;
  return result;
}

NAPI_MODULE_INIT() {
  static const struct { const char *name; napi_callback fn; } FUNCTIONS[] = {
    {"notify", notify_send}, {"openReceiver", receiver_open}, {"receive", receiver_receive},
    {"closeReceiver", receiver_close}, {"monotonicUsec", monotonic_usec},
  };
  for (size_t i = 0; i < sizeof FUNCTIONS / sizeof FUNCTIONS[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, FUNCTIONS[i].name, NAPI_AUTO_LENGTH, FUNCTIONS[i].fn, NULL, &fn) == napi_ok)
      napi_set_named_property(env, exports, FUNCTIONS[i].name, fn);
  }
  return exports;
}
