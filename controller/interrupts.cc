#include "controller/interrupts.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

namespace migrate::controller {
namespace {

std::atomic<bool> g_flags[kMaxInterruptStages];
const char* g_messages[kMaxInterruptStages];
std::atomic<int> g_received{0};
int g_stages = 0;

void SetHandler(void (*handler)(int)) {
  struct sigaction action = {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

extern "C" void OnInterrupt(int) {
  const int stage = g_received.fetch_add(1);
  if (stage >= g_stages) return;
  g_flags[stage].store(true);
  (void)!::write(STDERR_FILENO, g_messages[stage], strlen(g_messages[stage]));
  if (stage + 1 == g_stages) SetHandler(SIG_DFL);
}

}  // namespace

void InstallInterrupts(int stages, const char* const messages[]) {
  g_stages = stages < 1 ? 1 : (stages > kMaxInterruptStages ? kMaxInterruptStages : stages);
  for (int i = 0; i < kMaxInterruptStages; ++i) {
    g_flags[i].store(false);
    g_messages[i] = i < g_stages ? messages[i] : "";
  }
  g_received.store(0);
  SetHandler(OnInterrupt);
}

const std::atomic<bool>& InterruptFlag(int stage) { return g_flags[stage]; }

}  // namespace migrate::controller
