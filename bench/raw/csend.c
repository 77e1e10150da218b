// bench/raw: the practical limit of raw frames on this machine — a C loop sending one 60-byte
// frame over an AF_PACKET socket bound to an interface, send() per frame (batch 1) or
// sendmmsg() batches, for a number of seconds. Prints JSON: frames, seconds, user/sys CPU (µs).
// Built by run.mjs (cc -O2) into a temporary folder; not part of the package.
// Usage: csend IFACE SECONDS BATCH
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: csend IFACE SECONDS BATCH\n");
    return 64;
  }
  const char *name = argv[1];
  double seconds = atof(argv[2]);
  int batch = atoi(argv[3]);
  if (batch < 1) batch = 1;
  if (batch > 1024) batch = 1024;
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) { perror("socket"); return 1; }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFINDEX, &ifr) != 0) { perror("SIOCGIFINDEX"); return 1; }
  struct sockaddr_ll addr;
  memset(&addr, 0, sizeof addr);
  addr.sll_family = AF_PACKET;
  addr.sll_ifindex = ifr.ifr_ifindex;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("bind"); return 1; }
  unsigned char frame[60];
  memset(frame, 0, sizeof frame);
  memset(frame, 0xff, 6);
  frame[6] = 0x02;
  frame[12] = 0x88;
  frame[13] = 0xb5;
  memcpy(frame + 14, "bench", 5);
  struct mmsghdr *msgs = calloc(batch, sizeof *msgs);
  struct iovec iov = {frame, sizeof frame};
  for (int i = 0; i < batch; i++) {
    msgs[i].msg_hdr.msg_iov = &iov;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  struct rusage before, after;
  getrusage(RUSAGE_SELF, &before);
  double start = now(), end = start + seconds, t = start;
  long long frames = 0, errors = 0;
  while (t < end) {
    for (int k = 0; k < 64; k++) {
      if (batch == 1) {
        if (send(fd, frame, sizeof frame, 0) == (ssize_t)sizeof frame) frames++;
        else errors++;
      } else {
        int n = sendmmsg(fd, msgs, batch, 0);
        if (n > 0) frames += n;
        else errors++;
      }
    }
    t = now();
  }
  getrusage(RUSAGE_SELF, &after);
  long long user = (after.ru_utime.tv_sec - before.ru_utime.tv_sec) * 1000000LL + (after.ru_utime.tv_usec - before.ru_utime.tv_usec);
  long long sys = (after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1000000LL + (after.ru_stime.tv_usec - before.ru_stime.tv_usec);
  printf("{\"frames\":%lld,\"errors\":%lld,\"seconds\":%.6f,\"userUs\":%lld,\"sysUs\":%lld}\n", frames, errors, t - start, user, sys);
  return 0;
}
