package tray

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"orionbridge/bridge"
)

// logTab is the live tail of the bridge's log records.
type logTab struct {
	t      *trayApp
	d      *dashboard
	filter logFilter
	paused bool
	// drawn is the ring's Added() when the list was last filled; stale marks
	// a filter change that needs a redraw anyway.
	drawn    uint64
	stale    bool
	lines    []bridge.LogEntry
	selected *bridge.LogEntry

	list    *widget.List
	level   *widget.Select
	search  *widget.Entry
	pause   *widget.Button
	status  *widget.Label
	detail  *widget.Label
	content fyne.CanvasObject
}

func newLogTab(t *trayApp, d *dashboard) *logTab {
	lt := &logTab{t: t, d: d, stale: true}
	lt.list = widget.NewList(
		func() int { return len(lt.lines) },
		func() fyne.CanvasObject {
			when := widget.NewLabelWithStyle("00:00:00.000", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
			level := widget.NewLabelWithStyle("ERROR", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
			text := widget.NewLabel("")
			text.Truncation = fyne.TextTruncateEllipsis
			return container.NewBorder(nil, nil, container.NewHBox(when, level), nil, text)
		},
		lt.updateItem,
	)
	lt.list.OnSelected = func(id widget.ListItemID) {
		if id >= 0 && id < len(lt.lines) {
			e := lt.lines[id]
			lt.selected = &e
			lt.showDetail()
		}
	}
	lt.list.OnUnselected = func(widget.ListItemID) {
		lt.selected = nil
		lt.showDetail()
	}

	labels := make([]string, len(logLevels))
	for i, l := range logLevels {
		labels[i] = l.Label()
	}
	lt.level = widget.NewSelect(labels, func(choice string) {
		for i, l := range logLevels {
			if labels[i] == choice {
				lt.setFilter(logFilter{MinLevel: l.Min, Text: lt.filter.Text})
			}
		}
	})
	lt.search = widget.NewEntry()
	lt.search.SetPlaceHolder(lang.X("log.search", "Search messages and fields"))
	lt.search.OnChanged = func(s string) { lt.setFilter(logFilter{MinLevel: lt.filter.MinLevel, Text: s}) }
	lt.pause = widget.NewButtonWithIcon(lang.X("log.pause", "Pause"), theme.MediaPauseIcon(), lt.togglePause)
	copyButton := widget.NewButtonWithIcon(lang.X("log.copy", "Copy"), theme.ContentCopyIcon(), lt.copySelection)
	export := widget.NewButtonWithIcon(lang.X("log.export", "Export…"), theme.DocumentSaveIcon(), lt.export)
	toolbar := container.NewBorder(nil, nil, lt.level, container.NewHBox(lt.pause, copyButton, export), lt.search)

	lt.status = hintLabel("")
	lt.detail = widget.NewLabel("")
	lt.detail.Wrapping = fyne.TextWrapWord
	lt.detail.Selectable = true
	lt.detail.Hide()
	lt.content = container.NewBorder(toolbar, container.NewVBox(lt.detail, lt.status), nil, nil, lt.list)
	lt.level.SetSelectedIndex(0) // every level: the ring holds info and above anyway
	return lt
}

// levelImportance colours a level the way operators expect: errors red,
// warnings amber, debug muted.
func levelImportance(l slog.Level) widget.Importance {
	switch {
	case l >= slog.LevelError:
		return widget.DangerImportance
	case l >= slog.LevelWarn:
		return widget.WarningImportance
	case l < slog.LevelInfo:
		return widget.LowImportance
	}
	return widget.MediumImportance
}

func (lt *logTab) updateItem(id widget.ListItemID, o fyne.CanvasObject) {
	if id < 0 || id >= len(lt.lines) {
		return
	}
	e := lt.lines[id]
	row := o.(*fyne.Container)
	// Border puts the centre object first, then the left one.
	text := row.Objects[0].(*widget.Label)
	left := row.Objects[1].(*fyne.Container)
	when, level := left.Objects[0].(*widget.Label), left.Objects[1].(*widget.Label)
	when.SetText(e.Time.Format("15:04:05.000"))
	level.Importance = levelImportance(e.Level)
	level.SetText(levelName(e.Level))
	msg := e.Message
	if len(e.Attrs) > 0 {
		msg += "   " + formatFields(e.Attrs)
	}
	text.SetText(msg)
}

func (lt *logTab) setFilter(f logFilter) {
	lt.filter = f
	lt.stale = true
	lt.refresh()
}

func (lt *logTab) togglePause() {
	lt.paused = !lt.paused
	if lt.paused {
		lt.pause.SetText(lang.X("log.resume", "Resume"))
		lt.pause.SetIcon(theme.MediaPlayIcon())
	} else {
		lt.pause.SetText(lang.X("log.pause", "Pause"))
		lt.pause.SetIcon(theme.MediaPauseIcon())
		lt.stale = true
	}
	lt.refresh()
}

// refresh redraws the list when records arrived or the filter changed,
// unless paused; a paused view still counts what it is not showing.
func (lt *logTab) refresh() {
	added := lt.t.logs.Added()
	if lt.paused && !lt.stale {
		lt.status.SetText(lang.X("log.paused_count", "Paused · {{.Count}} new records not shown", map[string]any{"Count": formatCount(int64(added - lt.drawn))}))
		return
	}
	if added == lt.drawn && !lt.stale {
		return
	}
	lt.drawn, lt.stale = added, false
	lt.lines = lt.t.logs.Filter(lt.filter)
	lt.reselect()
	lt.list.Refresh()
	if lt.selected == nil {
		lt.list.ScrollToBottom() // follow the tail unless the operator is reading a line
	}
	status := lang.X("log.showing", "Showing {{.Shown}} of {{.Held}} records (the newest {{.Kept}} are kept; the log files have everything)",
		map[string]any{"Shown": formatCount(int64(len(lt.lines))), "Held": formatCount(int64(lt.t.logs.Len())), "Kept": formatCount(logCapacity)})
	if lt.paused {
		status = lang.X("log.paused", "Paused · {{.Status}}", map[string]any{"Status": status})
	}
	lt.status.SetText(status)
}

// reselect finds the selected record after the lines changed.
func (lt *logTab) reselect() {
	if lt.selected == nil {
		return
	}
	for i := len(lt.lines) - 1; i >= 0; i-- {
		if sameEntry(lt.lines[i], *lt.selected) {
			lt.list.Select(i)
			return
		}
	}
	lt.list.UnselectAll()
	lt.selected = nil
	lt.showDetail()
}

func sameEntry(a, b bridge.LogEntry) bool {
	return a.Time.Equal(b.Time) && a.Level == b.Level && a.Message == b.Message && len(a.Attrs) == len(b.Attrs)
}

func (lt *logTab) showDetail() {
	if lt.selected == nil {
		lt.detail.Hide()
		return
	}
	e := lt.selected
	var b strings.Builder
	b.WriteString(e.Time.Format("2006-01-02 15:04:05.000") + "  " + e.Level.String() + "  " + e.Message)
	for _, a := range e.Attrs {
		b.WriteString("\n    " + a.Key + " = " + a.Value)
	}
	lt.detail.SetText(b.String())
	lt.detail.Show()
}

// shownText is the selected record, or every record shown, as lines.
func (lt *logTab) shownText() (string, int) {
	if lt.selected != nil {
		return formatLogLine(*lt.selected), 1
	}
	return logText(lt.lines), len(lt.lines)
}

// copySelection puts the selected record, or all records shown, on the
// clipboard, for pasting into a support ticket.
func (lt *logTab) copySelection() {
	text, n := lt.shownText()
	lt.t.app.Clipboard().SetContent(text)
	lt.status.SetText(lang.X("log.copied", "Copied {{.Count}} {{if eq .Count 1}}record{{else}}records{{end}} to the clipboard", map[string]any{"Count": n}))
}

// export writes the records shown (the filter applies) to a text file.
func (lt *logTab) export() {
	text, n := logText(lt.lines), len(lt.lines)
	save := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err == nil && w == nil {
			return // cancelled
		}
		if err == nil {
			_, err = w.Write([]byte(text))
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			dialog.ShowError(fmt.Errorf("%s: %w", lang.X("error.export_log", "export log"), err), lt.d.window)
			return
		}
		lt.status.SetText(lang.X("log.exported", "Exported {{.Count}} {{if eq .Count 1}}record{{else}}records{{end}} to {{.Path}}",
			map[string]any{"Count": n, "Path": w.URI().Path()}))
	}, lt.d.window)
	save.SetFileName("orionbridge-log-" + time.Now().Format("20060102-150405") + ".txt")
	save.Resize(fyne.NewSize(820, 520))
	save.Show()
}
