/*
 * peek: holds a known string at a user-space address the host can find by a page walk.
 * Prints its pid, the buffer's virtual address and content, then sleeps or spins.
 *   peek [text] [seconds, 0 = until killed] [sleep|spin]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *text = argc > 1 ? argv[1] : "VMI-PEEK-MARKER";
  long seconds = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
  int spin = argc > 3 && strcmp(argv[3], "spin") == 0;
  size_t len = strlen(text);
  if (len == 0 || len >= 4096 || seconds < 0) {
    fprintf(stderr, "usage: peek [text] [seconds] [sleep|spin]\n");
    return 2;
  }
  /* A page of its own, touched and locked, so the walk finds it present. */
  char *buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) return perror("mmap"), 1;
  memcpy(buf, text, len + 1);
  mlock(buf, 4096);
  printf("PEEK pid=%d va=0x%lx len=%zu text=%s\n", (int)getpid(), (unsigned long)(uintptr_t)buf, len, buf);
  time_t end = time(NULL) + seconds;
  volatile uint64_t counter = 0;
  while (seconds == 0 || time(NULL) < end) {
    if (spin) {
      for (int i = 0; i < 1000000; i++) counter++;
    } else {
      sleep(1);
    }
  }
  printf("PEEK done text=%s\n", buf);
  return 0;
}
