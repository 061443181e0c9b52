# llamapipe — build, test, demo, install.
#
#   make               build bin/llp-* (release flags)
#   make test          build and run the TAP suite under prove
#   make test SANITIZE=1   the same with AddressSanitizer + UBSan (build/san)
#   make demo          build, then run the main job on examples/
#   make fuzz FUZZ_SECONDS=60   run each libFuzzer harness (tests/fuzz/, clang)
#   make install PREFIX=/usr/local
#
# Every lib/*.c and lib/kernels/*.c goes into one static library; every
# cmd/llp-*.c is one thin binary; every tests/*.c is one TAP test program and
# every tests/*.t a TAP shell script.

CC       ?= cc
PREFIX   ?= /usr/local
SANITIZE ?=
OPT      ?= -O2

ifeq ($(SANITIZE),1)
  BUILD   := build/san
  OPT     := -O1
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
  BUILD   := build/rel
  SANFLAGS :=
endif
BIN := $(if $(filter 1,$(SANITIZE)),$(BUILD)/bin,bin)

CPPFLAGS += -D_GNU_SOURCE -Ilib -MMD -MP
CFLAGS   += -std=c11 $(OPT) -g -Wall -Wextra -Wno-unused-parameter -pthread $(SANFLAGS)
LDFLAGS  += -pthread $(SANFLAGS)
LDLIBS   += -lopenblas -lsqlite3 -lyaml -ljansson -lxxhash -lmicrohttpd -lm

# Per-ISA kernels are compiled for their ISA and chosen at run time.
AVX2_FLAGS   := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni

LIB_SRC  := $(wildcard lib/*.c lib/kernels/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A    := $(BUILD)/libllamapipe.a
CMD_SRC  := $(wildcard cmd/llp*.c)
CMDS     := $(CMD_SRC:cmd/%.c=$(BIN)/%)
TEST_SRC := $(wildcard tests/*.c)
TESTS_C  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%.t)
TESTS_SH := $(wildcard tests/*.t)

.PHONY: all test demo deps install clean fuzz

# Debian packages the build and the tests need (.ci/run installs the same;
# Node.js and npm, for the openai client test only, are the machine's own).
DEBIAN_PACKAGES := build-essential pkg-config python3 python3-numpy python3-sentencepiece \
                   sqlite3 libopenblas-dev \
                   libsqlite3-dev libyaml-dev libjansson-dev libxxhash-dev \
                   libmicrohttpd-dev curl slurm-wlm munge

all: $(CMDS)

$(BUILD)/lib/kernels/%_avx2.o: lib/kernels/%_avx2.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(AVX2_FLAGS) -c $< -o $@
$(BUILD)/lib/kernels/%_avx512.o: lib/kernels/%_avx512.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(AVX512_FLAGS) -c $< -o $@
$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/%: $(BUILD)/cmd/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%.t: $(BUILD)/tests/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Tests find the binaries in LLP_BIN, scratch space in LLP_TMP and the shared
# reference fixtures (when present) in LLP_FIXTURES.
LLP_FIXTURES ?= $(abspath ../shared/fixtures)
test: $(CMDS) $(TESTS_C)
	@mkdir -p $(BUILD)/tmp
	LLP_BIN=$(abspath $(BIN)) LLP_TMP=$(abspath $(BUILD)/tmp) \
	LLP_FIXTURES=$(LLP_FIXTURES) LLP_ROOT=$(CURDIR) LLP_DB= \
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	prove --exec '' $(PROVE_FLAGS) $(addprefix ./,$(TESTS_C) $(TESTS_SH))

deps:
	@for h in cblas.h sqlite3.h yaml.h jansson.h xxhash.h microhttpd.h; do \
	  echo "#include <$$h>" | $(CC) -E -x c - >/dev/null 2>&1 || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing $(DEBIAN_PACKAGES)"; \
	  apt-get update && apt-get install -y --no-install-recommends $(DEBIAN_PACKAGES); \
	fi

demo: deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh

install: $(CMDS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(CMDS) $(DESTDIR)$(PREFIX)/bin
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1

clean:
	rm -rf build bin

# ---- fuzzing: make fuzz [FUZZ_SECONDS=60] -----------------------------------
# libFuzzer harnesses tests/fuzz/fuzz_*.c, built with clang, ASan and UBSan
# over their own build of lib/ in build/fuzz, each run for FUZZ_SECONDS from
# the seeds in tests/fuzz/corpus/NAME (new inputs go to build/fuzz/corpus/NAME,
# crashes to build/fuzz/NAME-crash-*). The YAML harness joins once
# lib/pipeline_load.c exists.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR     := build/fuzz
FUZZ_CFLAGS  := -std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
                -pthread -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES   := gguf tokenizer csv jsonl safetensors $(if $(wildcard lib/pipeline_load.c),yaml)
FUZZ_LIB_A   := $(FUZZ_DIR)/libllamapipe.a
# No harness runs a kernel, so the per-ISA kernel files (*_avx2.c,
# *_avx512.c) stay out of this build: instrumented, kpacked_avx512.c alone
# took clang 14 more than 12 minutes. dispatch.c is built with
# LLP_KERNELS_SCALAR_ONLY, which leaves it only the scalar set.
FUZZ_LIB_SRC := $(filter-out %_avx2.c %_avx512.c,$(LIB_SRC))
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_DIR)/%.o)

$(FUZZ_DIR)/lib/kernels/dispatch.o: lib/kernels/dispatch.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -DLLP_KERNELS_SCALAR_ONLY -c $< -o $@
$(FUZZ_DIR)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_LIB_A): $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_A)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_A) $(LDLIBS) -o $@

fuzz: $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)
	@for n in $(FUZZ_NAMES); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$n; \
	  echo "make fuzz: fuzz_$$n for $(FUZZ_SECONDS) s"; \
	  LLP_FIXTURES=$(LLP_FIXTURES) $(FUZZ_DIR)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) \
	    -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/$$n- $(FUZZ_DIR)/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

-include $(LIB_OBJ:.o=.d) $(CMD_SRC:%.c=$(BUILD)/%.d) $(TEST_SRC:%.c=$(BUILD)/%.d) $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%.d)
.SECONDARY:
