/*
 * baseline-broker: the reference fdbroker is measured against. Protocol v1 for one path per
 * request, a thread per connection, hand-scanned JSON, open(O_NOFOLLOW) + fstat + one sendmsg
 * with SCM_RIGHTS. No policy, no audit, no metrics: the least a broker can do, written plainly.
 *
 *   baseline-broker SOCKET_PATH
 *
 * Not a product: it trusts its callers to send well-formed requests and is only run by bench/run.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FRAME 65536

static int read_full(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Copies the raw JSON scalar after "id": (a number or a string without escapes), or "null". */
static void scan_id(const char *json, char *out, size_t cap) {
  const char *p = strstr(json, "\"id\"");
  snprintf(out, cap, "null");
  if (!p) return;
  p += 4;
  while (*p == ' ' || *p == ':') p++;
  const char *end = p;
  if (*p == '"') {
    end = strchr(p + 1, '"');
    if (!end) return;
    end++;
  } else {
    while (*end && *end != ',' && *end != '}' && *end != ' ') end++;
  }
  size_t n = (size_t)(end - p);
  if (n == 0 || n >= cap) return;
  memcpy(out, p, n);
  out[n] = 0;
}

/* Copies the first string of "paths":[...]; 0 on success. Escapes are not supported. */
static int scan_path(const char *json, char *out, size_t cap) {
  const char *p = strstr(json, "\"paths\"");
  if (!p) return -1;
  p = strchr(p + 7, '[');
  if (!p) return -1;
  p = strchr(p, '"');
  if (!p) return -1;
  p++;
  const char *end = strchr(p, '"');
  if (!end || memchr(p, '\\', (size_t)(end - p))) return -1;
  size_t n = (size_t)(end - p);
  if (n == 0 || n >= cap) return -1;
  memcpy(out, p, n);
  out[n] = 0;
  return 0;
}

static int send_frame(int sock, const char *body, int len, int fd) {
  uint32_t header = htonl((uint32_t)len);
  struct iovec iov[2] = {{&header, 4}, {(void *)body, (size_t)len}};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {0};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  if (fd >= 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  size_t want = 4 + (size_t)len;
  ssize_t sent;
  do {
    sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  return sent == (ssize_t)want ? 0 : -1; /* replies are small: a short write means trouble */
}

static void *serve(void *arg) {
  int sock = (int)(intptr_t)arg;
  char *frame = malloc(MAX_FRAME + 1);
  char reply[8192];
  char id[300];
  char path[4097];
  for (;;) {
    uint32_t header;
    if (read_full(sock, &header, 4)) break;
    uint32_t len = ntohl(header);
    if (len == 0 || len > MAX_FRAME) break;
    if (read_full(sock, frame, len)) break;
    frame[len] = 0;
    scan_id(frame, id, sizeof id);
    int n;
    int fd = -1;
    if (strstr(frame, "\"ping\"")) {
      n = snprintf(reply, sizeof reply,
                   "{\"id\":%s,\"ok\":true,\"broker\":\"baseline\",\"protocol\":1,\"maxPaths\":1}", id);
    } else if (scan_path(frame, path, sizeof path)) {
      n = snprintf(reply, sizeof reply,
                   "{\"id\":%s,\"ok\":false,\"error\":\"bad_request\",\"message\":\"no path\"}", id);
    } else {
      fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
      struct stat st;
      const char *error = NULL;
      if (fd < 0) {
        error = errno == ENOENT ? "not_found" : errno == ELOOP ? "symlink" : "io_error";
      } else if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        error = "not_regular";
        close(fd);
        fd = -1;
      }
      if (error) {
        n = snprintf(reply, sizeof reply,
                     "{\"id\":%s,\"ok\":true,\"files\":[{\"path\":\"%s\",\"ok\":false,\"error\":\"%s\","
                     "\"message\":\"%s\"}]}", id, path, error, strerror(errno));
      } else {
        n = snprintf(reply, sizeof reply,
                     "{\"id\":%s,\"ok\":true,\"files\":[{\"path\":\"%s\",\"ok\":true,\"fd\":0,\"size\":%lld}]}",
                     id, path, (long long)st.st_size);
      }
    }
    int failed = send_frame(sock, reply, n, fd);
    if (fd >= 0) close(fd);
    if (failed) break;
  }
  free(frame);
  close(sock);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: baseline-broker SOCKET_PATH\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof addr.sun_path) {
    fprintf(stderr, "baseline-broker: socket path too long\n");
    return 2;
  }
  strcpy(addr.sun_path, argv[1]);
  unlink(argv[1]);
  if (bind(srv, (struct sockaddr *)&addr, sizeof addr) || listen(srv, 4096)) {
    perror("baseline-broker: bind/listen");
    return 1;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 128 * 1024);
  for (;;) {
    int c = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR || errno == EMFILE || errno == ENFILE || errno == ECONNABORTED) continue;
      perror("baseline-broker: accept");
      return 1;
    }
    pthread_t t;
    if (pthread_create(&t, &attr, serve, (void *)(intptr_t)c)) close(c);
  }
}
