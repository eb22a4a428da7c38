#include "agent/fence/fence_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace migrate::fence {
namespace {

class FenceStateTest : public ::testing::Test {
 protected:
  FenceStateTest()
      : dir(std::filesystem::temp_directory_path() /
            ("fence-state-" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(dir);
  }
  ~FenceStateTest() override { std::filesystem::remove_all(dir); }

  std::filesystem::path dir;
};

FenceState Example() {
  return FenceState{"destination", "m-1", "killed", "lease expired", 1234, 99, 1'700'000'000'123};
}

TEST_F(FenceStateTest, WritesAtomicallyAndReadsBack) {
  std::string path = (dir / "fence.json").string();
  ASSERT_TRUE(WriteFenceState(path, Example()).ok());
  Result<FenceState> read = ReadFenceState(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, Example());
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1) << "no temporary left";
}

TEST_F(FenceStateTest, KeepsTheMembersOrder) {
  EXPECT_EQ(SerializeFenceState(Example()),
            R"({"role":"destination","label":"m-1","state":"killed","reason":"lease expired",)"
            R"("ran_ms":1234,"pid":99,"updated_unix_ms":1700000000123})");
}

TEST_F(FenceStateTest, AMissingFileIsNotFound) {
  EXPECT_EQ(ReadFenceState((dir / "none.json").string()).status().code(), StatusCode::kNotFound);
}

TEST_F(FenceStateTest, RefusesWhatIsNotAFenceState) {
  for (const char* text :
       {"{}", "[1]", "not json", R"({"role":"source","label":"x","state":"holding",
      "reason":"","ran_ms":-1,"pid":1,"updated_unix_ms":1})"}) {
    std::string path = (dir / "bad.json").string();
    std::ofstream(path) << text;
    EXPECT_EQ(ReadFenceState(path).status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST_F(FenceStateTest, AnUnwritableFolderIsAnErrorAndLeavesNothing) {
  Status written = WriteFenceState((dir / "no" / "fence.json").string(), Example());
  EXPECT_EQ(written.code(), StatusCode::kIoError) << written.ToString();
}

}  // namespace
}  // namespace migrate::fence
