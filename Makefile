# ramp — build, test and run. `make help` lists the targets.
GO        ?= go
BIN       := bin/ramp
DB        ?= ramp-demo.db
ADDR      ?= 127.0.0.1:8080
FUZZTIME  ?= 30s
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/ramp-flags/ramp/internal/cli.version=$(VERSION)

.PHONY: help build test test-short vet staticcheck bench fuzz run clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build bin/ramp
	@test -x $(BIN) || echo "== building bin/ramp (a first build compiles SQLite and every dependency: allow a few minutes)"
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/ramp

vet: ## go vet
	$(GO) vet ./...

staticcheck: ## staticcheck (version pinned in go.mod's tool directive)
	$(GO) tool staticcheck ./...

# Packages whose tests run a second time on PostgreSQL when RAMP_TEST_DSN
# names one (CI starts a throwaway cluster with .ci/postgres.sh); the
# ClickHouse events store compares its numbers with PostgreSQL's there.
PG_PACKAGES := ./internal/store/... ./internal/server/... ./internal/controller/... ./internal/admin/... ./cmd/ramp/... ./internal/clickhouse/... ./internal/api/... ./internal/client/...

test: ## vet, staticcheck and every test with the race detector (and on PostgreSQL if RAMP_TEST_DSN is set)
	@echo "== go vet (a first run downloads and compiles the dependencies: allow a few minutes)"
	@$(MAKE) --no-print-directory vet
	@echo "== staticcheck"
	@$(MAKE) --no-print-directory staticcheck
	@echo "== every test with the race detector, on SQLite (about 5-8 minutes on 2 cores; a package's result prints when it finishes)"
	RAMP_TEST_DSN= $(GO) test -race -count=1 ./...
	@if [ -n "$$RAMP_TEST_DSN" ]; then \
	  echo "== the store and server tests again, on PostgreSQL"; \
	  RAMP_REQUIRE_POSTGRES=1 $(GO) test -race -count=1 $(PG_PACKAGES); \
	fi

# test-postgres starts a throwaway PostgreSQL cluster with .ci/postgres.sh
# (installing Debian's server package if needed; as root, the cluster runs as
# the postgres user), runs the store's tests against it with RAMP_TEST_DSN
# set (each test in a schema of its own) and RAMP_REQUIRE_POSTGRES=1 (so no
# Postgres test may skip), then stops and deletes the cluster, whatever the
# tests did.
.PHONY: test-postgres
test-postgres: ## the store's tests against a throwaway PostgreSQL
	@set -e; pg_env=$$(.ci/postgres.sh start); eval "$$pg_env"; \
	trap '.ci/postgres.sh stop' EXIT; \
	RAMP_REQUIRE_POSTGRES=1 $(GO) test -race -count=1 $(PG_PACKAGES)

test-short: ## quick tests without the race detector
	$(GO) test -short ./...

bench: ## engine and CLI benchmarks (figures go to docs/BENCHMARKS.md)
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

run: build ## demo: apply the scenario to an embedded SQLite file, show how 100,000 users are assigned, then serve it (Ctrl-C stops)
	rm -f $(DB) $(DB)-wal $(DB)-shm
	$(BIN) --db $(DB) apply -f testdata/scenario.yaml -o table
	$(BIN) --db $(DB) --actor demo rollout advance messenger-ig-interop --to us-10 -o table
	$(BIN) --db $(DB) rollout status messenger-ig-interop -o table
	$(BIN) --db $(DB) experiments list -o table
	$(BIN) --db $(DB) simulate --users 100000 -o table
	@key=$$($(BIN) --db $(DB) --actor demo keys create --role sdk --name demo -o table 2>/dev/null) && \
	pat=$$($(BIN) --db $(DB) --actor demo tokens create demo --role editor --approve --expires 7d --note "make run" -o table 2>/dev/null) && \
	echo "" && \
	echo "The dashboard: open http://$(ADDR)/ and sign in with the demo person's token (an editor who may approve; it expires in 7 days):" && \
	echo "  $$pat" && \
	echo "The CLI through the server's admin API instead of the database file:" && \
	echo "  echo $$pat | $(BIN) login --server http://$(ADDR) --with-token && $(BIN) rollout status messenger-ig-interop" && \
	echo "" && \
	echo "Serving the scenario on http://$(ADDR) with a demo sdk key. In another terminal:" && \
	echo "" && \
	echo "  curl -s -H 'Authorization: Bearer $$key' -H 'Content-Type: application/json' \\" && \
	echo "    -d '{\"context\":{\"targetingKey\":\"u1\",\"region\":\"US\",\"accountCenterId\":\"ac-42\"}}' \\" && \
	echo "    http://$(ADDR)/ofrep/v1/evaluate/flags/messenger-ig-interop" && \
	echo "" && \
	echo "  curl -s -H 'Authorization: Bearer $$key' -H 'Content-Type: application/json' -d '{\"context\":{\"targetingKey\":\"emp-1\"}}' http://$(ADDR)/ofrep/v1/evaluate/flags" && \
	echo "" && \
	echo "an experiment's arm (the answer's metadata names experiment, phase and arm; the exposure is recorded), then an event:" && \
	echo "  curl -s -H 'Authorization: Bearer $$key' -H 'Content-Type: application/json' \\" && \
	echo "    -d '{\"context\":{\"targetingKey\":\"ig-3\",\"accountCenterId\":\"ac-3\",\"region\":\"US\",\"appVersion\":\"301.0.0\"}}' \\" && \
	echo "    http://$(ADDR)/ofrep/v1/evaluate/flags/ig-dm-via-whatsapp" && \
	echo "  curl -s -H 'Authorization: Bearer $$key' -H 'Content-Type: application/json' \\" && \
	echo "    -d '{\"events\":[{\"id\":\"demo-1\",\"event\":\"dm_reply\",\"value\":1,\"context\":{\"targetingKey\":\"ig-3\",\"accountCenterId\":\"ac-3\"}}]}' \\" && \
	echo "    http://$(ADDR)/v1/track" && \
	echo "" && \
	echo "and change something while it runs: $(BIN) --db $(DB) rollout advance messenger-ig-interop" && \
	echo "(or throw the kill switch: $(BIN) --db $(DB) flags disable messenger-ig-interop;" && \
	echo " see the exposures and events: $(BIN) --db $(DB) events stats)" && \
	echo ""
	exec $(BIN) --db $(DB) serve --addr $(ADDR)

clean: ## remove build output and the demo database
	rm -rf bin $(DB) $(DB)-wal $(DB)-shm
