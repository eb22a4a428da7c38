#include "controller/terminal_progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "tests/controller/fake_agent_client.h"

namespace migrate::controller {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;

TEST(TerminalProgressTest, RewritesOneLineWithPhaseBytesAndRate) {
  std::ostringstream out;
  testing::FakeClock clock(500);  // every reading is 0.5 s later
  TerminalProgress progress(out, clock, "web host-a -> host-b");
  progress.OnPhase("checkpoint+transfer");
  progress.OnBytes(10 << 20, 4 << 20);
  progress.OnBytes(30 << 20, 12 << 20);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("\r\033[Kweb host-a -> host-b  checkpoint+transfer"));
  EXPECT_THAT(text, HasSubstr("30.0 MiB raw, 12.0 MiB wire"));
  EXPECT_THAT(text, HasSubstr("/s"));
  EXPECT_EQ(text.find('\n'), std::string::npos) << "never a new line: one line, rewritten";
  progress.OnTick();
  progress.Finish();
  EXPECT_THAT(out.str(), EndsWith("\r\033[K"));
}

}  // namespace
}  // namespace migrate::controller
