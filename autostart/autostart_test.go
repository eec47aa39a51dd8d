package autostart

import (
	"encoding/xml"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestDesktopExec(t *testing.T) {
	tests := map[string]string{
		"/usr/bin/orionbridge":             "/usr/bin/orionbridge",
		"/opt/Orion Bridge/orionbridge":    `"/opt/Orion Bridge/orionbridge"`,
		`/opt/say "hi"/orionbridge`:        `"/opt/say \\"hi\\"/orionbridge"`,
		"/opt/$HOME/orionbridge":           `"/opt/\\$HOME/orionbridge"`,
		"/opt/`x`/orionbridge":             "\"/opt/\\\\`x\\\\`/orionbridge\"",
		`/opt/back\slash/orionbridge`:      `"/opt/back\\\\slash/orionbridge"`,
		"/opt/100%/orionbridge":            "/opt/100%%/orionbridge",
		"/opt/100% sure/orionbridge":       `"/opt/100%% sure/orionbridge"`,
		"/home/ann/Apps (old)/orionbridge": `"/home/ann/Apps (old)/orionbridge"`,
		"/opt/it's/orionbridge":            `"/opt/it's/orionbridge"`,
		"/opt/a=b/orionbridge":             "/opt/a=b/orionbridge",
	}
	for exe, want := range tests {
		if got := desktopExec(exe); got != want {
			t.Errorf("desktopExec(%q) = %s, want %s", exe, got, want)
		}
	}
}

func TestDesktopEntry(t *testing.T) {
	got, err := DesktopEntry("/opt/Orion Bridge/orionbridge")
	if err != nil {
		t.Fatal(err)
	}
	want := "[Desktop Entry]\nType=Application\nName=Orion Bridge\nComment=" + autostartComment + "\n" +
		"Exec=\"/opt/Orion Bridge/orionbridge\"\nIcon=orionbridge\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := DesktopEntry("/opt/two\nlines"); err == nil {
		t.Error("a path with a line break was accepted")
	}
}

// plistNode is an element of a property list, read back generically.
type plistNode struct {
	XMLName  xml.Name
	Text     string      `xml:",chardata"`
	Children []plistNode `xml:",any"`
}

func TestLaunchAgentPlist(t *testing.T) {
	const exe = `/Applications/Orion & <Bridge>.app/Contents/MacOS/orion"bridge'`
	doc := launchAgentPlist(exe)
	if !strings.HasPrefix(doc, `<?xml version="1.0" encoding="UTF-8"?>`+"\n<!DOCTYPE plist PUBLIC") {
		t.Errorf("no XML declaration and plist DOCTYPE:\n%s", doc)
	}
	var root plistNode
	dec := xml.NewDecoder(strings.NewReader(doc))
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("not XML: %v\n%s", err, doc)
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if cd, ok := tok.(xml.CharData); err != nil || !ok || strings.TrimSpace(string(cd)) != "" {
			t.Fatalf("after </plist>: %v %v", tok, err)
		}
	}
	if root.XMLName.Local != "plist" || len(root.Children) != 1 || root.Children[0].XMLName.Local != "dict" {
		t.Fatalf("not <plist><dict>: %+v", root)
	}
	got := map[string]any{}
	kids := root.Children[0].Children
	for i := 0; i+1 < len(kids); i += 2 {
		if kids[i].XMLName.Local != "key" {
			t.Fatalf("expected <key>, got <%s>", kids[i].XMLName.Local)
		}
		v := kids[i+1]
		switch v.XMLName.Local {
		case "string":
			got[kids[i].Text] = v.Text
		case "true", "false":
			got[kids[i].Text] = v.XMLName.Local == "true"
		case "array":
			var items []string
			for _, item := range v.Children {
				items = append(items, item.XMLName.Local+":"+item.Text)
			}
			got[kids[i].Text] = items
		default:
			t.Fatalf("unexpected <%s>", v.XMLName.Local)
		}
	}
	want := map[string]any{
		"Label":                  "com.orionreport.bridge",
		"ProgramArguments":       []string{"string:" + exe},
		"RunAtLoad":              true,
		"LimitLoadToSessionType": "Aqua",
		"ProcessType":            "Interactive",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestRunKeyValue(t *testing.T) {
	if got, want := runKeyValue(`C:\Program Files\Orion Bridge\orionbridge.exe`), `"C:\Program Files\Orion Bridge\orionbridge.exe"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
