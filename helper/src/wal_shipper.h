/*
 * wal_shipper.h
 *     Archiving ahead of PostgreSQL's archiver.
 *
 * PostgreSQL 15's archiver hands over one file at a time, so one segment's compression and
 * hashing leave the other cores idle. The shipper watches each configured cluster's
 * pg_wal/archive_status for .ready files and stores those segments in parallel
 * (archive-ahead-workers). When the archiver then asks for a segment the shipper stored, the
 * request is answered at once: the descriptor it passes must be the very file the shipper read
 * (same device, inode, size and modification time to the nanosecond; a .ready segment is final
 * and only rewritten after PostgreSQL recycles it, which changes its mtime).
 *
 * The shipper never touches archive_status: PostgreSQL alone marks a file .done, and only after
 * its own request was acknowledged. A failure here costs nothing: the archiver's request then
 * stores the file itself and reports the error.
 */
#ifndef PG_ARK_HELPER_WAL_SHIPPER_H
#define PG_ARK_HELPER_WAL_SHIPPER_H

#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config.h"
#include "wal_store.h"

namespace pg_ark {

class WalShipper {
  public:
    WalShipper(const Config &config, WalStore *store, Repository *repository);
    ~WalShipper();
    WalShipper(const WalShipper &) = delete;
    WalShipper &operator=(const WalShipper &) = delete;

    /* Starts the scanner and the workers; does nothing when archive-ahead-workers is 0. */
    void Start();
    /* Stops and joins every thread; stores in progress finish first. */
    void Stop();
    /* Asks for a scan now (the archiver just asked for something: more may be ready). */
    void Kick();

    enum class Claim {
        already_stored, /* this exact file (the descriptor) is stored: acknowledge it */
        claimed,        /* the caller stores it; the shipper leaves it alone until ReleaseClaim */
        unclaimed,      /* shipper off or the descriptor unreadable: store it, no release */
    };
    /*
     * For the archiver's request, so that one file is only ever stored by one party at a time.
     * Waits if the shipper is storing the file right now.
     */
    Claim ClaimOrFindStored(const std::string &cluster, const std::string &wal_name, int fd);
    /* Ends a claim (only after Claim::claimed); stored: the caller's request stored the file. */
    void ReleaseClaim(const std::string &cluster, const std::string &wal_name, int fd, bool stored);

  private:
    struct FileIdentity {
        dev_t device = 0;
        ino_t inode = 0;
        off_t size = 0;
        struct timespec mtime = {0, 0};
        bool operator==(const FileIdentity &other) const;
    };
    using Key = std::pair<std::string, std::string>; /* cluster, WAL file name */

    void ScanLoop();
    void WorkerLoop();
    void Scan();
    void Ship(const Key &key);
    void Remember(const Key &key, const FileIdentity &identity);  // REQUIRES: mutex_ held
    static bool Identify(int fd, FileIdentity *identity);

    const Config &config_;
    WalStore *store_;
    Repository *repository_;
    int workers_count_;

    std::mutex mutex_;
    std::condition_variable work_ready_;   /* queue_ gained an entry, or stopping_ */
    std::condition_variable scan_wanted_;  /* Kick(), or stopping_ */
    std::condition_variable shipped_;      /* an entry left in_flight_ */
    bool stopping_ = false;                // guarded by mutex_
    bool kicked_ = false;                  // guarded by mutex_
    std::deque<Key> queue_;                // guarded by mutex_
    std::set<Key> in_flight_;              // guarded by mutex_: queued, being stored, or claimed
    std::set<Key> failed_;                 // guarded by mutex_: left to the archiver
    std::map<Key, FileIdentity> stored_;   // guarded by mutex_
    std::vector<std::thread> threads_;
};

}  // namespace pg_ark

#endif
