package cli

import (
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ramp-flags/ramp/internal/admin"
)

// progress shows an import's progress on stderr when stderr is a terminal:
// rows read, rows per second, and the share of the file's bytes read with
// the time left (a spinner when the size is unknown). When stderr is not a
// terminal it does nothing.
type progress struct {
	bar   *progressbar.ProgressBar
	start time.Time
}

func newProgress(io *IOStreams, size int64) *progress {
	p := &progress{start: time.Now()}
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

// update shows how far the import has read (admin.ImportRequest.Progress):
// rows and rows a second while it reads, then that the database merges
// the rows.
func (p *progress) update(at admin.ImportProgress) {
	if p.bar == nil {
		return
	}
	if at.Done {
		p.bar.Describe(fmt.Sprintf("%s read; merging", pluralK(at.Rows, "row", "rows")))
	} else {
		rate := float64(at.Rows) / max(time.Since(p.start).Seconds(), 1e-3)
		p.bar.Describe(fmt.Sprintf("%s rows, %s rows/s", thousands(at.Rows), thousands(int(rate))))
	}
	_ = p.bar.Set64(at.Bytes)
}

// finish clears the bar.
func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		_ = p.bar.Clear()
	}
}

// report returns update when the progress is shown (stderr is a terminal),
// else nil: through a server, no progress asked for is no progress sent.
func (p *progress) report() func(admin.ImportProgress) {
	if p.bar == nil {
		return nil
	}
	return p.update
}
