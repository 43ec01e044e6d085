/*
 * input-proxy: the input proxy component. Relays one client at a time between its own UNIX socket
 * and the guest's input monitor socket (a QMP socket of the device model), so the input gateway
 * reaches the guest's keyboard and nothing else of the device model.
 *
 *   input-proxy UPSTREAM_SOCKET LISTEN_SOCKET
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int unix_addr(struct sockaddr_un *addr, const char *path) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr->sun_path) return -1;
  strcpy(addr->sun_path, path);
  return 0;
}

/* Copies what is readable from `from` to `to`; returns -1 when either side closed. */
static int pump(int from, int to) {
  char buf[16384];
  ssize_t n = read(from, buf, sizeof buf);
  if (n < 0 && errno == EINTR) return 0;
  if (n <= 0) return -1;
  for (ssize_t done = 0; done < n;) {
    ssize_t w = write(to, buf + done, (size_t)(n - done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    done += w;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: input-proxy UPSTREAM_SOCKET LISTEN_SOCKET\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_un up_addr, listen_addr;
  if (unix_addr(&up_addr, argv[1]) != 0 || unix_addr(&listen_addr, argv[2]) != 0) {
    fprintf(stderr, "input-proxy: socket path too long\n");
    return 2;
  }
  int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  unlink(argv[2]);
  if (srv < 0 || bind(srv, (struct sockaddr *)&listen_addr, sizeof listen_addr) != 0 || listen(srv, 4) != 0) {
    perror(argv[2]);
    return 1;
  }
  fprintf(stderr, "input-proxy: %s -> %s\n", argv[2], argv[1]);
  for (;;) {
    int client = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
    if (client < 0) continue;
    int up = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (up < 0 || connect(up, (struct sockaddr *)&up_addr, sizeof up_addr) != 0) {
      perror("input-proxy: upstream");
      if (up >= 0) close(up);
      close(client);
      continue;
    }
    struct pollfd fds[2] = {{.fd = client, .events = POLLIN}, {.fd = up, .events = POLLIN}};
    for (;;) {
      if (poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[0].revents && pump(client, up) != 0) break;
      if (fds[1].revents && pump(up, client) != 0) break;
    }
    close(up);
    close(client);
  }
}
