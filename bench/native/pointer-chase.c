/*
 * Native calibration for kmem's TLB cost model: a dependent pointer chase over a buffer (default
 * 128 MiB) in random order, once on 4 KiB pages (madvise MADV_NOHUGEPAGE) and once on 2 MiB pages
 * (2 MiB-aligned, madvise MADV_HUGEPAGE, then touched so transparent huge pages back it). Each step
 * loads the next index from a random cache line of a random page, so on 4 KiB pages nearly every
 * step misses the TLB and walks; on 2 MiB pages 64 translations cover the buffer.
 *
 * Prints one JSON object: ns per step for each page size, their ratio, and the AnonHugePages the
 * kernel reported for the process while the 2 MiB run held its buffer (so a run where THP was not
 * granted is visible). Usage: pointer-chase [size MiB] [steps] [seed]
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define LINE 64u
#define HUGE (2u << 20)

static uint64_t rng_state;
static uint64_t next_random(void) {
  /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long anon_huge_kib(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  if (f == NULL) return -1;
  char line[256];
  long kib = -1;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "AnonHugePages:", 14) == 0) kib = strtol(line + 14, NULL, 10);
  }
  fclose(f);
  return kib;
}

/* Chases `steps` pointers through one random cycle over the buffer's cache lines; ns per step. */
static double chase(size_t bytes, long steps, int huge, long *huge_kib) {
  size_t map_bytes = bytes + HUGE;
  char *raw = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  char *buf = (char *)(((uintptr_t)raw + HUGE - 1) & ~(uintptr_t)(HUGE - 1));
  if (madvise(buf, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0) perror("madvise");
  size_t lines = bytes / LINE;
  uint32_t *order = malloc(lines * sizeof *order);
  if (order == NULL) exit(1);
  for (size_t i = 0; i < lines; i++) order[i] = (uint32_t)i;
  for (size_t i = lines - 1; i > 0; i--) {
    size_t j = next_random() % (i + 1);
    uint32_t t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  /* Line order[i] holds the index of line order[i + 1]: one cycle through every line. */
  for (size_t i = 0; i < lines; i++) *(uint64_t *)(buf + (size_t)order[i] * LINE) = order[(i + 1) % lines];
  free(order);
  *huge_kib = anon_huge_kib();
  uint64_t at = 0;
  for (long i = 0; i < steps / 4; i++) at = *(volatile uint64_t *)(buf + at * LINE); /* warm-up */
  double start = now_ns();
  for (long i = 0; i < steps; i++) at = *(volatile uint64_t *)(buf + at * LINE);
  double ns = (now_ns() - start) / (double)steps;
  if (at == UINT64_MAX) puts("");
  munmap(raw, map_bytes);
  return ns;
}

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 128;
  long steps = argc > 2 ? atol(argv[2]) : 20000000;
  rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
  if (mib < 4 || mib % 2 != 0 || steps < 1) {
    fprintf(stderr, "usage: pointer-chase [size MiB, even, >= 4] [steps] [seed]\n");
    return 2;
  }
  size_t bytes = (size_t)mib << 20;
  long small_kib = 0, huge_kib = 0;
  double ns4k = chase(bytes, steps, 0, &small_kib);
  double ns2m = chase(bytes, steps, 1, &huge_kib);
  printf("{\"sizeMiB\":%ld,\"steps\":%ld,\"ns4k\":%.3f,\"ns2m\":%.3f,\"ratio\":%.4f,\"anonHugeKiB4k\":%ld,\"anonHugeKiB2m\":%ld}\n", mib, steps,
         ns4k, ns2m, ns4k / ns2m, small_kib, huge_kib);
  return 0;
}
