#include "agent/runtime/lazy_pages.h"

#include <gtest/gtest.h>

#include "agent/runtime/file_util.h"

namespace migrate::runtime {
namespace {

// A real log: 256 MiB held by a shell and its child, restored with lazy pages; the shell's
// short-lived children (forked while pages were owed) exited before their last page.
TEST(LazyPagesLogTest, CountsEveryLiveTaskAndSkipsThoseThatExited) {
  Result<std::string> log =
      ReadFile(std::string(MIGRATE_RUNTIME_TESTDATA) + "/lazy-pages-256m.log");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  LazyPagesSummary s = ParseLazyPagesLog(*log);
  EXPECT_EQ(s.tasks, 2u);
  EXPECT_EQ(s.exited_tasks, 21u);
  EXPECT_EQ(s.pages_total, 2u * 65577u);
  EXPECT_EQ(s.pages_copied, s.pages_total);
  EXPECT_EQ(s.pages_faulted, 785u);
  EXPECT_TRUE(s.complete()) << s.incomplete;
}

TEST(LazyPagesLogTest, ALiveTaskShortOfPagesIsIncomplete) {
  LazyPagesSummary s = ParseLazyPagesLog(
      "(01.0) uffd: 1-12: UFFD transferred pages: (65577/65577)\n"
      "(01.1) uffd: 1-13: UFFD transferred pages: (100/65577)\n"
      "(01.2) uffd: 1--14: UFFD transferred pages: (3/65577)\n");
  EXPECT_EQ(s.tasks, 2u);
  EXPECT_EQ(s.exited_tasks, 1u);
  EXPECT_FALSE(s.complete());
  EXPECT_NE(s.incomplete.find("1-13:"), std::string::npos) << s.incomplete;
}

TEST(LazyPagesLogTest, NoSummaryAtAllIsNotComplete) {
  EXPECT_FALSE(ParseLazyPagesLog("").complete());
  EXPECT_FALSE(ParseLazyPagesLog("(00.1) uffd: 1-12: #PF at 0x1000\n"
                                 "(00.2) uffd: 1-12: UFFD transferred pages: (garbage)\n")
                   .complete());
}

}  // namespace
}  // namespace migrate::runtime
