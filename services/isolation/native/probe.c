/*
 * probe: a static program run inside a component's sandbox that attempts what the sandbox must
 * prevent and reports each attempt as one JSON line on stdout:
 *   {"check":"read-file","target":"/path","outcome":"denied","errno":"ENOENT","detail":""}
 * `outcome` is "denied" when the attempt failed and "allowed" when it succeeded (a hole).
 *
 * Arguments are a sequence of operations, each followed by its operands:
 *   read-file PATH | write-file PATH | unix-connect PATH | socket unix|inet|inet6|packet|netlink
 *   tcp-connect IPV4 PORT | capability | syscall sysinfo|uname|ptrace | pids N | memory MIB
 *   procs | sleep SECONDS | exit CODE | serve SOCKET (listen and accept forever: a long-running
 *   component for supervision tests)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static void json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

static void report(const char *check, const char *target, int ok, int err, const char *detail) {
  printf("{\"check\":");
  json_string(check);
  printf(",\"target\":");
  json_string(target);
  printf(",\"outcome\":\"%s\",\"errno\":", ok ? "allowed" : "denied");
  json_string(ok ? "" : strerrorname_np(err) ? strerrorname_np(err) : "unknown");
  printf(",\"detail\":");
  json_string(detail);
  printf("}\n");
  fflush(stdout);
}

static void read_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return report("read-file", path, 0, errno, "");
  char byte;
  ssize_t n = read(fd, &byte, 1);
  int err = errno;
  close(fd);
  report("read-file", path, n >= 0, err, n >= 0 ? "opened and read" : "opened, read failed");
}

static void write_file(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return report("write-file", path, 0, errno, "");
  ssize_t n = write(fd, "x", 1);
  int err = errno;
  close(fd);
  report("write-file", path, n == 1, err, n == 1 ? "created and wrote" : "opened, write failed");
}

static void unix_connect(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return report("unix-connect", path, 0, errno, "socket(AF_UNIX) failed");
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  int err = errno;
  close(fd);
  report("unix-connect", path, rc == 0, err, "");
}

static void open_socket(const char *family) {
  int domain = strcmp(family, "unix") == 0 ? AF_UNIX
               : strcmp(family, "inet") == 0 ? AF_INET
               : strcmp(family, "inet6") == 0 ? AF_INET6
               : strcmp(family, "packet") == 0 ? AF_PACKET
               : AF_NETLINK;
  int type = domain == AF_NETLINK ? SOCK_RAW : SOCK_STREAM;
  if (domain == AF_PACKET) type = SOCK_DGRAM;
  int fd = socket(domain, type | SOCK_CLOEXEC, 0);
  int err = errno;
  if (fd >= 0) close(fd);
  report("socket", family, fd >= 0, err, "");
}

static void tcp_connect(const char *ip, const char *port) {
  char target[64];
  snprintf(target, sizeof target, "%s:%s", ip, port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return report("tcp-connect", target, 0, errno, "socket(AF_INET) failed");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
  inet_pton(AF_INET, ip, &addr.sin_addr);
  int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  int err = errno;
  close(fd);
  report("tcp-connect", target, rc == 0, err, "");
}

/* Tries every usual way to hold a capability; any success is a hole. */
static void capability(void) {
  char detail[160];
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  syscall(SYS_capget, &header, data);
  snprintf(detail, sizeof detail, "effective=%08x%08x permitted=%08x%08x", data[1].effective, data[0].effective, data[1].permitted,
           data[0].permitted);
  int holds = data[0].effective != 0 || data[1].effective != 0 || data[0].permitted != 0 || data[1].permitted != 0;
  report("capability", "held", holds, EPERM, detail);

  for (int i = 0; i < 2; i++) data[i].effective = data[i].permitted = data[i].inheritable = 0xffffffffu;
  int rc = (int)syscall(SYS_capset, &header, data);
  report("capability", "capset-all", rc == 0, errno, "");

  rc = setuid(0);
  report("capability", "setuid-0", rc == 0, errno, "");

  pid_t child = fork();
  if (child == 0) {
    /* A fresh user namespace would give a full set of capabilities inside it. */
    _exit(unshare(CLONE_NEWUSER) == 0 ? 0 : errno);
  }
  int status = 0;
  waitpid(child, &status, 0);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : EINVAL;
  report("capability", "unshare-user-namespace", code == 0, code, "");
}

static void call_syscall(const char *name) {
  long rc;
  if (strcmp(name, "sysinfo") == 0) {
    struct sysinfo info;
    rc = sysinfo(&info);
  } else if (strcmp(name, "uname") == 0) {
    struct utsname u;
    rc = uname(&u);
  } else if (strcmp(name, "ptrace") == 0) {
    rc = ptrace(PTRACE_PEEKUSER, getppid(), 0, 0);
    if (rc != -1) rc = 0;
  } else {
    return report("syscall", name, 0, EINVAL, "unknown probe syscall");
  }
  report("syscall", name, rc == 0, errno, "");
}

/* Forks sleeping children until the pid limit stops it (or `limit` is reached). */
static void pids(const char *limit_text) {
  int limit = atoi(limit_text);
  pid_t children[4096];
  int n = 0, err = 0;
  while (n < limit && n < 4096) {
    pid_t p = fork();
    if (p < 0) {
      err = errno;
      break;
    }
    if (p == 0) {
      pause();
      _exit(0);
    }
    children[n++] = p;
  }
  for (int i = 0; i < n; i++) kill(children[i], SIGKILL);
  for (int i = 0; i < n; i++) waitpid(children[i], NULL, 0);
  char detail[64];
  snprintf(detail, sizeof detail, "forked=%d", n);
  report("pids", limit_text, n >= limit, err, detail);
}

/* A child touches `mib` MiB; the memory limit must kill it before it finishes. */
static void memory(const char *mib_text) {
  long mib = atol(mib_text);
  pid_t child = fork();
  if (child == 0) {
    size_t size = (size_t)mib << 20;
    char *block = malloc(size);
    if (block == NULL) _exit(ENOMEM);
    for (size_t off = 0; off < size; off += 4096) block[off] = 1;
    _exit(0);
  }
  if (child < 0) return report("memory", mib_text, 0, errno, "fork failed");
  int status = 0;
  waitpid(child, &status, 0);
  char detail[64];
  if (WIFSIGNALED(status)) snprintf(detail, sizeof detail, "killed by signal %d", WTERMSIG(status));
  else snprintf(detail, sizeof detail, "exit %d", WEXITSTATUS(status));
  int finished = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  report("memory", mib_text, finished, WIFEXITED(status) ? WEXITSTATUS(status) : ENOMEM, detail);
}

/* Which processes are visible: anything beyond the sandbox's own is a hole. */
static void procs(void) {
  DIR *dir = opendir("/proc");
  if (dir == NULL) return report("procs", "/proc", 0, errno, "");
  char detail[512] = "";
  int count = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    count++;
    if (strlen(detail) + strlen(e->d_name) + 2 < sizeof detail) {
      strcat(detail, e->d_name);
      strcat(detail, " ");
    }
  }
  closedir(dir);
  char target[32];
  snprintf(target, sizeof target, "%d", count);
  report("procs", target, 1, 0, detail);
}

static void serve(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  unlink(path);
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 8) != 0) {
    perror(path);
    exit(1);
  }
  for (;;) {
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0) close(c);
  }
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *op = argv[i];
    const char *a = i + 1 < argc ? argv[i + 1] : "";
    const char *b = i + 2 < argc ? argv[i + 2] : "";
    if (strcmp(op, "read-file") == 0) read_file(a), i++;
    else if (strcmp(op, "write-file") == 0) write_file(a), i++;
    else if (strcmp(op, "unix-connect") == 0) unix_connect(a), i++;
    else if (strcmp(op, "socket") == 0) open_socket(a), i++;
    else if (strcmp(op, "tcp-connect") == 0) tcp_connect(a, b), i += 2;
    else if (strcmp(op, "capability") == 0) capability();
    else if (strcmp(op, "syscall") == 0) call_syscall(a), i++;
    else if (strcmp(op, "pids") == 0) pids(a), i++;
    else if (strcmp(op, "memory") == 0) memory(a), i++;
    else if (strcmp(op, "procs") == 0) procs();
    else if (strcmp(op, "sleep") == 0) sleep((unsigned)atoi(a)), i++;
    else if (strcmp(op, "exit") == 0) return atoi(a);
    else if (strcmp(op, "serve") == 0) serve(a);
    else {
      fprintf(stderr, "probe: unknown operation %s\n", op);
      return 2;
    }
  }
  return 0;
}
