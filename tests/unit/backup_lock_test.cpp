/*
 * backup_lock_test.cpp
 *     Tests of the per-cluster backup lock (helper/src/backup_lock.h): one holder at a time, even
 *     within one process; released on destruction and when the holder dies; IsHeld probes it
 *     without disturbing the holder.
 */
#include "backup_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <string>

#include "test_util.h"

namespace pg_ark {
namespace {

using pg_ark_test::TempDir;

constexpr char kFirst[] = "20261122-053113F";
constexpr char kSecond[] = "20261122-060000I";

class BackupLockTest : public ::testing::Test {
  protected:
    BackupLockTest() : dir_("pg_ark_lock") { mkdir(dir_.Sub("main").c_str(), 0750); }

    bool Held() {
        Result<bool> held = BackupLock::IsHeld(dir_.path(), "main");
        EXPECT_TRUE(held.ok()) << held.status().message();
        return held.ok() && *held;
    }

    TempDir dir_;
};

TEST_F(BackupLockTest, SecondAcquireConflictsAndNamesTheHolder) {
    Result<BackupLock> first = BackupLock::Acquire(dir_.path(), "main", kFirst);
    ASSERT_TRUE(first.ok()) << first.status().message();
    EXPECT_TRUE(first->held());
    EXPECT_EQ(pg_ark_test::ReadFileBytes(dir_.Sub("main/backup.lock")), std::string(kFirst) + "\n");

    /* Same process, another open file description: still a conflict. */
    Result<BackupLock> second = BackupLock::Acquire(dir_.path(), "main", kSecond);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().kind(), ErrorKind::conflict);
    EXPECT_EQ(second.status().message(),
              "a backup of cluster \"main\" is already running (backup 20261122-053113F)");
    EXPECT_EQ(pg_ark_test::ReadFileBytes(dir_.Sub("main/backup.lock")), std::string(kFirst) + "\n")
        << "the loser must not overwrite the holder's id";
}

TEST_F(BackupLockTest, ReleasedOnDestructionAndOnRelease) {
    {
        Result<BackupLock> lock = BackupLock::Acquire(dir_.path(), "main", kFirst);
        ASSERT_TRUE(lock.ok());
        BackupLock moved = std::move(*lock);
        EXPECT_TRUE(moved.held());
        EXPECT_FALSE(BackupLock::Acquire(dir_.path(), "main", kSecond).ok());
    }
    Result<BackupLock> again = BackupLock::Acquire(dir_.path(), "main", kSecond);
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_EQ(pg_ark_test::ReadFileBytes(dir_.Sub("main/backup.lock")),
              std::string(kSecond) + "\n");
    again->Release();
    EXPECT_FALSE(again->held());
    EXPECT_TRUE(BackupLock::Acquire(dir_.path(), "main", kFirst).ok());
}

TEST_F(BackupLockTest, IsHeldProbesWithoutDisturbing) {
    EXPECT_FALSE(Held()) << "no lock file yet";
    EXPECT_FALSE(pg_ark_test::PathExists(dir_.Sub("main/backup.lock")))
        << "probing creates nothing";
    Result<BackupLock> lock = BackupLock::Acquire(dir_.path(), "main", kFirst);
    ASSERT_TRUE(lock.ok());
    EXPECT_TRUE(Held());
    EXPECT_TRUE(Held());
    EXPECT_EQ(BackupLock::Acquire(dir_.path(), "main", kSecond).status().kind(),
              ErrorKind::conflict);
    lock->Release();
    EXPECT_FALSE(Held());
    EXPECT_FALSE(BackupLock::IsHeld(dir_.path(), "other").value()) << "clusters are independent";
}

TEST_F(BackupLockTest, DiesWithItsHolder) {
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        Result<BackupLock> lock = BackupLock::Acquire(dir_.path(), "main", kFirst);
        char byte = lock.ok() ? 'y' : 'n';
        if (write(ready[1], &byte, 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    /* Never leave the child paused if an assertion returns early. */
    struct Reaper {
        pid_t pid;
        ~Reaper() {
            if (pid > 0 && kill(pid, SIGKILL) == 0) waitpid(pid, nullptr, 0);
        }
    } reaper{child};
    char byte = 0;
    ASSERT_EQ(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    close(ready[1]);
    ASSERT_EQ(byte, 'y');
    EXPECT_TRUE(Held());
    ASSERT_EQ(kill(child, SIGKILL), 0);
    ASSERT_EQ(waitpid(child, nullptr, 0), child);
    reaper.pid = -1;
    EXPECT_FALSE(Held()) << "the kernel drops the lock of a killed holder";
    EXPECT_TRUE(BackupLock::Acquire(dir_.path(), "main", kSecond).ok());
}

TEST_F(BackupLockTest, RejectsBadNames) {
    EXPECT_EQ(BackupLock::Acquire(dir_.path(), "../main", kFirst).status().kind(),
              ErrorKind::invalid_argument);
    EXPECT_EQ(BackupLock::Acquire(dir_.path(), "main", "../x").status().kind(),
              ErrorKind::invalid_argument);
    EXPECT_EQ(BackupLock::IsHeld(dir_.path(), "a/b").status().kind(), ErrorKind::invalid_argument);
}

}  // namespace
}  // namespace pg_ark
