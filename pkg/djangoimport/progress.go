package djangoimport

import (
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports each table: a bar on a terminal, else a log line every few
// seconds and one at the end.
type progress struct {
	out io.Writer // nil: log lines
	log *slog.Logger
}

func newProgress(w io.Writer, log *slog.Logger) progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return progress{out: w, log: log}
	}
	return progress{log: log}
}

type tableProgress struct {
	p          progress
	name       string
	total, n   int64
	start      time.Time
	lastLogged time.Time
	bar        *progressbar.ProgressBar
}

func (p progress) start(name string, total int64) *tableProgress {
	tp := &tableProgress{p: p, name: name, total: total, start: time.Now()}
	tp.lastLogged = tp.start
	if p.out != nil {
		tp.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.out),
			progressbar.OptionSetDescription(name),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("rows"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { _, _ = io.WriteString(p.out, "\n") }),
		)
	}
	return tp
}

func (tp *tableProgress) add(n int) {
	tp.n += int64(n)
	if tp.bar != nil {
		_ = tp.bar.Add(n)
		return
	}
	if time.Since(tp.lastLogged) >= 2*time.Second {
		tp.lastLogged = time.Now()
		tp.p.log.Info("importing", "table", tp.name, "rows", tp.n, "of", tp.total)
	}
}

func (tp *tableProgress) done(tr *TableReport) {
	tr.Duration = time.Since(tp.start)
	if tp.bar != nil {
		_ = tp.bar.Finish()
	}
	tp.p.log.Info("table done", "table", tp.name, "read", tr.Read, "written", tr.Written, "skipped", tr.Skipped,
		"seconds", tr.Duration.Seconds())
}
