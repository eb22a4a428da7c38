// Generated symlink chains in a real directory, judged by the kernel. Whatever the project's
// symlink check accepts for checkpoint images must not resolve outside the tree in the
// kernel's own resolution (openat2 RESOLVE_BENEATH); and the opener the receiver and the
// agent use on received trees (OpenBeneath) must never reach anything outside the tree,
// where plain path resolution does.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/transfer/test_pki.h"
#include "tests/transfer/test_tree.h"
#include "transfer/base/open_beneath.h"
#include "transfer/stream/staging_tree.h"
#include "transfer/base/unique_fd.h"

namespace migrate::transfer {
namespace {

using Inode = std::pair<dev_t, ino_t>;
using Link = std::pair<std::string, std::string>;  // path in the tree -> target

const SymlinkPolicy kImagesPolicy = SymlinkPolicy::kNone;

std::string Pick(std::mt19937& rng, const std::vector<std::string>& from) {
  return from[std::uniform_int_distribution<size_t>(0, from.size() - 1)(rng)];
}

// A few directories and links whose targets are random walks over names that exist, "..",
// "." and the names of other links (chains), now and then absolute.
std::vector<Link> GenerateLinks(std::mt19937& rng) {
  static const std::vector<std::string> kDirs = {"", "a/", "a/b/", "c/"};
  static const std::vector<std::string> kNames = {"up", "x", "y", "l"};
  static const std::vector<std::string> kSteps = {"..", "..", ".", "a", "b",   "c",
                                                  "up", "x",  "y", "l", "etc", "shadow"};
  std::vector<Link> links;
  int count = std::uniform_int_distribution<int>(2, 6)(rng);
  for (int i = 0; i < count; ++i) {
    std::string target = std::uniform_int_distribution<int>(0, 7)(rng) == 0 ? "/" : "";
    int steps = std::uniform_int_distribution<int>(1, 7)(rng);
    for (int s = 0; s < steps; ++s) target += (s ? "/" : "") + Pick(rng, kSteps);
    links.emplace_back(Pick(rng, kDirs) + Pick(rng, kNames), target);
  }
  return links;
}

class SymlinkPropertyTest : public ::testing::Test {
 protected:
  // A fresh tree: dirs a, a/b, c and the links (etc/shadow, the canary, is made by the test).
  void Build(const std::vector<Link>& links) {
    mkdir(dir_.Sub("t").c_str(), 0755);
    testing::RemoveTree(root_);
    ASSERT_EQ(mkdir(root_.c_str(), 0755), 0);
    for (const char* d : {"a", "a/b", "c"}) ASSERT_EQ(mkdir((root_ + "/" + d).c_str(), 0755), 0);
    for (const auto& [path, target] : links) {
      (void)symlink(target.c_str(), (root_ + "/" + path).c_str());  // a repeated name: first wins
    }
    root_fd_.reset(open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_GE(root_fd_.get(), 0);
    inside_.clear();
    Collect(root_);
  }

  // Every inode of the tree (no link followed).
  void Collect(const std::string& root) {
    struct stat st;
    ASSERT_EQ(lstat(root.c_str(), &st), 0);
    inside_.insert({st.st_dev, st.st_ino});
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      ASSERT_EQ(lstat(entry.path().c_str(), &st), 0);
      inside_.insert({st.st_dev, st.st_ino});
    }
  }

  // The kernel's own verdict: does `path` resolve outside the tree (symlinks followed)?
  bool KernelSaysEscapes(const std::string& path) {
    open_how how{};
    how.flags = O_PATH | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH;
    long fd = syscall(SYS_openat2, root_fd_.get(), path.c_str(), &how, sizeof(how));
    if (fd >= 0) close(static_cast<int>(fd));
    return fd < 0 && errno == EXDEV;
  }

  // Where plain resolution (what a careless open does) and OpenBeneath end up.
  std::optional<Inode> Reach(int fd) {
    struct stat st;
    std::optional<Inode> out;
    if (fd >= 0 && fstat(fd, &st) == 0) out = Inode{st.st_dev, st.st_ino};
    if (fd >= 0) close(fd);
    return out;
  }
  bool Inside(const std::optional<Inode>& inode) { return !inode || inside_.count(*inode) != 0; }

  testing::TempDir dir_;
  // Two levels below dir_: "../.." from the tree is dir_, where etc/shadow waits.
  std::string root_ = dir_.Sub("t/tree");
  UniqueFd root_fd_;
  std::set<Inode> inside_;
};

TEST_F(SymlinkPropertyTest, TheChainFromTheReviewEscapesAndIsRefused) {
  std::vector<Link> chain = {{"a/up", ".."}, {"x", "a/up/a/up/../../etc/shadow"}};
  ASSERT_EQ(mkdir(dir_.Sub("etc").c_str(), 0755), 0);
  testing::WriteTextFile(dir_.Sub("etc/shadow"), "canary");
  Build(chain);
  EXPECT_TRUE(KernelSaysEscapes("x"));
  for (const auto& [path, target] : chain) {
    EXPECT_FALSE(ValidateSymlinkTarget(path, target, kImagesPolicy).ok()) << path;
  }
  EXPECT_FALSE(Inside(Reach(openat(root_fd_.get(), "x", O_RDONLY | O_CLOEXEC))))
      << "plain resolution reaches the canary";
  EXPECT_LT(OpenBeneath(root_fd_.get(), "x", O_RDONLY), 0);
  EXPECT_EQ(errno, ELOOP);
}

TEST_F(SymlinkPropertyTest, GeneratedChainsNeverLeadOutsideTheTree) {
  ASSERT_EQ(mkdir(dir_.Sub("etc").c_str(), 0755), 0);
  testing::WriteTextFile(dir_.Sub("etc/shadow"), "canary");
  std::mt19937 rng(20261201);
  int escapes_by_plain_resolution = 0;
  for (int round = 0; round < 400; ++round) {
    std::vector<Link> links = GenerateLinks(rng);
    Build(links);
    for (const auto& [path, target] : links) {
      SCOPED_TRACE("round " + std::to_string(round) + ": " + path + " -> " + target);
      if (ValidateSymlinkTarget(path, target, kImagesPolicy).ok()) {
        EXPECT_FALSE(KernelSaysEscapes(path)) << "accepted for images, resolves outside";
      }
      for (const std::string& probe : {path, path + "/shadow", path + "/etc/shadow"}) {
        auto plain = Reach(openat(root_fd_.get(), probe.c_str(), O_PATH | O_CLOEXEC));
        escapes_by_plain_resolution += !Inside(plain);
        EXPECT_TRUE(Inside(Reach(OpenBeneath(root_fd_.get(), probe, O_PATH))))
            << "OpenBeneath left the tree at " << probe;
      }
    }
  }
  EXPECT_GT(escapes_by_plain_resolution, 20) << "the generator must make real escapes";
}

}  // namespace
}  // namespace migrate::transfer
