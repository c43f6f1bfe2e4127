# pg_ark build entry point.
#   make            build the extension (PGXS) and the helper (CMake)
#   make install    install both (the extension into PostgreSQL, the helper into /usr/local/bin)
#   make test       build, install, and run every test: GoogleTest, pg_regress, TAP
#   make demo       archive WAL from a throwaway cluster under load and show the repository

EXTENSION = pg_ark
MODULE_big = pg_ark
OBJS = extension/pg_ark.o extension/archive_module.o extension/helper_client.o \
       extension/sql_functions.o extension/backup_flow.o extension/backup_worker.o \
       extension/backup_functions.o extension/block_ref_table.o extension/block_map_files.o \
       extension/block_tracker_shmem.o extension/block_tracker_worker.o \
       extension/block_tracking_functions.o extension/command_client.o \
       extension/check_function.o extension/maintenance_functions.o \
       common/protocol.o common/backup_protocol.o common/wal_name.o common/fd_passing.o \
       common/block_map.o common/command_protocol.o
DATA = extension/pg_ark--0.1.sql
PGFILEDESC = "pg_ark - backup and recovery for PostgreSQL"

# The extension is C++ without exceptions: no C++ exception can cross PostgreSQL's frames.
# -Wno-register: PostgreSQL 15's spinlock headers still use `register`, which C++17 dropped.
PG_CPPFLAGS = -I$(srcdir)/common -I$(srcdir)/extension
# -MMD -MP: every object also records the headers it read (<object>.d, included below), so a
# changed header (a wire struct in common/, say) rebuilds every object that uses it: Debian's
# PostgreSQL is built without --enable-depend, so PGXS would not. (CXXFLAGS only: the bitcode
# rule shares CPPFLAGS and would overwrite the same .d files.)
PG_CXXFLAGS = -std=c++17 -fno-exceptions -fno-rtti -Wno-register -MMD -MP
SHLIB_LINK += -lstdc++

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

override BITCODE_CXXFLAGS += -std=c++17 -fno-exceptions -fno-rtti -Wno-register

EXTRA_CLEAN = $(OBJS:.o=.d)
-include $(OBJS:.o=.d)

BUILD_DIR ?= build
CMAKE_BUILD_TYPE ?= RelWithDebInfo

.PHONY: helper install-helper test demo deps clean-helper

all: helper

helper:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(CMAKE_BUILD_TYPE)
	cmake --build $(BUILD_DIR) -j$$(nproc)

install: install-helper

install-helper: helper
	cmake --install $(BUILD_DIR)

test: all
	$(MAKE) install
	bash tests/run.sh $(BUILD_DIR)

demo:
	bash scripts/demo.sh

deps:
	bash scripts/install-deps.sh

clean: clean-helper

clean-helper:
	rm -rf $(BUILD_DIR)
