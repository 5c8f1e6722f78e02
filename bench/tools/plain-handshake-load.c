// Plain IoTSocket object handshakes (PROTOCOL §3) from C, to see the daemon's handshake rate
// without Node's client cost on the load side (about 25 us of CPU per handshake here, against
// 103-150 us for bench/lib/lean-handshake.ts). An experiment, not part of `npm run bench`:
// bench/tools/c-load.ts builds and drives it (bench/README.md, "handshakes").
// Objects o<FROM>..o<TO-1> with the bench's keys (bench/lib/config.ts: objectKey), from
// 127.0.0.1-127.0.0.20 in turn, CONCURRENCY handshakes in flight; sessions are held, not read.
// usage: plain-handshake-load PORT FROM TO CONCURRENCY ; prints "opened N failed F cpu_us U ms M"
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
typedef struct { int fd; int idx; int stage; int got; unsigned char buf[32]; } conn_t;
static int port, from, to, conc, next_i, opened, failed, ep;
static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static void start_one(conn_t *c) {
  if (next_i >= to) { c->fd = -1; return; }
  c->idx = next_i++; c->stage = 0; c->got = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = 0 }; src.sin_addr.s_addr = htonl(0x7f000001 + (c->idx % 20));
  bind(fd, (struct sockaddr *)&src, sizeof src);
  struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) }; dst.sin_addr.s_addr = htonl(0x7f000001);
  connect(fd, (struct sockaddr *)&dst, sizeof dst);
  c->fd = fd;
  struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = c };
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}
static void fail(conn_t *c) { failed++; epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); start_one(c); }
int main(int argc, char **argv) {
  port = atoi(argv[1]); from = atoi(argv[2]); to = atoi(argv[3]); conc = atoi(argv[4]); next_i = from;
  ep = epoll_create1(0);
  conn_t *cs = calloc(conc, sizeof *cs);
  double t0 = now_ms();
  for (int i = 0; i < conc; i++) start_one(&cs[i]);
  struct epoll_event evs[256];
  while (opened + failed < to - from) {
    int n = epoll_wait(ep, evs, 256, 5000);
    if (n <= 0) break;
    for (int k = 0; k < n; k++) {
      conn_t *c = evs[k].data.ptr;
      if (c->stage == 0) { // connected: send the initiation
        if (evs[k].events & (EPOLLERR | EPOLLHUP)) { fail(c); continue; }
        unsigned char init[4] = { 0x01, 0, 0, 0 };
        if (write(c->fd, init, 4) != 4) { fail(c); continue; }
        c->stage = 1;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c }; epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        continue;
      }
      int want = c->stage == 1 ? 18 : 1;
      ssize_t r = read(c->fd, c->buf + c->got, want - c->got);
      if (r <= 0) { if (r < 0 && errno == EAGAIN) continue; fail(c); continue; }
      c->got += r;
      if (c->got < want) continue;
      if (c->stage == 1) {
        if (c->buf[0] != 0x80 || c->buf[1] != 0) { fail(c); continue; }
        char seed[32]; int sl = snprintf(seed, sizeof seed, "iots-bench-%d", c->idx);
        unsigned char dig[32]; SHA256((unsigned char *)seed, sl, dig); // the key (the Node load derives it before its clock; here it is ~1 us)
        unsigned char ans[48]; memset(ans, 0, 16);
        char uid[17]; int ul = snprintf(uid, sizeof uid, "o%d", c->idx); memcpy(ans + 16 - ul, uid, ul);
        unsigned int ml = 32; HMAC(EVP_sha256(), dig, 16, c->buf + 2, 16, ans + 16, &ml);
        if (write(c->fd, ans, 48) != 48) { fail(c); continue; }
        c->stage = 2; c->got = 0;
      } else {
        if (c->buf[0] != 0x01) { fail(c); continue; }
        opened++;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); // held open, not read again
        start_one(c);
      }
    }
      }
  double ms = now_ms() - t0;
  struct rusage ru; getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
  printf("opened %d failed %d cpu_us %.0f ms %.0f\n", opened, failed, cpu, ms);
  fflush(stdout);
  sleep(2); // hold the sessions while the driver reads the daemon
  return 0;
}
