package provider

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// loadFileLocked reads a wire document file and installs it if it
// supersedes the snapshot held (newer, or from another database). It returns the file's description as read, for
// the watcher to compare with.
func (p *Provider) loadFileLocked(r *run, path string) (fs.FileInfo, error) {
	fi, l, err := readSnapshotFile(path)
	if err != nil {
		return fi, err
	}
	p.installLocked(r, l, "file")
	return fi, nil
}

func readSnapshotFile(path string) (fs.FileInfo, *loaded, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	l, err := readSnapshot(f, fi.Size())
	if err != nil {
		return fi, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return fi, l, nil
}

// watch re-reads a NewFromFile file whenever it is replaced or its size or
// modification time changes. A file that cannot be read or decoded (say,
// half written by a tool that does not rename) is logged and retried at the
// next change; the snapshot held stays in use.
func (p *Provider) watch(r *run, last fs.FileInfo) {
	t := time.NewTicker(p.cfg.watchEvery)
	defer t.Stop()
	var lastErr string
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(p.filePath)
		if err == nil && last != nil && os.SameFile(fi, last) && fi.Size() == last.Size() && fi.ModTime().Equal(last.ModTime()) {
			continue
		}
		if err == nil {
			p.mu.Lock()
			fi, err = p.loadFileLocked(r, p.filePath)
			p.mu.Unlock()
			if fi != nil {
				last = fi
			}
		}
		if err != nil {
			if err.Error() != lastErr {
				p.cfg.log.Warn("ramp provider: snapshot file not read; keeping the snapshot held", "file", p.filePath, "err", err)
				lastErr = err.Error()
			}
			p.mu.Lock()
			p.lastErr = err
			p.mu.Unlock()
			continue
		}
		lastErr = ""
	}
}

// writeFileAtomic replaces path with what write writes so that a reader
// (or a crash) sees the old file or the new one, never a mixture: a
// temporary file in the same directory, synced, then renamed over path.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable; not all systems can sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
