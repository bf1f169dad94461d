// uring_levers.c: the rig's floor_uring.c (../../../shared/bench/) with the
// io_uring levers of issue 12 as compile-time switches, to measure what each
// gives a responder that does nothing else (bench/floors/run.sh):
//   -DFIXED   direct descriptors: multishot accept into the fixed file table,
//             RECV/SEND on fixed files, CLOSE of the table slot (no fd
//             install, no fget per request); TCP_NODELAY on the listener
//   -DREGFD   registered ring descriptor (IORING_REGISTER_RING_FDS)
//   -DCOOP    COOP_TASKRUN|TASKRUN_FLAG instead of SINGLE_ISSUER|DEFER_TASKRUN
//   -DNOSKIP  a CQE for every SEND (no IOSQE_CQE_SKIP_SUCCESS)
//   -DLNODELAY TCP_NODELAY set once on the listener (inherited) instead of
//             per accepted socket
//   -DCHURN   one response per connection: `Connection: close`, then the
//             multishot receive cancelled and the socket closed through the
//             ring (nproxy's close protocol); TCP_DEFER_ACCEPT on the
//             listener, as nproxy's
// Same answer as floor_uring.c: a fixed 1 KiB body after each blank line.
#define _GNU_SOURCE
#ifdef CHURN
#define CONNHDR "Connection: close\r\n"
#else
#define CONNHDR ""
#endif
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

enum { NBUF = 4096, BUFSZ = 4096, BGID = 0, NFILES = 16384 };
enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3, OP_CLOSE = 4 };
#define UD(op, fd) (((uint64_t)(op) << 32) | (uint32_t)(fd))

static char resp[2048];
static int resplen;
static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *bufs;
static int one = 1;

static struct io_uring_sqe *sqe(void) {
  struct io_uring_sqe *s = io_uring_get_sqe(&ring);
  if (!s) { io_uring_submit(&ring); s = io_uring_get_sqe(&ring); }
  return s;
}
static void arm_recv(int fd) {
  struct io_uring_sqe *s = sqe();
  io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
#ifdef FIXED
  s->flags |= IOSQE_FIXED_FILE;
#endif
  s->buf_group = BGID;
  io_uring_sqe_set_data64(s, UD(OP_RECV, fd));
}
static void arm_accept(int ls) {
  struct io_uring_sqe *s = sqe();
#ifdef FIXED
  io_uring_prep_multishot_accept_direct(s, ls, NULL, NULL, 0);
#else
  io_uring_prep_multishot_accept(s, ls, NULL, NULL, 0);
#endif
  io_uring_sqe_set_data64(s, UD(OP_ACCEPT, ls));
}
static void do_close(int fd) {
#ifdef FIXED
  struct io_uring_sqe *s = sqe();
  io_uring_prep_close_direct(s, fd);
  s->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(s, UD(OP_CLOSE, fd));
#elif defined(CHURN)
  struct io_uring_sqe *s = sqe();
  io_uring_prep_close(s, fd);
  s->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(s, UD(OP_CLOSE, fd));
#else
  close(fd);
#endif
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: fu PORT\n"); return 2; }
  resplen = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nServer: floor\r\n" CONNHDR "Content-Type: text/html\r\nContent-Length: 1024\r\n\r\n");
  memset(resp + resplen, 'a', 1024);
  resplen += 1024;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef CHURN
  setsockopt(ls, IPPROTO_TCP, TCP_DEFER_ACCEPT, &one, sizeof one);
#endif
#if defined(LNODELAY) || defined(FIXED)
  setsockopt(ls, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#endif
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(0x7f000001)};
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) { perror("fu: listen"); return 1; }
#ifdef COOP
  struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, .cq_entries = 16384};
#else
  struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, .cq_entries = 16384};
#endif
  p.flags |= IORING_SETUP_CQSIZE;
  if (io_uring_queue_init_params(4096, &ring, &p) < 0) { perror("fu: io_uring_queue_init"); return 1; }
#ifdef REGFD
  if (io_uring_register_ring_fd(&ring) < 0) { fprintf(stderr, "fu: ring fd\n"); return 1; }
#endif
#ifdef FIXED
  if (io_uring_register_files_sparse(&ring, NFILES) < 0) { fprintf(stderr, "fu: files sparse\n"); return 1; }
#endif
  size_t rsz = NBUF * sizeof(struct io_uring_buf);
  br = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  bufs = malloc((size_t)NBUF * BUFSZ);
  struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = BGID};
  if (io_uring_register_buf_ring(&ring, &reg, 0)) { fprintf(stderr, "fu: buffer ring refused\n"); return 1; }
  io_uring_buf_ring_init(br);
  for (int i = 0; i < NBUF; i++) io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, i, io_uring_buf_ring_mask(NBUF), i);
  io_uring_buf_ring_advance(br, NBUF);
  arm_accept(ls);
  for (;;) {
    io_uring_submit_and_wait(&ring, 1);
    struct io_uring_cqe *cqe;
    unsigned head, n = 0, added = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      n++;
      int op = (int)(cqe->user_data >> 32), fd = (int)(uint32_t)cqe->user_data, res = cqe->res;
      if (op == OP_ACCEPT) {
        if (res >= 0) {
#if !defined(LNODELAY) && !defined(FIXED)
          setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#endif
          arm_recv(res);
        }
        if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept(ls);
      } else if (op == OP_RECV) {
        if (res <= 0) {
          if (res == -ENOBUFS) { arm_recv(fd); continue; }
          if (res == -ECANCELED) continue; /* CHURN: closed already */
          do_close(fd); continue;
        }
        int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        char *b = bufs + (size_t)bid * BUFSZ;
        int closing = 0;
        for (int j = 3; j < res && !closing; j++)
          if (b[j] == '\n' && b[j - 1] == '\r' && b[j - 2] == '\n' && b[j - 3] == '\r') {
            struct io_uring_sqe *s = sqe(); io_uring_prep_send(s, fd, resp, resplen, 0);
#ifndef NOSKIP
            s->flags |= IOSQE_CQE_SKIP_SUCCESS;
#endif
#ifdef FIXED
            s->flags |= IOSQE_FIXED_FILE;
#endif
            io_uring_sqe_set_data64(s, UD(OP_SEND, fd));
#ifdef CHURN
            s = sqe(); io_uring_prep_cancel64(s, UD(OP_RECV, fd), 0);
            s->flags |= IOSQE_CQE_SKIP_SUCCESS;
            io_uring_sqe_set_data64(s, UD(OP_CLOSE, fd));
            do_close(fd);
            closing = 1;
#endif
          }
        io_uring_buf_ring_add(br, b, BUFSZ, bid, io_uring_buf_ring_mask(NBUF), added++);
        if (!closing && !(cqe->flags & IORING_CQE_F_MORE)) arm_recv(fd);
      }
    }
    io_uring_cq_advance(&ring, n);
    if (added) io_uring_buf_ring_advance(br, added);
  }
}
