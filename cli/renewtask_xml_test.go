package cli

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"io"
	"testing"
	"unicode/utf16"
)

// TestRenewTaskXML decodes the Windows renewal task's definition as Task
// Scheduler would: UTF-16LE with its byte-order mark, well-formed, in the
// task namespace, daily as LocalSystem, running the given exe (escaped,
// whatever its folder's name) with `certs machine renew`, and catching up
// a missed day.
func TestRenewTaskXML(t *testing.T) {
	for _, exe := range []string{
		`C:\Program Files\Orion Bridge\orionbridge-headless.exe`,
		`D:\R&D <tools>\Orion "Bridge"\orionbridge-headless.exe`,
	} {
		t.Run(exe, func(t *testing.T) {
			data := renewTaskXML(exe)
			if len(data) < 2 || data[0] != 0xff || data[1] != 0xfe || len(data)%2 != 0 {
				t.Fatalf("not UTF-16LE with a byte-order mark: % x…", data[:min(8, len(data))])
			}
			units := make([]uint16, 0, len(data)/2-1)
			for i := 2; i < len(data); i += 2 {
				units = append(units, binary.LittleEndian.Uint16(data[i:]))
			}
			text := string(utf16.Decode(units))
			var task struct {
				XMLName  xml.Name
				Triggers struct {
					Calendar []struct {
						DaysInterval int `xml:"ScheduleByDay>DaysInterval"`
					} `xml:"CalendarTrigger"`
				}
				Principal struct {
					ID     string `xml:"id,attr"`
					UserID string `xml:"UserId"`
				} `xml:"Principals>Principal"`
				Settings struct {
					StartWhenAvailable         bool
					DisallowStartIfOnBatteries bool
				}
				Actions struct {
					Context string `xml:",attr"`
					Exec    []struct{ Command, Arguments string }
				}
			}
			d := xml.NewDecoder(bytes.NewReader([]byte(text)))
			// The declaration says UTF-16, which the text was decoded from.
			d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
			if err := d.Decode(&task); err != nil {
				t.Fatalf("the task XML does not decode: %v\n%s", err, text)
			}
			const ns = "http://schemas.microsoft.com/windows/2004/02/mit/task"
			if task.XMLName.Space != ns || task.XMLName.Local != "Task" {
				t.Errorf("root element %v, want Task in %s", task.XMLName, ns)
			}
			if len(task.Triggers.Calendar) != 1 || task.Triggers.Calendar[0].DaysInterval != 1 {
				t.Errorf("triggers %+v, want one calendar trigger every 1 day", task.Triggers)
			}
			if task.Principal.UserID != "S-1-5-18" || task.Actions.Context != task.Principal.ID {
				t.Errorf("principal %+v, actions' context %q: want S-1-5-18 (LocalSystem) running the actions",
					task.Principal, task.Actions.Context)
			}
			if !task.Settings.StartWhenAvailable || task.Settings.DisallowStartIfOnBatteries {
				t.Errorf("settings %+v: want a missed run caught up and runs on battery", task.Settings)
			}
			if len(task.Actions.Exec) != 1 || task.Actions.Exec[0].Command != exe || task.Actions.Exec[0].Arguments != "certs machine renew" {
				t.Errorf("actions %+v, want one Exec of %q with \"certs machine renew\"", task.Actions.Exec, exe)
			}
		})
	}
}
