/* What a hostile RUN step tries against the sandbox, one syscall at a time. Compiled
 * static by the tests and copied into a busybox rootfs. Each argument is one attempt;
 * each prints "<attempt>: ok", "<attempt>: <errno name>" or "<attempt>: killed by <signal>",
 * so a test reads exactly which call the kernel (or the seccomp filter) refused and how. Each attempt runs in a child
 * of its own, so one that succeeds (a new user namespace) does not change the next.
 *
 *   keyctl add_key request_key   the keyring syscalls (the user keyring is root's, shared
 *                                with the host's root outside a user namespace)
 *   unshare-user unshare-mount   unshare(2) of a user / mount namespace
 *   clone-user                   clone(2) with CLONE_NEWUSER
 *   clone3-user                  clone3(2) with CLONE_NEWUSER
 *   mount                        mount(2) of a tmpfs on /imageforge-probe-mnt
 *   i386-getpid                  getpid through int 0x80, the i386 ABI (x86_64 only)
 *   x32-getpid                   getpid through the x32 ABI (x86_64 only)
 *   sniff:MARKER:SECONDS         a raw AF_PACKET socket on every interface it can see:
 *                                "sniff: saw" if MARKER went by, "sniff: nothing" if not
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/keyctl.h>
#include <linux/sched.h>
#include <arpa/inet.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void report(const char *what, long rc) {
    if (rc < 0)
        printf("%s: %s\n", what, strerrorname_np(errno));
    else
        printf("%s: ok\n", what);
}

static long clone_user(void) {
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid((pid_t)pid, NULL, 0);
    return pid;
}

static long clone3_user(void) {
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid((pid_t)pid, NULL, 0);
    return pid;
}

static long i386_getpid(void) {
#ifdef __x86_64__
    long rc;
    __asm__ volatile("int $0x80" : "=a"(rc) : "a"(20L) : "memory");
    if (rc < 0) {
        errno = (int)-rc;
        return -1;
    }
    return rc;
#else
    errno = ENOSYS;
    return -1;
#endif
}

static long x32_getpid(void) {
#ifdef __x86_64__
    return syscall(0x40000000L | SYS_getpid);
#else
    errno = ENOSYS;
    return -1;
#endif
}

static void sniff(const char *spec) {
    char marker[256];
    int seconds = 3;
    const char *colon = strrchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (len >= sizeof marker)
        len = sizeof marker - 1;
    memcpy(marker, spec, len);
    marker[len] = 0;
    if (colon)
        seconds = atoi(colon + 1);
    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
    if (fd < 0) {
        report("sniff", -1);
        return;
    }
    struct timeval tv = {0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    time_t end = time(NULL) + seconds;
    static char buf[70000];
    while (time(NULL) < end) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0 && memmem(buf, (size_t)n, marker, len)) {
            printf("sniff: saw\n");
            return;
        }
    }
    printf("sniff: nothing\n");
}

static int attempt(const char *a) {
    if (!strcmp(a, "keyctl"))
        report(a, syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0));
    else if (!strcmp(a, "add_key"))
        report(a, syscall(SYS_add_key, "user", "imageforge-probe", "x", 1,
                          KEY_SPEC_PROCESS_KEYRING));
    else if (!strcmp(a, "request_key"))
        report(a, syscall(SYS_request_key, "user", "imageforge-probe", NULL,
                          KEY_SPEC_PROCESS_KEYRING));
    else if (!strcmp(a, "unshare-user"))
        report(a, unshare(CLONE_NEWUSER));
    else if (!strcmp(a, "unshare-mount"))
        report(a, unshare(CLONE_NEWNS));
    else if (!strcmp(a, "clone-user"))
        report(a, clone_user());
    else if (!strcmp(a, "clone3-user"))
        report(a, clone3_user());
    else if (!strcmp(a, "mount"))
        report(a, mount("none", "/imageforge-probe-mnt", "tmpfs", 0, ""));
    else if (!strcmp(a, "i386-getpid"))
        report(a, i386_getpid());
    else if (!strcmp(a, "x32-getpid"))
        report(a, x32_getpid());
    else if (!strncmp(a, "sniff:", 6))
        sniff(a + 6);
    else {
        fprintf(stderr, "unknown attempt %s\n", a);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int i = 1; i < argc; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(attempt(argv[i]));
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0)
            return 2;
        if (WIFSIGNALED(status))
            printf("%s: killed by %s\n", argv[i], sigabbrev_np(WTERMSIG(status)));
        else if (WEXITSTATUS(status))
            return 2;
    }
    return 0;
}
