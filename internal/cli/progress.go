package cli

import (
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows an import's progress on stderr when stderr is a terminal:
// rows read, rows per second, and the share of the file's bytes read with
// the time left (a spinner when the size is unknown). When stderr is not a
// terminal it does nothing.
type progress struct {
	bar   *progressbar.ProgressBar
	read  func() int64 // bytes of the file read so far
	rows  int64
	start time.Time
}

// progressEvery is how many rows pass between two updates of the bar.
const progressEvery = 4096

func newProgress(io *IOStreams, size int64, read func() int64) *progress {
	p := &progress{read: read, start: time.Now()}
	if !io.StderrTTY {
		return p
	}
	if size <= 0 {
		size = -1
	}
	p.bar = progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(io.ErrOut),
		progressbar.OptionSetDescription("reading"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return p
}

// add counts a row read (or, with ok false, the end of the file or an
// error: the store then merges the rows, which the bar says).
func (p *progress) add(ok bool) {
	if p.bar == nil {
		return
	}
	if !ok {
		p.bar.Describe(fmt.Sprintf("%s rows read; merging", thousands(int(p.rows))))
		_ = p.bar.Set64(p.read())
		return
	}
	p.rows++
	if p.rows%progressEvery != 0 {
		return
	}
	rate := float64(p.rows) / max(time.Since(p.start).Seconds(), 1e-3)
	p.bar.Describe(fmt.Sprintf("%s rows, %s rows/s", thousands(int(p.rows)), thousands(int(rate))))
	_ = p.bar.Set64(p.read())
}

// finish clears the bar.
func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
	}
}
