package cli

import (
	"bytes"
	"orionbridge/config"
	"orionbridge/config/configtest"
	"orionbridge/internal/testutil"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func writeManaged(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = managedWriteCommand(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestManagedWriteNewFile(t *testing.T) {
	testutil.SetHome(t)
	path := configtest.UseManagedConfig(t, "")
	code, out, errs := writeManaged(t, "--port", "31443", "--allowed-origins", " https://shop.example.com, https://*.example.org ,",
		"--engine-address", "127.0.0.1:9100")
	if code != 0 || !strings.Contains(out, "wrote port, allowed_origins, routes[0].target") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "# Orion Bridge machine-wide configuration") {
		t.Errorf("no header:\n%s", data)
	}
	// Exactly the keys given, and the default route's path and framing.
	cfg, sources, err := config.LoadSources(testutil.TempFile(t, "user.toml", "port = 30000\nmax_clients = 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Port != 31443 || cfg.MaxClients != 7 ||
		!slices.Equal(cfg.AllowedOrigins, []string{"https://shop.example.com", "https://*.example.org"}) ||
		!reflect.DeepEqual(cfg.Routes, []config.Route{{Path: "/ws", Target: "127.0.0.1:9100", Framing: "raw"}}) {
		t.Fatalf("config in force %+v", cfg)
	}
	for _, k := range []string{"port", "allowed_origins", "routes"} {
		if sources[k] != path {
			t.Errorf("%s comes from %q, want the managed file", k, sources[k])
		}
	}
	if sources["max_clients"] == path {
		t.Error("max_clients was written to the managed file")
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("managed file mode: %v %v", st.Mode(), err)
	}
}

// Keys not given are kept; empty values (an unset MSI property) are not
// given; the engine address changes only the first route's target.
func TestManagedWriteMerges(t *testing.T) {
	testutil.SetHome(t)
	old := "max_clients = 5\nallowed_origins = [\"https://old.example.com\"]\n\n" +
		"[[routes]]\npath = \"/render\"\ntarget = \"127.0.0.1:1\"\nframing = \"lines\"\n\n" +
		"[[routes]]\npath = \"/b\"\ntarget = \"127.0.0.1:2\"\n"
	path := configtest.UseManagedConfig(t, old)
	if code, _, errs := writeManaged(t, "--port", "", "--allowed-origins", "", "--engine-address", "localhost:9200"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	data, _ := os.ReadFile(path)
	cfg, err := config.Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Route{{Path: "/render", Target: "localhost:9200", Framing: "lines"}, {Path: "/b", Target: "127.0.0.1:2", Framing: "raw"}}
	if cfg.MaxClients != 5 || cfg.Port != config.Default().Port || !slices.Equal(cfg.AllowedOrigins, []string{"https://old.example.com"}) || !reflect.DeepEqual(cfg.Routes, want) {
		t.Fatalf("merged %+v\n%s", cfg, data)
	}
	if strings.Contains(string(data), "port =") {
		t.Errorf("an empty --port wrote the key:\n%s", data)
	}
}

func TestManagedWriteNothingGiven(t *testing.T) {
	testutil.SetHome(t)
	path := configtest.UseManagedConfig(t, "")
	code, out, _ := writeManaged(t, "--port", "", "--allowed-origins", "", "--engine-address", "")
	if code != 0 || !strings.Contains(out, "nothing written") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a file was written: %v", err)
	}
}

// A bad value is refused with exit 2 and the file is left as it was.
func TestManagedWriteRefuses(t *testing.T) {
	testutil.SetHome(t)
	const old = "max_clients = 5\n"
	path := configtest.UseManagedConfig(t, old)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--port", "web"}, `--port "web": expected a port number`},
		{[]string{"--port", "70000"}, `--port 70000: expected a port number 1-65535, got 70000`},
		{[]string{"--allowed-origins", "https://ok.example.com,shop.example.com"}, `--allowed-origins "https://ok.example.com,shop.example.com": `},
		{[]string{"--engine-address", "nowhere"}, `--engine-address "nowhere": `},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		code, _, errs := writeManaged(t, tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
		if data, _ := os.ReadFile(path); string(data) != old {
			t.Errorf("%q changed the file:\n%s", tc.args, data)
		}
	}

	// A managed file that does not parse is not rewritten.
	testutil.WriteFile(t, path, "max_clients = \"many\"\n")
	if code, _, errs := writeManaged(t, "--port", "31000"); code != exitUsage || !strings.Contains(errs, path) || !strings.Contains(errs, "fix or remove the file") {
		t.Errorf("broken managed file: exit %d, %s", code, errs)
	}
}
