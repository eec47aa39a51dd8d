package autostart

import (
	"bytes"
	"encoding/xml"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
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
	if got, want := runKeyValue(`C:\Program Files\Orion Bridge\orionbridge.exe`), `"C:\Program Files\Orion Bridge\orionbridge.exe" --at-login`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// The Windows rules, on what the registry holds: one tray per sign-in,
// and a per-user "off" that leaves the installer's value alone.
func TestRunEntries(t *testing.T) {
	on, off := []byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, disabledRecord(time.Unix(0, 0))
	const userNote = `turned off for this user: HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run\Orion Bridge; the installer's HKLM Run value stays`
	tests := []struct {
		name    string
		e       runEntries
		on      bool
		where   string
		note    string
		planOn  runPlan
		planOff runPlan
	}{
		{name: "nothing", planOn: runPlan{WriteUserRun: true}, planOff: runPlan{DeleteUserRun: true}},
		{name: "the user's own", e: runEntries{User: true}, on: true, where: userWhere,
			planOn: runPlan{WriteUserRun: true}, planOff: runPlan{DeleteUserRun: true}},
		{name: "the user's own, turned off in Task Manager", e: runEntries{User: true, UserApproved: off},
			planOn: runPlan{WriteUserRun: true}, planOff: runPlan{DeleteUserRun: true}},
		{name: "the installer's", e: runEntries{Machine: true}, on: true, where: machineWhere,
			planOn: runPlan{DeleteUserRun: true}, planOff: runPlan{DeleteUserRun: true, DisableApproved: true}},
		{name: "the installer's, marked on", e: runEntries{Machine: true, UserApproved: on, MachineApproved: on}, on: true, where: machineWhere,
			planOn: runPlan{DeleteUserRun: true}, planOff: runPlan{DeleteUserRun: true, DisableApproved: true}},
		{name: "both: one tray, and on removes the user's", e: runEntries{User: true, Machine: true}, on: true, where: machineWhere,
			planOn: runPlan{DeleteUserRun: true}, planOff: runPlan{DeleteUserRun: true, DisableApproved: true}},
		{name: "the installer's, off for this user", e: runEntries{Machine: true, UserApproved: off}, note: userNote,
			planOn: runPlan{DeleteUserRun: true}, planOff: runPlan{DeleteUserRun: true, DisableApproved: true}},
		{name: "both, off for this user", e: runEntries{User: true, Machine: true, UserApproved: off}, note: userNote,
			planOn: runPlan{DeleteUserRun: true}, planOff: runPlan{DeleteUserRun: true, DisableApproved: true}},
		{name: "the installer's, off for all users; the user's own counts", e: runEntries{User: true, Machine: true, MachineApproved: []byte{3}}, on: true, where: userWhere,
			planOn: runPlan{WriteUserRun: true}, planOff: runPlan{DeleteUserRun: true, DisableApproved: true}},
		{name: "the installer's, off for all users", e: runEntries{Machine: true, MachineApproved: []byte{7}},
			note:   `turned off for all users: HKLM\Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run\Orion Bridge`,
			planOn: runPlan{WriteUserRun: true}, planOff: runPlan{DeleteUserRun: true, DisableApproved: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if on, where := tt.e.state(); on != tt.on || where != tt.where {
				t.Errorf("state() = %v, %q; want %v, %q", on, where, tt.on, tt.where)
			}
			if got := tt.e.offNote(); got != tt.note {
				t.Errorf("offNote() = %q, want %q", got, tt.note)
			}
			if got := tt.e.plan(true); got != tt.planOn {
				t.Errorf("plan(on) = %+v, want %+v", got, tt.planOn)
			}
			if got := tt.e.plan(false); got != tt.planOff {
				t.Errorf("plan(off) = %+v, want %+v", got, tt.planOff)
			}
		})
	}
}

func TestDisabledRecord(t *testing.T) {
	// 2021-01-01T00:00:00Z is FILETIME 132539328000000000 = 0x01D6DFD10C358000.
	got := disabledRecord(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	want := []byte{3, 0, 0, 0, 0x00, 0x80, 0x35, 0x0C, 0xD1, 0xDF, 0xD6, 0x01}
	if !bytes.Equal(got, want) {
		t.Errorf("got % x, want % x", got, want)
	}
	if !approvedOff(got) || approvedOff([]byte{2, 0, 0, 0}) || approvedOff(nil) {
		t.Error("approvedOff misreads the records")
	}
}
