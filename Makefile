# nsscript developer targets. The README's two commands need none of them.

GO ?= go

.PHONY: all build test vet fmt check ci stress reliability fuzz bench

all: build

# With a C compiler, Go builds with cgo and a run starts its sandbox before
# the Go runtime (internal/sandbox/nsexec); without one, a static binary.
build:
	$(GO) build -o nsscript ./cmd/nsscript

test:
	$(GO) test ./...

vet:
	$(GO) vet ./...

fmt:
	gofmt -w .

# check: what CI checks, on this machine.
check:
	@test -z "$$(gofmt -l .)" || { echo "not gofmt'ed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	NSSCRIPT_REQUIRE_NAMESPACES=1 $(GO) test ./...

ci:
	bash .ci/run

# stress: the whole suite 3 times in a row (STRESS_ROUNDS) while a second
# copy runs alongside, as on a shared CI machine; it ends with the number of
# failed package runs, which must be 0. Tests assert behaviour, not speed,
# so load must not fail them.
stress:
	bash .ci/stress

# reliability: the long version of the leak, --host, concurrency and rootless
# tests (docs/reliability.md): 100 sandboxed runs killed at random (50
# SIGKILL, 50 SIGINT), 100 --host runs SIGKILLed and cleaned, the spec suite
# and every script as nobody. Needs root for the --host and nobody parts.
reliability:
	NSSCRIPT_RELIABILITY_RUNS=100 NSSCRIPT_REQUIRE_NAMESPACES=1 $(GO) test -count=1 -v -timeout 60m ./internal/reliability

# fuzz: every fuzz target for FUZZTIME each, one after another.
FUZZTIME ?= 10m
FUZZ_TARGETS = lang:FuzzPlan builtins:FuzzParsePrefix builtins:FuzzParseMAC \
	builtins:FuzzCheckLinkName builtins:FuzzCheckNetnsName builtins:FuzzCheckSysctlKey
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t"; \
		$(GO) test -run='^$$' -fuzz="^$${t#*:}\$$" -fuzztime=$(FUZZTIME) ./$${t%%:*} || exit 1; \
	done

# bench: the tables of BENCHMARKS.md. Go benchmarks of the lab operations and
# the prober, then scale.star timed against the iproute2 shell recipe, its
# ip -batch variant and Mininet (where installed) in the same run,
# alternating, and the end-to-end figures (bridge.star, scale.star N=1000,
# mesh.star N=50), then mesh.star N=50 and scale.star N=200 against the
# plain-Go floor (bench/floor), wall and CPU time. Needs root, ip and ping (apt-get install iputils-ping;
# mininet bridge-utils net-tools for the Mininet column).
BENCHTIME ?= 500x
BENCH_N ?= 10,50,200
BENCH_ROUNDS ?= 5
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=$(BENCHTIME) ./internal/lab ./internal/probe
	$(GO) run ./bench/compare -nsscript ./nsscript -n $(BENCH_N) -rounds $(BENCH_ROUNDS)
	$(GO) run ./bench/compare -nsscript ./nsscript -floor mesh:50,scale:200 -rounds $(BENCH_ROUNDS)
