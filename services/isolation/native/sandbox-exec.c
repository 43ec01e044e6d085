/*
 * sandbox-exec: the privileged first step of every component launch.
 *
 * Runs as root (the isolation service), then, in this order:
 *   1. joins the component's cgroups (so every process the component ever forks is limited),
 *   2. compiles the profile's syscall allow-list with libseccomp (socket() only for the granted
 *      address families, userfaultfd() only with UFFD_USER_MODE_ONLY) and exports the BPF program into an
 *      anonymous memory file, which bubblewrap loads with `--seccomp FD` just before it executes
 *      the component (bubblewrap itself needs mount/pivot_root, which the component must not have),
 *   3. drops to the component's own uid/gid and supplementary groups, sets no_new_privs and umask,
 *   4. executes bubblewrap, which builds the namespaces and mounts as that unprivileged user.
 *
 * It also has a check mode (`--check-syscalls a,b,c`) that prints the names libseccomp does not
 * know, one per line, so a manifest naming a bad syscall is refused before anything starts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_LIST 64

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

static void die(const char *what) {
  fprintf(stderr, "sandbox-exec: %s: %s\n", what, strerror(errno));
  exit(126);
}

static void die_msg(const char *what) {
  fprintf(stderr, "sandbox-exec: %s\n", what);
  exit(126);
}

static unsigned long parse_ulong(const char *text, const char *what) {
  char *end = NULL;
  errno = 0;
  unsigned long value = strtoul(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0') {
    fprintf(stderr, "sandbox-exec: bad %s: %s\n", what, text);
    exit(126);
  }
  return value;
}

/* Splits a comma-separated list in place; returns the count. */
static int split_list(char *text, char **out, int max) {
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(text, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
    if (*tok == '\0') continue;
    if (n == max) die_msg("list too long");
    out[n++] = tok;
  }
  return n;
}

static int check_syscalls(char *list) {
  char *names[1024];
  int n = split_list(list, names, 1024);
  int unknown = 0;
  for (int i = 0; i < n; i++) {
    if (seccomp_syscall_resolve_name(names[i]) == __NR_SCMP_ERROR) {
      printf("%s\n", names[i]);
      unknown++;
    }
  }
  return unknown == 0 ? 0 : 1;
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  ssize_t len = (ssize_t)strlen(text);
  if (write(fd, text, (size_t)len) != len) die(path);
  close(fd);
}

static uint32_t default_action(const char *name) {
  if (strcmp(name, "errno") == 0) return SCMP_ACT_ERRNO(EPERM);
  if (strcmp(name, "kill") == 0) return SCMP_ACT_KILL_PROCESS;
  if (strcmp(name, "log") == 0) return SCMP_ACT_LOG;
  die_msg("seccomp default must be errno, kill or log");
  return 0;
}

/* Builds the filter and returns a descriptor (inherited across exec) holding its BPF program. */
static int export_filter(const char *def, char *allow, char *families) {
  scmp_filter_ctx ctx = seccomp_init(default_action(def));
  if (ctx == NULL) die_msg("seccomp_init failed");
  char *names[1024];
  int n = split_list(allow, names, 1024);
  char *fam_names[MAX_LIST];
  int nf = families == NULL ? -1 : split_list(families, fam_names, MAX_LIST);
  for (int i = 0; i < n; i++) {
    int nr = seccomp_syscall_resolve_name(names[i]);
    if (nr == __NR_SCMP_ERROR) {
      fprintf(stderr, "sandbox-exec: unknown syscall %s\n", names[i]);
      exit(126);
    }
    int rc;
    if (nf >= 0 && (nr == SCMP_SYS(socket) || nr == SCMP_SYS(socketpair))) {
      /* Sockets only of the granted address families: the first argument is the family. */
      rc = 0;
      for (int f = 0; f < nf && rc == 0; f++) {
        unsigned long family = parse_ulong(fam_names[f], "socket family");
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, family));
      }
    } else if (nr == SCMP_SYS(userfaultfd)) {
      /* Only a userfaultfd that handles user-mode faults: one that could also hold the kernel's own
       * accesses to registered memory (copy_from_user and the like) is a tool for stretching kernel
       * races, which is why unprivileged userfaultfd is off by default. */
      rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_MASKED_EQ, UFFD_USER_MODE_ONLY, UFFD_USER_MODE_ONLY));
    } else {
      rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    }
    if (rc != 0) {
      errno = -rc;
      die("seccomp_rule_add");
    }
  }
  int fd = memfd_create("seccomp-bpf", 0);
  if (fd < 0) die("memfd_create");
  int rc = seccomp_export_bpf(ctx, fd);
  if (rc != 0) {
    errno = -rc;
    die("seccomp_export_bpf");
  }
  if (lseek(fd, 0, SEEK_SET) != 0) die("lseek");
  seccomp_release(ctx);
  return fd;
}

static void usage(void) {
  die_msg("usage: sandbox-exec --uid U --gid G [--groups g,..] [--cgroup-procs FILE]... [--umask OCT] "
          "[--seccomp-default errno|kill|log --seccomp-allow a,b,..] [--socket-families n,..] -- bwrap ARGS...\n"
          "       sandbox-exec --check-syscalls a,b,..");
}

int main(int argc, char **argv) {
  long uid = -1, gid = -1;
  char *groups = NULL, *seccomp_def = NULL, *seccomp_allow = NULL, *families = NULL;
  const char *cgroup_procs[MAX_LIST];
  int n_cgroups = 0;
  mode_t mask = 077;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (strcmp(a, "--check-syscalls") == 0) return check_syscalls(argv[i]);
    if (strcmp(a, "--uid") == 0) uid = (long)parse_ulong(v, "uid");
    else if (strcmp(a, "--gid") == 0) gid = (long)parse_ulong(v, "gid");
    else if (strcmp(a, "--groups") == 0) groups = argv[i];
    else if (strcmp(a, "--cgroup-procs") == 0) {
      if (n_cgroups == MAX_LIST) die_msg("too many cgroups");
      cgroup_procs[n_cgroups++] = v;
    } else if (strcmp(a, "--umask") == 0) mask = (mode_t)parse_ulong(v, "umask");
    else if (strcmp(a, "--seccomp-default") == 0) seccomp_def = argv[i];
    else if (strcmp(a, "--seccomp-allow") == 0) seccomp_allow = argv[i];
    else if (strcmp(a, "--socket-families") == 0) families = argv[i];
    else usage();
  }
  if (i >= argc || uid <= 0 || gid <= 0) usage();

  char pid_text[32];
  snprintf(pid_text, sizeof pid_text, "%d\n", (int)getpid());
  for (int c = 0; c < n_cgroups; c++) write_file(cgroup_procs[c], pid_text);

  int seccomp_fd = -1;
  if (seccomp_allow != NULL) seccomp_fd = export_filter(seccomp_def == NULL ? "errno" : seccomp_def, seccomp_allow, families);

  gid_t gids[MAX_LIST];
  int n_gids = 0;
  if (groups != NULL) {
    char *names[MAX_LIST];
    int n = split_list(groups, names, MAX_LIST);
    for (int g = 0; g < n; g++) gids[n_gids++] = (gid_t)parse_ulong(names[g], "group");
  }
  if (setgroups((size_t)n_gids, gids) != 0) die("setgroups");
  if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) != 0) die("setresgid");
  if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) != 0) die("setresuid");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs");
  umask(mask);

  /* bubblewrap's own arguments follow; the seccomp descriptor goes right after its path. */
  int rest = argc - i;
  char **next = calloc((size_t)rest + 3, sizeof(char *));
  if (next == NULL) die("calloc");
  char fd_text[16];
  int k = 0;
  next[k++] = argv[i];
  if (seccomp_fd >= 0) {
    snprintf(fd_text, sizeof fd_text, "%d", seccomp_fd);
    next[k++] = "--seccomp";
    next[k++] = fd_text;
  }
  for (int j = i + 1; j < argc; j++) next[k++] = argv[j];
  next[k] = NULL;
  execv(next[0], next);
  die(next[0]);
  return 126;
}
