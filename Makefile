# Orion Bridge: `make run` and `make test` do all the set-up on a fresh
# Debian/Ubuntu machine with Go installed. Both are idempotent.

BIN        := bin/orionbridge
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
STATICCHECK_BIN := bin/staticcheck
# Packages that build without cgo; they are vetted for Windows and macOS too.
PURE_PKGS  := ./bridge/... ./certs/... ./app/... ./assets/... ./e2e/...

# Debian packages each goal needs: gcc for -race, chromium and certutil for
# the real-browser tests.
RUN_DEBS   :=
TEST_DEBS  := gcc chromium libnss3-tools

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# ensure-debs installs the listed packages that dpkg does not know yet.
define ensure-debs
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

.PHONY: all build run test bench fuzz lint deps-run deps-test clean

all: build

build:
	go build -o $(BIN) .

deps-run:
	$(call ensure-debs,$(RUN_DEBS))

deps-test:
	$(call ensure-debs,$(TEST_DEBS))

# run: the demo engine on 127.0.0.1:21400 and the bridge in the foreground.
# Ctrl-C stops both.
run: deps-run build
	@$(BIN) demo-engine --push 10s & engine=$$!; \
	trap 'kill $$engine 2>/dev/null' EXIT INT TERM; \
	echo; \
	echo "Orion Bridge is starting with the demo engine. Open the diagnostics page printed below"; \
	echo "(https://localhost:21443/ unless that port is taken). To make browsers trust it once:"; \
	echo "    $(BIN) certs install --scope user"; \
	echo; \
	$(BIN) run

# staticcheck is built for this machine once; GOOS then only picks what it
# analyses.
$(STATICCHECK_BIN):
	GOBIN=$(CURDIR)/bin go install $(STATICCHECK)

lint: $(STATICCHECK_BIN)
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	CGO_ENABLED=0 GOOS=windows go vet $(PURE_PKGS) .
	CGO_ENABLED=0 GOOS=darwin go vet $(PURE_PKGS) .
	$(STATICCHECK_BIN) ./...
	CGO_ENABLED=0 GOOS=windows $(STATICCHECK_BIN) $(PURE_PKGS)
	CGO_ENABLED=0 GOOS=darwin $(STATICCHECK_BIN) $(PURE_PKGS)

# test: lint, the core without cgo, every test with -race (fuzz seed corpora
# included), and each benchmark briefly so none rots.
test: deps-test lint
	CGO_ENABLED=0 go test -count=1 ./bridge/... ./certs/...
	go test -race -count=1 ./...
	go test -run '^$$' -bench . -benchtime 100x ./bridge/...

bench:
	go test -run '^$$' -bench . -benchtime 3s -count 3 ./bridge/...

fuzz:
	go test -run '^$$' -fuzz FuzzLineDecoder -fuzztime 60s ./bridge/
	go test -run '^$$' -fuzz FuzzFrameDecoder -fuzztime 60s ./bridge/

clean:
	rm -rf bin
