package provider

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ramp-flags/ramp/flags/wire"
)

// syncLoop owns fetching: once at start, then whenever the stream asks
// (wake), at every poll tick, and after a failure with backoff.
func (p *Provider) syncLoop(r *run, after <-chan struct{}) {
	if !waitFor(r, after) {
		return
	}
	poll := time.NewTicker(p.cfg.pollInterval)
	defer poll.Stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	<-retry.C
	bo := backoff{min: p.cfg.backoffMin, max: min(p.cfg.backoffMax, p.cfg.pollInterval)}
	for {
		err := p.syncOnce(r)
		if r.ctx.Err() != nil {
			return
		}
		if err != nil && !isRefusal(err) {
			// A refused key is asked again at the poll interval only.
			retry.Reset(delayAfter(err, bo.next()))
		} else {
			bo.reset()
		}
		select {
		case <-r.ctx.Done():
			return
		case <-r.wake:
		case <-poll.C:
		case <-retry.C:
		}
		retry.Stop()
	}
}

// waitFor waits until ch is closed (at once if it is nil), or reports false
// if the run ends first.
func waitFor(r *run, ch <-chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-r.ctx.Done():
		return false
	}
}

// syncOnce fetches the snapshot if there is a newer one, installs and
// persists it, and records how the exchange went.
func (p *Provider) syncOnce(r *run) error {
	held := p.current.Load()
	l, save, err := p.fetch(r.ctx, held)
	if r.ctx.Err() != nil {
		return r.ctx.Err()
	}
	installed := false
	p.mu.Lock()
	if err != nil {
		p.failedLocked(r, err)
	} else {
		p.syncedLocked()
		if l != nil {
			installed = p.installLocked(r, l, "server")
		}
	}
	p.mu.Unlock()
	if installed && p.cfg.cacheFile != "" {
		if err := writeFileAtomic(p.cfg.cacheFile, save); err != nil {
			p.cfg.log.Warn("ramp provider: cache file not written", "file", p.cfg.cacheFile, "err", err)
		}
	}
	return err
}

// fetch asks for the snapshot, conditionally on the version and epoch held,
// as a wire.FormatV2 manifest (feed_sets.go), fetching the member sets it
// refers to that the provider does not hold; a server that ignores the
// request for a manifest (built before it) sends the whole wire.Format
// document, which is read as before. It returns nil (and no error) when the
// server has nothing else, and else the snapshot with what writes it to
// the cache file.
func (p *Provider) fetch(ctx context.Context, held *loaded) (*loaded, func(io.Writer) error, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		l, save, err := p.fetchOnce(ctx, held)
		if errors.Is(err, errSetGone) && attempt < maxSetAttempts {
			// The lists changed between the snapshot and the set: the
			// server serves a newer snapshot, which names the new set.
			p.cfg.log.Debug("ramp provider: a member set changed while fetched; reading the snapshot again", "err", err)
			continue
		}
		return l, save, err
	}
}

func (p *Provider) fetchOnce(ctx context.Context, held *loaded) (*loaded, func(io.Writer) error, error) {
	req, err := p.request(ctx, "/v1/snapshot?"+wire.FormatQuery)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if held != nil {
		req.Header.Set("If-None-Match", held.tag())
	}
	resp, err := p.cfg.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch snapshot: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		return nil, nil, nil
	default:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // let the connection be reused
		return nil, nil, fmt.Errorf("fetch snapshot: %w", statusError(resp))
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch snapshot: %w", err)
	}
	if format, _ := wire.FormatOf(raw); format == wire.FormatV2 {
		return p.fromManifest(ctx, held, raw)
	}
	snap, epoch, err := wire.DecodeEpoch(raw)
	if err != nil {
		return nil, nil, err
	}
	save := func(w io.Writer) error { _, err := w.Write(raw); return err }
	if !supersedes(held, snap.Version(), epoch) {
		// Not newer (a lagging replica, or a proxy cached an old body):
		// nothing to derive, installLocked will say so.
		return &loaded{snap: snap, version: snap.Version(), epoch: epoch}, save, nil
	}
	return newLoaded(snap, epoch), save, nil
}

func (p *Provider) request(ctx context.Context, path string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.key)
	req.Header.Set("User-Agent", "ramp-go-provider")
	return req, nil
}

func statusError(resp *http.Response) error {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusTooManyRequests:
		return &busyError{after: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return fmt.Errorf("unexpected status %s", resp.Status)
}

// busyError is a 429: the server is up and has the key's rate limit to
// enforce. It says nothing about the snapshot's freshness, so it changes
// no state; the request is repeated no sooner than the server asks.
type busyError struct{ after time.Duration }

func (e *busyError) Error() string {
	return fmt.Sprintf("rate limited (429), retry after %s", e.after)
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h string) time.Duration {
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// delayAfter lengthens a backoff delay to what a 429 asked for.
func delayAfter(err error, d time.Duration) time.Duration {
	if b, ok := errors.AsType[*busyError](err); ok {
		return max(d, b.after)
	}
	return d
}

// streamLoop keeps the event stream open, reconnecting with backoff. A
// stream that ends is not a failure (servers restart and proxies cut long
// requests); failing to connect again is.
func (p *Provider) streamLoop(r *run, after <-chan struct{}) {
	if !waitFor(r, after) {
		return
	}
	bo := backoff{min: p.cfg.backoffMin, max: p.cfg.backoffMax}
	for {
		connected, err := p.stream(r)
		if r.ctx.Err() != nil {
			return
		}
		if connected {
			bo.reset()
		}
		delay := delayAfter(err, bo.next())
		switch {
		case connected:
			p.cfg.log.Debug("ramp provider: event stream ended", "err", err, "reconnect_in", delay)
		case isRefusal(err):
			delay = bo.max
			fallthrough
		default:
			p.mu.Lock()
			p.failedLocked(r, err)
			p.mu.Unlock()
		}
		t := time.NewTimer(delay)
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// stream connects to the event stream and reads it until it ends. It asks
// for a fetch on connecting when the provider is not in sync (to confirm a
// recovery), and whenever an event announces a newer version or another
// database's.
func (p *Provider) stream(r *run) (connected bool, err error) {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	req, err := p.request(ctx, "/v1/snapshot/events")
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := p.cfg.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("event stream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("event stream: %w", statusError(resp))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return false, fmt.Errorf("event stream: content type %q, want text/event-stream", ct)
	}

	p.mu.Lock()
	inSync := p.health == healthy && p.current.Load() != nil
	p.mu.Unlock()
	if !inSync {
		r.fetchSoon()
	}

	// The server pings every 15 s; a stream silent for longer than
	// streamIdle is a dead connection that TCP has not noticed.
	idle := time.AfterFunc(p.cfg.streamIdle, cancel)
	defer idle.Stop()
	err = readEvents(resp.Body, func() { idle.Reset(p.cfg.streamIdle) }, func(event string, data []byte) {
		if event != "snapshot" {
			return
		}
		var msg struct {
			Version int64  `json:"version"`
			Epoch   string `json:"epoch"`
		}
		if jerr := json.Unmarshal(data, &msg); jerr != nil {
			p.cfg.log.Debug("ramp provider: unreadable snapshot event; fetching", "data", string(data))
			r.fetchSoon()
			return
		}
		if supersedes(p.current.Load(), msg.Version, msg.Epoch) {
			r.fetchSoon()
		}
	})
	if ctx.Err() != nil && r.ctx.Err() == nil {
		err = fmt.Errorf("event stream silent for %s", p.cfg.streamIdle)
	}
	return true, err
}

// readEvents parses a text/event-stream body, calling line for every line
// read and dispatch for every event (a "data" field, or several joined by
// newlines, ended by a blank line). Comments and unknown fields are skipped.
// It returns nil at the end of the body.
func readEvents(body io.Reader, line func(), dispatch func(event string, data []byte)) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 4<<10), 1<<20)
	var (
		event   string
		data    []byte
		hasData bool
	)
	for sc.Scan() {
		line()
		b := sc.Bytes()
		if len(b) == 0 {
			if hasData {
				dispatch(event, data)
			}
			event, data, hasData = "", data[:0], false
			continue
		}
		if b[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(b, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			event = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data, hasData = append(data, value...), true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	return nil
}

// backoff yields exponentially growing delays, capped, with jitter: each
// delay is drawn from [d/2, d] so that a fleet of providers cut off
// together does not reconnect together.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	d := b.min
	for i := 0; i < b.n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if b.n < 62 {
		b.n++
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

func (b *backoff) reset() { b.n = 0 }
