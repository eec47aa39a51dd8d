package engine

import (
	"strings"
	"testing"
)

func TestLineTail(t *testing.T) {
	tail := newLineTail(3)
	for _, s := range []string{"one\ntw", "o\r\nthree\n", "four\n", "fi", "ve"} {
		tail.Write([]byte(s))
	}
	if got := tail.String(); got != "three\nfour\nfive" {
		t.Errorf("got %q", got)
	}
	tail.Write([]byte("\n" + strings.Repeat("x", 3000) + "\nend\n"))
	lines := strings.Split(tail.String(), "\n")
	if len(lines) != 3 || lines[1] != strings.Repeat("x", maxLineBytes)+"…" || lines[2] != "end" {
		t.Errorf("got %q", lines)
	}
}

func TestFormatCommand(t *testing.T) {
	got := FormatCommand([]string{`C:\Program Files\Orion\engine.exe`, "--port", "21400", "", "a'b"})
	if want := `"C:\\Program Files\\Orion\\engine.exe" --port 21400 "" "a'b"`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
