/*
 * The fatal-signal flush (the sigaction and signal hooks). A process killed by SIGTERM, SIGINT, SIGPIPE, ...
 * would lose the records of its last flush interval (the file it just wrote and closed). Where the program leaves
 * such a signal at its default action, the library catches it, writes what is buffered (when the spool lock is
 * free: async-signal-safe raw write) and re-raises it with the default action, so the process still dies of that
 * signal. The program sees SIG_DFL through sigaction()/signal(): installing its own handler replaces ours, setting
 * SIG_DFL again brings ours back. SIGKILL cannot be caught: its loss is bounded by ROAR_FLUSH_MS.
 */
#include "internal.h"

#include <signal.h>
#include <string.h>

REAL_DECL(int, sigaction, (int sig, const struct sigaction *act, struct sigaction *oact), -1);
REAL_DECL(sighandler_t, signal, (int sig, sighandler_t handler), SIG_ERR);

static const int fatal_signals[] = {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGALRM, SIGTERM, SIGUSR1, SIGUSR2};
static pthread_mutex_t sig_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction prog_act[NSIG]; /* what the program believes is installed, where ours is */
static volatile sig_atomic_t ours[NSIG];

static int is_fatal(int sig) {
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
        if (fatal_signals[i] == sig) {
            return 1;
        }
    }
    return 0;
}

static void fatal_handler(int sig) {
    int saved = errno;
    roar_spool_flush_from_signal();
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    REAL(sigaction)(sig, &dfl, NULL);
    ours[sig] = 0;
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    raise(sig); /* dies here with the default action */
    errno = saved;
}

static void our_action(struct sigaction *sa) {
    memset(sa, 0, sizeof *sa);
    sa->sa_handler = fatal_handler;
    sigemptyset(&sa->sa_mask);
    sa->sa_flags = SA_RESTART;
}

static int install_ours(int sig) {
    struct sigaction sa;
    our_action(&sa);
    if (REAL(sigaction)(sig, &sa, NULL) != 0) {
        return -1;
    }
    ours[sig] = 1;
    return 0;
}

void roar_signals_init(void) {
    /* One rt_sigaction per signal: install ours and read the previous disposition in the same call, putting
     * it back when it was not the default. The signals are blocked meanwhile, so none is delivered to our
     * handler in place of an ignored disposition (a nohup'd process must not die of SIGHUP); a signal that
     * arrives then stays pending, and is discarded by the kernel when SIG_IGN is put back. */
    sigset_t block, old;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
        sigaddset(&block, fatal_signals[i]);
    }
    pthread_sigmask(SIG_BLOCK, &block, &old);
    struct sigaction sa;
    our_action(&sa);
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
        int sig = fatal_signals[i];
        struct sigaction cur;
        if (REAL(sigaction)(sig, &sa, &cur) != 0) {
            continue;
        }
        if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL) {
            prog_act[sig] = cur;
            ours[sig] = 1;
        } else {
            REAL(sigaction)(sig, &cur, NULL);
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The child of fork keeps our handlers (same image); nothing to do. Locks: */
void roar_signals_atfork_child(void) {
    pthread_mutex_init(&sig_mu, NULL);
}

ROAR_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *oact) {
    if (sig <= 0 || sig >= NSIG || !is_fatal(sig) || !roar_g.enabled) {
        return REAL(sigaction)(sig, act, oact);
    }
    int saved = errno;
    pthread_mutex_lock(&sig_mu);
    int r = 0;
    struct sigaction old;
    if (ours[sig]) {
        old = prog_act[sig];
    } else if ((r = REAL(sigaction)(sig, NULL, &old)) != 0) {
        saved = errno;
    }
    if (r == 0 && act != NULL) {
        int wants_default = !(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL;
        if (wants_default && !roar_g.exiting) {
            prog_act[sig] = *act;
            if (!ours[sig] && install_ours(sig) != 0) {
                r = REAL(sigaction)(sig, act, NULL);
                saved = errno;
            }
        } else {
            r = REAL(sigaction)(sig, act, NULL);
            saved = errno;
            if (r == 0) {
                ours[sig] = 0;
            }
        }
    }
    pthread_mutex_unlock(&sig_mu);
    if (r == 0 && oact != NULL) {
        *oact = old;
    }
    errno = saved;
    return r;
}

/* glibc's signal() reaches the kernel through an internal sigaction: BSD semantics, as glibc gives them. */
ROAR_EXPORT sighandler_t signal(int sig, sighandler_t handler) {
    if (sig <= 0 || sig >= NSIG || !is_fatal(sig) || !roar_g.enabled) {
        return REAL(signal)(sig, handler);
    }
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    act.sa_flags = SA_RESTART;
    if (sigaction(sig, &act, &old) != 0) {
        return SIG_ERR;
    }
    return old.sa_handler;
}
