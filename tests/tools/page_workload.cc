/* The benchmarks' workload (scripts/bench-postcopy.sh), run inside a container: it holds
 * N MiB (half pseudo-random, half one repeated byte, like a real heap), then touches 64
 * random pages per step, forever, and every 10 ms appends "<unix_ms> <steps>" to
 * /progress and writes the step count to /count. The gaps in /progress are the downtime
 * as the application sees it; the steps per second are its progress rate.
 *
 *   page_workload MIB [HOT_MIB]
 *
 * HOT_MIB (default MIB): the touches fall in the first HOT_MIB only, a working set smaller
 * than the memory held, as most programs have.
 *
 * Static (no libc of the container needed). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t next(uint64_t* s) { /* xorshift64 */
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

int main(int argc, char** argv) {
  const long mib = argc >= 2 ? atol(argv[1]) : 0;
  const long hot_mib = argc == 3 ? atol(argv[2]) : mib;
  if (argc < 2 || argc > 3 || mib <= 0 || hot_mib <= 0 || hot_mib > mib) {
    fprintf(stderr, "usage: page_workload MIB [HOT_MIB]  (0 < HOT_MIB <= MIB)\n");
    return 2;
  }
  const size_t bytes = (size_t)mib << 20, pages = ((size_t)hot_mib << 20) / 4096;
  auto* mem = static_cast<unsigned char*>(malloc(bytes));
  if (mem == NULL) return 1;
  uint64_t seed = 0x9e3779b97f4a7c15u;
  for (size_t i = 0; i < bytes / 2; i += 8) {
    uint64_t v = next(&seed);
    memcpy(mem + i, &v, 8);
  }
  memset(mem + bytes / 2, 'a', bytes - bytes / 2);
  FILE* progress = fopen("/progress", "a");
  if (progress == NULL) return 1;
  uint64_t steps = 0, last = 0;
  for (;;) {
    for (int k = 0; k < 64; ++k) mem[(next(&seed) % pages) * 4096 + (steps & 4095)] ^= 1;
    ++steps;
    uint64_t t = now_ms();
    if (t - last >= 10) {
      last = t;
      fprintf(progress, "%llu %llu\n", (unsigned long long)t, (unsigned long long)steps);
      fflush(progress);
      FILE* count = fopen("/count.new", "w");
      if (count != NULL) {
        fprintf(count, "%llu\n", (unsigned long long)steps);
        fclose(count);
        rename("/count.new", "/count");
      }
    }
  }
}
