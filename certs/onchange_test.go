package certs

import (
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"orionbridge/internal/testutil"
)

// changeLog records what OnChange reports. It calls Status from inside
// OnChange, as a UI would, which must not deadlock with the Source's lock.
type changeLog struct {
	src atomic.Pointer[Source]
	mu  sync.Mutex
	got []Change
}

func (l *changeLog) options(clock *fakeClock) Options {
	opts := testOptions(clock, &testutil.LockedBuffer{})
	opts.OnChange = func(c Change) {
		if s := l.src.Load(); s != nil {
			_ = s.Status()
		}
		l.mu.Lock()
		l.got = append(l.got, c)
		l.mu.Unlock()
	}
	return opts
}

// take returns the changes recorded since the last take.
func (l *changeLog) take() []Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	got := l.got
	l.got = nil
	return got
}

func kinds(cs []Change) []ChangeKind {
	out := make([]ChangeKind, len(cs))
	for i, c := range cs {
		out[i] = c.Kind
	}
	return out
}

// The certs package reports its own changes as typed values, so nobody has
// to recognise them in log text (the tray once matched message prefixes).
func TestOnChangeReportsEachChange(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	var bridgeLog, cliLog changeLog
	s, err := OpenLocal(dir, bridgeLog.options(clock))
	if err != nil {
		t.Fatal(err)
	}
	bridgeLog.src.Store(s)
	got := bridgeLog.take()
	if !slices.Equal(kinds(got), []ChangeKind{CACreated, LeafIssued}) {
		t.Fatalf("first open reported %v, want [ca-created leaf-issued]", kinds(got))
	}
	st := s.Status()
	if got[0].Fingerprint != st.CAFingerprint || got[0].Path != CAPath(dir) {
		t.Errorf("ca-created = %+v, want fingerprint %s", got[0], st.CAFingerprint)
	}
	if got[1].Serial != st.LeafSerial || got[1].Reason != "no leaf certificate yet" || got[1].NotAfter.IsZero() ||
		got[1].Path != filepath.Join(dir, leafCertName) {
		t.Errorf("leaf-issued = %+v, want serial %s", got[1], st.LeafSerial)
	}
	run(t, s)

	// Another process (a CLI command) opens the same folder: nothing new
	// for it, then it renews, and the running Source picks that up.
	cli, err := OpenLocal(dir, cliLog.options(clock))
	if err != nil {
		t.Fatal(err)
	}
	cliLog.src.Store(cli)
	if got := cliLog.take(); len(got) != 0 {
		t.Fatalf("reopening an existing folder reported %v", kinds(got))
	}
	if err := cli.RenewLeaf(); err != nil {
		t.Fatal(err)
	}
	if got := cliLog.take(); !slices.Equal(kinds(got), []ChangeKind{LeafIssued}) || got[0].Reason != "forced renewal" {
		t.Fatalf("RenewLeaf reported %+v", got)
	}
	renewed := cli.Status().LeafSerial
	var seen []Change
	testutil.WaitFor(t, "the running Source to report the renewed leaf", func() bool {
		seen = append(seen, bridgeLog.take()...)
		return len(seen) > 0
	})
	if !slices.Equal(kinds(seen), []ChangeKind{LeafChangedOnDisk}) || seen[0].Serial != renewed {
		t.Fatalf("the running Source reported %+v, want leaf-changed-on-disk %s", seen, renewed)
	}

	// The CA falls due: the running Source renews it and issues a leaf
	// from the new one.
	clock.Add(9*365*24*time.Hour + 60*24*time.Hour)
	seen = nil
	testutil.WaitFor(t, "the CA renewal to be reported", func() bool {
		seen = append(seen, bridgeLog.take()...)
		return slices.Contains(kinds(seen), LeafIssued)
	})
	if !slices.Equal(kinds(seen), []ChangeKind{CARenewed, LeafIssued}) || seen[0].Fingerprint != s.Status().CAFingerprint {
		t.Fatalf("CA renewal reported %+v", seen)
	}
}

func TestOnChangeForAnExternalPair(t *testing.T) {
	dir := t.TempDir()
	clock := newClock()
	ca, err := newAuthority(clock.Now().Add(-400 * 24 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	writePair(t, ca, dir, clock.Now())
	var log changeLog
	s, err := OpenExternal(filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), log.options(clock))
	if err != nil {
		t.Fatal(err)
	}
	log.src.Store(s)
	run(t, s)
	second := writePair(t, ca, dir, clock.Now().Add(-24*time.Hour))
	var seen []Change
	testutil.WaitFor(t, "the reload to be reported", func() bool {
		seen = append(seen, log.take()...)
		return len(seen) > 0
	})
	if !slices.Equal(kinds(seen), []ChangeKind{LeafChangedOnDisk}) || seen[0].Serial != second {
		t.Fatalf("reported %+v, want leaf-changed-on-disk %s", seen, second)
	}
}
