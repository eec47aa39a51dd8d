# Orion Bridge: `make run` and `make test` do all the set-up on a fresh
# Debian/Ubuntu machine with Go installed. Both are idempotent.

BIN          := bin/orionbridge
HEADLESS_BIN := bin/orionbridge-headless
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
STATICCHECK_BIN := bin/staticcheck
# Packages that build without cgo; they are vetted for Windows and macOS too.
# tray/ needs cgo (Fyne), so only `make dist` compiles it for Windows. The
# main package is both: with -tags headless it leaves the tray out and
# builds without cgo (the tag selects nothing in the other packages).
PURE_PKGS  := ./bridge/... ./certs/... ./config/... ./browserpolicy/... ./engine/... ./autostart/... ./app/... ./cli/... ./assets/... ./e2e/... ./internal/...
HEADLESS_PKGS := $(PURE_PKGS) .

# The two builds of the main package. orionbridge, the tray app: Fyne with
# cgo, and with no_emoji, which leaves out Fyne's 4.2 MB emoji font (parsed
# once per text style, about 20 MiB of heap; the UI shows no emoji).
# orionbridge-headless: the same commands without the tray, cgo-free, so it
# needs no GUI libraries and idles in less than half the memory; the
# services run it (cli/service.go). SHIPPED are the flags releases and the
# benchmark build with.
TRAY_BUILD     := go build -tags no_emoji
HEADLESS_BUILD := CGO_ENABLED=0 go build -tags headless
SHIPPED        := -trimpath -ldflags "-s -w"

# Debian packages each goal needs: gcc for -race, chromium and certutil for
# the real-browser tests; for `make dist` and the installer check, the
# OpenGL and X11 headers Fyne's cgo builds against, the mingw-w64 C compiler
# (Windows cgo), wixl and msitools (the MSI), osslsigncode (signing),
# shellcheck and xmllint (the installer scripts and plists).
FYNE_DEBS  := gcc libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev
RUN_DEBS   := $(FYNE_DEBS)
DIST_DEBS  := $(FYNE_DEBS) gcc-mingw-w64-x86-64 wixl msitools osslsigncode
# Xvfb (with xauth and the software GL driver) runs the tray app for
# `make screenshots` and the benchmark's tray measurement. fonts-noto-cjk
# has the Hangul that Fyne's font lacks, for the Korean screenshots and
# Chromium's Korean pages (issue 18): the tray takes it from the system.
SCREENSHOT_DEBS := xvfb xauth libgl1-mesa-dri fonts-noto-cjk
# Wine (Debian's 8.0) runs the Windows build for the Wine check.
WINE_DEBS  := wine wine64
# The per-user tests (issue 16): curl as a second user, setpriv/runuser
# (util-linux), pkill (procps), useradd (passwd).
SHARED_DEBS := curl util-linux procps passwd
# redis-server and memcached are engines nobody here wrote, which
# e2e/engines_test.go starts on free ports (never the system services).
TEST_DEBS  := $(sort chromium libnss3-tools $(DIST_DEBS) $(SCREENSHOT_DEBS) shellcheck libxml2-utils desktop-file-utils systemd strace $(WINE_DEBS) redis-server memcached $(SHARED_DEBS))

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# ensure-debs installs the listed packages that dpkg does not know yet.
define ensure-debs
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

.PHONY: all build run test bench fuzz lint deps-run deps-test clean screenshots

all: build

build:
	$(TRAY_BUILD) -o $(BIN) .
	$(HEADLESS_BUILD) -o $(HEADLESS_BIN) .

deps-run:
	$(call ensure-debs,$(RUN_DEBS))

deps-test:
	$(call ensure-debs,$(TEST_DEBS))
	@# The JS client's unit tests need node; Debian's nodejs serves when the
	@# machine has no node of its own.
	@command -v node >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nodejs; }
	@# npm installs ws for the Node interop test (e2e/nodews_test.go runs
	@# `npm ci`); Debian's npm serves when node came without it.
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm; }

# run: the demo engine and the tray app (headless when there is no
# display) in one process in the foreground (cli/rundemo.go): the engine on
# a loopback port the system picks, and /ws routed to it in a temporary copy
# of your configuration, so the page never reaches a program that happens
# to hold a fixed port. Ctrl-C or Quit stops both. e2e/makerun_test.go runs
# this recipe's last line.
run: deps-run build
	@echo; \
	echo "Orion Bridge is starting with the demo engine. Open the diagnostics page printed below"; \
	echo "(https://localhost:21443/ unless that port is taken). To make browsers trust it once:"; \
	echo "    $(BIN) certs install --scope user"; \
	echo
	$(BIN) demo --push 10s --dashboard

# screenshots: the tray's Sessions and Log tabs, its menu and the consent
# prompt (the app under Xvfb with the demo engine and live sessions), in
# English and again under LANG=ko_KR.UTF-8 (*-ko.png), then the example page
# and the diagnostics page (headless Chromium, and --lang=ko for
# diagnostics-ko.png), into docs/screenshots/.
screenshots: deps-test build
	tray/screenshots.sh docs/screenshots
	ORION_SCREENSHOT_DIR=docs/screenshots CI=true go test -count=1 -run 'TestJSClientInChromium|TestPagesFollowTheBrowsersLanguage' ./e2e/

# staticcheck is built for this machine once; GOOS then only picks what it
# analyses.
$(STATICCHECK_BIN):
	GOBIN=$(CURDIR)/bin go install $(STATICCHECK)

lint: $(STATICCHECK_BIN)
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	@# The screenshot mode (tray/screenshot.go) is built only for make screenshots.
	go vet -tags screenshots ./tray/
	CGO_ENABLED=0 go vet -tags headless .
	CGO_ENABLED=0 GOOS=windows go vet -tags headless $(HEADLESS_PKGS)
	CGO_ENABLED=0 GOOS=darwin go vet -tags headless $(HEADLESS_PKGS)
	$(STATICCHECK_BIN) ./...
	$(STATICCHECK_BIN) -tags screenshots ./tray/
	CGO_ENABLED=0 $(STATICCHECK_BIN) -tags headless .
	CGO_ENABLED=0 GOOS=windows $(STATICCHECK_BIN) -tags headless $(HEADLESS_PKGS)
	CGO_ENABLED=0 GOOS=darwin $(STATICCHECK_BIN) -tags headless $(HEADLESS_PKGS)

# test: lint, the core without cgo, every test with -race (fuzz seed corpora
# included), and each benchmark briefly so none rots.
test: deps-test lint
	CGO_ENABLED=0 go test -count=1 ./bridge/... ./certs/...
	@# installer/ and installer/wine/ run once, in installer-check and
	@# wine-check (they skip themselves elsewhere).
	go test -race -count=1 $$(go list ./... | grep -v -e '/installer$$' -e '/installer/wine$$')
	go test -run '^$$' -bench . -benchtime 100x ./bridge/...
	node --test assets/web/_test/client.test.mjs assets/web/_test/i18n.test.mjs
	$(MAKE) --no-print-directory installer-check
	$(MAKE) --no-print-directory wine-check

# bench: both builds as they ship; the bridge measured is the headless one,
# which the services run, and the tray build's figures come beside it.
# The tray figures run under Xvfb, one of them inside dbus-run-session (a
# session bus, so the app has a tray), beside bin/fynefloor, the smallest
# Fyne app built the same way: the toolkit's floor.
bench:
	$(call ensure-debs,websockify dbus-daemon $(SCREENSHOT_DEBS))
	$(TRAY_BUILD) $(SHIPPED) -o $(BIN) .
	$(HEADLESS_BUILD) $(SHIPPED) -o $(HEADLESS_BIN) .
	$(TRAY_BUILD) $(SHIPPED) -o bin/fynefloor ./bench/fynefloor
	go build -o bin/orionbench ./bench
	bin/orionbench -bridge $(BIN) -headless $(HEADLESS_BIN) -fyne-floor bin/fynefloor -update docs/benchmarks.md
	go test -run '^$$' -bench 'RoundTrip|Throughput|RelayAllocs|FramedMessageMemory' -benchtime 2s -count 3 ./bridge/...
	go test -run '^$$' -bench IdleSessionMemory -benchtime 5000x -count 1 ./bridge/...

fuzz:
	go test -run '^$$' -fuzz FuzzLineDecoder -fuzztime 60s ./bridge/
	go test -run '^$$' -fuzz FuzzFrameDecoder -fuzztime 60s ./bridge/
	go test -run '^$$' -fuzz FuzzUTF8Validator -fuzztime 60s ./bridge/
	go test -run '^$$' -fuzz '^FuzzControlConfigJSON$$' -fuzztime 60s ./app/
	go test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime 60s ./app/

clean:
	rm -rf bin

# ---------------------------------------------------------------------------
# dist: the installers, into dist/. From this Linux machine: the Windows
# exes (the tray app with cgo through mingw-w64, orionbridge-headless.exe
# without cgo) and their MSI (wixl), the deb and rpm (nfpm) and a tarball;
# the macOS app and pkg only on a Mac (installer/macos/). With SIGN_CERT and
# SIGN_KEY set, the exes and the MSI are signed (osslsigncode,
# installer/windows/sign.sh); without them, it says it skipped signing.
# Each output is rebuilt only when one of its inputs is newer, so the slow
# Windows build is done once; `make clean-dist` starts over.

# The version's single source: FyneApp.toml, [Details] Version.
VERSION := $(shell sed -n '/^\[Details\]/,/^\[/ s/^Version *= *"\(.*\)"/\1/p' FyneApp.toml)
# nfpm 2.45.2: later releases need go.digitalxero.dev modules, which the
# module proxy here does not serve. Both tools are built once into bin/.
NFPM         := github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
NFPM_BIN     := bin/nfpm
GOWINRES     := github.com/tc-hib/go-winres@v0.3.3
GOWINRES_BIN := bin/go-winres

WIN_EXE   := dist/windows/orionbridge.exe
WIN_HEADLESS := dist/windows/orionbridge-headless.exe
MSI       := dist/OrionBridge-$(VERSION)-x64.msi
LINUX_BIN := dist/linux/orionbridge
LINUX_HEADLESS := dist/linux/orionbridge-headless
DEB       := dist/orionbridge_$(VERSION)_amd64.deb
RPM       := dist/orionbridge-$(VERSION)-1.x86_64.rpm
TARBALL   := dist/orionbridge-$(VERSION)-linux-amd64.tar.gz

# What the binaries are built from: the Go sources (tests aside), the
# module files, FyneApp.toml and the embedded assets.
DIST_GO_INPUTS := $(shell find . \( -path ./dist -o -path ./bin -o -path ./.git \) -prune -o -type f \( \( -name '*.go' ! -name '*_test.go' \) -o -name go.mod -o -name go.sum \) -print) \
	FyneApp.toml $(shell find assets -type f)
LINUX_PKG_INPUTS := installer/linux/nfpm.yaml installer/linux/orionbridge.desktop \
	installer/linux/orionbridge-autostart.desktop installer/linux/orionbridge.service \
	installer/linux/postinst.sh installer/linux/prerm.sh installer/linux/postrm.sh \
	assets/icons/app.png assets/icons/app.svg README.md

.PHONY: dist dist-windows dist-msi dist-linux dist-deb dist-macos deps-dist installer-check wine-check clean-dist FORCE

# The packages first, then the builds (a sub-make, so that even make -j
# keeps that order).
dist: deps-dist
	@$(MAKE) --no-print-directory dist-windows dist-linux dist-macos
	@echo; echo "dist/:"; ls -l dist | sed 1d

deps-dist:
	$(call ensure-debs,$(DIST_DEBS))

dist-windows dist-msi: $(MSI)
dist-linux: $(DEB) $(RPM) $(TARBALL)
dist-deb: $(DEB)

$(NFPM_BIN):
	GOBIN=$(CURDIR)/bin go install $(NFPM)

$(GOWINRES_BIN):
	GOBIN=$(CURDIR)/bin go install $(GOWINRES)

# dist/.signing holds whether (and with what) the Windows files are signed;
# it changes only when SIGN_CERT/SIGN_KEY do, and then the exes and MSI are
# rebuilt, so an unsigned build is never passed off as a signed one.
dist/.signing: FORCE
	@mkdir -p dist; s="$(if $(SIGN_CERT)$(SIGN_KEY),$(SIGN_CERT) $(SIGN_KEY),unsigned)"; \
	[ "$$(cat $@ 2>/dev/null)" = "$$s" ] || echo "$$s" >$@

# The Windows exe, cross-compiled with cgo through mingw-w64: a GUI-subsystem
# program with an icon, a manifest and version resources (see
# installer/windows/build-exe.sh, which the release workflow runs on Windows).
$(WIN_EXE): $(DIST_GO_INPUTS) installer/windows/build-exe.sh dist/.signing | $(GOWINRES_BIN)
	CC=x86_64-w64-mingw32-gcc GOWINRES=$(GOWINRES_BIN) installer/windows/build-exe.sh $(VERSION) $@.tmp
	installer/windows/sign.sh $@.tmp
	mv $@.tmp $@

# The service's exe: a console program, cgo-free, without resources. After
# the tray exe (order-only): while build-exe.sh runs, its .syso lies at the
# module root, where any Windows build of the main package would link it.
$(WIN_HEADLESS): $(DIST_GO_INPUTS) dist/.signing | $(WIN_EXE)
	GOOS=windows GOARCH=amd64 $(HEADLESS_BUILD) $(SHIPPED) -o $@.tmp .
	installer/windows/sign.sh $@.tmp
	mv $@.tmp $@

$(MSI): $(WIN_EXE) $(WIN_HEADLESS) installer/windows/OrionBridge.wxs installer/windows/build-msi.sh
	installer/windows/build-msi.sh $(VERSION) $(<D) $@.tmp
	installer/windows/sign.sh $@.tmp
	mv $@.tmp $@

$(LINUX_BIN): $(DIST_GO_INPUTS)
	@mkdir -p $(@D)
	CGO_ENABLED=1 $(TRAY_BUILD) $(SHIPPED) -o $@ .

$(LINUX_HEADLESS): $(DIST_GO_INPUTS)
	@mkdir -p $(@D)
	GOOS=linux GOARCH=amd64 $(HEADLESS_BUILD) $(SHIPPED) -o $@ .

$(DEB): $(LINUX_BIN) $(LINUX_HEADLESS) $(LINUX_PKG_INPUTS) | $(NFPM_BIN)
	VERSION=$(VERSION) $(NFPM_BIN) package -f installer/linux/nfpm.yaml -p deb -t $@

$(RPM): $(LINUX_BIN) $(LINUX_HEADLESS) $(LINUX_PKG_INPUTS) | $(NFPM_BIN)
	VERSION=$(VERSION) $(NFPM_BIN) package -f installer/linux/nfpm.yaml -p rpm -t $@

$(TARBALL): $(LINUX_BIN) $(LINUX_HEADLESS) README.md
	@rm -rf dist/tar && mkdir -p dist/tar/orionbridge-$(VERSION)
	cp $(LINUX_BIN) $(LINUX_HEADLESS) README.md dist/tar/orionbridge-$(VERSION)/
	tar -C dist/tar --owner=0 --group=0 --numeric-owner --sort=name -czf $@ orionbridge-$(VERSION)
	@rm -rf dist/tar

dist-macos:
ifeq ($(shell uname -s),Darwin)
	installer/macos/build-pkg.sh
else
	@echo "dist: skipped the macOS app and pkg: they are built on a Mac (installer/macos/build-pkg.sh,"
	@echo "      which the release workflow runs on macos-latest)"
endif

# The installer check (installer/installer_test.go): builds the MSI and the
# deb through the rules above, then inspects them. Skipped when a tool is
# missing, except under CI=true, where that fails with the install hint.
# The first Windows build takes minutes, hence the timeout.
installer-check:
	ORIONBRIDGE_INSTALLER_CHECK=1 go test -count=1 -timeout 60m ./installer/

# The Wine check (installer/wine/): the MSI the rules above build, installed
# and run under Wine in a throwaway WINEPREFIX (bounded in time and memory),
# served to a Go client and Chromium on this side, and uninstalled; and the
# bridge's port tests run as a Windows program. See README, "Testing Windows
# on Linux". Skipped when a tool is missing, except under CI=true.
wine-check:
	ORIONBRIDGE_WINE_CHECK=1 go test -count=1 -timeout 60m ./installer/wine/

clean-dist:
	rm -rf dist rsrc_windows_amd64.syso
