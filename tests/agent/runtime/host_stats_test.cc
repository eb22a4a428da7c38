#include "agent/runtime/host_stats.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace migrate::runtime {
namespace {

namespace fs = std::filesystem;

class FakeProc {
 public:
  FakeProc() {
    std::string pattern = (fs::temp_directory_path() / "migrate-proc-XXXXXX").string();
    root_ = mkdtemp(pattern.data());
    fs::create_directories(root_ + "/42/net");
  }
  ~FakeProc() { fs::remove_all(root_); }
  void Write(const std::string& table, const std::string& rows) {
    std::ofstream(root_ + "/42/net/" + table)
        << "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
        << rows;
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

// Lines as the kernel prints them: a listener (0A), two established (01), a TIME_WAIT (06).
TEST(HostStatsTest, CountsEstablishedTcpConnectionsInBothTables) {
  FakeProc proc;
  proc.Write("tcp",
             "   0: 00000000:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
             "   1: 0100007F:1388 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0\n"
             "   2: 0100007F:A1B2 0100007F:1388 06 00000000:00000000 00:00000000 00000000     0\n");
  proc.Write("tcp6",
             "   0: 00000000000000000000000001000000:1388 00000000000000000000000001000000:C000 01 "
             "00000000:00000000 00:00000000 00000000     0\n");
  Result<int> n = EstablishedTcpConnections(42, proc.root());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2);
}

TEST(HostStatsTest, NoConnectionsIsZeroAndAMissingProcessIsAnError) {
  FakeProc proc;
  proc.Write("tcp", "");
  Result<int> n = EstablishedTcpConnections(42, proc.root());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  EXPECT_FALSE(EstablishedTcpConnections(43, proc.root()).ok());
}

}  // namespace
}  // namespace migrate::runtime
