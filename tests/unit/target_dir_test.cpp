/*
 * target_dir_test.cpp
 *     Tests of link-proof creation below a directory (helper/src/target_dir.h): a symlink
 *     anywhere below the root, in the middle of a path or at its end, is never followed; unsafe
 *     relative paths are refused; ProbeDirectory tells absent, empty, non-empty and non-directory.
 */
#include "target_dir.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::ListAllEntries;
using pg_ark_test::PathExists;
using pg_ark_test::ReadFileBytes;
using pg_ark_test::TempDir;
using pg_ark_test::WriteFileBytes;

class TargetDirTest : public ::testing::Test {
  protected:
    TargetDirTest() : root_("pg_ark_target"), outside_("pg_ark_outside") {}
    void SetUp() override {
        auto dir = TargetDir::Open(root_.path());
        ASSERT_TRUE(dir.ok()) << dir.status().message();
        dir_ = std::make_unique<TargetDir>(std::move(*dir));
    }
    TempDir root_;
    TempDir outside_;
    std::unique_ptr<TargetDir> dir_;
};

TEST_F(TargetDirTest, CreatesNestedEntries) {
    ASSERT_TRUE(dir_->MakeDirectory("a", 0700).ok());
    ASSERT_TRUE(dir_->MakeDirectory("a/b", 0700).ok());
    auto fd = dir_->OpenFile("a/b/f", O_WRONLY | O_CREAT | O_EXCL, 0600);
    ASSERT_TRUE(fd.ok()) << fd.status().message();
    ASSERT_EQ(write(fd->get(), "x", 1), 1);
    ASSERT_TRUE(dir_->MakeSymlink("a/l", "/somewhere").ok());
    EXPECT_EQ(ReadFileBytes(root_.Sub("a/b/f")), "x");
    char target[64] = {};
    ASSERT_GT(readlink(root_.Sub("a/l").c_str(), target, sizeof target - 1), 0);
    EXPECT_STREQ(target, "/somewhere");
    EXPECT_TRUE(dir_->OpenDirectory("a/b").ok());
    EXPECT_TRUE(dir_->OpenDirectory("").ok());
    EXPECT_EQ(dir_->Describe("a/b/f"), root_.path() + "/a/b/f");
}

TEST_F(TargetDirTest, LinkInTheMiddleIsNotFollowed) {
    ASSERT_EQ(symlink(outside_.path().c_str(), root_.Sub("link").c_str()), 0);
    EXPECT_FALSE(dir_->MakeDirectory("link/d", 0700).ok());
    EXPECT_FALSE(dir_->OpenFile("link/f", O_WRONLY | O_CREAT, 0600).ok());
    EXPECT_FALSE(dir_->MakeSymlink("link/s", "/x").ok());
    EXPECT_FALSE(dir_->OpenDirectory("link").ok());
    EXPECT_TRUE(ListAllEntries(outside_.path()).empty());
}

TEST_F(TargetDirTest, LinkAtTheEndIsNotFollowed) {
    WriteFileBytes(outside_.Sub("victim"), "keep");
    ASSERT_EQ(symlink(outside_.Sub("victim").c_str(), root_.Sub("f").c_str()), 0);
    EXPECT_FALSE(dir_->OpenFile("f", O_WRONLY).ok());
    EXPECT_FALSE(dir_->OpenFile("f", O_WRONLY | O_CREAT | O_TRUNC, 0600).ok());
    EXPECT_EQ(ReadFileBytes(outside_.Sub("victim")), "keep");
}

TEST_F(TargetDirTest, UnsafePathsRefused) {
    ASSERT_TRUE(dir_->MakeDirectory("a", 0700).ok());
    for (const char *path : {"", "..", "../x", "a/../../x", "/etc/x", "a//b", "./a", "a/.", "a/"}) {
        SCOPED_TRACE(path);
        Status made = dir_->MakeDirectory(path, 0700);
        EXPECT_FALSE(made.ok());
        if (std::string(path) != "") EXPECT_EQ(made.kind(), ErrorKind::invalid_argument);
    }
    EXPECT_EQ(ListAllEntries(root_.path()), std::vector<std::string>{"a"});
    EXPECT_TRUE(ListAllEntries(root_.Sub("a")).empty());
}

TEST(ProbeDirectoryTest, States) {
    TempDir dir("pg_ark_probe");
    auto probe = [](const std::string &path) {
        auto state = ProbeDirectory(path);
        EXPECT_TRUE(state.ok()) << state.status().message();
        return state.ok() ? *state : DirectoryState::absent;
    };
    EXPECT_EQ(probe(dir.Sub("absent")), DirectoryState::absent);
    EXPECT_EQ(probe(dir.path()), DirectoryState::empty);
    WriteFileBytes(dir.Sub(".hidden"), "");
    EXPECT_EQ(probe(dir.path()), DirectoryState::not_empty);
    EXPECT_EQ(probe(dir.Sub(".hidden")), DirectoryState::not_directory);
    ASSERT_EQ(mkdir(dir.Sub("empty").c_str(), 0700), 0);
    ASSERT_EQ(symlink(dir.Sub("empty").c_str(), dir.Sub("link").c_str()), 0);
    EXPECT_EQ(probe(dir.Sub("link")),
              DirectoryState::empty); /* a linked target is the user's choice */
}

TEST(TargetDirCreateTest, CreatesWithModeAndRefusesExisting) {
    TempDir dir("pg_ark_create");
    auto made = TargetDir::Create(dir.Sub("new"), 0700);
    ASSERT_TRUE(made.ok()) << made.status().message();
    struct stat st;
    ASSERT_EQ(stat(dir.Sub("new").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    EXPECT_FALSE(TargetDir::Create(dir.Sub("new"), 0700).ok());
    EXPECT_FALSE(TargetDir::Create(dir.Sub("missing/parent"), 0700).ok());
}

}  // namespace
}  // namespace pg_ark
