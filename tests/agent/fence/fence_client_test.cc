// FenceClient against a scripted stand-in for migrate-fence (a shell loop on fd 3).
#include "agent/fence/fence_client.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace migrate::fence {
namespace {

using namespace std::chrono_literals;

class FenceClientTest : public ::testing::Test {
 protected:
  FenceClientTest() { std::filesystem::create_directories(dir); }
  ~FenceClientTest() override { std::filesystem::remove_all(dir); }

  // A fence that answers "<role> <args...>: <line>" to each line, `delay` seconds late.
  std::string Script(const std::string& delay) {
    std::string path = (dir / "fake-fence").string();
    std::ofstream(path) << "#!/bin/sh\nwhile read -r line <&3; do sleep " << delay
                        << "; echo \"$1 $2 $3 $4 $5: $line\" >&3; done\n";
    ::chmod(path.c_str(), 0755);
    return path;
  }

  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("fence-client-" + std::to_string(::getpid()));
};

TEST_F(FenceClientTest, HandsTheArgumentsAndSkipsALateAnswer) {
  FenceSpec spec{Script("0.3"), FenceRole::kSource, {"--label", "x"}, {}};
  Result<std::unique_ptr<FenceClient>> client = FenceClient::Spawn(spec);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->Request("FIRST", 50ms).status().code(), StatusCode::kDeadlineExceeded);
  Result<std::string> answer = (*client)->Request("SECOND", 5s);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(*answer, "source --control-fd 3 --label x: SECOND");
}

TEST_F(FenceClientTest, AskReturnsTheExpectedAnswerAndNamesAnyOther) {
  FenceSpec spec{Script("0"), FenceRole::kSource, {"--label", "x"}, {}};
  Result<std::unique_ptr<FenceClient>> client = FenceClient::Spawn(spec);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Result<std::string> ok = (*client)->Ask("PING", "source --control-fd", 5s);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, "source --control-fd 3 --label x: PING");
  Result<std::string> other = (*client)->Ask("PING", "OK", 5s);
  EXPECT_EQ(other.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("source --control-fd 3 --label x: PING"),
            std::string::npos)
      << other.status().message();
}

TEST_F(FenceClientTest, RefusesTwoLinesAndReportsAFenceThatIsGone) {
  FenceSpec spec{"/bin/true", FenceRole::kDestination, {}, {}};
  Result<std::unique_ptr<FenceClient>> client = FenceClient::Spawn(spec);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->Request("A\nB", 1s).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*client)->WaitForExit(5s), 0);
  EXPECT_EQ((*client)->Request("STATUS", 1s).status().code(), StatusCode::kUnavailable);
}

TEST_F(FenceClientTest, ASpawnThatCannotStartIsAnError) {
  FenceSpec spec{(dir / "missing").string(), FenceRole::kDestination, {}, {}};
  EXPECT_FALSE(FenceClient::Spawn(spec).ok());
}

}  // namespace
}  // namespace migrate::fence
