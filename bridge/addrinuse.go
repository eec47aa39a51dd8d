package bridge

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// isAddrInUse reports whether err is a bind that failed because something
// else holds the address. Each OS says so with its own errno
// (addrInUseErrnos): Go's syscall.EADDRINUSE is the Unix one, and on Windows
// it is a made-up value no socket call returns, so comparing with it alone
// missed every port in use there, and the fallback ports and the "already
// running" message never worked on Windows.
func isAddrInUse(err error) bool {
	for _, errno := range addrInUseErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// isNoSuchAddress reports whether err is a bind to an address this machine
// lacks, such as ::1 without IPv6 loopback, per OS like isAddrInUse.
func isNoSuchAddress(err error) bool {
	for _, errno := range noSuchAddressErrnos {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// Winsock's WSAEADDRNOTAVAIL and WSAEAFNOSUPPORT, spelled out likewise.
const (
	wsaeAddrNotAvail = syscall.Errno(10049)
	wsaeAFNoSupport  = syscall.Errno(10047)
)

// wsaeAddrInUse is Winsock's WSAEADDRINUSE, what bind returns on Windows
// ("winapi error #10048"); golang.org/x/sys/windows.WSAEADDRINUSE, spelled
// out here so that the list's test builds on every OS.
const wsaeAddrInUse = syscall.Errno(10048)

// Who holds a port the bridge could not bind.
type portHolder int

const (
	heldByProgram   portHolder = iota // not Orion Bridge (or it did not answer)
	heldBySameUser                    // this user's Orion Bridge: "already running"
	heldByOtherUser                   // another user's Orion Bridge (its 403 discovery answer)
)

// PortNote says why the bridge is not on its configured port; zero when
// it is.
type PortNote struct {
	Wanted int    `json:"wanted,omitempty"`  // the configured port
	HeldBy string `json:"held_by,omitempty"` // "another user" or "another program"
}

// candidatePorts is Port, the fallback ports, then PortRange, each once.
func candidatePorts(opts Options) []int {
	ports := append([]int{opts.Port}, opts.FallbackPorts...)
	if opts.Port == 0 {
		return ports[:1] // a test's free port: nothing to fall back to
	}
	seen := make(map[int]bool, len(ports))
	for _, p := range ports {
		seen[p] = true
	}
	if first, last := opts.PortRange[0], opts.PortRange[1]; first > 0 && last >= first {
		for p := first; p <= last; p++ {
			if !seen[p] {
				ports, seen[p] = append(ports, p), true
			}
		}
	}
	return ports
}

// listen binds every host on the first candidate port that all of them can
// use. A port held by this user's Orion Bridge stops it ("already
// running"); one held by another user's Orion Bridge or by another program
// is passed over. Once another user's bridge was met, this user's own
// announce entry is asked too: their bridge may sit further up the range,
// past a port that has come free since.
func (b *Bridge) listen() ([]net.Listener, int, error) {
	opts := b.settings.Load().opts
	ports := candidatePorts(opts)
	var busy []string
	var note PortNote
	for _, port := range ports {
		lns, bound, err := listenAll(opts.Hosts, port)
		if err == nil {
			if note.HeldBy != "" {
				b.log.Warn("port in use by "+note.HeldBy+", using the next free port",
					"wanted", opts.Port, "chosen", bound)
			}
			b.portNote = note
			return lns, bound, nil
		}
		if !isAddrInUse(err) {
			return nil, 0, err
		}
		// Another Orion Bridge of this user must not push this one to a
		// fallback port: there would be two, and pages would find the
		// wrong one.
		other, holder := probePortHolder(port)
		if holder == heldBySameUser {
			return nil, 0, other
		}
		if holder == heldByOtherUser && note.HeldBy != "another user" {
			if other := ownBridgeInRange(opts.AnnounceDir, ports); other != nil {
				return nil, 0, other
			}
		}
		if note.HeldBy == "" {
			note = PortNote{Wanted: port, HeldBy: "another program"}
			if holder == heldByOtherUser {
				note.HeldBy = "another user"
			}
		}
		busy = append(busy, strconv.Itoa(port))
	}
	return nil, 0, fmt.Errorf("listen: ports %s are all in use by other programs or other users' bridges: free one, or widen port_range", compactPorts(busy))
}

// ownBridgeInRange is "already running" when this user's announce entry
// names a live bridge of theirs on one of ports.
func ownBridgeInRange(dir string, ports []int) *AlreadyRunningError {
	if dir == "" {
		return nil
	}
	a, ok, err := OwnAnnouncement(dir)
	if err != nil || !ok || !slices.Contains(ports, a.Port) {
		return nil
	}
	if other, holder := probePortHolder(a.Port); holder == heldBySameUser {
		return other
	}
	return nil
}

// compactPorts shortens a long list of ports for an error message.
func compactPorts(ports []string) string {
	if len(ports) > 6 {
		return strings.Join(ports[:3], ", ") + ", … " + ports[len(ports)-1]
	}
	return strings.Join(ports, ", ")
}

// probePortHolder asks whatever holds port for its /health. This user's
// bridge answers with Health; another user's answers 403 with
// OtherUserAnswer (peer_answer.go), since it sees this process as another
// user's.
func probePortHolder(port int) (*AlreadyRunningError, portHolder) {
	client := http.Client{
		Timeout: time.Second,
		Transport: &http.Transport{
			// Only the identity is read, and the other instance may use a
			// CA this process does not know; nothing is sent.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://localhost:" + strconv.Itoa(port) + "/health")
	if err != nil {
		return nil, heldByProgram
	}
	defer resp.Body.Close()
	var doc struct {
		Health
		Error string `json:"error"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc) != nil || doc.App != AppName {
		return nil, heldByProgram
	}
	if resp.StatusCode == http.StatusForbidden && (doc.Error == DiscoveryOtherUser || doc.Error == DiscoveryNoBridge) {
		return nil, heldByOtherUser
	}
	return &AlreadyRunningError{Endpoint: "wss://localhost:" + strconv.Itoa(port), PID: doc.PID}, heldBySameUser
}

// PortNote says why the bridge is not on its configured port.
func (b *Bridge) PortNote() PortNote {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.running {
		return PortNote{}
	}
	return b.portNote
}
