package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

func tr(e *env, key string, args ...any) string { return i18n.T(e.lang, key, args...) }

// printer is the one place that writes results, progress and errors: a
// text implementation and a JSON one, chosen by --json.
type printer interface {
	// Result prints a command's result: v as JSON, or text(w) as text.
	Result(v any, text func(w io.Writer))
	// Info is a translated note for people (text mode only, stderr).
	Info(key string, args ...any)
	// Job reports a job's progress; called by the one progress ticker.
	Job(j *app.Job)
	// Scan reports scan progress.
	Scan(p app.ScanProgress)
	// Done ends a progress display (clears the status line).
	Done()
	// Error prints err with its hint and returns the exit code.
	Error(err error) int
}

func (e *env) printer(jsonMode bool) printer {
	if jsonMode {
		return &jsonPrinter{e: e}
	}
	tty := false
	if f, ok := e.stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &textPrinter{e: e, tty: tty}
}

// textPrinter writes translated text; on a terminal it redraws one status
// line, otherwise it prints a line when the state changes and at most one
// progress line every 10 seconds.
type textPrinter struct {
	e         *env
	tty       bool
	lineShown bool
	lastState string
	lastLine  time.Time
}

func (p *textPrinter) Result(_ any, text func(w io.Writer)) { p.Done(); text(p.e.stdout) }

func (p *textPrinter) Info(key string, args ...any) {
	p.Done()
	fmt.Fprintln(p.e.stderr, tr(p.e, key, args...))
}

func (p *textPrinter) status(line string, force bool) {
	if p.tty {
		fmt.Fprintf(p.e.stderr, "\r\033[K%s", line)
		p.lineShown = true
		return
	}
	if force || time.Since(p.lastLine) >= 10*time.Second {
		fmt.Fprintln(p.e.stderr, line)
		p.lastLine = time.Now()
	}
}

func (p *textPrinter) Job(j *app.Job) {
	key := string(j.State) + "/" + j.Phase
	changed := key != p.lastState
	p.lastState = key
	p.status(jobLine(p.e, j), changed)
}

func (p *textPrinter) Scan(s app.ScanProgress) {
	p.status(tr(p.e, "cli.scan.progress", s.Files, humanBytes(p.e, s.Bytes)), s.Done)
}

func (p *textPrinter) Done() {
	if p.lineShown {
		fmt.Fprint(p.e.stderr, "\r\033[K")
		p.lineShown = false
	}
}

func (p *textPrinter) Error(err error) int {
	p.Done()
	msg, hint := i18n.Localize(p.e.lang, err)
	fmt.Fprintln(p.e.stderr, tr(p.e, "cli.error", msg))
	if hint != "" {
		fmt.Fprintln(p.e.stderr, tr(p.e, "cli.hint", hint))
	}
	return exitCode(err)
}

// jsonPrinter writes the result as one JSON document on stdout and
// progress as JSON lines on stderr.
type jsonPrinter struct{ e *env }

func (p *jsonPrinter) Result(v any, _ func(w io.Writer)) {
	enc := json.NewEncoder(p.e.stdout)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (p *jsonPrinter) Info(string, ...any) {}

func (p *jsonPrinter) line(v any) {
	data, _ := json.Marshal(v)
	p.e.stderr.Write(append(data, '\n'))
}

func (p *jsonPrinter) Job(j *app.Job) {
	p.line(map[string]any{
		"type": "progress", "job": j.ID, "kind": j.Kind, "state": j.State, "phase": j.Phase,
		"bytesDone": j.BytesDone, "bytesTotal": j.BytesTotal,
		"itemsDone": j.ItemsDone, "itemsTotal": j.ItemsTotal,
		"speed": int64(j.Speed), "etaSeconds": int64(j.ETA.Seconds()),
	})
}

func (p *jsonPrinter) Scan(s app.ScanProgress) {
	p.line(map[string]any{"type": "scan", "files": s.Files, "bytes": s.Bytes, "done": s.Done})
}

func (p *jsonPrinter) Done() {}

// jsonError is the error object of --json mode.
type jsonError struct {
	Error struct {
		Kind    string `json:"kind"`
		Key     string `json:"key,omitempty"`
		Message string `json:"message"`
		Hint    string `json:"hint,omitempty"`
		Exit    int    `json:"exitCode"`
	} `json:"error"`
}

func (p *jsonPrinter) Error(err error) int {
	code := exitCode(err)
	var je jsonError
	je.Error.Message, je.Error.Hint = i18n.Localize(p.e.lang, err)
	je.Error.Exit = code
	je.Error.Kind = "unexpected"
	if ue, ok := i18n.AsUserError(err); ok {
		je.Error.Key = ue.Key
		je.Error.Kind = kindName(ue.Kind)
	}
	p.Result(je, nil)
	// People reading a terminal see it too.
	fmt.Fprintln(p.e.stderr, tr(p.e, "cli.error", je.Error.Message))
	if je.Error.Hint != "" {
		fmt.Fprintln(p.e.stderr, tr(p.e, "cli.hint", je.Error.Hint))
	}
	return code
}

func kindName(k i18n.Kind) string {
	switch k {
	case i18n.KindInput:
		return "input"
	case i18n.KindRefused:
		return "refused"
	case i18n.KindTransient:
		return "transient"
	}
	return "unexpected"
}

// jobLine is the status line of a job: state, bytes, percent, speed, ETA.
func jobLine(e *env, j *app.Job) string {
	var b strings.Builder
	if j.State == app.StateRunning && j.Phase != "" {
		b.WriteString(tr(e, "cli.job.phase."+j.Phase))
	} else {
		b.WriteString(tr(e, "cli.job.state."+string(j.State)))
	}
	if j.BytesTotal > 0 {
		pct := float64(j.BytesDone) * 100 / float64(j.BytesTotal)
		fmt.Fprintf(&b, "  %s / %s (%.0f %%)", humanBytes(e, j.BytesDone), humanBytes(e, j.BytesTotal), pct)
	} else if j.BytesDone > 0 {
		fmt.Fprintf(&b, "  %s", humanBytes(e, j.BytesDone))
	}
	if j.ItemsTotal > 0 {
		fmt.Fprintf(&b, "  %d/%d", j.ItemsDone, j.ItemsTotal)
	}
	if j.State == app.StateRunning && j.Speed > 0 {
		fmt.Fprintf(&b, "  %s/s", humanBytes(e, int64(j.Speed)))
		if j.ETA > 0 {
			fmt.Fprintf(&b, "  %s", tr(e, "cli.job.eta", j.ETA.Round(time.Second).String()))
		}
	}
	if j.State == app.StateWaiting && j.Error != nil {
		fmt.Fprintf(&b, "  (%s)", j.Error.Message(e.lang))
	}
	return b.String()
}

func humanBytes(e *env, n int64) string { return i18n.Bytes(n).Localize(e.lang) }
