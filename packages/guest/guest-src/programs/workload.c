/*
 * workload: a benign guest workload of the kind an in-guest checker slows most: CPU work, system
 * calls and fork/exec. Either a fixed amount of work (-n rounds, for slowdown comparisons) or as
 * many rounds as fit in -t seconds. Prints one summary line.
 *   workload -n <rounds> | -t <seconds>
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t cpu_work(uint64_t seed) {
  uint64_t x = seed | 1;
  for (int i = 0; i < 20000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

static int syscall_work(void) {
  char buf[256];
  int calls = 0;
  for (int i = 0; i < 20; i++) {
    int fd = open("/proc/self/stat", O_RDONLY);
    calls++;
    if (fd >= 0) {
      calls += read(fd, buf, sizeof buf) >= 0;
      close(fd);
      calls++;
    }
    getppid();
    calls++;
  }
  return calls;
}

static int fork_exec(void) {
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/true", "true", (char *)NULL);
    _exit(127);
  }
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  long rounds = -1, seconds = -1;
  if (argc == 3 && strcmp(argv[1], "-n") == 0) rounds = strtol(argv[2], NULL, 10);
  else if (argc == 3 && strcmp(argv[1], "-t") == 0) seconds = strtol(argv[2], NULL, 10);
  if ((rounds <= 0 && seconds <= 0) || rounds > 10000000 || seconds > 86400) {
    fprintf(stderr, "usage: workload -n <rounds> | -t <seconds>\n");
    return 2;
  }
  uint64_t start = now_us(), deadline = seconds > 0 ? start + (uint64_t)seconds * 1000000u : 0, acc = 0;
  long done = 0, syscalls = 0, forks = 0, fork_failures = 0;
  while (rounds > 0 ? done < rounds : now_us() < deadline) {
    acc += cpu_work(acc + (uint64_t)done);
    syscalls += syscall_work();
    if (fork_exec() == 0) forks++;
    else fork_failures++;
    done++;
  }
  uint64_t elapsed = now_us() - start;
  printf("WORKLOAD rounds=%ld elapsed_us=%llu syscalls=%ld forks=%ld fork_failures=%ld checksum=%llx\n", done,
         (unsigned long long)elapsed, syscalls, forks, fork_failures, (unsigned long long)acc);
  return fork_failures == 0 ? 0 : 1;
}
