// IoTSocket object handshakes (PROTOCOL §3), plain or TLS, from C, to see the daemon's handshake rate
// without Node's client cost on the load side (about 25 us of CPU per handshake here, against
// 103-150 us for bench/lib/lean-handshake.ts, plain). An experiment, not part of `npm run bench`:
// bench/tools/c-load.ts builds and drives it (bench/README.md, "handshakes").
// Objects o<FROM>..o<TO-1> with the bench's keys (bench/lib/config.ts: objectKey), from
// 127.0.0.1-127.0.0.20 in turn, CONCURRENCY handshakes in flight; sessions are held, not read.
// usage: handshake-load PORT FROM TO CONCURRENCY [tls] ; prints "opened N failed F cpu_us U ms M"
// With `tls` the session asks for TLS (initiation bit 7) and runs TLS 1.3 after the answer; the
// certificate is not checked against a CA (as the Node load's sessions after the first), but
// OpenSSL checks the server's signature (CertificateVerify) in every handshake.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
typedef struct { int fd; int idx; int stage; int got; unsigned char buf[32]; SSL *ssl; } conn_t;
static int port, from, to, conc, next_i, opened, failed, ep, use_tls;
static SSL_CTX *ctx;
static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static void start_one(conn_t *c) {
  if (next_i >= to) { c->fd = -1; return; }
  c->idx = next_i++; c->stage = 0; c->got = 0; c->ssl = NULL;
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
static void fail(conn_t *c) { failed++; epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); if (c->ssl) SSL_free(c->ssl); close(c->fd); start_one(c); }
/* Reads into c->buf up to `want` bytes (through TLS once it is on): 1 when complete, 0 to wait, -1 on failure. */
static int fill(conn_t *c, int want) {
  int r;
  if (c->ssl) {
    r = SSL_read(c->ssl, c->buf + c->got, want - c->got);
    if (r <= 0) { int e = SSL_get_error(c->ssl, r); return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1; }
  } else {
    r = read(c->fd, c->buf + c->got, want - c->got);
    if (r <= 0) return r < 0 && errno == EAGAIN ? 0 : -1;
  }
  c->got += r;
  return c->got < want ? 0 : 1;
}
static int send_all(conn_t *c, const unsigned char *b, int n) {
  return c->ssl ? SSL_write(c->ssl, b, n) == n : write(c->fd, b, n) == n;
}
int main(int argc, char **argv) {
  port = atoi(argv[1]); from = atoi(argv[2]); to = atoi(argv[3]); conc = atoi(argv[4]); next_i = from;
  use_tls = argc > 5 && strcmp(argv[5], "tls") == 0;
  if (use_tls) { ctx = SSL_CTX_new(TLS_client_method()); SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); }
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
        unsigned char init[4] = { use_tls ? 0x81 : 0x01, 0, 0, 0 };
        if (write(c->fd, init, 4) != 4) { fail(c); continue; }
        c->stage = use_tls ? 3 : 1;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c }; epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        continue;
      }
      if (c->stage == 3 || c->stage == 4) { // TLS: the 2-byte answer in clear, then the TLS handshake
        if (c->stage == 3) {
          int f = fill(c, 2);
          if (f < 0) { fail(c); continue; }
          if (f == 0) continue;
          if (c->buf[0] != 0x80 || c->buf[1] != 0) { fail(c); continue; }
          c->ssl = SSL_new(ctx); SSL_set_fd(c->ssl, c->fd); SSL_set_tlsext_host_name(c->ssl, "localhost"); SSL_set_connect_state(c->ssl);
          c->stage = 4; c->got = 0;
        }
        int h = SSL_do_handshake(c->ssl);
        if (h != 1) {
          int e = SSL_get_error(c->ssl, h);
          if (e == SSL_ERROR_WANT_READ) continue;
          if (e == SSL_ERROR_WANT_WRITE) { struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c }; epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev); continue; }
          fail(c); continue;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c }; epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->stage = 5; c->got = 0; // the challenge next, 16 bytes
      }
      int want = c->stage == 1 ? 18 : c->stage == 5 ? 16 : 1;
      int f = fill(c, want);
      if (f < 0) { fail(c); continue; }
      if (f == 0) continue;
      if (c->stage == 1 || c->stage == 5) {
        const unsigned char *challenge = c->stage == 1 ? c->buf + 2 : c->buf;
        if (c->stage == 1 && (c->buf[0] != 0x80 || c->buf[1] != 0)) { fail(c); continue; }
        char seed[32]; int sl = snprintf(seed, sizeof seed, "iots-bench-%d", c->idx);
        unsigned char dig[32]; SHA256((unsigned char *)seed, sl, dig); // the key (the Node load derives it before its clock; here it is ~1 us)
        unsigned char ans[48]; memset(ans, 0, 16);
        char uid[17]; int ul = snprintf(uid, sizeof uid, "o%d", c->idx); memcpy(ans + 16 - ul, uid, ul);
        unsigned int ml = 32; HMAC(EVP_sha256(), dig, 16, challenge, 16, ans + 16, &ml);
        if (!send_all(c, ans, 48)) { fail(c); continue; }
        c->stage = 2; c->got = 0;
        continue;
      } else {
        if (c->buf[0] != 0x01) { fail(c); continue; }
        opened++;
        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); // held open, not read again (the SSL object too)
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
