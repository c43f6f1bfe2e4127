/*
 * retention_test.cpp
 *     Tests of the expiry planner (helper/src/retention.h): which backups and WAL files go and
 *     why, over sequences of backups and expiries, with exact kept sets.
 */
#include "retention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace pg_ark {
namespace {

constexpr int64_t kDay = 86400;
constexpr int64_t kT0 = 1767225600; /* 2026-01-01 00:00:00 UTC */

/* A repository's catalog, built up backup by backup; names stand for ids in assertions. */
class History {
  public:
    /* Adds a complete backup `name` started at day `day` (stopped an hour later) whose WAL
     * starts at segment `segment` of timeline `timeline`. */
    void Add(const std::string &name, BackupType type, const std::string &parent, double day,
             uint32_t segment, uint32_t timeline = 1,
             BackupStatus status = BackupStatus::complete, const std::string &error = "") {
        CatalogEntry entry;
        BackupMetadata &m = entry.backup;
        m.start_time = kT0 + static_cast<int64_t>(day * kDay);
        m.stop_time = m.start_time + 3600;
        m.id = MakeBackupId(m.start_time, type);
        m.type = type;
        m.parent = parent.empty() ? "" : ids_.at(parent);
        m.timeline = m.stop_timeline = timeline;
        m.wal_start = fmt(timeline, segment);
        m.stored_bytes = 1000;
        m.system_identifier = 7301234567890123456ull; /* 0 only without a backup.info */
        entry.status = status;
        entry.error = error;
        ids_[name] = m.id;
        names_[m.id] = name;
        entries_.push_back(entry);
    }
    void AddFailed(const std::string &name, BackupType type, double day,
                   const std::string &error = "cancelled") {
        Add(name, type, "", day, 0, 1, BackupStatus::failed, error);
        entries_.back().backup.wal_start.clear();
    }

    void ClearSystemIdentifier(const std::string &name) {
        for (CatalogEntry &e : entries_)
            if (e.backup.id == ids_.at(name)) e.backup.system_identifier = 0;
    }
    void ClearWalStart(const std::string &name) {
        for (CatalogEntry &e : entries_)
            if (e.backup.id == ids_.at(name)) e.backup.wal_start.clear();
    }

    ExpiryPlan Plan(const Retention &retention, double now_day,
                    const std::vector<ArchivedWalFile> &wal = {}) const {
        return PlanExpiry(entries_, wal, retention, kT0 + static_cast<int64_t>(now_day * kDay));
    }
    /* Plans, then carries out the plan's whole removals, as expiry would. */
    ExpiryPlan Expire(const Retention &retention, double now_day) {
        ExpiryPlan plan = Plan(retention, now_day);
        for (const PlannedBackupRemoval &removal : plan.backups) {
            if (!removal.whole) continue;
            entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                          [&](const CatalogEntry &e) {
                                              return e.backup.id == removal.id;
                                          }),
                           entries_.end());
        }
        return plan;
    }

    std::vector<std::string> Names(const std::vector<std::string> &ids) const {
        std::vector<std::string> out;
        for (const std::string &id : ids) out.push_back(names_.at(id));
        return out;
    }
    /* The complete backups left, by name, oldest first. */
    std::vector<std::string> Left() const {
        std::vector<std::string> out;
        for (const CatalogEntry &e : entries_) out.push_back(names_.at(e.backup.id));
        return out;
    }
    /* name -> reason of each backup removal. */
    std::map<std::string, std::string> Removed(const ExpiryPlan &plan) const {
        std::map<std::string, std::string> out;
        for (const PlannedBackupRemoval &removal : plan.backups)
            out[names_.at(removal.id)] = (removal.whole ? "" : "parts: ") + removal.reason;
        return out;
    }
    const std::string &Id(const std::string &name) const { return ids_.at(name); }
    const std::vector<CatalogEntry> &Entries() const { return entries_; }

    static std::string fmt(uint32_t timeline, uint32_t segment) {
        char text[25];
        snprintf(text, sizeof text, "%08X%08X%08X", timeline, 0, segment);
        return text;
    }

  private:
    std::vector<CatalogEntry> entries_;
    std::map<std::string, std::string> ids_, names_;
};

using Names = std::vector<std::string>;
using Reasons = std::map<std::string, std::string>;

Retention Policy(int full, int diff, int64_t window_days = 0) {
    Retention r;
    r.full = full;
    r.diff = diff;
    r.window_seconds = window_days * kDay;
    return r;
}

/* pgBackRest's user guide sequence, and further: full, differential and incremental backups
 * with an expiry after each, as the helper runs it. */
TEST(RetentionTest, MixOfTypesAcrossSeveralExpiries) {
    History h;
    Retention policy = Policy(2, 1);
    auto step = [&](const std::string &name, BackupType type, const std::string &parent,
                    double day, uint32_t segment) {
        h.Add(name, type, parent, day, segment);
        return h.Expire(policy, day + 0.1);
    };
    using T = BackupType;

    EXPECT_EQ(h.Removed(step("F1", T::full, "", 1, 2)), Reasons{});
    EXPECT_EQ(h.Removed(step("D1", T::differential, "F1", 2, 4)), Reasons{});
    EXPECT_EQ(h.Removed(step("I1", T::incremental, "D1", 3, 6)), Reasons{});
    EXPECT_EQ(h.Removed(step("F2", T::full, "", 4, 8)), Reasons{});
    EXPECT_EQ(h.Left(), (Names{"F1", "D1", "I1", "F2"}));

    /* A second differential: the first goes, with the incremental built on it, although
     * retention-full keeps their full. */
    ExpiryPlan plan = step("D2", T::differential, "F2", 5, 10);
    EXPECT_EQ(h.Removed(plan), (Reasons{{"D1", "beyond retention-diff = 1"},
                                        {"I1", "builds on expired backup " + h.Id("D1")}}));
    ASSERT_EQ(plan.backups.size(), 2u);
    EXPECT_EQ(plan.backups[0].id, h.Id("I1")) << "dependents go before their parents";
    EXPECT_EQ(h.Left(), (Names{"F1", "F2", "D2"}));
    EXPECT_EQ(h.Names(plan.kept), (Names{"F1", "F2", "D2"}));

    EXPECT_EQ(h.Removed(step("I2", T::incremental, "D2", 6, 12)), Reasons{});
    /* A third full: the first full goes. */
    EXPECT_EQ(h.Removed(step("F3", T::full, "", 7, 14)),
              (Reasons{{"F1", "beyond retention-full = 2"}}));
    EXPECT_EQ(h.Left(), (Names{"F2", "D2", "I2", "F3"}));
    EXPECT_EQ(h.Removed(step("I3", T::incremental, "F3", 8, 16)), Reasons{});
    EXPECT_EQ(h.Removed(step("D3", T::differential, "F3", 9, 18)),
              (Reasons{{"D2", "beyond retention-diff = 1"},
                       {"I2", "builds on expired backup " + h.Id("D2")}}));
    EXPECT_EQ(h.Left(), (Names{"F2", "F3", "I3", "D3"}));
    /* A fourth full takes F2 with it; nothing builds on F2 any more. */
    EXPECT_EQ(h.Removed(step("F4", T::full, "", 10, 20)),
              (Reasons{{"F2", "beyond retention-full = 2"}}));
    EXPECT_EQ(h.Left(), (Names{"F3", "I3", "D3", "F4"}));
    /* A fifth: F3 goes with the incremental and differential built on it. */
    plan = step("F5", T::full, "", 11, 22);
    EXPECT_EQ(h.Removed(plan), (Reasons{{"F3", "beyond retention-full = 2"},
                                        {"I3", "builds on expired backup " + h.Id("F3")},
                                        {"D3", "builds on expired backup " + h.Id("F3")}}));
    EXPECT_EQ(plan.backups.back().id, h.Id("F3")) << "the full goes last";
    EXPECT_EQ(h.Left(), (Names{"F4", "F5"}));
    EXPECT_EQ(h.Removed(h.Expire(policy, 12)), Reasons{}) << "a second expiry has nothing to do";
}

TEST(RetentionTest, NoPolicyKeepsEveryBackupAndAllWal) {
    History h;
    h.Add("F1", BackupType::full, "", 1, 2);
    h.Add("F2", BackupType::full, "", 2, 4);
    h.Add("D1", BackupType::differential, "F2", 3, 6);
    h.AddFailed("X", BackupType::full, 0.5);
    std::vector<ArchivedWalFile> wal = {{History::fmt(1, 1), WalFileKind::segment, 10, 0}};
    ExpiryPlan plan = h.Plan(Policy(0, 0), 400, wal);
    EXPECT_EQ(h.Removed(plan), (Reasons{{"X", "parts: leftovers of a failed backup"}}))
        << "only a failed backup's parts go";
    EXPECT_EQ(h.Names(plan.kept), (Names{"F1", "F2", "D1"}));
    EXPECT_TRUE(plan.wal.empty());
    EXPECT_EQ(plan.wal_boundary, "");
}

TEST(RetentionTest, WindowKeepsWhatRecoveryIntoItNeeds) {
    History h;
    h.Add("F1", BackupType::full, "", 0, 2);
    h.Add("I1", BackupType::incremental, "F1", 2, 4);
    h.Add("F2", BackupType::full, "", 5, 6);
    h.Add("I2", BackupType::incremental, "F2", 8, 8);
    /* now = day 10, window 4 days: recovery to day 6 starts from F2 (stopped day 5). */
    ExpiryPlan plan = h.Plan(Policy(0, 0, 4), 10);
    EXPECT_EQ(h.Removed(plan), (Reasons{{"F1", "older than the retention-window (4d)"},
                                        {"I1", "builds on expired backup " + h.Id("F1")}}));
    EXPECT_EQ(h.Names(plan.kept), (Names{"F2", "I2"}));

    /* Window 7 days: recovery to day 3 starts from I1, which needs F1. */
    plan = h.Plan(Policy(0, 0, 7), 10);
    EXPECT_EQ(h.Removed(plan), Reasons{});
    /* No backup had stopped by the window's start: every one is kept. */
    plan = h.Plan(Policy(0, 0, 30), 10);
    EXPECT_EQ(h.Names(plan.kept), (Names{"F1", "I1", "F2", "I2"}));
    /* A backup that stopped exactly at the window's start is the one it starts from. */
    plan = PlanExpiry(h.Entries(), {}, Policy(0, 0, 5), kT0 + 5 * kDay + 3600 + 5 * kDay);
    EXPECT_EQ(h.Names(plan.kept), (Names{"F2", "I2"}));
}

TEST(RetentionTest, PoliciesKeepTheUnionOfWhatEachKeeps) {
    History h;
    h.Add("F1", BackupType::full, "", 0, 2);
    h.Add("D1", BackupType::differential, "F1", 1, 4);
    h.Add("F2", BackupType::full, "", 5, 6);
    h.Add("D2", BackupType::differential, "F2", 6, 8);
    h.Add("D3", BackupType::differential, "F2", 9, 10);
    /* retention-full = 1 alone would keep F2, D2, D3; a window of 9 days starts from F1. */
    ExpiryPlan plan = h.Plan(Policy(1, 0, 9), 10);
    EXPECT_EQ(h.Names(plan.kept), (Names{"F1", "D1", "F2", "D2", "D3"}));
    /* The window keeps D2, retention-diff alone would not. */
    plan = h.Plan(Policy(1, 1, 4), 10);
    EXPECT_EQ(h.Names(plan.kept), (Names{"F2", "D2", "D3"}));
    EXPECT_EQ(h.Removed(plan), (Reasons{{"F1", "beyond retention-full = 1"},
                                        {"D1", "builds on expired backup " + h.Id("F1")}}));
    /* Neither keeps D2: it goes. */
    plan = h.Plan(Policy(1, 1, 0), 10);
    EXPECT_EQ(h.Names(plan.kept), (Names{"F2", "D3"}));
    EXPECT_EQ(h.Removed(plan)["D2"], "beyond retention-diff = 1");
    /* retention-diff alone never expires a full. */
    plan = h.Plan(Policy(0, 1, 0), 10);
    EXPECT_EQ(h.Names(plan.kept), (Names{"F1", "F2", "D3"}));
}

TEST(RetentionTest, AncestorsOfAKeptBackupAreKept) {
    History h;
    h.Add("F1", BackupType::full, "", 0, 2);
    h.Add("D1", BackupType::differential, "F1", 1, 4);
    h.Add("I1", BackupType::incremental, "D1", 2, 6);
    h.Add("I2", BackupType::incremental, "I1", 3, 8);
    h.Add("F2", BackupType::full, "", 5, 10);
    h.Add("F3", BackupType::full, "", 6, 12);
    /* The window starts from I2 (stopped on day 3): its whole chain stays, though
     * retention-full = 1 and retention-diff = 1 would have F1 and D1 go. */
    ExpiryPlan plan = h.Plan(Policy(1, 1, 6), 9.5);
    EXPECT_EQ(h.Names(plan.kept), (Names{"F1", "D1", "I1", "I2", "F2", "F3"}));
    EXPECT_EQ(plan.wal_boundary, History::fmt(1, 2));
    /* One day later the window starts from F2 (day 5); F1's chain goes. */
    plan = h.Plan(Policy(1, 1, 6), 11.5);
    EXPECT_EQ(h.Names(plan.kept), (Names{"F2", "F3"}));
    EXPECT_EQ(h.Removed(plan), (Reasons{{"F1", "beyond retention-full = 1"},
                                        {"D1", "builds on expired backup " + h.Id("F1")},
                                        {"I1", "builds on expired backup " + h.Id("D1")},
                                        {"I2", "builds on expired backup " + h.Id("I1")}}));
}

TEST(RetentionTest, TheNewestBackupIsAlwaysKept) {
    History h;
    h.Add("F1", BackupType::full, "", 0, 2);
    h.Add("I1", BackupType::incremental, "F1", 1, 4);
    /* Both stopped long before the window: the newest and its chain still stay. */
    ExpiryPlan plan = h.Plan(Policy(0, 0, 1), 100);
    EXPECT_EQ(h.Names(plan.kept), (Names{"F1", "I1"}));
    EXPECT_TRUE(plan.backups.empty());
}

TEST(RetentionTest, FailedBackups) {
    History h;
    h.AddFailed("X1", BackupType::full, 0);
    h.Add("F1", BackupType::full, "", 1, 2);
    h.AddFailed("X2", BackupType::incremental, 1.5);
    h.Add("F2", BackupType::full, "", 2, 4);
    h.AddFailed("X3", BackupType::full, 2.5);
    h.AddFailed("E1", BackupType::differential, 2.7,
                std::string(kExpiredReasonPrefix) + "beyond retention-diff = 1");
    h.Add("F3", BackupType::full, "", 3, 6);
    h.AddFailed("R", BackupType::full, 4);
    h.AddFailed("Z", BackupType::full, 4.5, "the helper stopped before the backup finished");
    h.ClearSystemIdentifier("Z"); /* its directory has nothing left, not even backup.info */
    ExpiryPlan plan = h.Plan(Policy(2, 0), 4.6);
    /* F1 goes; X1 and X2 are older than the oldest kept backup (F2), X3 is not; E1 was being
     * expired when that expiry stopped. */
    EXPECT_EQ(h.Removed(plan),
              (Reasons{{"F1", "beyond retention-full = 2"},
                       {"X1", "failed backup older than the oldest kept backup"},
                       {"X2", "failed backup older than the oldest kept backup"},
                       {"X3", "parts: leftovers of a failed backup"},
                       {"E1", "finishing an interrupted expiry (beyond retention-diff = 1)"},
                       {"R", "parts: leftovers of a failed backup"},
                       {"Z", "finishing an interrupted expiry (an empty backup directory)"}}));
    EXPECT_EQ(h.Names(plan.kept), (Names{"F2", "F3"}));
}

TEST(RetentionTest, RunningBackupIsNeverTouched) {
    History h;
    h.Add("F1", BackupType::full, "", 1, 2);
    h.Add("F2", BackupType::full, "", 2, 4);
    h.Add("R", BackupType::full, "", 3, 0, 1, BackupStatus::running);
    ExpiryPlan plan = h.Plan(Policy(1, 0), 3.1);
    EXPECT_EQ(h.Removed(plan), (Reasons{{"F1", "beyond retention-full = 1"}}));
}

std::vector<std::string> WalNames(const ExpiryPlan &plan) {
    std::vector<std::string> names;
    for (const ArchivedWalFile &file : plan.wal) names.push_back(file.name);
    return names;
}

ArchivedWalFile Wal(const std::string &name, uint64_t size = 100) {
    return {name, ClassifyWalName(name.c_str()), size, 0};
}

TEST(RetentionTest, WalBelowTheOldestKeptBackupGoesOnEveryTimeline) {
    History h;
    h.Add("F1", BackupType::full, "", 1, 3);
    h.Add("F2", BackupType::full, "", 2, 7, 2); /* after a promotion at segment 6 */
    h.Add("I1", BackupType::incremental, "F2", 3, 9, 2);
    std::vector<ArchivedWalFile> wal;
    for (uint32_t s = 1; s <= 6; s++) wal.push_back(Wal(History::fmt(1, s)));
    wal.push_back(Wal(History::fmt(1, 7) + ".partial"));
    wal.push_back(Wal(History::fmt(1, 3) + ".00000028.backup"));
    wal.push_back(Wal(History::fmt(1, 7) + ".00000060.backup"));
    for (uint32_t s = 6; s <= 10; s++) wal.push_back(Wal(History::fmt(2, s)));
    wal.push_back(Wal("00000002.history"));
    std::sort(wal.begin(), wal.end(),
              [](const ArchivedWalFile &a, const ArchivedWalFile &b) { return a.name < b.name; });

    /* All kept: WAL before F1's first segment goes, on both timelines. */
    ExpiryPlan plan = h.Plan(Policy(2, 0), 3.1, wal);
    EXPECT_EQ(plan.wal_boundary, History::fmt(1, 3));
    EXPECT_EQ(WalNames(plan), (Names{History::fmt(1, 1), History::fmt(1, 2)}));

    /* F1 goes: everything below segment 7 goes, whatever its timeline; the history stays,
     * and the .partial and .backup of segment 7 too. */
    plan = h.Plan(Policy(1, 0), 3.1, wal);
    EXPECT_EQ(h.Names(plan.kept), (Names{"F2", "I1"}));
    EXPECT_EQ(plan.wal_boundary, History::fmt(2, 7));
    EXPECT_EQ(WalNames(plan),
              (Names{History::fmt(1, 1), History::fmt(1, 2), History::fmt(1, 3),
                     History::fmt(1, 3) + ".00000028.backup", History::fmt(1, 4),
                     History::fmt(1, 5), History::fmt(1, 6), History::fmt(2, 6)}));
    EXPECT_EQ(plan.wal_reason,
              "before " + History::fmt(2, 7) + ", where kept backup " + h.Id("F2") + " starts");
}

TEST(RetentionTest, NoWalGoesWithoutAKeptCompleteBackup) {
    History h;
    h.AddFailed("X1", BackupType::full, 1);
    std::vector<ArchivedWalFile> wal = {Wal(History::fmt(1, 1)), Wal(History::fmt(1, 2))};
    ExpiryPlan plan = h.Plan(Policy(1, 0), 2, wal);
    EXPECT_TRUE(plan.kept.empty());
    EXPECT_TRUE(plan.wal.empty());
    EXPECT_EQ(h.Removed(plan), (Reasons{{"X1", "parts: leftovers of a failed backup"}}));
}

TEST(RetentionTest, NoWalGoesWhenAKeptBackupsStartIsUnknown) {
    History h;
    h.Add("F1", BackupType::full, "", 1, 3);
    h.Add("F2", BackupType::full, "", 2, 5);
    std::vector<ArchivedWalFile> wal = {Wal(History::fmt(1, 1))};
    ASSERT_EQ(WalNames(h.Plan(Policy(2, 0), 3, wal)), (Names{History::fmt(1, 1)}));
    h.ClearWalStart("F1");
    ExpiryPlan plan = h.Plan(Policy(2, 0), 3, wal);
    EXPECT_TRUE(plan.wal.empty());
    EXPECT_EQ(plan.wal_boundary, "");
}

TEST(RetentionTest, DescribesThePolicy) {
    EXPECT_EQ(DescribeRetention(Policy(0, 0)), "no retention policy");
    EXPECT_EQ(DescribeRetention(Policy(2, 1, 14)),
              "retention-full = 2, retention-diff = 1, retention-window = 14d");
    EXPECT_EQ(FormatPolicyDuration(36 * 3600), "36h");
    EXPECT_EQ(FormatPolicyDuration(90 * 60), "90m");
    EXPECT_EQ(FormatPolicyDuration(45), "45s");
}

}  // namespace
}  // namespace pg_ark
