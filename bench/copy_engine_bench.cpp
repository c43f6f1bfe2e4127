/*
 * copy_engine_bench.cpp
 *     Throughput of the backup copy engine alone (CopyDataDirectory, helper/src/backup_copy.h),
 *     without a server or a protocol around it. Built with -DPG_ARK_BUILD_BENCH=ON; driven by
 *     copy_engine_bench.sh, which handles the cold cache and the reference run.
 *
 *     copy_engine_bench generate <pgdata> <MiB>
 *         Writes a fake data directory holding one relation of <MiB> MiB in 1 GiB segments
 *         (base/5/16400, base/5/16400.1, ...). Its pages look like pgbench_accounts with random
 *         md5 filler (BENCH-NOTES' "realistic data", about 3x with zstd -1) and carry valid
 *         page checksums, so checking them costs what it costs on a real cluster.
 *
 *     copy_engine_bench copy <pgdata> <repo> <workers> <zstd level | 0 for none> <checksums 0|1>
 *         One CopyDataDirectory into a fresh backup directory of a posix repository; prints
 *         one line: bytes, stored bytes, seconds, MiB/s, CPU seconds, MiB per CPU second.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>

#include <fmt/format.h>

#include "backup_copy.h"
#include "pg_page_checksum.h"

namespace {

using namespace pg_ark;

constexpr uint64_t kSegmentBytes = 1ull << 30;
constexpr uint32_t kPage = PG_ARK_PAGE_SIZE;
constexpr uint64_t kPageLsn = 0x1000000; /* every page older than the copy's start LSN */

int Fail(const std::string &message) {
    fprintf(stderr, "copy_engine_bench: %s\n", message.c_str());
    return 1;
}

/*
 * A heap-like page: a 24-byte header, then rows of three integers and random hex digits padded
 * with blanks to 84 characters, like pgbench_accounts filled with md5() text (56 digits rather
 * than md5's 32 stand in for the tuple headers this leaves out: about 3x with zstd -1).
 */
void FillPage(char *page, uint32_t block, uint32_t *aid, std::mt19937_64 *rng) {
    static const char kHex[] = "0123456789abcdef";
    memset(page, 0, kPage);
    constexpr size_t kRow = 12 + 84 + 4; /* integers, filler, alignment and tuple header slack */
    constexpr size_t kDigits = 56;
    for (size_t at = 24; at + kRow <= kPage; at += kRow) {
        uint32_t fields[3] = {++*aid, 1 + *aid / 100000, 0};
        memcpy(page + at, fields, sizeof fields);
        char *filler = page + at + 12;
        uint64_t bits = 0;
        for (size_t i = 0; i < kDigits; i++) {
            if (i % 16 == 0) bits = (*rng)();
            filler[i] = kHex[(bits >> (4 * (i % 16))) & 15];
        }
        memset(filler + kDigits, ' ', 84 - kDigits);
    }
    uint32_t lsn_high = static_cast<uint32_t>(kPageLsn >> 32),
             lsn_low = static_cast<uint32_t>(kPageLsn);
    memcpy(page, &lsn_high, 4);
    memcpy(page + 4, &lsn_low, 4);
    uint16_t checksum = PgArkPageChecksum(page, block);
    memcpy(page + 8, &checksum, 2);
}

int Generate(const std::string &pgdata, uint64_t mib) {
    std::string directory = pgdata + "/base/5";
    for (const std::string &path : {pgdata, pgdata + "/base", directory}) mkdir(path.c_str(), 0700);
    std::string version = pgdata + "/PG_VERSION";
    FILE *file = fopen(version.c_str(), "w");
    if (file == nullptr || fputs("15\n", file) < 0 || fclose(file) != 0)
        return Fail("cannot write " + version);

    uint64_t total = mib << 20;
    std::mt19937_64 rng(42);
    uint32_t aid = 0;
    std::string page(kPage, '\0');
    for (uint64_t segment = 0; segment * kSegmentBytes < total; segment++) {
        std::string path = directory + "/16400" + (segment == 0 ? "" : fmt::format(".{}", segment));
        int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) return Fail("cannot create " + path);
        uint64_t size = std::min(kSegmentBytes, total - segment * kSegmentBytes);
        std::string buffer;
        for (uint64_t offset = 0; offset < size; offset += kPage) {
            FillPage(&page[0], static_cast<uint32_t>((segment * kSegmentBytes + offset) / kPage),
                     &aid, &rng);
            buffer += page;
            if (buffer.size() >= (8u << 20) || offset + kPage >= size) {
                if (write(fd, buffer.data(), buffer.size()) != static_cast<ssize_t>(buffer.size()))
                    return Fail("cannot write " + path);
                buffer.clear();
            }
        }
        if (fsync(fd) != 0 || close(fd) != 0) return Fail("cannot fsync " + path);
    }
    printf("generated %llu MiB in %s\n", static_cast<unsigned long long>(mib), pgdata.c_str());
    return 0;
}

int Copy(const std::string &pgdata, const std::string &repo, int workers, int level,
         bool checksums) {
    CopyOptions options;
    options.pgdata = pgdata;
    options.start_lsn = kPageLsn + 1;
    options.data_checksums = checksums;
    options.workers = workers;
    options.compression =
        level == 0 ? Compression{CompressType::none, 1} : Compression{CompressType::zstd, level};
    std::unique_ptr<Storage> storage = MakePosixStorage(repo);
    Result<RepoPath> backup = RepoPath::Make(fmt::format("bench/backup/{}", getpid()));
    if (!backup.ok()) return Fail(backup.status().message());

    CopyControl control;
    auto start = std::chrono::steady_clock::now();
    Result<std::vector<BackupEntry>> entries =
        CopyDataDirectory(*storage, *backup, options, &control);
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!entries.ok()) return Fail(entries.status().message());

    uint64_t bytes = 0, stored = 0, bad = 0;
    for (const BackupEntry &entry : *entries) {
        bytes += entry.size;
        bad += entry.bad_pages.size();
        for (const BackupPart &part : entry.parts) stored += part.stored_size;
    }
    if (bad != 0) return Fail(fmt::format("{} pages failed their checksum", bad));
    /* CPU time says more than wall time on a busy machine: the work itself, not the wait. */
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                 static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    double mib = static_cast<double>(bytes) / (1 << 20);
    printf("bytes %llu stored %llu ratio %.2f seconds %.3f MiB/s %.0f cpu_seconds %.2f MiB/cpu_s %.0f\n",
           static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(stored),
           static_cast<double>(bytes) / static_cast<double>(stored), seconds, mib / seconds, cpu,
           mib / cpu);
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "generate" && argc == 4) return Generate(argv[2], strtoull(argv[3], nullptr, 10));
    if (mode == "copy" && argc == 7)
        return Copy(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]) != 0);
    fprintf(
        stderr,
        "usage: copy_engine_bench generate <pgdata> <MiB>\n"
        "       copy_engine_bench copy <pgdata> <repo> <workers> <zstd level|0> <checksums 0|1>\n");
    return 2;
}
