/*
 * Runs a command under a seccomp filter shaped like systemd's SystemCallFilter= with
 * SystemCallErrorNumber=EPERM and RestrictAddressFamilies= (test/harness/syscall-filter.ts
 * expands systemd's groups into the names given here): only the named system calls are
 * allowed, everything else fails with EPERM, and socket() only for the given families.
 *   syscall-filter [family=AF_X ...] NAME ... -- COMMAND ARG ...
 * Like systemd for a root service, it does not set no_new_privs.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int family(const char *name) {
  if (!strcmp(name, "AF_UNIX")) return AF_UNIX;
  if (!strcmp(name, "AF_INET")) return AF_INET;
  if (!strcmp(name, "AF_INET6")) return AF_INET6;
  if (!strcmp(name, "AF_NETLINK")) return AF_NETLINK;
  if (!strcmp(name, "AF_PACKET")) return AF_PACKET;
  return -1;
}

int main(int argc, char **argv) {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (!ctx || seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) != 0) return fprintf(stderr, "syscall-filter: cannot set up seccomp\n"), 125;
  int families[16], nfamilies = 0, socket_allowed = 0, i;
  for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
    if (!strncmp(argv[i], "family=", 7)) {
      int f = family(argv[i] + 7);
      if (f < 0 || nfamilies == 16) return fprintf(stderr, "syscall-filter: unknown family %s\n", argv[i] + 7), 125;
      families[nfamilies++] = f;
      continue;
    }
    int nr = seccomp_syscall_resolve_name(argv[i]);
    /* Names of other architectures or of newer kernels: nothing to allow here. */
    if (nr == __NR_SCMP_ERROR) continue;
    if (nr == SCMP_SYS(socket)) { socket_allowed = 1; continue; }
    if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) != 0) return fprintf(stderr, "syscall-filter: cannot allow %s\n", argv[i]), 125;
  }
  if (i >= argc - 1) return fprintf(stderr, "usage: syscall-filter [family=AF_X ...] NAME ... -- COMMAND ARG ...\n"), 125;
  if (socket_allowed) {
    if (nfamilies == 0) seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 0);
    for (int f = 0; f < nfamilies; f++) seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, families[f]));
  }
  if (seccomp_load(ctx) != 0) return fprintf(stderr, "syscall-filter: cannot load the filter\n"), 125;
  execvp(argv[i + 1], argv + i + 1);
  fprintf(stderr, "syscall-filter: cannot run %s: %s\n", argv[i + 1], strerror(errno));
  return 127;
}
