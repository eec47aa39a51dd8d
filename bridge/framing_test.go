package bridge

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// chunkReader hands out data in reads of the given sizes, cycling, so
// messages split across TCP reads and several messages in one read occur.
type chunkReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.sizes) > 0 {
		n = int(r.sizes[r.i%len(r.sizes)]) + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func FuzzLineDecoder(f *testing.F) {
	f.Add([]byte("one\ntwo\n"), []byte{0}, uint16(16))
	f.Add([]byte("split across\nreads and no newline at the end"), []byte{3, 200}, uint16(64))
	f.Add([]byte("\n\n\n"), []byte{}, uint16(1))
	f.Add([]byte("too long for the limit\n"), []byte{5}, uint16(4))
	f.Add([]byte("exactly4\nfour\n"), []byte{255}, uint16(4))
	f.Add([]byte("\xff\xfe invalid utf-8\n"), []byte{1}, uint16(100))
	f.Fuzz(func(t *testing.T, data, sizes []byte, limit uint16) {
		lim := int64(limit) + 1
		d := newLineDecoder(&chunkReader{data: data, sizes: sizes}, lim)
		var rebuilt []byte
		for {
			line, err := d.Next()
			var tooLarge *errTooLarge
			switch {
			case err == nil:
				if int64(len(line)) > lim || bytes.IndexByte(line, '\n') >= 0 {
					t.Fatalf("line %q breaks the limit %d or holds a newline", line, lim)
				}
				rebuilt = append(append(rebuilt, line...), '\n')
				continue
			case errors.Is(err, io.EOF):
				// Every byte came out: the last line may have had no newline.
				if !bytes.Equal(rebuilt, data) && !bytes.Equal(rebuilt, append(bytes.Clone(data), '\n')) {
					t.Fatalf("rebuilt %q from %q", rebuilt, data)
				}
			case errors.As(err, &tooLarge):
				if !bytes.HasPrefix(data, rebuilt) {
					t.Fatalf("lines before the long one were wrong: %q from %q", rebuilt, data)
				}
				rest := data[len(rebuilt):]
				if end := bytes.IndexByte(rest, '\n'); end >= 0 && int64(end) <= lim {
					t.Fatalf("a %d-byte line was refused with limit %d", end, lim)
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
	})
}

func FuzzFrameDecoder(f *testing.F) {
	frame := func(p string) []byte { return append(binary.BigEndian.AppendUint32(nil, uint32(len(p))), p...) }
	f.Add(append(frame("hello"), frame("")...), []byte{0}, uint16(16))
	f.Add(append(frame("split"), frame("frames")...), []byte{2, 7}, uint16(16))
	f.Add(frame("too large for the limit"), []byte{}, uint16(3))
	f.Add([]byte{0, 0}, []byte{}, uint16(3))             // a header cut short
	f.Add([]byte{0, 0, 0, 9, 'a'}, []byte{}, uint16(20)) // a payload cut short
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, []byte{}, uint16(100))
	f.Fuzz(func(t *testing.T, data, sizes []byte, limit uint16) {
		lim := int64(limit)
		d := newFrameDecoder(&chunkReader{data: data, sizes: sizes}, lim)
		var rebuilt []byte
		for {
			p, err := d.Next()
			var tooLarge *errTooLarge
			switch {
			case err == nil:
				if int64(len(p)) > lim {
					t.Fatalf("frame of %d bytes passed limit %d", len(p), lim)
				}
				rebuilt = append(appendFrameHeader(rebuilt, len(p)), p...)
				continue
			case errors.Is(err, io.EOF):
				if !bytes.Equal(rebuilt, data) {
					t.Fatalf("EOF after %q of %q", rebuilt, data)
				}
			case errors.Is(err, errPartialFrame):
				rest := data[len(rebuilt):]
				if !bytes.HasPrefix(data, rebuilt) || len(rest) == 0 {
					t.Fatalf("partial frame reported for %q after %q", data, rebuilt)
				}
				if len(rest) >= 4 && int64(len(rest)-4) >= int64(binary.BigEndian.Uint32(rest)) {
					t.Fatalf("a whole frame was reported partial: %q", rest)
				}
			case errors.As(err, &tooLarge):
				rest := data[len(rebuilt):]
				if len(rest) < 4 || int64(binary.BigEndian.Uint32(rest)) <= lim {
					t.Fatalf("frame refused as too large: %q, limit %d", rest, lim)
				}
			default:
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
	})
}

// The decoders must pass a reader's error through, not hide it as EOF.
func TestDecodersReportReadErrors(t *testing.T) {
	boom := errors.New("boom")
	if _, err := newLineDecoder(iotest.ErrReader(boom), 10).Next(); !errors.Is(err, boom) {
		t.Errorf("lines: %v", err)
	}
	if _, err := newFrameDecoder(iotest.ErrReader(boom), 10).Next(); !errors.Is(err, boom) {
		t.Errorf("frames: %v", err)
	}
}

func TestFramingValid(t *testing.T) {
	for f, want := range map[Framing]bool{FramingRaw: true, FramingLines: true, FramingLengthPrefixed: true, "json": false, "": false} {
		if f.Valid() != want {
			t.Errorf("%q.Valid() = %v", f, !want)
		}
	}
}

// The UTF-8 check must agree with utf8.Valid however a message is cut
// into pieces.
func FuzzUTF8Validator(f *testing.F) {
	f.Add([]byte("héllo wörld €𝄞"), []byte{0, 1, 2})
	f.Add([]byte("\xe2\x82"), []byte{0})
	f.Add([]byte("a\xc0\xafb"), []byte{1})
	f.Add([]byte("\xed\xa0\x80"), []byte{0, 0})
	f.Add([]byte("\xf0\x9f\x98\x80\xf0\x9f"), []byte{2, 3})
	f.Fuzz(func(t *testing.T, msg, cuts []byte) {
		var v utf8Validator
		ok := true
		rest := msg
		for i := 0; len(rest) > 0 && ok; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				n = min(int(cuts[i%len(cuts)])+1, len(rest))
			}
			ok = v.feed(rest[:n])
			rest = rest[n:]
		}
		ok = ok && v.complete()
		if want := utf8.Valid(msg); ok != want {
			t.Fatalf("%q cut by %v: validator says %v, utf8.Valid %v", msg, cuts, ok, want)
		}
	})
}
