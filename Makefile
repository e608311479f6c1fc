# Tongban terminal. `make run` starts the whole terminal on simulated
# hardware; `make test` runs every test (and installs what Go does not bring).
GO       ?= go
BIN      := bin/kioskd
DATA     ?= demo-data
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 3s
export CGO_ENABLED = 0

.PHONY: all build run test test-deps vet fuzz bench cross crashtest clean

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./kiosk/cmd/kioskd

run: build
	./$(BIN) demo -data $(DATA)

test: test-deps vet build
	$(GO) test -count=1 -timeout 15m ./...
	$(MAKE) --no-print-directory fuzz
	$(GO) run ./kiosk/cmd/crashtest -kills 20 -kioskd $(BIN)

test-deps:
	@sh .ci/install-deps

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l kiosk drivers ui provisioning)" || { echo "gofmt needed:"; gofmt -l kiosk drivers ui provisioning; exit 1; }

# Every go-fuzz target in the tree (each codec has at least one), briefly.
fuzz:
	@set -e; grep -rEo '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' drivers kiosk ui provisioning \
		| sed -E 's|^(.*)/[^/]+_test.go:func (Fuzz.*)$$|./\1 \2|' | sort -u | while read pkg fn; do \
		echo "fuzz $$pkg $$fn for $(FUZZTIME)"; \
		run() { $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 50x $$pkg >/tmp/fuzz.$$$$.log 2>&1; }; \
		if ! run; then \
			cat /tmp/fuzz.$$$$.log; \
			grep -q 'Failing input written' /tmp/fuzz.$$$$.log && exit 1; \
			grep -q 'context deadline exceeded' /tmp/fuzz.$$$$.log || exit 1; \
			echo "fuzz $$pkg $$fn: the engine ran out of its time with no failing input; once more"; \
			run || { cat /tmp/fuzz.$$$$.log; exit 1; }; \
		fi; \
	done

# Every budget the issues name, as ratios against the physical limit.
bench: build
	@BENCH=1 $(GO) test -count=1 -run 'Budget|IdlePollCPU' -v ./... 2>&1 | grep -E 'budget|idle|cpu|ratio|^(ok|FAIL|--- FAIL)' | grep -v '^ok.*no test files'
	@$(GO) test -run '^$$' -bench . -benchtime 100x ./kiosk/journal/ ./drivers/id003/ ./drivers/ssp/ ./drivers/idcard/ ./drivers/scanner/... 2>&1 | grep -E '^Benchmark'

# Static binaries for the boards inside terminals.
cross:
	@mkdir -p bin
	@for t in amd64: arm64: arm:7; do \
		arch=$${t%%:*}; arm=$${t##*:}; out=bin/kioskd-linux-$$arch; \
		GOOS=linux GOARCH=$$arch GOARM=$$arm $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$out ./kiosk/cmd/kioskd || exit 1; \
		printf '%-24s %6d KiB  %s\n' $$out $$(( $$(stat -c %s $$out) / 1024 )) "$$(file -b $$out 2>/dev/null | cut -d, -f1-2)"; \
	done

# The money guarantee under SIGKILL and power cuts: at least 300 kills.
crashtest: build
	$(GO) run ./kiosk/cmd/crashtest -kills $(or $(KILLS),300) -kioskd $(BIN)

clean:
	rm -rf bin $(DATA)
