/*
 * repo_path_test.cpp
 *     Tests of RepoPath (helper/src/repo_path.h): only relative paths of non-empty components
 *     other than "." and ".." can be made, so nothing can point outside the repository.
 */
#include "repo_path.h"

#include <gtest/gtest.h>

#include <string>

namespace pg_ark {
namespace {

TEST(RepoPathTest, MakeAcceptsNormalPaths) {
    for (const char *text : {"a", "main", "main/cluster.info", "main/wal/0000000100000000/x.ark",
                             "a-b_c.d", "a/.hidden", "...", "a/..b", "b../c", "x y"}) {
        Result<RepoPath> path = RepoPath::Make(text);
        ASSERT_TRUE(path.ok()) << text << ": " << path.status().message();
        EXPECT_EQ(path->str(), text);
    }
}

TEST(RepoPathTest, MakeRejectsUnsafePaths) {
    const std::string cases[] = {
        "",
        "/abs",
        "/",
        "//",
        "a/../b",
        "..",
        ".",
        "../a",
        "a/..",
        "./a",
        "a/.",
        "a/./b",
        "a//b",
        "a/",
        "/a/b",
        "a\\b",
        "..\\a",
        std::string("a\0b", 3),
        std::string("\0", 1),
        std::string("a/\0", 3),
    };
    for (const std::string &text : cases) {
        Result<RepoPath> path = RepoPath::Make(text);
        EXPECT_FALSE(path.ok()) << "accepted \"" << text << "\" (size " << text.size() << ")";
        if (!path.ok()) EXPECT_EQ(path.status().kind(), ErrorKind::invalid_argument) << text;
    }
}

TEST(RepoPathTest, JoinAppendsComponents) {
    Result<RepoPath> base = RepoPath::Make("main");
    ASSERT_TRUE(base.ok());
    Result<RepoPath> one = base->Join("wal");
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->str(), "main/wal");
    Result<RepoPath> two = one->Join("history/00000002.history.ark");
    ASSERT_TRUE(two.ok());
    EXPECT_EQ(two->str(), "main/wal/history/00000002.history.ark");
    /* Join does not modify the original. */
    EXPECT_EQ(base->str(), "main");
}

TEST(RepoPathTest, JoinRejectsUnsafeRelatives) {
    Result<RepoPath> base = RepoPath::Make("main/wal");
    ASSERT_TRUE(base.ok());
    const std::string cases[] = {"",          "/x",   "..", "../x", "../../etc/passwd",    ".",
                                 "a/../../b", "a//b", "a/", "a\\b", std::string("a\0b", 3)};
    for (const std::string &relative : cases) {
        Result<RepoPath> joined = base->Join(relative);
        EXPECT_FALSE(joined.ok()) << "joined \"" << relative << "\" -> "
                                  << (joined.ok() ? joined->str() : "");
    }
}

TEST(RepoPathTest, ParentAndName) {
    Result<RepoPath> deep = RepoPath::Make("a/b/c.ark");
    ASSERT_TRUE(deep.ok());
    EXPECT_EQ(deep->Parent(), "a/b");
    EXPECT_EQ(deep->Name(), "c.ark");

    Result<RepoPath> two = RepoPath::Make("a/b");
    ASSERT_TRUE(two.ok());
    EXPECT_EQ(two->Parent(), "a");
    EXPECT_EQ(two->Name(), "b");

    Result<RepoPath> top = RepoPath::Make("top");
    ASSERT_TRUE(top.ok());
    EXPECT_EQ(top->Parent(), "");
    EXPECT_EQ(top->Name(), "top");

    /* The parent of a valid path is itself valid. */
    EXPECT_TRUE(RepoPath::Make(deep->Parent()).ok());
}

}  // namespace
}  // namespace pg_ark
