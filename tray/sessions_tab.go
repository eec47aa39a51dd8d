package tray

import (
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Columns whose numbers read better right-aligned.
var sessionNumericColumn = [sessionColumnCount]bool{5: true, 6: true, 7: true}

// sessionSamples are typical cell texts, so columns start wide enough and
// do not widen under the operator's eyes when the first session arrives.
var sessionSamples = [sessionColumnCount]string{
	"https://editor.example.com", "127.0.0.1:54321", "/ws → 127.0.0.1:21400", "connecting",
	"00:00:00", "59m59s", "999 KiB ↑  999 KiB ↓", "9,999 ↑  9,999 ↓",
}

// maxSessionColumn keeps one long origin from pushing the counters off the
// window; longer text is truncated with an ellipsis.
const maxSessionColumn = 340

// sessionsTab is the live table of sessions, the totals and Disconnect.
type sessionsTab struct {
	t        *trayApp
	rows     []sessionRow
	selected string // session id; it follows the session when rows shift
	running  bool
	widths   [sessionColumnCount]float32
	headers  [sessionColumnCount]string // sessionColumns, in the language at start

	table      *widget.Table
	empty      *widget.Label
	emptyBox   *fyne.Container
	totals     *widget.Label
	note       *widget.Label
	disconnect *widget.Button
	content    fyne.CanvasObject
}

func newSessionsTab(t *trayApp, d *dashboard) *sessionsTab {
	s := &sessionsTab{t: t, headers: sessionColumns()}
	s.table = widget.NewTable(
		func() (int, int) { return len(s.rows), sessionColumnCount },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return container.NewStack(canvas.NewRectangle(color.Transparent), l)
		},
		s.updateCell,
	)
	s.table.ShowHeaderRow = true
	s.table.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	s.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		l := o.(*widget.Label)
		if id.Col >= 0 && id.Col < sessionColumnCount {
			l.SetText(s.headers[id.Col])
			l.Alignment = alignment(sessionNumericColumn[id.Col])
		}
	}
	// The table marks one cell; a session is a row, so the selection is
	// drawn on the whole row by updateCell instead.
	s.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(s.rows) {
			s.selected = s.rows[id.Row].ID
		}
		s.table.Unselect(id)
		s.update()
	}
	for i, header := range s.headers {
		s.widths[i] = cellWidth(header, true)
		s.widths[i] = max(s.widths[i], cellWidth(sessionSamples[i], false))
		s.table.SetColumnWidth(i, s.widths[i])
	}

	s.empty = hintLabel("")
	s.empty.Alignment = fyne.TextAlignCenter
	// The table draws its column lines down to the bottom even without
	// rows; the message sits on a patch of background so they do not cross it.
	s.emptyBox = container.NewStack(canvas.NewRectangle(theme.Color(theme.ColorNameBackground)), container.NewPadded(s.empty))
	s.totals = widget.NewLabel("")
	s.note = widget.NewLabel("")
	s.note.Importance = widget.DangerImportance
	s.disconnect = widget.NewButtonWithIcon(lang.X("sessions.disconnect", "Disconnect"), theme.CancelIcon(), s.disconnectSelected)
	s.disconnect.Disable()
	footer := container.NewBorder(nil, nil, s.totals, container.NewHBox(s.note, s.disconnect))
	s.content = container.NewBorder(nil, footer, nil, nil, container.NewStack(s.table, container.NewCenter(s.emptyBox)))
	return s
}

func alignment(trailing bool) fyne.TextAlign {
	if trailing {
		return fyne.TextAlignTrailing
	}
	return fyne.TextAlignLeading
}

// cellWidth is the column width that shows text in full: the text plus the
// label's padding on both sides.
func cellWidth(text string, bold bool) float32 {
	w := fyne.MeasureText(text, theme.TextSize(), fyne.TextStyle{Bold: bold}).Width
	return min(w+4*theme.InnerPadding(), maxSessionColumn)
}

func (s *sessionsTab) updateCell(id widget.TableCellID, o fyne.CanvasObject) {
	c := o.(*fyne.Container)
	bg, l := c.Objects[0].(*canvas.Rectangle), c.Objects[1].(*widget.Label)
	if id.Row < 0 || id.Row >= len(s.rows) || id.Col < 0 || id.Col >= sessionColumnCount {
		l.SetText("")
		return
	}
	row := s.rows[id.Row]
	var fill color.Color = color.Transparent
	if row.ID == s.selected {
		fill = theme.Color(theme.ColorNameSelection)
	}
	if bg.FillColor != fill {
		bg.FillColor = fill
		bg.Refresh()
	}
	l.Alignment = alignment(sessionNumericColumn[id.Col])
	l.SetText(row.Cells[id.Col])
}

// refresh shows the sessions in m.
func (s *sessionsTab) refresh(m model) {
	s.rows = sessionRows(m.Snap.Sessions, time.Now())
	s.running = m.Status.Running
	if rowIndex(s.rows, s.selected) < 0 {
		s.selected = ""
	}
	// Columns grow to fit what they show, never shrink: a column that
	// jumps back and forth every second is harder to read than a gap.
	for _, r := range s.rows {
		for i, cell := range r.Cells {
			if w := cellWidth(cell, false); w > s.widths[i] {
				s.widths[i] = w
				s.table.SetColumnWidth(i, w)
			}
		}
	}
	switch {
	case m.Status.ServiceErr != "":
		s.empty.SetText(lang.X("sessions.service_unreachable", "The Orion Bridge service is not reachable: {{.Error}}",
			map[string]any{"Error": clip(m.Status.ServiceErr, 160)}))
	case !m.Status.Running:
		s.empty.SetText(lang.X("sessions.stopped", "The bridge is stopped: start it from the tray menu."))
	case len(s.rows) == 0:
		s.empty.SetText(lang.X("sessions.none", "No sessions. Pages connect to {{.URL}}", map[string]any{"URL": m.Status.endpointURL()}))
	}
	if len(s.rows) == 0 {
		s.emptyBox.Show()
	} else {
		s.emptyBox.Hide()
	}
	s.totals.SetText(totalsLine(m.Snap.Totals, len(m.Snap.Sessions)))
	s.update()
}

// update redraws the table and the Disconnect button's state.
func (s *sessionsTab) update() {
	if s.selected != "" && s.running {
		s.disconnect.Enable()
	} else {
		s.disconnect.Disable()
	}
	s.table.Refresh()
}

// disconnectSelected closes the selected session with 1000 "closed by
// operator".
func (s *sessionsTab) disconnectSelected() {
	id := s.selected
	if id == "" {
		return
	}
	s.note.SetText("")
	s.t.spawn(func() {
		err := s.t.ctrl.Disconnect(id)
		kick(s.t.kickSnapshot)
		s.t.ui(func() {
			if err != nil {
				s.note.SetText(err.Error())
			}
		})
	})
}
