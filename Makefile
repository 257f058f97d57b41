# nsscript developer targets. The README's two commands need none of them.

GO ?= go

.PHONY: all build test vet fmt check ci

all: build

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
