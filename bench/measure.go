//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// latency is one latency figure: round-trip percentiles over every sample
// of every session.
type latency struct {
	p50, p90, p99 time.Duration
	samples       int
}

// openSessions opens n sessions of the given kind with conc dialers.
func openSessions(ctx context.Context, t *target, kind string, n, conc int) ([]*client, error) {
	out := make([]*client, 0, n)
	var mu sync.Mutex
	var firstErr error
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				c, err := t.dial(ctx, kind)
				if err == nil && kind == kindEcho {
					err = pingOnce(c) // the engine connection is open too
				}
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					if c != nil {
						_ = c.close()
					}
					return
				}
				out = append(out, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		closeAll(out)
		return nil, fmt.Errorf("%s: opening session %d of %d: %w", t.label, len(out)+1, n, firstErr)
	}
	return out, nil
}

func pingOnce(c *client) error {
	if err := c.send([]byte{'x'}); err != nil {
		return err
	}
	var b [1]byte
	_, err := io.ReadFull(c.r, b[:])
	return err
}

// closeAll closes sessions in parallel.
func closeAll(cs []*client) {
	var wg sync.WaitGroup
	ch := make(chan *client)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range ch {
				_ = c.close()
			}
		}()
	}
	for _, c := range cs {
		ch <- c
	}
	close(ch)
	wg.Wait()
}

// latencySlices is how many turns each target gets in one latency run.
// The targets take turns in short slices, so that all of them see the
// machine in the same state: on a shared VM the cost of waking a process
// drifts within seconds, and sequential windows would turn that drift into
// differences between the columns.
const latencySlices = 10

// measureLatency opens conc sessions on every target, then lets the targets
// take turns: in each turn every session of one target sends a size-byte
// message and waits for its echo, in a loop, for window/latencySlices. A
// warm-up turn of warm comes first and is not counted. It returns each
// target's percentiles over all its round trips.
func measureLatency(ctx context.Context, ts []*target, size, conc int, warm, window time.Duration) ([]latency, error) {
	sessions := make([][]*client, len(ts))
	defer func() {
		for _, cs := range sessions {
			closeAll(cs)
		}
	}()
	for i, t := range ts {
		cs, err := openSessions(ctx, t, kindEcho, conc, conc)
		if err != nil {
			return nil, err
		}
		sessions[i] = cs
	}
	msgs, bufs := make([][]byte, conc), make([][]byte, conc)
	for i := range conc {
		msgs[i], bufs[i] = make([]byte, size), make([]byte, size)
	}
	samples := make([][]time.Duration, len(ts))
	slice := window / latencySlices
	for turn := -1; turn < latencySlices; turn++ {
		for i, t := range ts {
			d := slice
			if turn < 0 {
				d = warm
			}
			got, err := roundTrips(sessions[i], msgs, bufs, d)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.label, err)
			}
			if turn >= 0 {
				samples[i] = append(samples[i], got...)
			}
		}
	}
	out := make([]latency, len(ts))
	for i, t := range ts {
		all := samples[i]
		if len(all) == 0 {
			return nil, fmt.Errorf("%s: no round trip completed", t.label)
		}
		slices.Sort(all)
		q := func(p float64) time.Duration { return all[int(p*float64(len(all)-1))] }
		out[i] = latency{p50: q(0.50), p90: q(0.90), p99: q(0.99), samples: len(all)}
	}
	return out, nil
}

// roundTrips runs every session's echo loop for d and returns the round
// trips that started within it.
func roundTrips(cs []*client, msgs, bufs [][]byte, d time.Duration) ([]time.Duration, error) {
	end := time.Now().Add(d)
	all := make([][]time.Duration, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t0 := time.Now()
				if t0.After(end) {
					return
				}
				if err := c.send(msgs[i]); err != nil {
					errs[i] = err
					return
				}
				if _, err := io.ReadFull(c.r, bufs[i]); err != nil {
					errs[i] = err
					return
				}
				all[i] = append(all[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return slices.Concat(all...), errors.Join(errs...)
}

// cpuUse is the CPU time each process used in a measuring window.
type cpuUse struct{ client, server, engine time.Duration }

// cpuMeter samples the CPU time of the load tool, the server and the
// engine.
type cpuMeter struct {
	t      *target
	kind   string
	engine int
}

func (m cpuMeter) sample() cpuUse {
	u := cpuUse{client: procCPU(os.Getpid()), engine: procCPU(m.engine)}
	if m.t.cpu != nil {
		u.server = m.t.cpu(m.kind)
	}
	return u
}

func (u cpuUse) sub(v cpuUse) cpuUse {
	return cpuUse{u.client - v.client, u.server - v.server, u.engine - v.engine}
}

// measureUpload sends bulkSize messages to the sink for warm+window and
// returns MB/s (10^6 bytes) delivered to the engine in the window, counted
// by the engine's acknowledgements.
func measureUpload(ctx context.Context, t *target, meter cpuMeter, warm, window time.Duration) (float64, cpuUse, error) {
	c, err := t.dial(ctx, kindSink)
	if err != nil {
		return 0, cpuUse{}, err
	}
	meter.t, meter.kind = t, kindSink
	var cpu0 cpuUse
	start := time.Now()
	measureFrom, end := start.Add(warm), start.Add(warm+window)
	writeErr := make(chan error, 1)
	stop := make(chan struct{})
	go func() {
		msg := make([]byte, bulkSize)
		for {
			select {
			case <-stop:
				writeErr <- nil
				return
			default:
			}
			if err := c.send(msg); err != nil {
				writeErr <- err
				return
			}
		}
	}()
	var acks int64
	buf := make([]byte, 256)
	var readErr error
	for {
		n, err := c.r.Read(buf)
		now := time.Now()
		if now.After(end) {
			break
		}
		if now.After(measureFrom) {
			if acks == 0 {
				cpu0 = meter.sample()
			}
			acks += int64(n)
		}
		if err != nil {
			readErr = err
			break
		}
	}
	cpu := meter.sample().sub(cpu0)
	close(stop)
	_ = c.close()
	werr := <-writeErr
	if readErr != nil {
		return 0, cpu, fmt.Errorf("%s upload: %w", t.label, readErr)
	}
	if acks == 0 && werr != nil {
		return 0, cpu, fmt.Errorf("%s upload: %w", t.label, werr)
	}
	return float64(acks*ackEvery) / 1e6 / window.Seconds(), cpu, nil
}

// measureDownload reads what the source sends for warm+window and returns
// MB/s received in the window.
func measureDownload(ctx context.Context, t *target, meter cpuMeter, warm, window time.Duration) (float64, cpuUse, error) {
	c, err := t.dial(ctx, kindSource)
	if err != nil {
		return 0, cpuUse{}, err
	}
	defer c.close()
	meter.t, meter.kind = t, kindSource
	var cpu0 cpuUse
	start := time.Now()
	measureFrom, end := start.Add(warm), start.Add(warm+window)
	buf := make([]byte, bulkSize)
	var got int64
	for {
		n, err := c.r.Read(buf)
		now := time.Now()
		if now.After(end) {
			break
		}
		if now.After(measureFrom) {
			if got == 0 {
				cpu0 = meter.sample()
			}
			got += int64(n)
		}
		if err != nil {
			return 0, cpuUse{}, fmt.Errorf("%s download: %w", t.label, err)
		}
	}
	return float64(got) / 1e6 / window.Seconds(), meter.sample().sub(cpu0), nil
}

// measureOpens opens, uses once and closes sessions with conc dialers for
// window and returns sessions per second. An open session is one whose
// first byte came back from the engine.
func measureOpens(ctx context.Context, t *target, conc int, window time.Duration) (float64, error) {
	end := time.Now().Add(window)
	var done, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	begin := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				c, err := t.dial(ctx, kindEcho)
				if err == nil {
					err = pingOnce(c)
					_ = c.close()
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if f := failed.Load(); f > 0 {
		return 0, fmt.Errorf("%s: %d of %d session opens failed, first: %v", t.label, f, f+done.Load(), firstErr.Load())
	}
	return float64(done.Load()) / elapsed.Seconds(), nil
}
