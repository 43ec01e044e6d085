/*
 * ram-reader: the introspection reader component. Maps the guest's RAM file read-only and serves
 * reads of it on a UNIX socket, so introspection clients never need the file themselves.
 *
 *   ram-reader RAM_FILE SOCKET
 *
 * Request: 16 bytes, little-endian u64 offset then u64 length (at most 1 MiB).
 * Reply: little-endian u64 count of bytes that follow (0 when the range is outside the file).
 *
 * It waits for the device model to create the file, so it can start at the same time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_READ (1u << 20)

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/*
 * Opens the RAM file once the device model has created and sized it. The reader may start beside
 * the device model rather than after it: it waits here (woken by inotify on the file's directory,
 * not by polling) and only then listens, so its socket accepting means it can serve reads.
 */
static int wait_for_ram(const char *path, struct stat *st) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  size_t len = slash == NULL ? 0 : (size_t)(slash - path);
  if (slash == NULL || len == 0 || len >= sizeof dir) {
    fprintf(stderr, "ram-reader: %s is not an absolute file path\n", path);
    return -1;
  }
  memcpy(dir, path, len);
  dir[len] = '\0';
  /* Watch before looking, so a change between the look and the wait is not missed. */
  int watch = inotify_init1(IN_CLOEXEC);
  if (watch < 0 || inotify_add_watch(watch, dir, IN_CREATE | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
    perror("inotify");
    return -1;
  }
  for (;;) {
    int ram = open(path, O_RDONLY | O_CLOEXEC);
    if (ram >= 0) {
      if (fstat(ram, st) != 0) {
        perror("fstat");
        return -1;
      }
      /* QEMU creates the file, then sizes it: an empty file is not ready yet. */
      if (st->st_size > 0) {
        close(watch);
        return ram;
      }
      close(ram);
    } else if (errno != ENOENT) {
      perror(path);
      return -1;
    }
    char events[4096];
    if (read(watch, events, sizeof events) < 0 && errno != EINTR) {
      perror("inotify read");
      return -1;
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: ram-reader RAM_FILE SOCKET\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct stat st;
  int ram = wait_for_ram(argv[1], &st);
  if (ram < 0) return 1;
  size_t size = (size_t)st.st_size;
  const uint8_t *mem = mmap(NULL, size, PROT_READ, MAP_SHARED, ram, 0);
  if (mem == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, argv[2], sizeof addr.sun_path - 1);
  unlink(argv[2]);
  if (srv < 0 || bind(srv, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(srv, 8) != 0) {
    perror(argv[2]);
    return 1;
  }
  fprintf(stderr, "ram-reader: serving %zu bytes of %s on %s\n", size, argv[1], argv[2]);
  for (;;) {
    int c = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) continue;
    uint64_t req[2];
    while (read_all(c, req, sizeof req) == 0) {
      uint64_t off = req[0], len = req[1];
      uint64_t count = (off < size && len <= MAX_READ) ? (len < size - off ? len : size - off) : 0;
      if (write_all(c, &count, sizeof count) != 0 || (count > 0 && write_all(c, mem + off, count) != 0)) break;
    }
    close(c);
  }
}
