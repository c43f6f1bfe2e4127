/*
 * storage_test.cpp
 *     Tests of the posix Storage (helper/src/storage.h): Close() is the commit point, an
 *     abandoned stream leaves nothing behind, create_new never overwrites, and filesystem
 *     failures (full, read-only) come back as the right error kinds with nothing half-written
 *     visible.
 */
#include "storage.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::ListAllEntries;
using pg_ark_test::ListAllFilesRecursive;
using pg_ark_test::TempDir;

RepoPath P(const std::string &text) {
    Result<RepoPath> path = RepoPath::Make(text);
    if (!path.ok()) throw std::runtime_error("bad test path " + text);
    return *path;
}

class StorageTest : public ::testing::Test {
  protected:
    StorageTest() : dir_("pg_ark_storage"), storage_(MakePosixStorage(dir_.path())) {}
    TempDir dir_;
    std::unique_ptr<Storage> storage_;
};

TEST_F(StorageTest, WriteAllReadAllRoundTrip) {
    std::string data = pg_ark_test::RandomBytes(100000, 1);
    ASSERT_TRUE(WriteAll(*storage_, P("obj"), data, WriteMode::create_new).ok());
    Result<std::string> back = ReadAll(*storage_, P("obj"));
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(*back, data);
    /* And it is a plain file under the root. */
    EXPECT_EQ(pg_ark_test::ReadFileBytes(dir_.Sub("obj")), data);
}

TEST_F(StorageTest, EmptyObjectRoundTrip) {
    ASSERT_TRUE(WriteAll(*storage_, P("empty"), "", WriteMode::create_new).ok());
    Result<std::string> back = ReadAll(*storage_, P("empty"));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, "");
    Result<ObjectInfo> info = storage_->Info(P("empty"));
    ASSERT_TRUE(info.ok());
    EXPECT_TRUE(info->exists);
    EXPECT_EQ(info->size, 0u);
}

TEST_F(StorageTest, NestedPathsCreateDirectories) {
    ASSERT_TRUE(
        WriteAll(*storage_, P("main/wal/0000000100000000/x.ark"), "x", WriteMode::create_new).ok());
    EXPECT_EQ(pg_ark_test::ReadFileBytes(dir_.Sub("main/wal/0000000100000000/x.ark")), "x");
}

TEST_F(StorageTest, StreamedWritesAndSmallReads) {
    std::string data = pg_ark_test::RandomBytes(3 * 1024 * 1024 + 17, 2);
    Result<std::unique_ptr<WriteStream>> out =
        storage_->OpenWrite(P("d/big"), WriteMode::create_new);
    ASSERT_TRUE(out.ok()) << out.status().message();
    size_t sizes[] = {1, 7, 4096, 65537, 1 << 20};
    size_t at = 0;
    for (int i = 0; at < data.size(); i++) {
        size_t n = std::min(sizes[i % 5], data.size() - at);
        ASSERT_TRUE((*out)->Write(data.data() + at, n).ok());
        at += n;
    }
    /* Not visible before Close(). */
    Result<ObjectInfo> before = storage_->Info(P("d/big"));
    ASSERT_TRUE(before.ok());
    EXPECT_FALSE(before->exists);
    ASSERT_TRUE((*out)->Close().ok());
    Result<ObjectInfo> after = storage_->Info(P("d/big"));
    ASSERT_TRUE(after.ok());
    EXPECT_TRUE(after->exists);
    EXPECT_EQ(after->size, data.size());

    Result<std::unique_ptr<ReadStream>> in = storage_->OpenRead(P("d/big"));
    ASSERT_TRUE(in.ok());
    std::string back;
    char buffer[1000];
    for (int i = 0;; i++) {
        Result<size_t> got = (*in)->Read(buffer, 1 + (i * 37) % sizeof buffer);
        ASSERT_TRUE(got.ok());
        if (*got == 0) break;
        back.append(buffer, *got);
    }
    EXPECT_EQ(back, data);
    /* Reads at the end keep returning 0. */
    Result<size_t> again = (*in)->Read(buffer, sizeof buffer);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, 0u);
}

TEST_F(StorageTest, AbandonedStreamLeavesNothing) {
    {
        Result<std::unique_ptr<WriteStream>> out =
            storage_->OpenWrite(P("obj"), WriteMode::create_new);
        ASSERT_TRUE(out.ok());
        ASSERT_TRUE((*out)->Write("partial data", 12).ok());
        /* While it is open, the object is not visible and List does not show the temp file. */
        Result<ObjectInfo> info = storage_->Info(P("obj"));
        ASSERT_TRUE(info.ok());
        EXPECT_FALSE(info->exists);
        /* Destroyed without Close(). */
    }
    EXPECT_EQ(ListAllEntries(dir_.path()), std::vector<std::string>{});
    Result<std::unique_ptr<ReadStream>> in = storage_->OpenRead(P("obj"));
    EXPECT_FALSE(in.ok());
}

TEST_F(StorageTest, AbandonedStreamInSubdirectoryLeavesNoFile) {
    {
        Result<std::unique_ptr<WriteStream>> out =
            storage_->OpenWrite(P("sub/dir/obj"), WriteMode::replace);
        ASSERT_TRUE(out.ok());
        ASSERT_TRUE((*out)->Write("x", 1).ok());
    }
    /* Directories may remain, files (hidden or not) must not. */
    EXPECT_EQ(ListAllFilesRecursive(dir_.path()), std::vector<std::string>{});
}

TEST_F(StorageTest, CreateNewOnExistingNameIsConflict) {
    ASSERT_TRUE(WriteAll(*storage_, P("a/obj"), "original", WriteMode::create_new).ok());
    Status second = WriteAll(*storage_, P("a/obj"), "different", WriteMode::create_new);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.kind(), ErrorKind::conflict) << second.message();
    Result<std::string> back = ReadAll(*storage_, P("a/obj"));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, "original");
    EXPECT_EQ(ListAllEntries(dir_.Sub("a")), std::vector<std::string>{"obj"});
}

TEST_F(StorageTest, CreateNewConflictDetectedAtClose) {
    /* Two writers open the same name; exactly one commit wins and keeps its content. */
    Result<std::unique_ptr<WriteStream>> first =
        storage_->OpenWrite(P("race"), WriteMode::create_new);
    Result<std::unique_ptr<WriteStream>> second =
        storage_->OpenWrite(P("race"), WriteMode::create_new);
    ASSERT_TRUE(first.ok());
    ASSERT_TRUE(second.ok());
    ASSERT_TRUE((*first)->Write("first", 5).ok());
    ASSERT_TRUE((*second)->Write("second", 6).ok());
    ASSERT_TRUE((*first)->Close().ok());
    Status late = (*second)->Close();
    ASSERT_FALSE(late.ok());
    EXPECT_EQ(late.kind(), ErrorKind::conflict) << late.message();
    first->reset();
    second->reset();
    Result<std::string> back = ReadAll(*storage_, P("race"));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, "first");
    EXPECT_EQ(ListAllEntries(dir_.path()), std::vector<std::string>{"race"});
}

TEST_F(StorageTest, ConcurrentCreateNewHasOneWinner) {
    constexpr int kThreads = 8;
    std::atomic<int> winners{0}, conflicts{0}, others{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
            std::string data = "writer " + std::to_string(t) + std::string(10000, 'a' + t);
            Status s = WriteAll(*storage_, P("c/one"), data, WriteMode::create_new);
            if (s.ok())
                winners++;
            else if (s.kind() == ErrorKind::conflict)
                conflicts++;
            else
                others++;
        });
    }
    for (auto &th : threads) th.join();
    EXPECT_EQ(winners.load(), 1);
    EXPECT_EQ(conflicts.load(), kThreads - 1);
    EXPECT_EQ(others.load(), 0);
    Result<std::string> back = ReadAll(*storage_, P("c/one"));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->substr(0, 7), "writer ");
    EXPECT_EQ(back->size(), 10000u + 8u);
    EXPECT_EQ(ListAllEntries(dir_.Sub("c")), std::vector<std::string>{"one"});
}

TEST_F(StorageTest, ReplaceOverwrites) {
    ASSERT_TRUE(WriteAll(*storage_, P("obj"), "one", WriteMode::replace).ok());
    ASSERT_TRUE(WriteAll(*storage_, P("obj"), "two two", WriteMode::replace).ok());
    Result<std::string> back = ReadAll(*storage_, P("obj"));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, "two two");
    EXPECT_EQ(ListAllEntries(dir_.path()), std::vector<std::string>{"obj"});
}

TEST_F(StorageTest, OpenReadMissingIsNotFound) {
    Result<std::unique_ptr<ReadStream>> in = storage_->OpenRead(P("nothing"));
    ASSERT_FALSE(in.ok());
    EXPECT_EQ(in.status().kind(), ErrorKind::not_found);
    Result<std::unique_ptr<ReadStream>> deep = storage_->OpenRead(P("no/such/dir/x"));
    ASSERT_FALSE(deep.ok());
    EXPECT_EQ(deep.status().kind(), ErrorKind::not_found);
    Result<std::string> all = ReadAll(*storage_, P("nothing"));
    ASSERT_FALSE(all.ok());
    EXPECT_EQ(all.status().kind(), ErrorKind::not_found);
}

TEST_F(StorageTest, ListSortedSkippingTempNames) {
    for (const char *name : {"b", "a", "c", "B", "0"})
        ASSERT_TRUE(
            WriteAll(*storage_, P(std::string("dir/") + name), name, WriteMode::create_new).ok());
    /* A writer in progress: its temp file must not be listed. */
    Result<std::unique_ptr<WriteStream>> pending =
        storage_->OpenWrite(P("dir/d"), WriteMode::create_new);
    ASSERT_TRUE(pending.ok());
    ASSERT_TRUE((*pending)->Write("zz", 2).ok());
    pg_ark_test::WriteFileBytes(dir_.Sub("dir/.leftover.tmp"), "junk");

    Result<std::vector<std::string>> names = storage_->List(P("dir"));
    ASSERT_TRUE(names.ok()) << names.status().message();
    EXPECT_EQ(*names, (std::vector<std::string>{"0", "B", "a", "b", "c"}));

    ASSERT_TRUE((*pending)->Close().ok());
    names = storage_->List(P("dir"));
    ASSERT_TRUE(names.ok());
    EXPECT_EQ(*names, (std::vector<std::string>{"0", "B", "a", "b", "c", "d"}));
}

TEST_F(StorageTest, ListMissingDirectoryIsEmpty) {
    Result<std::vector<std::string>> names = storage_->List(P("absent/dir"));
    ASSERT_TRUE(names.ok()) << names.status().message();
    EXPECT_TRUE(names->empty());
}

TEST_F(StorageTest, ListObjectsGivesSizeAndStoredTimeAndSkipsSubPrefixes) {
    time_t before = time(nullptr);
    ASSERT_TRUE(WriteAll(*storage_, P("dir/b"), "bb", WriteMode::create_new).ok());
    ASSERT_TRUE(WriteAll(*storage_, P("dir/a"), "a", WriteMode::create_new).ok());
    ASSERT_TRUE(WriteAll(*storage_, P("dir/sub/c"), "c", WriteMode::create_new).ok());
    pg_ark_test::WriteFileBytes(dir_.Sub("dir/.leftover.tmp"), "junk");
    time_t after = time(nullptr);

    Result<std::vector<ListedObject>> objects = storage_->ListObjects(P("dir"));
    ASSERT_TRUE(objects.ok()) << objects.status().message();
    ASSERT_EQ(objects->size(), 2u) << "sub/ is a prefix and .leftover.tmp an unfinished write";
    EXPECT_EQ((*objects)[0].name, "a");
    EXPECT_EQ((*objects)[0].size, 1u);
    EXPECT_EQ((*objects)[1].name, "b");
    EXPECT_EQ((*objects)[1].size, 2u);
    for (const ListedObject &object : *objects) {
        /* - 1: file times come from a coarser clock than time() */
        EXPECT_GE(object.stored_time, static_cast<double>(before - 1)) << object.name;
        EXPECT_LT(object.stored_time, static_cast<double>(after + 1)) << object.name;
    }

    Result<std::vector<ListedObject>> absent = storage_->ListObjects(P("absent/dir"));
    ASSERT_TRUE(absent.ok()) << absent.status().message();
    EXPECT_TRUE(absent->empty());
}

TEST_F(StorageTest, Info) {
    ASSERT_TRUE(
        WriteAll(*storage_, P("x/obj"), std::string(1234, 'q'), WriteMode::create_new).ok());
    Result<ObjectInfo> info = storage_->Info(P("x/obj"));
    ASSERT_TRUE(info.ok());
    EXPECT_TRUE(info->exists);
    EXPECT_EQ(info->size, 1234u);
    Result<ObjectInfo> missing = storage_->Info(P("x/none"));
    ASSERT_TRUE(missing.ok()) << missing.status().message();
    EXPECT_FALSE(missing->exists);
    Result<ObjectInfo> missing_dir = storage_->Info(P("nodir/none"));
    ASSERT_TRUE(missing_dir.ok()) << missing_dir.status().message();
    EXPECT_FALSE(missing_dir->exists);
}

TEST_F(StorageTest, Remove) {
    ASSERT_TRUE(WriteAll(*storage_, P("r/obj"), "data", WriteMode::create_new).ok());
    ASSERT_TRUE(storage_->Remove(P("r/obj")).ok());
    Result<ObjectInfo> info = storage_->Info(P("r/obj"));
    ASSERT_TRUE(info.ok());
    EXPECT_FALSE(info->exists);
    Result<std::unique_ptr<ReadStream>> in = storage_->OpenRead(P("r/obj"));
    ASSERT_FALSE(in.ok());
    EXPECT_EQ(in.status().kind(), ErrorKind::not_found);
    /* After removal the name can be created anew. */
    EXPECT_TRUE(WriteAll(*storage_, P("r/obj"), "again", WriteMode::create_new).ok());
}

TEST_F(StorageTest, RemoveDirectory) {
    ASSERT_TRUE(WriteAll(*storage_, P("d/keep"), "data", WriteMode::create_new).ok());
    /* An abandoned write: its temp file does not keep the directory alive. */
    auto abandoned = storage_->OpenWrite(P("d/half"), WriteMode::create_new);
    ASSERT_TRUE(abandoned.ok());
    Status refused = storage_->RemoveDirectory(P("d"));
    EXPECT_FALSE(refused.ok()) << "an object is still there";
    EXPECT_TRUE(pg_ark_test::PathExists(dir_.Sub("d/keep")));

    ASSERT_TRUE(storage_->Remove(P("d/keep")).ok());
    Status removed = storage_->RemoveDirectory(P("d"));
    ASSERT_TRUE(removed.ok()) << removed.message();
    EXPECT_FALSE(pg_ark_test::PathExists(dir_.Sub("d")));
    EXPECT_TRUE(storage_->RemoveDirectory(P("d")).ok()) << "absent is fine";
}

TEST_F(StorageTest, DescribeNamesRoot) {
    EXPECT_NE(storage_->Describe().find(dir_.path()), std::string::npos) << storage_->Describe();
}

/* ---------------------------------------------------------------- filesystem failures */

/* Mounts a tmpfs of the given size on a directory; unmounts on destruction. */
class TmpfsMount {
  public:
    TmpfsMount(const std::string &target, const char *size) : target_(target) {
        std::string options = std::string("size=") + size + ",mode=0700";
        mounted_ =
            mount("tmpfs", target.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) == 0;
        error_ = errno;
    }
    ~TmpfsMount() {
        if (mounted_) umount2(target_.c_str(), MNT_DETACH);
    }
    bool mounted() const { return mounted_; }
    int error() const { return error_; }

  private:
    std::string target_;
    bool mounted_ = false;
    int error_ = 0;
};

TEST(StorageFailureTest, RepositoryFullIsNoSpaceAndLeavesNothing) {
    if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
    TempDir dir("pg_ark_full");
    std::string mount_point = dir.Sub("mnt");
    ASSERT_EQ(mkdir(mount_point.c_str(), 0700), 0);
    TmpfsMount tmpfs(mount_point, "1m");
    if (!tmpfs.mounted()) GTEST_SKIP() << "mount -t tmpfs failed: " << strerror(tmpfs.error());

    std::unique_ptr<Storage> storage = MakePosixStorage(mount_point);
    std::string chunk = pg_ark_test::RandomBytes(64 * 1024, 3);
    Status failure;
    {
        Result<std::unique_ptr<WriteStream>> out =
            storage->OpenWrite(P("main/wal/obj"), WriteMode::create_new);
        ASSERT_TRUE(out.ok()) << out.status().message();
        for (int i = 0; i < 32 && failure.ok(); i++) /* 2 MiB */
            failure = (*out)->Write(chunk.data(), chunk.size());
        if (failure.ok()) failure = (*out)->Close();
        ASSERT_FALSE(failure.ok()) << "2 MiB fitted in a 1 MiB tmpfs";
        EXPECT_EQ(failure.kind(), ErrorKind::no_space) << failure.message();
        EXPECT_FALSE(failure.message().empty());
        /* Not visible while the failed stream still exists. */
        Result<ObjectInfo> info = storage->Info(P("main/wal/obj"));
        ASSERT_TRUE(info.ok());
        EXPECT_FALSE(info->exists);
    }
    /* After the stream is gone: no object, no temp file, and the space is free again. */
    EXPECT_EQ(ListAllFilesRecursive(mount_point), std::vector<std::string>{});
    EXPECT_TRUE(
        WriteAll(*storage, P("main/wal/small"), std::string(512 * 1024, 's'), WriteMode::create_new)
            .ok());

    /* WriteAll reports the same kind. */
    Status all = WriteAll(*storage, P("main/wal/big"), std::string(2 * 1024 * 1024, 'b'),
                          WriteMode::create_new);
    ASSERT_FALSE(all.ok());
    EXPECT_EQ(all.kind(), ErrorKind::no_space) << all.message();
    EXPECT_EQ(ListAllFilesRecursive(mount_point), std::vector<std::string>{"main/wal/small"});
}

/* Runs fn as an unprivileged user in a child process; returns its exit code or -1. */
template <typename Fn>
int RunAsNobody(Fn fn) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(100);
        _exit(fn());
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

TEST(StorageFailureTest, ReadOnlyDirectoryIsPermissionDenied) {
    TempDir dir("pg_ark_ro");
    std::string root = dir.Sub("repo");
    ASSERT_EQ(mkdir(root.c_str(), 0700), 0);
    {
        std::unique_ptr<Storage> setup = MakePosixStorage(root);
        ASSERT_TRUE(WriteAll(*setup, P("existing/obj"), "keep", WriteMode::create_new).ok());
    }
    auto check = [&]() -> int {
        std::unique_ptr<Storage> storage = MakePosixStorage(root);
        Status top = WriteAll(*storage, P("obj"), "data", WriteMode::create_new);
        if (top.ok()) return 1;
        if (top.kind() != ErrorKind::permission_denied) return 2;
        Status nested = WriteAll(*storage, P("newdir/obj"), "data", WriteMode::create_new);
        if (nested.ok()) return 3;
        if (nested.kind() != ErrorKind::permission_denied) return 4;
        Status in_existing = WriteAll(*storage, P("existing/obj2"), "data", WriteMode::create_new);
        if (in_existing.ok()) return 5;
        if (in_existing.kind() != ErrorKind::permission_denied) return 6;
        return 0;
    };
    if (geteuid() == 0) {
        /* Root bypasses mode bits, so run the check as nobody on a directory tree nobody can
         * read and traverse but not write. */
        ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
        ASSERT_EQ(chmod(root.c_str(), 0555), 0);
        ASSERT_EQ(chmod((root + "/existing").c_str(), 0555), 0);
        int code = RunAsNobody(check);
        if (code == 100) GTEST_SKIP() << "could not switch to uid 65534";
        EXPECT_EQ(code, 0) << "1/3/5: write succeeded, 2/4/6: wrong error kind (see source)";
    } else {
        ASSERT_EQ(chmod(root.c_str(), 0500), 0);
        ASSERT_EQ(chmod((root + "/existing").c_str(), 0500), 0);
        EXPECT_EQ(check(), 0) << "1/3/5: write succeeded, 2/4/6: wrong error kind (see source)";
    }
    chmod(root.c_str(), 0700);
    chmod((root + "/existing").c_str(), 0700);
    EXPECT_EQ(ListAllFilesRecursive(root), std::vector<std::string>{"existing/obj"});
}

}  // namespace
}  // namespace pg_ark
