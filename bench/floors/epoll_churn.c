// epoll_churn.c: the rig's floor.c (../../../shared/bench/) with one switch,
// -DCHURN: one response per connection (`Connection: close`, then close(2)),
// TCP_DEFER_ACCEPT on the listener as nproxy's. Without it, floor.c as is.
// The epoll twin of uring_levers.c -DCHURN (bench/floors/run.sh).
//
//   cc -O2 -DCHURN -o epoll_churn epoll_churn.c && ./epoll_churn PORT
#define _GNU_SOURCE
#ifdef CHURN
#define CONNHDR "Connection: close\r\n"
#else
#define CONNHDR ""
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static char resp[2048];
static int resplen;

static void serve(int fd, char *buf, size_t size) {
  for (;;) {
    ssize_t r = read(fd, buf, size);
    if (r > 0) {
      for (ssize_t j = 3; j < r; j++)
        if (buf[j] == '\n' && buf[j - 1] == '\r' && buf[j - 2] == '\n' && buf[j - 3] == '\r')
          if (write(fd, resp, resplen) != resplen) { close(fd); return; }
#ifdef CHURN
          else { close(fd); return; }
#endif
      if ((size_t)r < size) return; // drained
      continue;
    }
    if (r == 0 || errno != EAGAIN) close(fd);
    return;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: floor PORT\n"); return 2; }
  resplen = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nServer: floor\r\n" CONNHDR "Content-Type: text/html\r\nContent-Length: 1024\r\n\r\n");
  memset(resp + resplen, 'a', 1024);
  resplen += 1024;

  int one = 1, ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef CHURN
  setsockopt(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof one);
#endif
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(0x7f000001)};
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) { perror("floor: listen"); return 1; }

  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[512];
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  static char buf[65536];
  for (;;) {
    int n = epoll_wait(ep, evs, 512, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd != ls) { serve(fd, buf, sizeof buf); continue; }
      for (int c; (c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0;) {
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event e = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
      }
    }
  }
}
