/*
 * log-shipper: the log shipper component. Follows the guest's console log and publishes it to NATS
 * as `isolation-console` messages. Its sandbox has no network at all: it speaks the NATS protocol
 * over a UNIX socket that the isolation service relays to the NATS server, and to nothing else.
 *
 *   log-shipper LOG_FILE NATS_SOCKET SUBJECT HEALTH_SOCKET HOST GUEST
 *
 * Every message carries `Nats-Msg-Id` = its id (HPUB), so a JetStream stream stores a retry once.
 * The health socket accepts connections once the NATS handshake (PING/PONG) has succeeded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINES 64
#define MAX_LINE 1024
#define PAYLOAD_MAX (MAX_LINES * (MAX_LINE * 6 + 4) + 4096)

static int nats = -1;
static char payload[PAYLOAD_MAX];
static size_t payload_len;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int unix_connect(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die(path);
  return fd;
}

/* Reads from the server until a line starting with `want` arrives, answering PINGs. */
static void expect_line(const char *want) {
  char line[8192];
  size_t len = 0;
  for (;;) {
    char c;
    ssize_t n = read(nats, &c, 1);
    if (n <= 0) die("nats: connection closed");
    if (c != '\n') {
      if (len + 1 < sizeof line) line[len++] = c;
      continue;
    }
    line[len] = '\0';
    len = 0;
    if (strncmp(line, "-ERR", 4) == 0) {
      fprintf(stderr, "log-shipper: nats: %s\n", line);
      exit(1);
    }
    if (strncmp(line, "PING", 4) == 0) write_all(nats, "PONG\r\n", 6);
    if (strncmp(line, want, strlen(want)) == 0) return;
  }
}

/* Answers server PINGs without blocking (the relay keeps the connection alive otherwise). */
static void serve_pings(void) {
  char buf[4096];
  struct pollfd p = {.fd = nats, .events = POLLIN};
  while (poll(&p, 1, 0) > 0) {
    ssize_t n = read(nats, buf, sizeof buf - 1);
    if (n <= 0) die("nats: connection closed");
    buf[n] = '\0';
    for (char *s = strstr(buf, "PING"); s != NULL; s = strstr(s + 4, "PING")) write_all(nats, "PONG\r\n", 6);
    if (strstr(buf, "-ERR") != NULL) {
      fprintf(stderr, "log-shipper: nats: %s\n", buf);
      exit(1);
    }
  }
}

static void uuid_v7(char out[37]) {
  uint8_t b[16];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
  if (getrandom(b, sizeof b, 0) != sizeof b) die("getrandom");
  for (int i = 0; i < 6; i++) b[i] = (uint8_t)(ms >> (40 - 8 * i));
  b[6] = (uint8_t)(0x70 | (b[6] & 0x0f));
  b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6],
           b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void now_iso(char out[32]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void append(const char *text) {
  size_t len = strlen(text);
  if (payload_len + len >= sizeof payload) return;
  memcpy(payload + payload_len, text, len);
  payload_len += len;
}

/* Appends a console line as a JSON string: printable ASCII kept, everything else escaped or `?`. */
static void append_line(const char *line, size_t len) {
  char esc[8];
  append("\"");
  if (len > MAX_LINE) len = MAX_LINE;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)line[i];
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c, esc[2] = '\0';
      append(esc);
    } else if (c < 0x20 || c == 0x7f) {
      if (c == '\r') continue;
      snprintf(esc, sizeof esc, "\\u%04x", c);
      append(esc);
    } else if (c >= 0x80) {
      append("?");
    } else {
      esc[0] = (char)c, esc[1] = '\0';
      append(esc);
    }
  }
  append("\"");
}

static void publish(const char *subject, const char *host, const char *guest, char **lines, size_t *lens, int count, uint64_t offset) {
  char id[37], time[32], head[512];
  uuid_v7(id);
  now_iso(time);
  payload_len = 0;
  snprintf(head, sizeof head, "{\"id\":\"%s\",\"time\":\"%s\",\"version\":1,\"type\":\"isolation-console\",\"host\":", id, time);
  append(head);
  append_line(host, strlen(host));
  append(",\"guest\":");
  append_line(guest, strlen(guest));
  snprintf(head, sizeof head, ",\"offset\":%llu,\"lines\":[", (unsigned long long)offset);
  append(head);
  for (int i = 0; i < count; i++) {
    if (i > 0) append(",");
    append_line(lines[i], lens[i]);
  }
  append("]}");
  char headers[128];
  int hlen = snprintf(headers, sizeof headers, "NATS/1.0\r\nNats-Msg-Id: %s\r\n\r\n", id);
  int n = snprintf(head, sizeof head, "HPUB %s %d %zu\r\n", subject, hlen, (size_t)hlen + payload_len);
  if (write_all(nats, head, (size_t)n) != 0 || write_all(nats, headers, (size_t)hlen) != 0 ||
      write_all(nats, payload, payload_len) != 0 || write_all(nats, "\r\n", 2) != 0)
    die("nats: publish");
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: log-shipper LOG_FILE NATS_SOCKET SUBJECT HEALTH_SOCKET HOST GUEST\n");
    return 2;
  }
  const char *log_path = argv[1], *subject = argv[3], *host = argv[5], *guest = argv[6];
  signal(SIGPIPE, SIG_IGN);

  nats = unix_connect(argv[2]);
  expect_line("INFO");
  const char *hello = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"name\":\"log-shipper\"}\r\nPING\r\n";
  if (write_all(nats, hello, strlen(hello)) != 0) die("nats: connect");
  expect_line("PONG");

  int health = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, argv[4], sizeof addr.sun_path - 1);
  unlink(argv[4]);
  if (health < 0 || bind(health, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(health, 8) != 0) die(argv[4]);
  fprintf(stderr, "log-shipper: %s -> %s\n", log_path, subject);

  static char buf[MAX_LINES * MAX_LINE];
  size_t have = 0;
  uint64_t offset = 0;
  int fd = -1;
  for (;;) {
    int c;
    while ((c = accept4(health, NULL, NULL, SOCK_CLOEXEC)) >= 0) close(c);
    serve_pings();
    if (fd < 0) fd = open(log_path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? 0 : read(fd, buf + have, sizeof buf - have);
    if (n > 0) have += (size_t)n;
    /* Whole lines go out; a partial last line waits unless the buffer is full. */
    char *lines[MAX_LINES];
    size_t lens[MAX_LINES];
    int count = 0;
    size_t start = 0;
    for (size_t i = 0; i < have && count < MAX_LINES; i++) {
      if (buf[i] == '\n' || i - start + 1 >= MAX_LINE) {
        lines[count] = buf + start;
        lens[count++] = i - start + (buf[i] == '\n' ? 0 : 1);
        start = i + 1;
      }
    }
    if (count > 0) {
      publish(subject, host, guest, lines, lens, count, offset);
      offset += start;
      memmove(buf, buf + start, have - start);
      have -= start;
    }
    if (n <= 0 && count == 0) usleep(200 * 1000);
  }
}
