# vidgate build. Sources are found by directory, so a new file in a module needs no edit here.
# A tool is one file src/tools/NAME.c or a directory src/tools/NAME/ of files; either builds
# build/NAME.
#   make            build build/vidgated, build/vidgate and the tools
#   make run        install deps, build, start the server on embedded defaults
#   make test       install deps, build twice (plain and ASan+UBSan), check the layers, run every
#                   test on both
#   make bench      run the benchmarks in bench/ (bench/run-all: one table, B1 … B8)
#   make fuzz       libFuzzer on every parser (FUZZ_SECONDS each)
#   make format     clang-format every C file
BUILD ?= build
SAN   ?=
CC    ?= cc

PKGS    := libh2o-evloop jansson libcurl sqlite3 libpq openssl libavcodec libavformat libavutil libswscale
PKG_CF  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LD  := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  := -std=c11 -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -O2 -g -Wall -Wextra -Werror \
           -Wno-missing-field-initializers -fno-strict-aliasing -Isrc $(PKG_CF)
LDLIBS  := $(PKG_LD) -lssl -lcrypto -lpthread -lm
ifeq ($(SAN),1)
CFLAGS  += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
ifeq ($(FUZZ),1)
CFLAGS  += -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
LDFLAGS += -fsanitize=address,undefined
endif

LIB_DIRS  := common core store http api dispatch providers engine net assets
LIB_SRC   := $(foreach d,$(LIB_DIRS),$(wildcard src/$(d)/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
COMMON_OBJ:= $(filter $(BUILD)/obj/src/common/%,$(LIB_OBJ))
TOP_SRC   := $(wildcard src/*.c)
CLI_SRC   := $(wildcard src/cli/*.c)
TOOL_SRC  := $(wildcard src/tools/*.c)
TOOL_DIRS := $(patsubst %/,%,$(wildcard src/tools/*/))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
TTOOL_SRC := $(wildcard tests/tools/*.c)
FUZZ_SRC  := $(wildcard tests/fuzz/*.c)

BINS  := $(BUILD)/vidgated $(BUILD)/vidgate $(TOOL_SRC:src/tools/%.c=$(BUILD)/%) \
         $(TOOL_DIRS:src/tools/%=$(BUILD)/%)
FUZZ_SRC := $(filter-out tests/fuzz/replay.c,$(FUZZ_SRC))
FUZZERS := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/%)
TESTS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%) $(TTOOL_SRC:tests/tools/%.c=$(BUILD)/tests/%)
ifneq ($(FUZZ),1)
TESTS += $(FUZZERS)
endif

.PHONY: all deps run test tests bench fuzz fuzzers format clean check-layers
all: $(BINS)
tests: $(TESTS)

deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libvg.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/libvgcommon.a: $(COMMON_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/vidgated: $(TOP_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/libvg.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/vidgate: $(CLI_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/libvgcommon.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/%: $(BUILD)/obj/src/tools/%.o $(BUILD)/libvg.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# A multi-file tool: every .c of its directory (explicit rules, so they win over the one above).
define tool_dir_rule
$(BUILD)/$(notdir $(1)): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard $(1)/*.c)) $(BUILD)/libvg.a
	@echo "  LD      $$@"
	@$$(CC) $$(LDFLAGS) $$^ $$(LDLIBS) -o $$@
endef
$(foreach d,$(TOOL_DIRS),$(eval $(call tool_dir_rule,$(d))))

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libvg.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/libvg.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Fuzz targets: replayed over their seed corpus by `make test` (plain and ASan builds); real
# coverage-guided fuzzing with clang's libFuzzer by `make fuzz` (FUZZ_SECONDS each, default 60).
ifeq ($(FUZZ),1)
$(BUILD)/tests/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/libvg.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -fsanitize=fuzzer $^ $(LDLIBS) -o $@
else
$(BUILD)/tests/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay.o $(BUILD)/libvg.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
endif

fuzzers: $(FUZZERS)

fuzz: deps
	@scripts/install-deps --fuzz
	@$(MAKE) --no-print-directory BUILD=build-fuzz FUZZ=1 CC=clang fuzzers
	@scripts/fuzz $${FUZZ_SECONDS:-60}

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run

test: deps
	@$(MAKE) --no-print-directory all tests
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all tests
	@scripts/run-tests build build-asan

check-layers:
	@scripts/check-layers

bench: deps
	@scripts/install-deps --bench
	@$(MAKE) --no-print-directory all
	@bench/run-all

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
