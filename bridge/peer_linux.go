//go:build linux

package bridge

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const peerLookupSupported = true

func currentUserKey() (string, error) { return strconv.Itoa(os.Getuid()), nil }

// lookupPeerUser returns the uid owning the socket whose local end is
// remote and whose remote end is local: the peer of our accepted socket.
// sock_diag answers one exact 4-tuple in a few microseconds; /proc/net/tcp
// is the fallback for kernels without inet_diag (a module that may be
// absent), and lists every socket, so it costs more.
func lookupPeerUser(local, remote *net.TCPAddr) (string, error) {
	uid, err := sockDiagUID(local, remote)
	if err == nil {
		return strconv.FormatUint(uint64(uid), 10), nil
	}
	uid, perr := procNetUID(local, remote)
	if perr == nil {
		return strconv.FormatUint(uint64(uid), 10), nil
	}
	return "", fmt.Errorf("find the user of %s: sock_diag: %w; /proc/net: %w", remote, err, perr)
}

// Sizes of struct inet_diag_sockid, inet_diag_req_v2 and inet_diag_msg
// (linux/inet_diag.h); x/sys/unix has the constants but not the structs.
const (
	sizeofSockID = 48
	sizeofReqV2  = 8 + sizeofSockID
	sizeofDiag   = 4 + sizeofSockID + 20
)

// sockDiagUID asks NETLINK_SOCK_DIAG for the one socket with local end
// src and remote end dst (an exact lookup, not a dump):
// struct inet_diag_req_v2 { u8 family, protocol, ext, pad; u32 states;
// struct inet_diag_sockid id; }, the same as `ss -tne src SRC dst DST`.
func sockDiagUID(dst, src *net.TCPAddr) (uint32, error) {
	family, srcIP, dstIP := diagAddrs(src.IP, dst.IP)
	if family == 0 {
		return 0, fmt.Errorf("addresses %s and %s are not one family", src, dst)
	}
	fd, err := getDiagSocket()
	if err != nil {
		return 0, err
	}
	uid, err := sockDiagQuery(fd, family, src, dst, srcIP, dstIP)
	if err != nil {
		// Whatever went wrong may have left an answer queued on it.
		unix.Close(fd)
		return 0, err
	}
	putDiagSocket(fd)
	return uid, nil
}

// diagSockets keeps a few netlink sockets for reuse: making and closing
// one is a third of a lookup's cost (BenchmarkPeerCheck). At most
// cap(diagSockets) stay open for the life of the process.
var (
	diagSockets = make(chan int, 4)
	diagSeq     atomic.Uint32
)

func getDiagSocket() (int, error) {
	select {
	case fd := <-diagSockets:
		return fd, nil
	default:
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return -1, fmt.Errorf("netlink socket: %w", err)
	}
	// A hang guard: the kernel answers at once or not at all.
	tv := unix.NsecToTimeval(time.Second.Nanoseconds())
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	return fd, nil
}

func putDiagSocket(fd int) {
	select {
	case diagSockets <- fd:
	default:
		unix.Close(fd)
	}
}

// sockDiagQuery sends one request on fd and reads its answer.
func sockDiagQuery(fd int, family uint8, src, dst *net.TCPAddr, srcIP, dstIP [16]byte) (uint32, error) {
	seq := diagSeq.Add(1)

	req := make([]byte, unix.NLMSG_HDRLEN+sizeofReqV2)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(req[8:], seq)
	r := req[unix.NLMSG_HDRLEN:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xffffffff) // all states
	putSockID(r[8:], src.Port, dst.Port, srcIP, dstIP)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("netlink send: %w", err)
	}
	var buf [4096]byte
	n, _, err := unix.Recvfrom(fd, buf[:], 0)
	if err != nil {
		return 0, fmt.Errorf("netlink receive: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return 0, fmt.Errorf("netlink answer: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Seq != seq {
			return 0, fmt.Errorf("sock_diag: answer %d to request %d", m.Header.Seq, seq)
		}
		switch m.Header.Type {
		case unix.NLMSG_ERROR:
			if len(m.Data) >= 4 {
				if errno := int32(ne.Uint32(m.Data)); errno != 0 {
					return 0, fmt.Errorf("sock_diag: %w", syscall.Errno(-errno))
				}
			}
		case unix.SOCK_DIAG_BY_FAMILY:
			if len(m.Data) < sizeofDiag {
				return 0, errors.New("sock_diag: short answer")
			}
			// The kernel falls back to a listener on the port when the
			// exact socket is gone; only the exact 4-tuple counts.
			want := make([]byte, sizeofSockID)
			putSockID(want, src.Port, dst.Port, srcIP, dstIP)
			if string(m.Data[4:4+40]) != string(want[:40]) {
				return 0, errors.New("sock_diag: no socket with that address pair")
			}
			return ne.Uint32(m.Data[4+sizeofSockID+12:]), nil
		}
	}
	return 0, errors.New("sock_diag: no answer")
}

// diagAddrs gives the address family and the 16-byte forms sock_diag
// wants (an IPv4 address in the first 4 bytes).
func diagAddrs(a, b net.IP) (family uint8, a16, b16 [16]byte) {
	a4, b4 := a.To4(), b.To4()
	switch {
	case a4 != nil && b4 != nil:
		copy(a16[:], a4)
		copy(b16[:], b4)
		return unix.AF_INET, a16, b16
	case a4 == nil && b4 == nil && len(a) == net.IPv6len && len(b) == net.IPv6len:
		copy(a16[:], a)
		copy(b16[:], b)
		return unix.AF_INET6, a16, b16
	}
	return 0, a16, b16
}

// putSockID writes struct inet_diag_sockid { be16 sport, dport; be32
// src[4], dst[4]; u32 if; u32 cookie[2]; } with INET_DIAG_NOCOOKIE.
func putSockID(p []byte, sport, dport int, src, dst [16]byte) {
	binary.BigEndian.PutUint16(p[0:], uint16(sport))
	binary.BigEndian.PutUint16(p[2:], uint16(dport))
	copy(p[4:], src[:])
	copy(p[20:], dst[:])
	binary.NativeEndian.PutUint32(p[36:], 0)
	binary.NativeEndian.PutUint32(p[40:], 0xffffffff)
	binary.NativeEndian.PutUint32(p[44:], 0xffffffff)
}

// procNetUID finds the socket with local end src and remote end dst in
// /proc/net/tcp or tcp6, whose lines read
// "sl local_address rem_address st tx_queue:rx_queue tr:tm retrnsmt uid …"
// with addresses as hex words in host byte order.
func procNetUID(dst, src *net.TCPAddr) (uint32, error) {
	family, srcIP, dstIP := diagAddrs(src.IP, dst.IP)
	file, words := "/proc/net/tcp", 1
	switch family {
	case unix.AF_INET6:
		file, words = "/proc/net/tcp6", 4
	case 0:
		return 0, fmt.Errorf("addresses %s and %s are not one family", src, dst)
	}
	wantLocal, wantRemote := procAddr(srcIP, words, src.Port), procAddr(dstIP, words, dst.Port)
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[1] != wantLocal || fields[2] != wantRemote {
			continue
		}
		uid, err := strconv.ParseUint(fields[7], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%s: uid %q: %w", file, fields[7], err)
		}
		return uint32(uid), nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read %s: %w", file, err)
	}
	return 0, fmt.Errorf("%s lists no socket %s -> %s", file, wantLocal, wantRemote)
}

// procAddr formats an address as /proc/net/tcp{,6} does: each 32-bit word
// printed as %08X of its host-order value, then :%04X of the port.
func procAddr(ip [16]byte, words, port int) string {
	var sb strings.Builder
	for i := range words {
		var w [4]byte
		binary.BigEndian.PutUint32(w[:], binary.NativeEndian.Uint32(ip[4*i:]))
		sb.WriteString(strings.ToUpper(hex.EncodeToString(w[:])))
	}
	return sb.String() + ":" + fmt.Sprintf("%04X", port)
}
