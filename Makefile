# sluice: the two commands a new user runs are `make run` and `make test`.
# Each installs what is missing (scripts/install-deps.sh), builds, then runs.
BUILD ?= build
JOBS ?= $(shell nproc)
DATA_DIR ?= ./data
CMAKE_FLAGS ?=

.PHONY: all deps build run test asan fuzz bench soak clean format

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/sluice serve --data-dir $(DATA_DIR)

test: build
	bash scripts/run-tests.sh $(BUILD)

asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON
	cmake --build build-asan -j $(JOBS)
	SLUICE_ASAN=1 bash scripts/run-tests.sh build-asan

fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target fuzz_targets
	bash scripts/run-fuzz.sh build-fuzz $${FUZZ_SECONDS:-60}

bench: build
	bash bench/run.sh $(BUILD)

soak: build
	SLUICE_CRASH_ROUNDS=25 SLUICE_BIN=$(abspath $(BUILD))/sluice $(BUILD)/integration_test --gtest_filter='Crash*'

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz
