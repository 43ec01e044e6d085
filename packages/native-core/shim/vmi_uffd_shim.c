/*
 * vmi_uffd_shim: an LD_PRELOAD library for QEMU that hands the trap engine a userfaultfd covering
 * the guest RAM mapping, so guest-physical pages can be write-protected whatever virtual alias the
 * guest writes through.
 *
 * QEMU maps a file memory backend by reserving the range with an anonymous PROT_NONE mapping and
 * then mapping the file over it with MAP_FIXED|MAP_SHARED. The mmap hook recognises that second
 * call by the file's identity (VMI_UFFD_RAM_PATH), remembers the mapping and starts one thread that
 * listens on VMI_UFFD_SOCKET. Each engine that connects gets a fresh userfaultfd registered in
 * write-protect mode over the mapping, with the layout, and this library closes its own copy at
 * once: only the engine's side may hold the descriptor, because while any holder is alive an
 * unanswered fault keeps the vCPU frozen. When the engine's connection closes (it stopped or died,
 * and its descriptor with it) the next engine may connect and protection starts again.
 *
 * Anything that fails is logged to stderr and leaves QEMU as it would have been without us.
 */
/* Both mmap and mmap64 are hooked; with 64-bit file offsets forced the headers would make them one. */
#undef _FILE_OFFSET_BITS
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "uffd_handover.h"

#ifndef UFFD_FEATURE_EXACT_ADDRESS
#define UFFD_FEATURE_EXACT_ADDRESS (1 << 11)
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

static pthread_mutex_t adopt_lock = PTHREAD_MUTEX_INITIALIZER;
static int adopted;
static uint64_t ram_base, ram_length, ram_file_offset;

static void shim_log(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof buf) n = sizeof buf - 1;
  dprintf(2, "vmi-uffd-shim: %.*s\n", n, buf);
}

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

/* A descriptor that sees every write first; a user-mode-only one as the last resort. The first
 * refusal's errno is the one reported, since it says why full protection was not had. */
static int new_userfaultfd(void) {
  int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
  if (fd >= 0) return fd;
  const int first_err = errno;
  /* Where unprivileged userfaultfd is off, /dev/userfaultfd may still be open to us. */
  int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev >= 0) {
    fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    close(dev);
    if (fd >= 0) return fd;
  }
  /* An unprivileged QEMU (a sandboxed device model: no capability, unprivileged userfaultfd off)
   * may still have one that handles faults from user mode only. Guest writes under software
   * emulation are QEMU's own user-mode stores, so they still trap; a kernel-side write into a
   * protected page (a read() into guest RAM, a hypervisor's own access) then fails with EFAULT
   * instead of trapping, which is why this comes last and is logged. */
  fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (fd >= 0) {
    shim_log("userfaultfd for user-mode faults only (%s without it)", strerror(first_err));
    return fd;
  }
  errno = first_err;
  return -1;
}

/* q35 puts RAM below 4 GiB up to lowmem and the rest from 4 GiB; VMI_UFFD_LAYOUT
 * ("phys:offset:length,...", hex) overrides it for other machines. */
static uint32_t guest_layout(struct vmi_uffd_range *ranges) {
  const char *spec = getenv("VMI_UFFD_LAYOUT");
  if (spec != NULL && *spec != '\0') {
    uint32_t n = 0;
    const char *p = spec;
    while (*p != '\0' && n < VMI_UFFD_MAX_RANGES) {
      unsigned long long a, b, c;
      int used = 0;
      if (sscanf(p, "%llx:%llx:%llx%n", &a, &b, &c, &used) != 3) break;
      ranges[n].phys = a;
      ranges[n].host_offset = b;
      ranges[n].length = c;
      n++;
      p += used;
      if (*p == ',') p++;
    }
    return n;
  }
  const uint64_t lowmem = ram_length >= 0xb0000000ull ? 0x80000000ull : 0xb0000000ull;
  if (ram_length <= lowmem) {
    ranges[0] = (struct vmi_uffd_range){0, 0, ram_length};
    return 1;
  }
  ranges[0] = (struct vmi_uffd_range){0, 0, lowmem};
  ranges[1] = (struct vmi_uffd_range){0x100000000ull, lowmem, ram_length - lowmem};
  return 2;
}

static int send_handover(int conn, const struct vmi_uffd_handover *msg, int fd) {
  struct iovec iov = {(void *)msg, sizeof *msg};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (fd >= 0) {
    memset(&control, 0, sizeof control);
    mh.msg_control = control.buf;
    mh.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t n;
  do {
    n = sendmsg(conn, &mh, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == (ssize_t)sizeof *msg ? 0 : -1;
}

/* Creates and registers a userfaultfd over the RAM mapping; -errno on failure. */
static int prepare_uffd(uint64_t *features, char *detail, size_t detail_len) {
  int fd = new_userfaultfd();
  if (fd < 0) {
    int err = errno;
    snprintf(detail, detail_len, "userfaultfd: %s", strerror(err));
    return -err;
  }
  struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_HUGETLBFS_SHMEM | UFFD_FEATURE_EXACT_ADDRESS};
  if (ioctl(fd, UFFDIO_API, &api) != 0) {
    int err = errno;
    snprintf(detail, detail_len, "UFFDIO_API (write-protect of shared memory): %s", strerror(err));
    close(fd);
    return -err;
  }
  struct uffdio_register reg = {.range = {.start = ram_base, .len = ram_length}, .mode = UFFDIO_REGISTER_MODE_WP};
  /* A previous engine's descriptor may still be on its way out (its process is exiting). */
  int err = 0;
  for (int attempt = 0; attempt < 50; attempt++) {
    if (ioctl(fd, UFFDIO_REGISTER, &reg) == 0) {
      err = 0;
      break;
    }
    err = errno;
    if (err != EBUSY) break;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (err != 0) {
    snprintf(detail, detail_len, "UFFDIO_REGISTER write-protect: %s", strerror(err));
    close(fd);
    return -err;
  }
  if ((reg.ioctls & (1ull << _UFFDIO_WRITEPROTECT)) == 0) {
    snprintf(detail, detail_len, "the mapping does not support write-protect");
    struct uffdio_range r = reg.range;
    ioctl(fd, UFFDIO_UNREGISTER, &r);
    close(fd);
    return -EOPNOTSUPP;
  }
  *features = api.features;
  return fd;
}

static void serve_one(int conn) {
  struct vmi_uffd_handover msg;
  memset(&msg, 0, sizeof msg);
  memcpy(msg.magic, VMI_UFFD_MAGIC, sizeof msg.magic);
  msg.version = VMI_UFFD_VERSION;
  msg.host_base = ram_base;
  msg.length = ram_length;
  msg.file_offset = ram_file_offset;
  msg.qemu_pid = (uint32_t)getpid();
  msg.nranges = guest_layout(msg.ranges);
  int fd = prepare_uffd(&msg.features, msg.detail, sizeof msg.detail);
  msg.status = fd < 0 ? -fd : 0;
  if (send_handover(conn, &msg, fd) != 0) shim_log("cannot send the descriptor: %s", strerror(errno));
  if (fd >= 0) close(fd); /* the engine holds the only copy now */
  if (msg.status != 0) shim_log("no physical traps for this guest: %s", msg.detail);
  /* Wait for the engine to go away; then another one may take over. */
  char sink[64];
  while (read(conn, sink, sizeof sink) > 0 || errno == EINTR) {
  }
}

static void *server_main(void *arg) {
  int listener = (int)(intptr_t)arg;
  for (;;) {
    int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      shim_log("accept: %s", strerror(errno));
      return NULL;
    }
    serve_one(conn);
    close(conn);
  }
}

static void start_server(void) {
  const char *path = getenv("VMI_UFFD_SOCKET");
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) {
    shim_log("socket path too long");
    return;
  }
  strcpy(addr.sun_path, path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    shim_log("socket: %s", strerror(errno));
    return;
  }
  unlink(path);
  mode_t old = umask(077);
  int rc = bind(s, (struct sockaddr *)&addr, sizeof addr);
  umask(old);
  if (rc != 0 || listen(s, 1) != 0) {
    shim_log("cannot listen on %s: %s", path, strerror(errno));
    close(s);
    return;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  /* QEMU blocks signals in its own threads; ours must not take any either. */
  sigset_t all, prev;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &prev);
  rc = pthread_create(&t, &attr, server_main, (void *)(intptr_t)s);
  pthread_sigmask(SIG_SETMASK, &prev, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    shim_log("pthread_create: %s", strerror(rc));
    close(s);
    return;
  }
  shim_log("guest RAM at %#llx (+%#llx bytes); listening on %s", (unsigned long long)ram_base,
           (unsigned long long)ram_length, path);
}

/* The guest RAM file is VMI_UFFD_RAM_PATH when given; otherwise the first shared, writable mapping
 * of a whole shared-memory file (tmpfs or hugetlbfs) of at least 16 MiB, which is what QEMU's
 * file memory backend looks like. */
static int is_guest_ram(int fd, int flags, int prot, size_t len, off_t off) {
  if (fd < 0 || (flags & MAP_SHARED) == 0 || (prot & PROT_WRITE) == 0) return 0;
  const char *sock = getenv("VMI_UFFD_SOCKET");
  if (sock == NULL || *sock == '\0') return 0;
  struct stat a;
  if (fstat(fd, &a) != 0 || !S_ISREG(a.st_mode)) return 0;
  const char *ram = getenv("VMI_UFFD_RAM_PATH");
  if (ram != NULL && *ram != '\0') {
    struct stat b;
    return stat(ram, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  }
  struct statfs fs;
  if (fstatfs(fd, &fs) != 0 || (fs.f_type != TMPFS_MAGIC && fs.f_type != HUGETLBFS_MAGIC)) return 0;
  return off == 0 && len >= (16u << 20) && (uint64_t)a.st_size == (uint64_t)len;
}

static void maybe_adopt(void *p, size_t len, int prot, int flags, int fd, off_t off) {
  if (!is_guest_ram(fd, flags, prot, len, off)) return;
  pthread_mutex_lock(&adopt_lock);
  if (!adopted) {
    adopted = 1;
    ram_base = (uint64_t)(uintptr_t)p;
    ram_length = len;
    ram_file_offset = (uint64_t)off;
    start_server();
  }
  pthread_mutex_unlock(&adopt_lock);
}

static mmap_fn real_mmap(void) {
  static mmap_fn fn;
  if (fn == NULL) fn = (mmap_fn)dlsym(RTLD_NEXT, "mmap");
  return fn;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  void *p = real_mmap()(addr, len, prot, flags, fd, off);
  if (p != MAP_FAILED) maybe_adopt(p, len, prot, flags, fd, off);
  return p;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  return mmap(addr, len, prot, flags, fd, off);
}
