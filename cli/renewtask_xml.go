package cli

// The Windows renewal task's definition (issue 15, point 2): the task
// Scheduler XML that cli/renewtask_windows.go registers with
// `schtasks /Create /XML`. It lives in a file every OS compiles so that
// its test runs on Linux too.

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"unicode/utf16"
)

// renewTaskArgs is what the task runs the headless exe with.
const renewTaskArgs = "certs machine renew"

// renewTaskXML is the task definition: daily as LocalSystem (S-1-5-18),
// the account with the rights to use the machine CA's key, running
// `orionbridge-headless.exe certs machine renew`.
//
// Why XML rather than `schtasks /Create /SC DAILY /RU SYSTEM /TR …`:
//   - StartWhenAvailable: a daily trigger missed because the computer was
//     off (a laptop at night) runs at the next chance instead of waiting
//     for the next day; /SC DAILY cannot say that;
//   - no battery conditions: the defaults of /Create skip a run on battery;
//   - the program and its arguments are separate fields (/TR is one
//     string whose quoting is the caller's problem);
//   - Wine 8's schtasks implements /Create /XML only (docs/wine-findings.md),
//     so the Wine check can run this same path.
//
// Schema: https://learn.microsoft.com/en-us/windows/win32/taskschd/task-scheduler-schema
// (CalendarTrigger's children are a sequence: StartBoundary, Enabled,
// RandomDelay, ScheduleByDay). It is UTF-16LE with a byte-order mark, as
// Task Scheduler exports it and as the declaration says.
func renewTaskXML(exe string) []byte {
	var cmd bytes.Buffer
	_ = xml.EscapeText(&cmd, []byte(exe)) // writes to a buffer: no error
	text := `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Author>Orion Bridge</Author>
    <Description>Renews the machine certificate of Orion Bridge before it expires. Created by orionbridge certs machine install (the MSI runs it), deleted by orionbridge certs machine uninstall.</Description>
  </RegistrationInfo>
  <Triggers>
    <CalendarTrigger>
      <StartBoundary>2026-01-01T03:00:00</StartBoundary>
      <Enabled>true</Enabled>
      <RandomDelay>PT1H</RandomDelay>
      <ScheduleByDay>
        <DaysInterval>1</DaysInterval>
      </ScheduleByDay>
    </CalendarTrigger>
  </Triggers>
  <Principals>
    <Principal id="LocalSystem">
      <UserId>S-1-5-18</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <StartWhenAvailable>true</StartWhenAvailable>
    <ExecutionTimeLimit>PT10M</ExecutionTimeLimit>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="LocalSystem">
    <Exec>
      <Command>` + cmd.String() + `</Command>
      <Arguments>` + renewTaskArgs + `</Arguments>
    </Exec>
  </Actions>
</Task>
`
	units := utf16.Encode([]rune(text))
	out := make([]byte, 2, 2+2*len(units))
	out[0], out[1] = 0xff, 0xfe // the byte-order mark: little-endian
	for _, u := range units {
		out = binary.LittleEndian.AppendUint16(out, u)
	}
	return out
}
