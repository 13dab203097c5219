// Package client is a Go client of ramp's admin API (internal/api): the
// control plane's use cases over HTTP, with the control plane's own types
// and errors. A refusal comes back as the error admin returns locally,
// rebuilt from the API's problem (same kind, same message, same typed
// error for errors.As), so that the CLI prints the same and exits with the
// same code whether it works on a database or through a server.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/api"
)

// Client calls the admin API of one server with one credential. It is safe
// for concurrent use.
type Client struct {
	base  *url.URL
	token string
	ua    string
	hc    *http.Client

	mu    sync.Mutex
	epoch string // the database's, from the last ETag seen
}

// Options configures a Client.
type Options struct {
	// HTTPClient sends the requests (default: one with a 30 s timeout on
	// answers' headers, none on streamed bodies).
	HTTPClient *http.Client
	// UserAgent names the caller ("ramp/1.2.3").
	UserAgent string
}

// New returns a client of the server at serverURL (http or https, with no
// path, or the path the API is mounted under) acting with token. The token
// travels only in the Authorization header.
func New(serverURL, token string, opt Options) (*Client, error) {
	u, err := ParseServer(serverURL)
	if err != nil {
		return nil, err
	}
	hc := opt.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = 0 // imports answer once the file is in
		hc = &http.Client{Transport: tr}
	}
	ua := opt.UserAgent
	if ua == "" {
		ua = "ramp-client"
	}
	return &Client{base: u, token: token, ua: ua, hc: hc}, nil
}

// ParseServer checks a server URL: http or https, a host, no query, no
// credentials in it.
func ParseServer(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(s), "/"))
	switch {
	case err != nil:
		return nil, ramp.Errorf(ramp.KindInvalid, "server URL %q: %v", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, ramp.Errorf(ramp.KindInvalid, "server URL %q: want http:// or https://", s)
	case u.Host == "":
		return nil, ramp.Errorf(ramp.KindInvalid, "server URL %q has no host", s)
	case u.User != nil:
		return nil, ramp.Errorf(ramp.KindInvalid, "server URL %q holds credentials: give the token apart", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return nil, ramp.Errorf(ramp.KindInvalid, "server URL %q: no query or fragment", u.Redacted())
	}
	return u, nil
}

// Server returns the server's URL.
func (c *Client) Server() string { return c.base.String() }

// Close releases idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// Time is the client's clock: what status lines compare due times with.
func (c *Client) Time() time.Time { return time.Now() }

// request is one call.
type request struct {
	method, path string
	query        url.Values
	// json is marshalled as the body; or body streams with contentType.
	json        any
	body        io.Reader
	contentType string
	ifMatch     string
	ifNoneMatch string
	accept      string
}

// url builds the request's URL under the API's prefix.
func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + api.Prefix + path
	u.RawQuery = q.Encode()
	return u.String()
}

// send sends a request and returns its answer when it is a success; an
// error answer becomes the error its problem describes. A request past
// the server's rate limit (429 of kind busy) is sent again after the
// wait the server names, up to rateLimitTries times and when the wait
// is at most maxRateLimitWait, unless its body streams (it cannot be
// read twice).
func (c *Client) send(ctx context.Context, rq request) (*http.Response, error) {
	for try := 1; ; try++ {
		resp, wait, err := c.sendOnce(ctx, rq)
		if wait <= 0 || rq.body != nil || try == rateLimitTries || wait > maxRateLimitWait {
			return resp, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ramp.Errorf(ramp.KindCanceled, "%w (while waiting out the rate limit: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// rateLimitTries and maxRateLimitWait bound send's retries past the
// server's rate limit: a burst of a script waits a second or two, a
// server that keeps refusing is reported.
const (
	rateLimitTries   = 4
	maxRateLimitWait = 5 * time.Second
)

// sendOnce sends a request once. wait is positive when the server
// refused it for its rate limit and said how long to wait.
func (c *Client) sendOnce(ctx context.Context, rq request) (_ *http.Response, wait time.Duration, _ error) {
	body := rq.body
	if body != nil {
		body = struct{ io.Reader }{body} // the caller closes its own file
	}
	ct := rq.contentType
	if rq.json != nil {
		b, err := json.Marshal(rq.json)
		if err != nil {
			return nil, 0, fmt.Errorf("encode request: %w", err)
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, c.url(rq.path, rq.query), body)
	if err != nil {
		return nil, 0, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if rq.accept != "" {
		req.Header.Set("Accept", rq.accept)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if rq.ifMatch != "" {
		req.Header.Set("If-Match", rq.ifMatch)
	}
	if rq.ifNoneMatch != "" {
		req.Header.Set("If-None-Match", rq.ifNoneMatch)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, c.transportError(ctx, err)
	}
	if tag := resp.Header.Get("ETag"); tag != "" {
		if _, e, err := api.ParseETag(tag); err == nil {
			c.mu.Lock()
			c.epoch = e
			c.mu.Unlock()
		}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	p := api.DecodeProblem(resp.StatusCode, resp.Header.Get("Content-Type"), b)
	if p.Status == http.StatusTooManyRequests && p.Kind == ramp.KindBusy.String() {
		wait = time.Duration(max(p.RetryAfter, 1)) * time.Second
	}
	return nil, wait, p.Err()
}

// transportError says the server could not be reached, keeping a
// cancellation a cancellation.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ramp.Errorf(ramp.KindCanceled, "%w", ctx.Err())
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &ramp.Error{Kind: ramp.KindInternal, Msg: fmt.Sprintf("cannot reach ramp server %s: %v", c.base.Redacted(), unwrapURL(err)), Err: err}
	}
	return &ramp.Error{Kind: ramp.KindInternal, Msg: fmt.Sprintf("ramp server %s: %v", c.base.Redacted(), unwrapURL(err)), Err: err}
}

// unwrapURL drops url.Error's repetition of the method and URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// call sends a request and decodes its JSON answer into out (when not
// nil); it returns the answer's ETag.
func (c *Client) call(ctx context.Context, rq request, out any) (string, error) {
	resp, err := c.send(ctx, rq)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return "", fmt.Errorf("ramp server %s: read answer to %s %s: %w", c.base.Redacted(), rq.method, rq.path, err)
		}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("ETag"), nil
}

// get is call for a GET.
func (c *Client) get(ctx context.Context, path string, q url.Values, out any) (string, error) {
	return c.call(ctx, request{method: http.MethodGet, path: path, query: q}, out)
}

// post is call for a POST with a JSON body (an empty object for nil).
func (c *Client) post(ctx context.Context, path string, body, out any) (string, error) {
	if body == nil {
		body = struct{}{}
	}
	return c.call(ctx, request{method: http.MethodPost, path: path, json: body}, out)
}

// etag returns the entity tag of version of an object in this database:
// the epoch is the one the last ETag named, else the server's.
func (c *Client) etag(ctx context.Context, version int64) (string, error) {
	c.mu.Lock()
	e := c.epoch
	c.mu.Unlock()
	if e == "" {
		rev, err := c.Revision(ctx)
		if err != nil {
			return "", err
		}
		e = rev.Epoch
	}
	return api.ETag(version, e), nil
}

// seg escapes a path segment.
func seg(s string) string { return url.PathEscape(s) }

// upload sends a streamed body and reads the answer: with progress (an
// NDJSON answer, each progress line passed to progress as it comes), or
// one JSON value.
func (c *Client) upload(ctx context.Context, rq request, progress func(admin.ImportProgress), out any) error {
	if progress == nil {
		_, err := c.call(ctx, rq, out)
		return err
	}
	rq.accept = api.NDJSON + ", application/json"
	resp, err := c.send(ctx, rq)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), api.NDJSON) {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var l api.Line
		if err := dec.Decode(&l); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return c.transportError(ctx, err)
		}
		switch {
		case l.Progress != nil:
			progress(*l.Progress)
		case l.Problem != nil:
			return l.Problem.Err()
		case l.Result != nil:
			return json.Unmarshal(l.Result, out)
		}
	}
}
