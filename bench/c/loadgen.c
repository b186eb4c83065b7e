/*
 * loadgen: drives a protocol-v1 broker (fdbroker or the C baseline) and measures it.
 *
 *   loadgen load  -s SOCK -c CONNS -d SECONDS [-w WARMUP] [-b BATCH] FILE...
 *       CONNS connections, a thread each, send open requests back to back for WARMUP + SECONDS;
 *       every received descriptor is fstat'ed and closed. Requests take BATCH paths each, cycling
 *       through FILE... Prints one line: requests/s, files/s, p50/p99/p999 latency (us), errors.
 *   loadgen stat  -s SOCK -c CONNS -d SECONDS [-w WARMUP] [-b BATCH] FILE...
 *       as load, with stat requests: no descriptors; every path's entry must be ok.
 *   loadgen list  -s SOCK -c CONNS -d SECONDS [-w WARMUP] [-e ENTRIES] DIR
 *       CONNS connections, a thread each, list DIR in full over and over: a list request with a
 *       null cursor, then one per page with the cursor of the page before, until the cursor is
 *       null. Prints entries/s and pages/s (of the pages in the measured time), listings/s (those
 *       entries/s over a full listing's entries), the full listings completed in the measured time,
 *       and the p50/p99 of a page and of a full listing. With ENTRIES, a listing that does not
 *       count exactly that many is an error.
 *   loadgen idle  -s SOCK -c CONNS -d SECONDS
 *       opens CONNS connections, pings each once, prints "ready", holds them SECONDS, closes them
 *       all, prints "closed".
 *   loadgen connect -s SOCK -c CONNS -d SECONDS [-w WARMUP] FILE...
 *       CONNS threads, each connecting anew for every request: connect, one open request, the
 *       reply (its descriptor fstat'ed and closed), close. Prints connections/s and the p50/p99 of
 *       connect to reply: what a new connection costs, the broker's accept and identity included.
 *   loadgen crowd -s SOCK -c BUSY [-n NEW] [-w WAIT] FILE...
 *       BUSY connections send open requests back to back, as load does; once each has had a reply,
 *       and WAIT seconds more (default 1), NEW new connections (default 64) start at once, a thread
 *       each, each timing its own connect() to the reply of its one open request. The busy load
 *       runs until the last of them has its reply. Prints the p50/p99/max of those NEW first
 *       replies (us; of 64, the p99 is the slowest), how long the crowd took, and the busy
 *       connections' requests/s and p99 meanwhile.
 *   loadgen first -s SOCK -- COMMAND...
 *       starts COMMAND (a broker that will serve SOCK), pings SOCK until it answers, prints the
 *       time from starting COMMAND to the reply, then stops COMMAND with SIGTERM.
 *
 * A request counts only if it started after the warm-up and ended before the deadline (a listing:
 * its first page after the warm-up, its last before the deadline).
 * An error is a reply that is not ok, that does not echo the request's id, or that carries fewer
 * descriptors than paths asked for (a stat or list reply: any descriptor at all).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME 65536
#define MAX_FDS 64
/* The longest path taken from the command line: 64 of them, quoted, fit a frame. */
#define MAX_PATH_ARG 1000
/* Latency histogram: exact below 256 ns, then 128 buckets per power of two (< 1% error). */
#define SUB 128
#define BUCKETS (SUB * 40)

static const char *sock_path;
static int conns = 1, batch = 1;
static const char *op = "open";  /* load: "open" or "stat" */
static long expect_entries = -1; /* list: entries a full listing must have, or -1 */
static const char *list_dir;
static double seconds = 5, warmup = 1;
static char **files;
static int nfiles;
static pthread_barrier_t start_line;
/* Atomic because crowd moves them while the connections' threads run. */
static _Atomic uint64_t t_measure, t_end;
static int crowd_size = 64;      /* crowd: new connections */
static _Atomic int busy_replied; /* crowd: busy connections that have had a first reply */
static pthread_barrier_t crowd_line;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bucket_of(uint64_t v) {
  if (v < 2 * SUB) return (int)v;
  int msb = 63 - __builtin_clzll(v);
  int shift = msb - 7;
  int b = (shift + 1) * SUB + (int)((v >> shift) & (SUB - 1));
  return b < BUCKETS ? b : BUCKETS - 1;
}

static uint64_t value_of(int b) {
  if (b < 2 * SUB) return (uint64_t)b;
  int shift = b / SUB - 1;
  return (uint64_t)(SUB + b % SUB) << shift;
}

static int connect_to(const char *path) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (connect(s, (struct sockaddr *)&addr, sizeof addr)) {
    close(s);
    return -1;
  }
  return s;
}

static int write_full(int s, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(s, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* One recvmsg into buf; descriptors that arrive with it are appended to fds. */
static ssize_t recv_some(int s, char *buf, size_t n, int *fds, int *nfd) {
  union {
    char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = {buf, n};
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t r;
  do {
    r = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) return -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*nfd < MAX_FDS) fds[(*nfd)++] = fd; else close(fd);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) fprintf(stderr, "loadgen: descriptors truncated\n");
  return r;
}

static int recv_full(int s, char *buf, size_t n, int *fds, int *nfd) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = recv_some(s, buf + got, n - got, fds, nfd);
    if (r < 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

/* Reads one reply frame into body (NUL-terminated); its descriptors go to fds. Returns the body
 * length, or -1 on end of stream or a bad frame. */
static int read_reply(int s, char *body, int *fds, int *nfd) {
  unsigned char h[4];
  *nfd = 0;
  if (recv_full(s, (char *)h, 4, fds, nfd)) return -1;
  uint32_t len = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | h[3];
  if (len == 0 || len > MAX_FRAME || recv_full(s, body, len, fds, nfd)) return -1;
  body[len] = 0;
  return (int)len;
}

static int ping(int s) {
  static const char req[] = "{\"id\":0,\"op\":\"ping\"}";
  char frame[4 + sizeof req];
  uint32_t len = htonl(sizeof req - 1);
  memcpy(frame, &len, 4);
  memcpy(frame + 4, req, sizeof req - 1);
  if (write_full(s, frame, 4 + sizeof req - 1)) return -1;
  static __thread char body[MAX_FRAME + 1];
  int fds[MAX_FDS], nfd;
  if (read_reply(s, body, fds, &nfd) < 0) return -1;
  for (int i = 0; i < nfd; i++) close(fds[i]);
  return strstr(body, "\"ok\":true") ? 0 : -1;
}

typedef struct {
  int index;
  uint64_t requests, files, errors;
  uint32_t *hist;
  uint64_t listings, entries; /* list: full listings done, entries they held */
  uint64_t page_entries;      /* list: entries of the pages counted (in the measured time) */
  uint32_t *hist_listing;     /* list: a full listing's latency; hist holds a page's */
  uint64_t first_ns;          /* crowd: a new connection's connect to first reply */
  char first_error[200];
} worker;

static void fail(worker *w, const char *what, const char *body) {
  w->errors++;
  if (!w->first_error[0]) snprintf(w->first_error, sizeof w->first_error, "%.60s: %.130s", what, body);
}

/* Occurrences of needle in body. A JSON string escapes every '"' it holds, so a needle that starts
 * with an unescaped '"' key (like "ok":true) is found only where it is a key. */
static int count_of(const char *body, const char *needle) {
  int n = 0;
  size_t len = strlen(needle);
  for (const char *p = strstr(body, needle); p; p = strstr(p + len, needle)) n++;
  return n;
}

/* Whether the reply starts {"id":ID,"ok":true (the broker writes id first, then ok). */
static int reply_ok(const char *body, uint64_t id) {
  char head[64];
  snprintf(head, sizeof head, "{\"id\":%" PRIu64 ",\"ok\":true", id);
  return strncmp(body, head, strlen(head)) == 0;
}

/* Counts one reply taken from t0 to t1 if it falls in the measured time; checks it carried one
 * descriptor per path asked (already fstat'ed and closed by the caller). */
static void account(worker *w, uint64_t t0, uint64_t t1, int nfd, int asked, const char *body) {
  if (t0 < t_measure || t1 > t_end) return;
  w->requests++;
  w->files += (uint64_t)nfd;
  w->hist[bucket_of(t1 - t0)]++;
  if (nfd != asked || strncmp(body, "{\"id\":", 6) || !strstr(body, "\"ok\":true")) fail(w, "reply", body);
}

/* A stat reply: the whole request ok, and each of the asked paths' entries ok, with no descriptor. */
static void account_stat(worker *w, uint64_t t0, uint64_t t1, int nfd, int asked, uint64_t id, const char *body) {
  if (t0 < t_measure || t1 > t_end) return;
  w->requests++;
  w->files += (uint64_t)asked;
  w->hist[bucket_of(t1 - t0)]++;
  if (nfd != 0 || !reply_ok(body, id) || count_of(body, "\"ok\":true") != asked + 1 ||
      count_of(body, "\"ok\":false") != 0 || count_of(body, "\"type\":\"file\"") != asked)
    fail(w, "stat reply", body);
}

static void *run_load(void *arg) {
  worker *w = arg;
  int s = connect_to(sock_path);
  char *body = malloc(MAX_FRAME + 1);
  char *req = malloc(MAX_FRAME + 4);
  int fds[MAX_FDS];
  pthread_barrier_wait(&start_line);
  if (s < 0) {
    w->errors++;
    snprintf(w->first_error, sizeof w->first_error, "connect: %s", strerror(errno));
    free(body);
    free(req);
    return NULL;
  }
  uint64_t id = 0;
  int next = w->index % nfiles;
  int replied = 0;
  for (;;) {
    int n = sprintf(req + 4, "{\"id\":%" PRIu64 ",\"op\":\"%s\",\"paths\":[", ++id, op);
    for (int i = 0; i < batch; i++) {
      n += sprintf(req + 4 + n, "%s\"%s\"", i ? "," : "", files[next]);
      next = (next + 1) % nfiles;
    }
    n += sprintf(req + 4 + n, "]}");
    uint32_t len = htonl((uint32_t)n);
    memcpy(req, &len, 4);
    uint64_t t0 = now_ns();
    if (t0 >= t_end) break;
    int nfd;
    if (write_full(s, req, 4 + (size_t)n) || read_reply(s, body, fds, &nfd) < 0) {
      w->errors++;
      snprintf(w->first_error, sizeof w->first_error, "connection lost: %s", strerror(errno));
      break;
    }
    uint64_t t1 = now_ns();
    if (!replied) {
      replied = 1;
      busy_replied++;
    }
    for (int i = 0; i < nfd; i++) {
      struct stat st;
      if (fstat(fds[i], &st)) w->errors++;
      close(fds[i]);
    }
    if (strcmp(op, "stat") == 0)
      account_stat(w, t0, t1, nfd, batch, id, body);
    else
      account(w, t0, t1, nfd, batch, body);
  }
  close(s);
  free(body);
  free(req);
  return NULL;
}

/* Copies the reply's top-level "cursor" into out, raw (as it stands between its quotes, escapes
 * included, so it can be sent back as it came). Returns 1 for a cursor, 0 for null, -1 if there is
 * none or it does not fit. Entries have no "cursor" key and a string holds no unescaped '"', so
 * the last "cursor": of the body is the reply's own. */
static int cursor_of(const char *body, char *out, size_t cap) {
  const char *p = NULL;
  for (const char *q = strstr(body, "\"cursor\":"); q; q = strstr(q + 1, "\"cursor\":")) p = q;
  if (!p) return -1;
  p += 9;
  if (!strncmp(p, "null", 4)) return 0;
  if (*p != '"') return -1;
  p++;
  size_t n = 0;
  while (p[n] && p[n] != '"') {
    if (p[n] == '\\' && p[n + 1]) n++;
    n++;
  }
  if (p[n] != '"' || n == 0 || n >= cap) return -1;
  memcpy(out, p, n);
  out[n] = 0;
  return 1;
}

/* Lists list_dir in full, over and over, a page per request; times each page and each listing. */
static void *run_list(void *arg) {
  worker *w = arg;
  int s = connect_to(sock_path);
  char *body = malloc(MAX_FRAME + 1);
  char req[4 + 8192];
  char cursor[1024];
  int fds[MAX_FDS];
  pthread_barrier_wait(&start_line);
  if (s < 0 || !body) {
    fail(w, "connect", strerror(errno));
    if (s >= 0) close(s);
    free(body);
    return NULL;
  }
  uint64_t id = 0;
  for (;;) {
    uint64_t l0 = now_ns();
    if (l0 >= t_end) break;
    int more = 0, lost = 0, bad = 0;
    long entries = 0;
    do {
      int n;
      if (more)
        n = snprintf(req + 4, sizeof req - 4, "{\"id\":%" PRIu64 ",\"op\":\"list\",\"path\":\"%s\",\"cursor\":\"%s\"}",
                     ++id, list_dir, cursor);
      else
        n = snprintf(req + 4, sizeof req - 4, "{\"id\":%" PRIu64 ",\"op\":\"list\",\"path\":\"%s\",\"cursor\":null}",
                     ++id, list_dir);
      if (n < 0 || (size_t)n >= sizeof req - 4) {
        fail(w, "request too long", list_dir);
        lost = 1;
        break;
      }
      uint32_t len = htonl((uint32_t)n);
      memcpy(req, &len, 4);
      uint64_t t0 = now_ns();
      if (t0 >= t_end) {
        lost = 1; /* the deadline came mid-listing: that listing does not count */
        break;
      }
      int nfd;
      if (write_full(s, req, 4 + (size_t)n) || read_reply(s, body, fds, &nfd) < 0) {
        fail(w, "connection lost", strerror(errno));
        lost = 2;
        break;
      }
      uint64_t t1 = now_ns();
      for (int i = 0; i < nfd; i++) close(fds[i]);
      int page = count_of(body, "{\"name\":\"");
      more = cursor_of(body, cursor, sizeof cursor);
      if (nfd != 0 || !reply_ok(body, id) || !strstr(body, "\"entries\":[") || more < 0) {
        fail(w, "list reply", body);
        bad = 1;
        break;
      }
      entries += page;
      if (t0 >= t_measure && t1 <= t_end) {
        w->requests++;
        w->page_entries += (uint64_t)page;
        w->hist[bucket_of(t1 - t0)]++;
      }
    } while (more);
    if (lost == 2) break;
    if (lost || bad) continue;
    uint64_t l1 = now_ns();
    if (expect_entries >= 0 && entries != expect_entries) {
      char what[100];
      snprintf(what, sizeof what, "listing of %ld entries, expected %ld", entries, expect_entries);
      fail(w, what, list_dir);
    }
    if (l0 >= t_measure && l1 <= t_end) {
      w->listings++;
      w->entries += (uint64_t)entries;
      w->hist_listing[bucket_of(l1 - l0)]++;
    }
  }
  close(s);
  free(body);
  return NULL;
}

/* One new connection per request, timed from before connect() to the reply. */
static void *run_connect(void *arg) {
  worker *w = arg;
  char *body = malloc(MAX_FRAME + 1);
  char req[4 + 4200];
  int fds[MAX_FDS];
  pthread_barrier_wait(&start_line);
  int next = w->index % nfiles;
  for (;;) {
    int n = snprintf(req + 4, sizeof req - 4, "{\"id\":1,\"op\":\"open\",\"paths\":[\"%s\"]}", files[next]);
    next = (next + 1) % nfiles;
    uint32_t len = htonl((uint32_t)n);
    memcpy(req, &len, 4);
    uint64_t t0 = now_ns();
    if (t0 >= t_end) break;
    int s = connect_to(sock_path);
    int nfd = 0;
    if (s < 0 || write_full(s, req, 4 + (size_t)n) || read_reply(s, body, fds, &nfd) < 0) {
      w->errors++;
      if (!w->first_error[0]) snprintf(w->first_error, sizeof w->first_error, "connect or reply: %s", strerror(errno));
      if (s >= 0) close(s);
      continue;
    }
    uint64_t t1 = now_ns();
    close(s);
    for (int i = 0; i < nfd; i++) {
      struct stat st;
      if (fstat(fds[i], &st)) w->errors++;
      close(fds[i]);
    }
    account(w, t0, t1, nfd, 1, body);
  }
  free(body);
  return NULL;
}

static uint64_t percentile(const uint64_t *hist, uint64_t total, double p) {
  if (total == 0) return 0;
  uint64_t rank = (uint64_t)(p * (double)total);
  uint64_t seen = 0;
  for (int b = 0; b < BUCKETS; b++) {
    seen += hist[b];
    if (seen > rank) return value_of(b);
  }
  return value_of(BUCKETS - 1);
}

static int cmd_load(void *(*run)(void *)) {
  pthread_barrier_init(&start_line, NULL, (unsigned)conns + 1);
  worker *ws = calloc((size_t)conns, sizeof *ws);
  pthread_t *ts = calloc((size_t)conns, sizeof *ts);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (int i = 0; i < conns; i++) {
    ws[i].index = i;
    ws[i].hist = calloc(BUCKETS, sizeof(uint32_t));
    ws[i].hist_listing = calloc(BUCKETS, sizeof(uint32_t));
    if (!ws[i].hist || !ws[i].hist_listing) {
      perror("loadgen: calloc");
      return 1;
    }
    if (pthread_create(&ts[i], &attr, run, &ws[i])) {
      perror("loadgen: pthread_create");
      return 1;
    }
  }
  uint64_t t_start = now_ns();
  t_measure = t_start + (uint64_t)(warmup * 1e9);
  t_end = t_measure + (uint64_t)(seconds * 1e9);
  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  pthread_barrier_wait(&start_line);
  uint64_t requests = 0, nfiles_got = 0, errors = 0, fewest = UINT64_MAX, most = 0;
  uint64_t *hist = calloc(BUCKETS, sizeof(uint64_t));
  uint64_t *hist_listing = calloc(BUCKETS, sizeof(uint64_t));
  uint64_t listings = 0, entries = 0, page_entries = 0;
  const char *first_error = NULL;
  for (int i = 0; i < conns; i++) {
    pthread_join(ts[i], NULL);
    requests += ws[i].requests;
    if (ws[i].requests < fewest) fewest = ws[i].requests;
    if (ws[i].requests > most) most = ws[i].requests;
    nfiles_got += ws[i].files;
    errors += ws[i].errors;
    listings += ws[i].listings;
    entries += ws[i].entries;
    page_entries += ws[i].page_entries;
    for (int b = 0; b < BUCKETS; b++) hist[b] += ws[i].hist[b];
    for (int b = 0; b < BUCKETS; b++) hist_listing[b] += ws[i].hist_listing[b];
    if (!first_error && ws[i].first_error[0]) first_error = ws[i].first_error;
  }
  getrusage(RUSAGE_SELF, &ru1);
  double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
               (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
  long switches = (ru1.ru_nvcsw - ru0.ru_nvcsw) + (ru1.ru_nivcsw - ru0.ru_nivcsw);
  /* CPU and switches are over the whole run (warm-up included), per request measured plus warm-up
   * requests estimated at the measured rate: a diagnostic, not a result. */
  double total = (double)requests * (seconds + warmup) / seconds;
  if (run == run_list) {
    /* requests= counts pages, so that CPU per request reads as per page. Entries/s are those of
     * the pages in the measured time; listings/s, that in full listings (listings that straddle
     * the window's edges are not lost, as they would be counting only listings within it). */
    double per_listing = listings ? (double)entries / (double)listings : 0;
    printf("conns=%d seconds=%.2f requests=%" PRIu64 " listings=%" PRIu64 " entries_per_listing=%.0f pages_per_s=%.0f "
           "listings_per_s=%.2f entries_per_s=%.0f page_p50_us=%.1f page_p99_us=%.1f listing_p50_us=%.1f "
           "listing_p99_us=%.1f errors=%" PRIu64 " client_cpu_us=%.1f\n",
           conns, seconds, requests, listings, per_listing, (double)requests / seconds,
           per_listing > 0 ? (double)page_entries / seconds / per_listing : 0,
           (double)page_entries / seconds, percentile(hist, requests, 0.50) / 1e3, percentile(hist, requests, 0.99) / 1e3,
           percentile(hist_listing, listings, 0.50) / 1e3, percentile(hist_listing, listings, 0.99) / 1e3, errors,
           total > 0 ? cpu * 1e6 / total : 0);
    if (first_error) fprintf(stderr, "loadgen: first error: %s\n", first_error);
    return errors ? 1 : 0;
  }
  printf("conns=%d batch=%d seconds=%.2f requests=%" PRIu64 " ops_per_s=%.0f files_per_s=%.0f "
         "p50_us=%.1f p99_us=%.1f p999_us=%.1f errors=%" PRIu64 " client_cpu_us=%.1f client_switches=%.2f "
         "conn_requests_min=%" PRIu64 " conn_requests_max=%" PRIu64 "\n",
         conns, batch, seconds, requests, (double)requests / seconds, (double)nfiles_got / seconds,
         percentile(hist, requests, 0.50) / 1e3, percentile(hist, requests, 0.99) / 1e3,
         percentile(hist, requests, 0.999) / 1e3, errors, total > 0 ? cpu * 1e6 / total : 0,
         total > 0 ? switches / total : 0, fewest, most);
  if (first_error) fprintf(stderr, "loadgen: first error: %s\n", first_error);
  return errors ? 1 : 0;
}

/* One of the crowd: waits at the line with its request ready, then connect, one open, the reply. */
static void *run_first(void *arg) {
  worker *w = arg;
  char *body = malloc(MAX_FRAME + 1);
  char req[4 + 4200];
  int fds[MAX_FDS], nfd = 0;
  int n = snprintf(req + 4, sizeof req - 4, "{\"id\":1,\"op\":\"open\",\"paths\":[\"%s\"]}", files[w->index % nfiles]);
  uint32_t len = htonl((uint32_t)n);
  memcpy(req, &len, 4);
  pthread_barrier_wait(&crowd_line);
  uint64_t t0 = now_ns();
  int s = connect_to(sock_path);
  if (s < 0 || write_full(s, req, 4 + (size_t)n) || read_reply(s, body, fds, &nfd) < 0) {
    fail(w, "connect or reply", strerror(errno));
  } else {
    w->first_ns = now_ns() - t0;
    w->requests = 1;
    if (nfd != 1 || !reply_ok(body, 1)) fail(w, "first reply", body);
  }
  for (int i = 0; i < nfd; i++) close(fds[i]);
  if (s >= 0) close(s);
  free(body);
  return NULL;
}

static int by_value(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The p-th of n sorted values, nearest rank. */
static uint64_t rank_of(const uint64_t *sorted, int n, double p) {
  int i = (int)((p * n) + 0.999999) - 1;
  return sorted[i < 0 ? 0 : i];
}

static int cmd_crowd(void) {
  int busy = conns;
  /* Nothing counts and nothing ends until the crowd comes. */
  t_measure = UINT64_MAX;
  t_end = UINT64_MAX;
  pthread_barrier_init(&start_line, NULL, (unsigned)busy + 1);
  pthread_barrier_init(&crowd_line, NULL, (unsigned)crowd_size + 1);
  worker *ws = calloc((size_t)(busy + crowd_size), sizeof *ws);
  pthread_t *ts = calloc((size_t)(busy + crowd_size), sizeof *ts);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (int i = 0; i < busy + crowd_size; i++) {
    ws[i].index = i;
    ws[i].hist = calloc(BUCKETS, sizeof(uint32_t));
    if (!ws[i].hist) {
      perror("loadgen: calloc");
      return 1;
    }
  }
  for (int i = 0; i < busy; i++) {
    if (pthread_create(&ts[i], &attr, run_load, &ws[i])) {
      perror("loadgen: pthread_create");
      return 1;
    }
  }
  pthread_barrier_wait(&start_line);
  /* Busy means every one of them has had a reply: a broker may accept them slowly. */
  uint64_t waited = now_ns();
  while (busy_replied < busy) {
    if (now_ns() - waited > 60 * 1000000000ull) {
      fprintf(stderr, "loadgen: %d of %d busy connections had a reply within 60 s\n", (int)busy_replied, busy);
      t_end = 0;
      for (int i = 0; i < busy; i++) pthread_join(ts[i], NULL);
      return 1;
    }
    usleep(1000);
  }
  struct timespec pause = {(time_t)warmup, (long)((warmup - (time_t)warmup) * 1e9)};
  nanosleep(&pause, NULL);
  /* The crowd's threads are started before the line, so that starting them is not timed. */
  for (int i = busy; i < busy + crowd_size; i++) {
    if (pthread_create(&ts[i], &attr, run_first, &ws[i])) {
      perror("loadgen: pthread_create");
      return 1;
    }
  }
  uint64_t c0 = now_ns();
  t_measure = c0;
  pthread_barrier_wait(&crowd_line);
  for (int i = busy; i < busy + crowd_size; i++) pthread_join(ts[i], NULL);
  uint64_t c1 = now_ns();
  t_end = c1; /* the busy load ends only now, after the crowd's last reply */
  for (int i = 0; i < busy; i++) pthread_join(ts[i], NULL);

  uint64_t *first = calloc((size_t)crowd_size, sizeof *first);
  uint64_t *hist = calloc(BUCKETS, sizeof(uint64_t));
  uint64_t requests = 0, errors = 0;
  int answered = 0;
  const char *first_error = NULL;
  for (int i = 0; i < busy + crowd_size; i++) {
    errors += ws[i].errors;
    if (!first_error && ws[i].first_error[0]) first_error = ws[i].first_error;
    if (i >= busy) {
      if (ws[i].requests) first[answered++] = ws[i].first_ns;
      continue;
    }
    requests += ws[i].requests;
    for (int b = 0; b < BUCKETS; b++) hist[b] += ws[i].hist[b];
  }
  if (answered == 0) {
    fprintf(stderr, "loadgen: no new connection had a reply%s%s\n", first_error ? ": " : "", first_error ? first_error : "");
    return 1;
  }
  qsort(first, (size_t)answered, sizeof *first, by_value);
  double window = (double)(c1 - c0) / 1e9;
  printf("busy=%d crowd=%d answered=%d first_p50_us=%.1f first_p99_us=%.1f first_max_us=%.1f first_min_us=%.1f "
         "crowd_ms=%.1f busy_requests=%" PRIu64 " busy_ops_per_s=%.0f busy_p99_us=%.1f errors=%" PRIu64 "\n",
         busy, crowd_size, answered, rank_of(first, answered, 0.50) / 1e3, rank_of(first, answered, 0.99) / 1e3,
         first[answered - 1] / 1e3, first[0] / 1e3, window * 1e3, requests, (double)requests / window,
         percentile(hist, requests, 0.99) / 1e3, errors);
  if (first_error) fprintf(stderr, "loadgen: first error: %s\n", first_error);
  return errors ? 1 : 0;
}

static int cmd_idle(void) {
  int *socks = calloc((size_t)conns, sizeof(int));
  for (int i = 0; i < conns; i++) {
    socks[i] = connect_to(sock_path);
    if (socks[i] < 0 || ping(socks[i])) {
      fprintf(stderr, "loadgen: connection %d of %d failed: %s\n", i + 1, conns, strerror(errno));
      return 1;
    }
  }
  printf("ready %d\n", conns);
  fflush(stdout);
  struct timespec hold = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
  nanosleep(&hold, NULL);
  for (int i = 0; i < conns; i++) close(socks[i]);
  printf("closed %d\n", conns);
  return 0;
}

static int cmd_first(char **command) {
  uint64_t t0 = now_ns();
  pid_t child = fork();
  if (child == 0) {
    execvp(command[0], command);
    perror("loadgen: exec");
    _exit(127);
  }
  int status = 1;
  for (;;) {
    uint64_t now = now_ns();
    if (now - t0 > 30 * 1000000000ull) {
      fprintf(stderr, "loadgen: no reply within 30 s\n");
      break;
    }
    int s = connect_to(sock_path);
    if (s >= 0) {
      int failed = ping(s);
      uint64_t t1 = now_ns();
      close(s);
      if (!failed) {
        printf("first_reply_ms=%.1f\n", (double)(t1 - t0) / 1e6);
        status = 0;
        break;
      }
    }
    if (waitpid(child, NULL, WNOHANG) == child) {
      fprintf(stderr, "loadgen: the command exited before answering\n");
      return 1;
    }
    usleep(500);
  }
  kill(child, SIGTERM);
  waitpid(child, NULL, 0);
  return status;
}

static void usage(void) {
  fprintf(stderr, "usage: loadgen load -s SOCK -c CONNS -d SECONDS [-w WARMUP] [-b BATCH] FILE...\n"
                  "       loadgen stat -s SOCK -c CONNS -d SECONDS [-w WARMUP] [-b BATCH] FILE...\n"
                  "       loadgen list -s SOCK -c CONNS -d SECONDS [-w WARMUP] [-e ENTRIES] DIR\n"
                  "       loadgen connect -s SOCK -c CONNS -d SECONDS [-w WARMUP] FILE...\n"
                  "       loadgen crowd -s SOCK -c BUSY [-n NEW] [-w WAIT] FILE...\n"
                  "       loadgen idle -s SOCK -c CONNS -d SECONDS\n"
                  "       loadgen first -s SOCK -- COMMAND...\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *mode = argv[1];
  signal(SIGPIPE, SIG_IGN);
  int opt;
  optind = 2;
  while ((opt = getopt(argc, argv, "+s:c:d:w:b:e:n:")) != -1) {
    switch (opt) {
      case 's': sock_path = optarg; break;
      case 'c': conns = atoi(optarg); break;
      case 'd': seconds = atof(optarg); break;
      case 'w': warmup = atof(optarg); break;
      case 'b': batch = atoi(optarg); break;
      case 'e': expect_entries = atol(optarg); break;
      case 'n': crowd_size = atoi(optarg); break;
      default: usage();
    }
  }
  if (!sock_path || conns < 1 || batch < 1 || batch > MAX_FDS || seconds <= 0 || crowd_size < 1) usage();
  if (!strcmp(mode, "load") || !strcmp(mode, "stat") || !strcmp(mode, "connect") || !strcmp(mode, "crowd")) {
    files = argv + optind;
    nfiles = argc - optind;
    if (nfiles < 1) usage();
    /* Paths go into requests unescaped, up to 64 of them in a frame: keep them short and plain. */
    for (int i = 0; i < nfiles; i++) {
      if (strlen(files[i]) > MAX_PATH_ARG || strpbrk(files[i], "\"\\")) {
        fprintf(stderr, "loadgen: a path longer than %d bytes, or with '\"' or '\\': %.100s\n", MAX_PATH_ARG, files[i]);
        return 2;
      }
    }
    if (!strcmp(mode, "stat")) op = "stat";
    if (!strcmp(mode, "crowd")) return cmd_crowd();
    return cmd_load(!strcmp(mode, "connect") ? run_connect : run_load);
  }
  if (!strcmp(mode, "list")) {
    if (optind != argc - 1) usage();
    list_dir = argv[optind];
    if (strlen(list_dir) > MAX_PATH_ARG || strpbrk(list_dir, "\"\\")) {
      fprintf(stderr, "loadgen: a directory longer than %d bytes, or with '\"' or '\\'\n", MAX_PATH_ARG);
      return 2;
    }
    return cmd_load(run_list);
  }
  if (!strcmp(mode, "idle")) return cmd_idle();
  if (!strcmp(mode, "first")) {
    if (optind >= argc) usage();
    return cmd_first(argv + optind);
  }
  usage();
}
