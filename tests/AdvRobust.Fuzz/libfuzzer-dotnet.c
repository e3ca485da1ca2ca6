// libFuzzer driver for SharpFuzz-instrumented .NET code, in C. Adapted from Metalnem/libfuzzer-dotnet
// (libfuzzer-dotnet.cc, MIT License, Copyright (c) 2019 Nemanja Mijailovic); the protocol is the one SharpFuzz's
// Fuzzer.LibFuzzer.Run speaks, unchanged.
//
// Build: clang-14 -O1 -fsanitize=fuzzer libfuzzer-dotnet.c -o libfuzzer-dotnet   (build.ps1 fuzz does this)
// Run:   libfuzzer-dotnet --target_path=AdvRobust.Fuzz --target_arg=npy [libFuzzer flags] CORPUS_DIR...
//
// How it works: LLVMFuzzerInitialize starts the .NET harness once (target_path with the single argument
// target_arg) and shares with it one System V shared-memory segment: MAP_SIZE bytes of edge counters that the
// instrumented assemblies bump (SharpFuzz.Common.Trace), then DATA_SIZE bytes for the input. For every input,
// LLVMFuzzerTestOneInput clears the counters, copies the input into the segment, writes its length (4 bytes) to
// the control pipe (fd 198 in the child) and reads a 4-byte status from the status pipe (fd 199): 0 ok, non-zero
// an exception escaped the target. The counters are then copied into libFuzzer's extra-counters section, which is
// how libFuzzer sees the managed code's coverage. A non-zero status traps (libFuzzer saves the input as crash-*); a
// child that dies (stack overflow, fail-fast, killed) ends this process with exit code 1, which libFuzzer reports as
// "fuzz target exited" and also saves the input. Hangs are libFuzzer's own -timeout.

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define STR_(x) #x
#define STR(x) STR_(x)

#define MAP_SIZE (1 << 16)
#define DATA_SIZE (1 << 20)
#define CTL_FD 198
#define ST_FD 199
#define LEN_FLD_SIZE 4

__attribute__((weak, section("__libfuzzer_extra_counters"))) uint8_t extra_counters[MAP_SIZE];

static const char *target_path;
static const char *target_arg;
static int ctl_fd;
static int st_fd;
static int shm_id;
static uint8_t *trace_bits;
static pid_t child_pid;

static void die(const char *msg)
{
    printf("libfuzzer-dotnet: %s\n", msg);
    fflush(stdout);
    exit(1);
}

static void die_sys(const char *msg)
{
    printf("libfuzzer-dotnet: %s: %s\n", msg, strerror(errno));
    fflush(stdout);
    exit(1);
}

static void remove_shm(void) { shmctl(shm_id, IPC_RMID, NULL); }

// "--name=value" -> "value" when param is that flag with a non-empty value.
static const char *flag_value(const char *param, const char *name)
{
    size_t len = strlen(name);
    return strncmp(param, name, len) == 0 && param[len] == '=' && param[len + 1] ? &param[len + 1] : NULL;
}

// Reads 4 bytes from the status pipe; returns the bytes read (0: the child closed it, i.e. exited).
static ssize_t read_status(int32_t *status)
{
    ssize_t result;
    while ((result = read(st_fd, status, LEN_FLD_SIZE)) == -1 && errno == EINTR)
        continue;
    if (result == -1)
        die_sys("read() from the status pipe failed");
    return result;
}

static void child_died(void)
{
    int wstatus = 0;
    if (waitpid(child_pid, &wstatus, 0) == child_pid)
    {
        if (WIFEXITED(wstatus))
            printf("libfuzzer-dotnet: the .NET harness exited with code %d\n", WEXITSTATUS(wstatus));
        else if (WIFSIGNALED(wstatus))
            printf("libfuzzer-dotnet: the .NET harness was killed by signal %d\n", WTERMSIG(wstatus));
    }
    die("the .NET harness terminated unexpectedly");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (int i = 0; i < *argc; ++i)
    {
        if (!target_path)
            target_path = flag_value((*argv)[i], "--target_path");
        if (!target_arg)
            target_arg = flag_value((*argv)[i], "--target_arg");
    }
    signal(SIGPIPE, SIG_IGN);  // a dead harness makes write() fail with EPIPE instead of killing this process
    if (!target_path)
        die("give the harness with --target_path=PATH (and its argument with --target_arg=ARG)");

    int ctl_pipe[2], st_pipe[2];
    if (pipe(ctl_pipe) || pipe(st_pipe))
        die_sys("pipe() failed");
    shm_id = shmget(IPC_PRIVATE, MAP_SIZE + DATA_SIZE, IPC_CREAT | IPC_EXCL | 0600);
    if (shm_id < 0)
        die_sys("shmget() failed");
    atexit(remove_shm);
    trace_bits = (uint8_t *)shmat(shm_id, NULL, 0);
    if (trace_bits == (void *)-1)
        die_sys("shmat() failed");

    child_pid = fork();
    if (child_pid < 0)
        die_sys("fork() failed");
    if (child_pid == 0)
    {
        if (dup2(ctl_pipe[0], CTL_FD) < 0 || dup2(st_pipe[1], ST_FD) < 0)
            die_sys("dup2() failed");
        close(ctl_pipe[0]);
        close(ctl_pipe[1]);
        close(st_pipe[0]);
        close(st_pipe[1]);
        char shm_str[16];
        snprintf(shm_str, sizeof shm_str, "%d", shm_id);
        if (setenv("__LIBFUZZER_SHM_ID", shm_str, 1) || setenv("__LIBFUZZER_CONTROL_PIPE_ID", STR(CTL_FD), 1) ||
            setenv("__LIBFUZZER_STATUS_PIPE_ID", STR(ST_FD), 1))
            die_sys("setenv() failed");
        if (target_arg)
            execlp(target_path, target_path, target_arg, (char *)NULL);
        else
            execlp(target_path, target_path, (char *)NULL);
        die_sys("execlp() of the harness failed");
    }

    close(ctl_pipe[0]);
    close(st_pipe[1]);
    ctl_fd = ctl_pipe[1];
    st_fd = st_pipe[0];
    int32_t status;
    ssize_t got = read_status(&status);  // the harness reports 0 once it is ready
    if (got == 0)
        child_died();
    if (got != LEN_FLD_SIZE)
        die("short read from the status pipe during start-up");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > DATA_SIZE)
        die("an input is larger than 1 MiB (use -max_len)");
    memset(trace_bits, 0, MAP_SIZE);
    memcpy(trace_bits + MAP_SIZE, data, size);

    int32_t length = (int32_t)size;
    ssize_t result;
    while ((result = write(ctl_fd, &length, LEN_FLD_SIZE)) == -1 && errno == EINTR)
        continue;
    if (result != LEN_FLD_SIZE)
        child_died();

    int32_t status;
    result = read_status(&status);
    memcpy(extra_counters, trace_bits, MAP_SIZE);
    if (result == 0)
        child_died();
    if (result != LEN_FLD_SIZE)
        die("short read from the status pipe");
    if (status)
        __builtin_trap();
    return 0;
}
