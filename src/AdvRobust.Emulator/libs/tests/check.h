// A minimal self-test harness for the cuBLAS/cuDNN stand-ins: CHECK macros that count failures and print where,
// and a fake runtime (fake_runtime.cpp) that defines the emu_api.h hooks so range checks and counters are exercised.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <string>

extern int g_failures, g_checks;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        g_checks++;                                                                  \
        if (!(cond)) {                                                               \
            g_failures++;                                                            \
            std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
        }                                                                            \
    } while (0)

#define CHECK_EQ(actual, expected)                                                              \
    do {                                                                                        \
        g_checks++;                                                                             \
        long long a_ = (long long)(actual), e_ = (long long)(expected);                         \
        if (a_ != e_) {                                                                         \
            g_failures++;                                                                       \
            std::printf("FAIL %s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__, #actual, a_, e_); \
        }                                                                                       \
    } while (0)

// |actual − expected| <= tol·max(1, |expected|); NaN never passes.
#define CHECK_NEAR(actual, expected, tol)                                                        \
    do {                                                                                         \
        g_checks++;                                                                              \
        double a_ = (double)(actual), e_ = (double)(expected);                                   \
        if (!(std::fabs(a_ - e_) <= (tol) * std::fmax(1.0, std::fabs(e_)))) {                    \
            g_failures++;                                                                        \
            std::printf("FAIL %s:%d: %s is %.9g, expected %.9g\n", __FILE__, __LINE__, #actual, a_, e_); \
        }                                                                                        \
    } while (0)

// Fake device memory: a host buffer registered as one live allocation of exactly `bytes`.
void* dev_alloc(size_t bytes);
void dev_free(void* p);
long long call_count(const std::string& function);
long long marked_bytes();

int finish(const char* suite);
